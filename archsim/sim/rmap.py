"""Mapping a matrix onto one crossbar with wire resistance (Hu et al. (HPE DPE) and Zhang et al. (ASP-DAC 2020)).

A non-negative target ``W`` (``N`` outputs x ``M`` inputs) is realized as
``W_r = G_eff(g) / alpha`` (Zhang et al. (ASP-DAC 2020) eq. 1), ``G_eff`` the crossbar's
effective matrix (:mod:`archsim.sim.crossbar`) and ``g`` (``M x N``) the cell
conductances in ``[g_min, g_max]``, programmed to ``2^bits`` levels.

The mappings:

* ``linear``: ``g = clip(alpha W^T)`` with ``alpha = g_max / max(W)``: the whole range, no compensation.
* ``dpe`` (Zhang et al.'s reference [5], the DPE of Hu et al. (HPE DPE)): start from the linear
  mapping and retune every cell so that its current under the calibration
  input ``v_cal`` equals its ideal current: ``g <- i_ideal / (v_row - v_col)``,
  repeated until the drops settle; where that asks for more than ``g_max``,
  [5]'s fallback updates ``i_ideal`` (and so ``alpha``) so that the largest
  cell sits at ``g_max``.  ``(W - W_r) v_cal = 0`` up to quantization.
  ``dpe_plain`` is the calibration without the fallback (cells pin at ``g_max``).
* ``rm`` (Representable Matrices, Zhang et al. (ASP-DAC 2020) section V): search ``alpha`` so that
  value-range errors (from IR drop, unquantized ``g``) and precision errors
  (quantized minus unquantized) balance; tune ``g`` by projected gradient
  descent on ``||W - W_r||_F^2`` with the exact gradient from the circuit
  (``dG_eff/dg_kl = -(S Y^-1 e_kl)(e_kl^T Y^-1 B)``); then move each row's
  residual under ``v_cal`` onto the row's cells that are not at ``g_min`` and
  tune again so that ``(W - W_r) v_cal = 0``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.sim import crossbar as cb
from archsim.model.errors import ArchsimError


@dataclass(frozen=True)
class CellRange:
    g_min: float
    g_max: float
    bits: int

    def quantize(self, g: np.ndarray) -> np.ndarray:
        step = (self.g_max - self.g_min) / (2 ** self.bits - 1)
        return self.g_min + np.round((np.clip(g, self.g_min, self.g_max) - self.g_min) / step) * step

    def clip(self, g):
        return np.clip(g, self.g_min, self.g_max)

    @classmethod
    def in_series(cls, r_on: float, r_off: float, bits: int, r_series: float = 0.0) -> "CellRange":
        """Zhang et al. (ASP-DAC 2020) section V-A's ideal conductor for a cell of ``r_on`` .. ``r_off`` ohm in series with
        ``r_series`` (an access transistor's on-resistance): ``1 / (r_off + r_s)`` .. ``1 / (r_on + r_s)``."""
        vals = (r_on, r_off, r_series)
        if not all(np.isfinite(v) for v in vals) or r_on <= 0 or r_off <= r_on or r_series < 0:
            raise ArchsimError(f"rmap: a cell needs 0 < r_on < r_off and r_series >= 0 ohm (finite), got "
                               f"r_on={r_on}, r_off={r_off}, r_series={r_series}")
        return cls(1.0 / (r_off + r_series), 1.0 / (r_on + r_series), int(bits))


@dataclass(frozen=True)
class Mapped:
    method: str
    g: np.ndarray          # programmed (quantized) conductances, M x N
    alpha: float
    w_r: np.ndarray        # realized matrix with quantized g, N x M
    value_error: float     # ||W - W_r(unquantized g)||_F^2
    total_error: float     # ||W - W_r(quantized g)||_F^2
    utilization: float     # mean (g - g_min) / (g_max - g_min)
    utilization_max: float  # largest (g - g_min) / (g_max - g_min)

    @property
    def precision_error(self) -> float:
        return self.total_error - self.value_error


def _realized(g, par, alpha):
    return cb.effective_matrix(g, par) / alpha


def _finish(method, W, g_cont, alpha, par, cells: CellRange) -> Mapped:
    gq = cells.quantize(g_cont)
    wr_c = _realized(cells.clip(g_cont), par, alpha)
    wr_q = _realized(gq, par, alpha)
    u = (gq - cells.g_min) / (cells.g_max - cells.g_min)
    return Mapped(method, gq, alpha, wr_q, float(((W - wr_c) ** 2).sum()), float(((W - wr_q) ** 2).sum()),
                  float(u.mean()), float(u.max()))


def _check_w(W):
    W = np.asarray(W, float)
    if W.ndim != 2 or not np.isfinite(W).all() or (W < 0).any():
        raise ArchsimError("rmap: the target matrix must be 2-D, finite and non-negative (map signed weights as two matrices)")
    if W.max() == 0:
        raise ArchsimError("rmap: the target matrix is all zeros")
    return W


def linear(W, par: cb.Parasitics, cells: CellRange) -> Mapped:
    W = _check_w(W)
    alpha = cells.g_max / W.max()
    return _finish("linear", W, cells.clip(alpha * W.T), alpha, par, cells)


def _cell_drop(g, par, v):
    """Voltage across every cell (M x N) under input ``v``."""
    return cb.cell_voltages(g, par, np.asarray(v, float)[:, None])[:, :, 0]


def dpe(W, par: cb.Parasitics, cells: CellRange, v_cal: np.ndarray, iters: int = 200, tol: float = 1e-6,
        alpha: float | None = None, fallback: bool = True) -> Mapped:
    """Zhang et al.'s reference [5] (the DPE conversion of Hu et al. (HPE DPE)), as Zhang et al. (ASP-DAC 2020) section III-B describes it.

    ``W`` is linearly mapped into the conductance range (``G_ideal = alpha W^T``, ``alpha`` by default
    ``g_max / max(W)``: the full range); the ideal current of every cell is its ideal conductance times its
    calibration input, ``i_ideal = G_ideal v_cal``; the conductances are then solved so that, in the circuit
    with its wires and its driver and sense resistors, every cell carries ``i_ideal`` under ``v_cal``.  The
    solve is the fixed point ``g <- i_ideal / (v_row - v_col)(g)`` (each step one circuit solve).  Where no
    solution lies within ``[g_min, g_max]`` (a cell asks for more than ``g_max``), [5] updates ``i_ideal``
    so that the full range is used: with ``fallback``, once a step asks for more than ``g_max``, every step
    rescales the ideal currents (and so ``alpha``, never above its first value) so that the largest cell
    sits at ``g_max``.  Without it (the plain calibration) cells pin at ``g_max`` and the error under
    ``v_cal`` stays.  With any parasitics the
    calibration runs (also with ideal wires: ``R_in`` and ``R_out`` still drop voltage); without any it is
    the linear mapping.  The result reproduces ``W v_cal`` exactly up to quantization and the ``g_min``
    floor.  The iteration stops when no cell moves by more than ``tol g_max`` (1e-6: a 4000th of an 8-bit
    step, far below what quantization keeps).
    """
    W = _check_w(W)
    v_cal = np.asarray(v_cal, float)
    if v_cal.shape != (W.shape[1],) or not np.isfinite(v_cal).all() or (v_cal < 0).any() or v_cal.max() <= 0:
        raise ArchsimError(f"rmap: v_cal must hold {W.shape[1]} finite voltages >= 0, not all zero")
    alpha = alpha0 = cells.g_max / W.max() if alpha is None else float(alpha)
    g = cells.clip(alpha * W.T)
    if not par.ideal:
        floor = np.finfo(float).eps * v_cal.max()          # a row held at 0 V carries no current: no division by 0
        for _ in range(iters):
            drop = np.maximum(_cell_drop(g, par, v_cal), floor)
            need = cells.clip(alpha * W.T) * (v_cal[:, None] / drop)   # i_ideal / drop, not yet bounded above
            if fallback and (need.max() > cells.g_max or alpha < alpha0):
                # i_ideal updated so that the largest cell sits at g_max (never above the first scale)
                alpha = min(alpha0, alpha * cells.g_max / need.max())
                need = cells.clip(alpha * W.T) * (v_cal[:, None] / drop)
            g_new = cells.clip(need)
            done = np.abs(g_new - g).max() <= tol * cells.g_max
            g = g_new
            if done:
                break
    return _finish("dpe" if fallback else "dpe_plain", W, g, alpha, par, cells)


def _gradient(g, par, R, alpha):
    """d/dg of ||R||_F^2 with R = W - G_eff(g)/alpha, for every cell (M x N).

    ``dG_eff[n, m]/dg_d = -Q[d, n] P[d, m]`` (:func:`archsim.sim.crossbar.cell_voltages`: cell voltages
    per unit input and of the adjoint solve), so ``d||R||^2/dg_d = (2/alpha) sum_nm R_nm Q_dn P_dm``.
    """
    P, Q = cb.cell_voltages(g, par, adjoint=True)
    MN = g.size
    P = P.reshape(MN, -1)
    Q = Q.reshape(MN, -1)
    return (2.0 / alpha) * ((Q @ R) * P).sum(axis=1).reshape(g.shape)


def _descend(W, g, par, cells, alpha, iters):
    R = W - _realized(g, par, alpha)
    f = float((R ** 2).sum())
    step = None
    for _ in range(iters):
        grad = _gradient(g, par, R, alpha)
        if step is None:
            step = 0.1 * (cells.g_max - cells.g_min) / (np.abs(grad).max() + 1e-300)
        while True:  # backtracking line search on the projected step
            g_new = cells.clip(g - step * grad)
            R_new = W - _realized(g_new, par, alpha)
            f_new = float((R_new ** 2).sum())
            if f_new < f or step < 1e-30:
                break
            step *= 0.5
        if f_new >= f:
            break
        improvement = (f - f_new) / f
        g, R, f = g_new, R_new, f_new
        step *= 1.5
        if improvement < 1e-6:
            break
    return g


def representable(W, par: cb.Parasitics, cells: CellRange, v_cal: np.ndarray, *, scan: int = 10,
                  scan_decades: float = 2.5, refine: int = 3, beta: float = 0.3, quick_iters: int = 3,
                  gd_iters: int = 20) -> Mapped:
    """Zhang et al.'s flow: choose alpha, tune g by gradient descent, calibrate on ``v_cal``.

    The alpha search starts from a log scan below full-range utilization (a few descent steps
    per candidate), then Zhang et al.'s multiplicative update: shrink alpha by (1 - beta) while
    value-range errors exceed precision errors, grow it by (1 + beta) otherwise, beta decaying.
    """
    W = _check_w(W)
    a0 = cells.g_max / W.max()

    def trial(alpha, iters):
        g = _descend(W, cells.clip(alpha * W.T), par, cells, alpha, iters)
        return _finish("rm", W, g, alpha, par, cells), g

    cands = [trial(a0 * 10 ** (-scan_decades * k / max(scan - 1, 1)), quick_iters) for k in range(scan)]
    m, g = min(cands, key=lambda c: c[0].total_error)
    alpha = m.alpha
    best = trial(alpha, gd_iters)
    for _ in range(refine):
        cur = best[0]
        alpha = cur.alpha * ((1 - beta) if cur.value_error > cur.precision_error else (1 + beta))
        cand = trial(alpha, gd_iters)
        if cand[0].total_error < best[0].total_error:
            best = cand
        beta *= 0.6
    m, g = best
    alpha = m.alpha
    # calibration: spread each row's residual under v_cal over the row's cells that are not at g_min
    Wt = W.copy()
    for _ in range(2):
        resid = (_realized(g, par, alpha) - W) @ v_cal          # N outputs
        active = g.T > cells.g_min * (1 + 1e-9)                  # N x M
        count = np.maximum((active * v_cal[None, :]).sum(axis=1), 1e-300)
        Wt = np.maximum(Wt - active * (resid / count)[:, None], 0.0)
        g = _descend(Wt, g, par, cells, alpha, gd_iters)
    return _finish("rm", W, g, alpha, par, cells)


def max_output_error(W, m: Mapped, v_max: float, n_vectors: int = 200, seed: int = 0) -> float:
    """Largest |W v - W_r v| over random inputs in [0, v_max], relative to the largest |W v|."""
    rng = np.random.default_rng(seed)
    V = rng.uniform(0, v_max, (W.shape[1], n_vectors))
    ideal = W @ V
    return float(np.abs(ideal - m.w_r @ V).max() / np.abs(ideal).max())


#: how each method realizes one block ``W`` on its array, ``f(W, par, cells, v_cal, rm)`` (``rm``: the RM
#: search's mapping of the block, run once and shared by ``rm`` and ``dpe_at_rm_alpha``).  ``dpe`` is [5] with its
#: fallback; ``dpe_plain`` the same calibration without it (cells pinned at g_max); ``dpe_at_rm_alpha`` the
#: calibration started at the scale factor the RM search chose
REALIZE = {
    "linear": lambda W, par, cells, v_cal, rm: linear(W, par, cells),
    "dpe_plain": lambda W, par, cells, v_cal, rm: dpe(W, par, cells, v_cal, fallback=False),
    "dpe": lambda W, par, cells, v_cal, rm: dpe(W, par, cells, v_cal),
    "dpe_at_rm_alpha": lambda W, par, cells, v_cal, rm: dpe(W, par, cells, v_cal, alpha=rm.alpha),
    "rm": lambda W, par, cells, v_cal, rm: rm,
}
METHODS = tuple(REALIZE)


def _map_block(args):
    """One non-negative block on one physical array: realized matrices per method (picklable worker)."""
    Wb, rows, cols, par, cells, v_cal_level, methods, rm_kw = args
    n, m = Wb.shape
    out = {}
    if not (Wb > 0).any():
        return {k: (np.zeros_like(Wb), 0.0, 0.0) for k in methods}
    W = np.zeros((cols, rows))
    W[:n, :m] = Wb                      # the block in the corner next to the drivers; the rest unused
    v_cal = np.zeros(rows)
    v_cal[:m] = v_cal_level             # unused rows are held at 0 V
    rm = None
    if "rm" in methods or "dpe_at_rm_alpha" in methods:
        rm = representable(W, par, cells, v_cal, **rm_kw)
    for k in methods:
        if k not in REALIZE:
            raise ArchsimError(f"rmap: method '{k}' is not allowed; allowed: {', '.join(METHODS)}")
        mp = REALIZE[k](W, par, cells, v_cal, rm)
        u = (mp.g[:m, :n] - cells.g_min) / (cells.g_max - cells.g_min)   # the block's own cells
        out[k] = (mp.w_r[:n, :m], float(u.mean()), float(u.max()))
    return out


def realize_layer(W, rows: int, cols: int, par: cb.Parasitics, cells: CellRange, v_cal_level: float, *,
                  methods=("linear", "dpe", "rm"), rm_kw: dict | None = None, workers: int = 1,
                  utilization: bool = False, pairs: bool = True):
    """What a signed layer matrix becomes on crossbars with IR drop, for each mapping method.

    ``W`` (N outputs x K inputs) is split into ``W+ = max(W, 0)`` and ``W- = max(-W, 0)`` (a
    differential pair of arrays, the difference taken after the per-array gain ``1/alpha``), cut into
    blocks of ``rows`` inputs x ``cols`` outputs, and each block mapped on its own physical
    ``rows x cols`` crossbar (unused cells at ``g_min``, unused rows at 0 V) with its own scale
    factor.  ``v_cal_level`` is the calibration voltage on every used row.  Returns ``{method:
    W_r}`` with ``W_r`` (N x K) the realized matrix (ideal converters).  ``workers > 1`` maps blocks
    in processes; the result does not depend on it (the mappings are deterministic).  With
    ``utilization`` also ``{method: (mean, max)}`` of ``(g - g_min) / (g_max - g_min)`` over the cells
    that hold weights (the mean weighted by cells; an all-zero block counts as unused cells at 0).
    With ``pairs=False`` every weight has one cell instead of a pair: the arrays hold ``W - min(W)`` (one
    offset for the layer, so dense and mostly mid-range) and the offset ``min(W) sum(x)`` is taken off
    digitally, exactly (``W_r = W_r(W - min W) + min W``).
    """
    W = np.asarray(W, float)
    if W.ndim != 2 or not np.isfinite(W).all():
        raise ArchsimError(f"rmap: a layer matrix must be 2-D and finite, got shape {W.shape}")
    methods = tuple(methods)
    for k in methods:
        if k not in METHODS:
            raise ArchsimError(f"rmap: method '{k}' is not allowed; allowed: {', '.join(METHODS)}")
    N, K = W.shape
    jobs, where = [], []
    offset = min(float(W.min()), 0.0) if not pairs else 0.0
    parts = ((1.0, np.maximum(W, 0.0)), (-1.0, np.maximum(-W, 0.0))) if pairs else ((1.0, W - offset),)
    for sign, part in parts:
        for r0 in range(0, K, rows):
            for c0 in range(0, N, cols):
                blk = part[c0:c0 + cols, r0:r0 + rows]
                jobs.append((blk, rows, cols, par, cells, v_cal_level, methods, rm_kw or {}))
                where.append((sign, c0, r0, blk.shape))
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers) as ex:
            results = list(ex.map(_map_block, jobs))
    else:
        results = [_map_block(j) for j in jobs]
    out = {k: np.full_like(W, offset) for k in methods}
    used = {k: [0.0, 0.0, 0] for k in methods}      # sum of cell utilizations, largest, cells
    for (sign, c0, r0, (n, m)), res in zip(where, results):
        for k in methods:
            wr, u_mean, u_max = res[k]
            out[k][c0:c0 + n, r0:r0 + m] += sign * wr
            used[k][0] += u_mean * n * m
            used[k][1] = max(used[k][1], u_max)
            used[k][2] += n * m
    if utilization:
        return out, {k: (tot / max(c, 1), mx) for k, (tot, mx, c) in used.items()}
    return out


# ------------------------------------------------- Hu et al. (HPE DPE): one array, many parts ----

@dataclass(frozen=True)
class Partitioned:
    """A signed matrix laid out on one crossbar in parts that share its rows (Hu et al.'s demonstration).

    Part ``k`` holds the weights of inputs ``rows k .. rows (k + 1) - 1`` for all ``outputs`` in columns
    ``outputs k .. outputs (k + 1) - 1``; every cell is ``g_min + scale (w - w_min)`` (one scale and one
    offset for the whole array, no differential pair); unused cells sit at ``g_min``.
    """
    g: np.ndarray          # rows x cols ideal conductances (S)
    scale: float           # S per unit of weight
    w_min: float
    g_min: float
    parts: int
    outputs: int

    def currents(self, G_eff: np.ndarray, x: np.ndarray, v_read: float) -> np.ndarray:
        """Output currents (n, outputs): part ``k`` read with input slice ``k`` on the rows, summed over parts.

        ``G_eff`` (cols x rows) is the array's effective matrix (:func:`archsim.sim.crossbar.effective_matrix`
        of the programmed cells); ``x`` (n, rows x parts) inputs in [0, 1], driven at ``v_read`` full scale."""
        rows = self.g.shape[0]
        out = np.zeros((len(x), self.outputs))
        for k in range(self.parts):
            V = np.asarray(x[:, rows * k:rows * (k + 1)], float) * v_read
            out += V @ G_eff[self.outputs * k:self.outputs * (k + 1), :].T
        return out

    def nominal(self, currents: np.ndarray, x: np.ndarray, v_read: float) -> np.ndarray:
        """``W x`` as designed: the offset ``(g_min - scale w_min) v sum(x)`` (the same for every output, so
        never a change of argmax) removed and the scale divided out."""
        off = (self.g_min - self.scale * self.w_min) * v_read * np.asarray(x, float).sum(axis=1, keepdims=True)
        return (currents - off) / (self.scale * v_read)


def partition_affine(W, rows: int, cols: int, cells: CellRange) -> Partitioned:
    """Lay ``W`` (outputs x inputs, signed) on one ``rows x cols`` crossbar in ``ceil(inputs / rows)`` parts."""
    W = np.asarray(W, float)
    if W.ndim != 2 or not np.isfinite(W).all() or W.max() == W.min():
        raise ArchsimError("rmap: a partitioned matrix must be 2-D, finite and not constant")
    outputs, inputs = W.shape
    parts = -(-inputs // rows)
    if parts * outputs > cols:
        raise ArchsimError(f"rmap: {parts} parts x {outputs} outputs need {parts * outputs} columns; the array has "
                           f"{cols} (use more rows per part or a larger array)")
    w_min = float(W.min())
    scale = (cells.g_max - cells.g_min) / (float(W.max()) - w_min)
    g = np.full((rows, cols), cells.g_min)
    for k in range(parts):
        blk = W[:, rows * k:rows * (k + 1)].T                  # (<= rows) x outputs
        g[:blk.shape[0], outputs * k:outputs * (k + 1)] = cells.g_min + scale * (blk - w_min)
    return Partitioned(g, scale, w_min, cells.g_min, parts, outputs)

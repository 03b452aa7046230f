"""Support of the programmed matrices: scratch buffers, seeds and keys, weight codes, IR drop per array.

Kept apart from :mod:`.programmed` so that module holds the model itself.
"""
from __future__ import annotations

import os
import math
import threading

import numpy as np

from archsim.io import techlib
from archsim.io.blas import blas_single_thread  # noqa: F401  (re-exported: the simulator's callers)

from archsim.mapping.layout import LayerMap, ceil_div
from archsim.model.adc_kinds import ADC_KINDS
from archsim.model.arch import AUTO, Architecture
from archsim.model.device import Device
from archsim.model.errors import ArchsimError
from archsim.sim.tilesim import pairs as _pairs
from archsim.sim.tilesim.config import SimConfig


class _Workspace(threading.local):
    """Scratch buffers reused between MVMs, one set per thread.

    A cache, not state: no result depends on it.  It exists because fresh memory is expensive to
    touch (a page fault per 4 KiB page; on the development machine about 3 ms per MiB), so an MVM
    that allocated its column-current and quantized-input buffers anew every call spent more time
    faulting pages than multiplying.  The buffers grow to the largest chunk used
    (``SimConfig.chunk_elements`` bounds them); :func:`release_workspace` frees them.
    """

    def __init__(self):
        self.bufs: dict = {}

    def get(self, name: str, shape: tuple, dtype) -> np.ndarray:
        n = math.prod(shape)
        dtype = np.dtype(dtype)
        a = self.bufs.get(name)
        if a is None or a.size < n or a.dtype != dtype:
            a = np.empty(max(n, 1), dtype=dtype)
            self.bufs[name] = a
        return a[:n].reshape(shape)


_WS = _Workspace()


def release_workspace() -> None:
    """Free the calling thread's scratch buffers."""
    _WS.bufs.clear()


# SeedSequence spawn tags of the random streams (one per error source)
_TAG_READ, _TAG_PROG, _TAG_D2D, _TAG_STUCK, _TAG_DRIFT = 0, 1, 2, 3, 4


def seed_parts(seed) -> tuple[int, tuple[int, ...]]:
    """``(entropy, spawn_key)`` of a seed: an int, a tuple of ints ``(seed, *spawn_key)`` or a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        if seed.entropy is None:
            raise ArchsimError("seed: a SeedSequence without entropy is not allowed; pass explicit entropy")
        ent = seed.entropy
        if not isinstance(ent, (int, np.integer)):
            raise ArchsimError("seed: SeedSequence entropy must be one integer")
        return int(ent), tuple(int(k) for k in seed.spawn_key)
    if isinstance(seed, (tuple, list)) and seed:
        parts = tuple(seed)
    else:
        parts = (seed,)
    out = []
    for p in parts:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
            raise ArchsimError(f"seed = {seed!r} is not allowed; allowed a non-negative integer, a tuple of them "
                               f"(seed, *spawn_key) or a numpy SeedSequence")
        out.append(int(p))
    return out[0], tuple(out[1:])


def _key_tuple(key) -> tuple[int, ...]:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        key = (key,)
    try:
        t = tuple(int(k) for k in key)
    except TypeError:
        raise ArchsimError(f"matmul: key = {key!r} is not allowed; allowed a tuple of non-negative integers") from None
    if any(k < 0 for k in t) or any(isinstance(k, bool) for k in key):
        raise ArchsimError(f"matmul: key = {key!r} is not allowed; allowed a tuple of non-negative integers")
    return t


def _generator(entropy: int, spawn: tuple, tag: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=spawn + (tag,))))


#: offset mapping with 1-bit weights: the largest weight code and the offset, both 1/2 (binary +-1 weights)
BINARY_CODE = 0.5


def adc_transfer(arch: Architecture) -> int:
    """The transfer function (:data:`archsim.model.adc_kinds.TRANSFERS`) of ``arch``'s ADC: its ``adc_type``,
    or with ``auto`` the circuit library's default architecture (``techlib/circuits/.../adc.yaml``)."""
    name = str(arch.adc_type)
    if arch.adc_type == AUTO:
        name = str(techlib.circuit("adc", arch.circuits).field("architecture"))
    return ADC_KINDS[name].transfer_code


def weight_code_params(arch: Architecture, bits_per_cell: int, where: str = "") -> tuple[int, float, int, int]:
    """``(magnitude bits, largest weight code, offset code, slices)`` of ``arch``'s signed-weight mapping
    (see the module docstring: differential ``m = weight_bits - 1``, offset ``Q = 2^(weight_bits-1) - 1``;
    pairs: the largest code ``F L + L_lsp`` in LSP levels, :mod:`.pairs`, bits to hold it)."""
    if arch.pairs:
        top, lsp = arch.pair_levels(bits_per_cell)
        wmax = float(arch.pair_gain) * top + lsp
        return int(np.ceil(np.log2(wmax + 1.0))), wmax, 0, 2
    if arch.mapping == "differential":
        mb = max(1, arch.weight_bits - 1)
        wmax = (1 << mb) - 1
        off = 0
    elif arch.weight_bits == 1:
        # binary weights (+-1, the XNOR-like encoding of SRAM macros): the bit u in {0, 1} stands for
        # q = 2u - 1, i.e. codes with largest weight code 1/2 about the offset 1/2: W = (u - 1/2) w_scale / (1/2)
        return 1, BINARY_CODE, BINARY_CODE, 1
    else:
        mb = arch.weight_bits
        wmax = (1 << (arch.weight_bits - 1)) - 1
        off = wmax
    return mb, wmax, off, ceil_div(mb, bits_per_cell)


def weight_scale(W: np.ndarray) -> float:
    """The layer's quantization scale ``max |W|`` (1 for an all-zero or empty matrix)."""
    w_scale = float(np.max(np.abs(W))) if W.size else 0.0
    return w_scale if w_scale != 0.0 else 1.0


def slice_codes(W: np.ndarray, w_scale: float, arch: Architecture, bits_per_cell: int) -> np.ndarray:
    """Slice values ``(copies, slices, *W.shape)`` (uint16) of weights ``W`` quantized with ``w_scale``:
    the level each cell is programmed to, ``0 .. 2^bits_per_cell - 1`` (``g_min`` .. ``g_max``).
    Rows of a matrix may be passed in pieces with the whole matrix's ``w_scale``.  ``mapping: pairs``: the
    levels error-free programming gives the four cells (:func:`.pairs.ideal_levels`; slice 0 the LSP)."""
    _, wmax, off, slices = weight_code_params(arch, bits_per_cell)
    if arch.pairs:
        top, lsp = arch.pair_levels(bits_per_cell)
        qT = np.asarray(W, dtype=np.float64) / w_scale * wmax
        return _pairs.ideal_levels(qT, float(arch.pair_gain), top, lsp).astype(np.uint16)
    if wmax == BINARY_CODE:       # binary weights: the sign, stored as one bit (0 -> -1, 1 -> +1)
        return (np.asarray(W) >= 0).astype(np.uint16)[None, None]
    q = np.rint(np.asarray(W, dtype=np.float64) / w_scale * wmax).astype(np.int64)
    q = np.clip(q, -wmax, wmax)
    if arch.mapping == "differential":
        mags = np.stack([np.maximum(q, 0), np.maximum(-q, 0)])
    else:
        mags = (q + off)[None]
    mask = (1 << bits_per_cell) - 1
    return np.stack([((mags >> (bits_per_cell * s)) & mask).astype(np.uint16) for s in range(slices)],
                    axis=1)  # bits_per_cell <= 16


def stuck_rates(dm: Device, cfg: SimConfig) -> tuple[float, float]:
    """``(stuck-on, stuck-off)`` rates in force: ``cfg``'s where it sets them, else the device's."""
    return (dm.stuck_on if cfg.stuck_on_rate is None else cfg.stuck_on_rate,
            dm.stuck_off if cfg.stuck_off_rate is None else cfg.stuck_off_rate)


class _CellLaw:
    """The device's programming laws for cells of one shape, each source with its own random stream drawn
    once (one number per cell): device-to-device variation, programming error, clip; drift; stuck cells."""

    def __init__(self, shape: tuple, dg: float, dm: Device, cfg: SimConfig, entropy: int, spawn: tuple, where: str):
        self.dg, self.dm, self.cfg = dg, dm, cfg
        self.gmin_u, self.gmax_u = dm.g_min / dg, dm.g_max / dg
        self.z_d2d = self.z_prog = self.z_drift = None
        if not dm.exact:
            d2d = dm.d2d if cfg.d2d_sigma_rel is None else cfg.d2d_sigma_rel
            if d2d > 0:
                self.z_d2d = d2d * _generator(entropy, spawn, _TAG_D2D).standard_normal(shape)
            if cfg.prog_error and not dm.prog.is_none:
                self.z_prog = _generator(entropy, spawn, _TAG_PROG).standard_normal(shape)
            if dm.drift is not None and cfg.time_s > 0:
                self.z_drift = _generator(entropy, spawn, _TAG_DRIFT).standard_normal(shape)
        on, offr = stuck_rates(dm, cfg)
        if on + offr > 1.0:
            raise ArchsimError(f"{where}: stuck-on rate {on} + stuck-off rate {offr} exceeds 1 ({dm.file})")
        self.stuck_on = self.stuck_off = None
        if on > 0 or offr > 0:
            u = _generator(entropy, spawn, _TAG_STUCK).random(shape)
            self.stuck_on, self.stuck_off = u < on, (u >= on) & (u < on + offr)

    def program(self, target: np.ndarray) -> np.ndarray:
        """Conductances (units of dg) of cells programmed to ``target`` (units of dg): variation, error, clip."""
        G = target.copy()
        if self.dm.exact:
            return G
        if self.z_d2d is not None:
            G *= 1.0 + self.z_d2d
        if self.z_prog is not None:
            G += self.dm.prog.sigma(target * self.dg) / self.dg * self.z_prog
        np.clip(G, 0.0, self.dm.clip_max / self.dg, out=G)
        return G

    def drift(self, G: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``G`` after ``cfg.time_s`` of drift, each cell's exponent drawn from its target."""
        if self.z_drift is not None:
            mu, sd = self.dm.drift.nu_stats(target * self.dg)
            G *= self.dm.drift.factor(self.cfg.time_s, mu + sd * self.z_drift)
        return G

    def stuck(self, G: np.ndarray) -> np.ndarray:
        """Stuck-on cells at g_max, stuck-off cells at g_min (they neither drift nor carry programming error)."""
        if self.stuck_on is not None:
            G[self.stuck_on] = self.gmax_u
            G[self.stuck_off] = self.gmin_u
        return G


def _read_variance(G: np.ndarray, dg: float, dm: Device, cfg: SimConfig) -> np.ndarray | None:
    """Read-noise variance per cell in units of dg^2 (float32), or None without read noise."""
    if dm.exact or not cfg.read_noise or dm.read.is_none:
        return None
    t_noise = cfg.time_s + (dm.drift.params["t0"] if dm.drift is not None else 0.0)
    s = dm.read.sigma(G * dg, t_noise) / dg
    return (s * s).astype(np.float32) if np.any(s > 0) else None


def program_cells(codes: np.ndarray, bits_per_cell: int, dm: Device, cfg: SimConfig, entropy: int, spawn: tuple,
                  where: str):
    """The cells' conductances after programming, in units of the level step ``dg``, with every device error
    in the order of the model (device-to-device variation, programming error, clip, drift, stuck cells),
    each source from its own random stream; and the read-noise variance per cell (None without noise).

    Returns ``(G, S2, dg, gmin_u, gmax_u)``."""
    levels = float((1 << bits_per_cell) - 1)
    dg = (dm.g_max - dm.g_min) / levels
    law = _CellLaw(codes.shape, dg, dm, cfg, entropy, spawn, where)
    target = law.gmin_u + codes.astype(np.float64)
    G = law.stuck(law.drift(law.program(target), target))
    return G, _read_variance(G, dg, dm, cfg), dg, law.gmin_u, law.gmax_u


def program_pairs(W3: np.ndarray, w_scale: float, arch: Architecture, bits_per_cell: int, dm: Device,
                  cfg: SimConfig, entropy: int, spawn: tuple, where: str):
    """``mapping: pairs``: the four cells of every weight programmed in the closed loop of :mod:`.pairs`, each
    cell with the device's laws (variation, programming error of its target, clip, stuck cells seen by the
    verify reads), then drift; the same random streams as :func:`program_cells` (one number per cell).

    Returns ``(codes, G, S2, dg, gmin_u, gmax_u)``: the targets (uint16, (2, 2, groups, K, Ng), slice 0 the
    LSP) and what :func:`program_cells` returns."""
    top, lsp = arch.pair_levels(bits_per_cell)
    F = float(arch.pair_gain)
    dg = (dm.g_max - dm.g_min) / float(top)
    law = _CellLaw((2, 2) + W3.shape, dg, dm, cfg, entropy, spawn, where)
    qT = W3 / w_scale * (F * top + lsp)
    T, _ = _pairs.closed_loop(qT, F, top, lsp, lambda T: law.stuck(law.program(law.gmin_u + T)) - law.gmin_u)
    target = law.gmin_u + T.astype(np.float64)
    G = law.stuck(law.drift(law.stuck(law.program(target)), target))
    return T.astype(np.uint16), G, _read_variance(G, dg, dm, cfg), dg, law.gmin_u, law.gmax_u


def _ir_drop_on(cfg: SimConfig, arch: Architecture, dm: Device) -> bool:
    return cfg.ir_drop and not arch.parasitics.ideal and not dm.exact


def _effective_blocks(G: np.ndarray, dg: float, gmin_u: float, arch: Architecture, row_bounds, col_bounds) -> np.ndarray:
    """Replace every array's conductances by its effective matrix with the architecture's parasitics.

    ``G`` (copies, slices, groups, K, Ng) in units of ``dg``.  Each block sits in the corner of a
    physical ``arch.rows x arch.cols`` array next to the row drivers (rows from 0, columns from 0);
    the unused cells hold ``g_min`` and their rows are driven at 0 V, their columns still load the
    rows and are read into their own (discarded) virtual grounds, and the used columns carry their
    current down through the unused rows to the sense amplifiers at the bottom.  The circuit is
    linear, so the block's effective matrix (:func:`archsim.sim.crossbar.effective_matrix`, one solve per
    programmed array) replaces its conductances in every MVM, whatever the input (a row chunk read alone,
    ``parallel_rows``, is such an input: its rows driven, the array's others at 0 V).  ``row_bounds``: the
    physical arrays' row ranges.  The digital
    corrections stay ideal: offset mapping still subtracts the ``g_min`` current an ideal array would
    carry, so there IR drop also leaves a baseline error (a differential pair cancels most of it)."""
    from archsim.sim.crossbar import effective_matrix

    par = arch.parasitics
    out = np.empty_like(G)
    C, S, NG = G.shape[:3]
    full = np.empty((arch.rows, arch.cols))
    for c in range(C):
        for s in range(S):
            for grp in range(NG):
                for r0, r1 in row_bounds:
                    for q0, q1 in col_bounds:
                        full.fill(gmin_u * dg)
                        full[:r1 - r0, :q1 - q0] = G[c, s, grp, r0:r1, q0:q1] * dg
                        E = effective_matrix(full, par)          # (cols, rows) in siemens
                        out[c, s, grp, r0:r1, q0:q1] = E[:q1 - q0, :r1 - r0].T / dg
    return out


def _weights3(W, lm: LayerMap) -> np.ndarray:
    where = f"layer '{lm.layer}'"
    W = np.asarray(W)
    if W.dtype.kind not in "fiub":
        raise ArchsimError(f"{where}: weights must be numbers, got dtype {W.dtype}")
    n_g = lm.N // lm.groups
    given = tuple(W.shape)
    if W.ndim == 2 and lm.groups == 1:
        W = W[None]
    if W.shape != (lm.groups, lm.K, n_g):
        allowed = f"({lm.K}, {lm.N})" if lm.groups == 1 else f"(groups, K, N/groups) = ({lm.groups}, {lm.K}, {n_g})"
        raise ArchsimError(f"{where}: weight shape {given} does not match its LayerMap; allowed {allowed}")
    W = W.astype(np.float64)
    if not np.isfinite(W).all():
        raise ArchsimError(f"{where}: weights contain NaN or infinity")
    return W


def matmul_threads(cfg: SimConfig) -> int:
    """Threads that split a matmul's rows: ``cfg.threads``, or (0) the usable cores where
    threadpoolctl can hold BLAS to one thread per worker (otherwise 1: threads each running a
    multi-threaded BLAS would oversubscribe the cores)."""
    if cfg.threads:
        return cfg.threads
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)



"""Pulse kernels of analog training: Numba kernels and their numpy twins (tests compare them).

Random numbers are counter-based (:mod:`archsim.sim.tilesim.rng`: SplitMix64 hashes, a ziggurat for
normals): every number is a pure function of a 64-bit stream key and a counter, so the same seed gives
the same numbers whatever the thread count or batch cut.

- Stochastic pulse trains (Gokmen and Vlasov, Front. Neurosci. 2016): bit ``t`` of the train of
  element ``i`` of sample ``s`` fires when ``u < p`` with the uniform
  ``u = unit(mix(stream + GOLDEN ((s L + i) BL + t + 1)))`` (``L`` elements per sample).
- Deterministic trains: ``n = rint(p BL)`` pulses; rows fire in the first ``n`` slots, columns in
  ``n`` slots spread evenly (slot ``t`` fires when ``floor((t+1) n / BL) > floor(t n / BL)``), so a
  coincidence count is ``floor(n_x n_d / BL)``: a product of the two, without randomness.
- One pulse moves a device by the step of its law (:mod:`archsim.model.update_laws`) times
  ``1 + c2c z`` (at least 0; the tile's steps are divided by its mean, update_laws.c2c_mean_factor; a
  negative ``c2c`` argument is a signed model's: the factor ``1 + |c2c| z``, not cut;
  a jump table adds ``std z`` instead), ``z`` the normal at row
  ``cell`` and column ``k`` (the pulse's index within this update, < 64) of the stream laid out with
  64 columns, ``cell = (s K + i) N + j`` for sample ``s``; the state is clipped to its bounds.
- Pairs (``potentiation_only``): a down pulse is an up pulse on the minus device.
- Speed: :func:`archsim.sim.training.fused.stochastic_update` draws a batch's trains and applies their
  coincidences in one pass (no intermediate arrays, one call per layer and batch); constant-step devices
  take their step once per device and update, and without cycle-to-cycle noise move ``n`` steps at once
  (the sum, clipped: every step has one size and one sign).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from archsim.sim.tilesim.rng import (GOLDEN, ZIG_F, ZIG_R, ZIG_X, _mix, _normal_half_rest, _unit,
                                     mix64_np, normals_np)

#: columns of the noise layout: at most this many pulses per device and update (BL <= 64)
NCOL = 64
MAX_BL = 64
_S32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW8 = np.uint64(255)
_S8 = np.uint64(8)
_TWO_M23 = 2.0 ** -23
_TWO_M53 = 2.0 ** -53


# --------------------------------------------------------------------------- numba helpers
@njit(inline="always")
def _normal_at(stream, row, k, zx, zr, zf):
    h = _mix(stream + GOLDEN * (np.uint64(row) * np.uint64(NCOL // 2) + np.uint64(k // 2) + np.uint64(1)))
    half = np.uint64(k & 1)
    w = (h >> (_S32 * half)) & _LOW32
    i = w & _LOW8
    u = (np.float64(np.int64(w >> _S8)) + 0.5) * _TWO_M23 - 1.0
    if abs(u) < zr[i]:
        return u * zx[i]
    return _normal_half_rest(h, half, zx, zr, zf)


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(inline="always")
def _popcount(v):
    """Set bits of a uint64 (the SWAR count of Warren, Hacker's Delight, 5-1)."""
    v = v - ((v >> np.uint64(1)) & _M1)
    v = (v & _M2) + ((v >> np.uint64(2)) & _M2)
    v = (v + (v >> np.uint64(4))) & _M4
    return int((v * _H01) >> np.uint64(56))


@njit(cache=True, nogil=True)
def popcount_sum(a):
    """Total set bits of a uint64 array (any shape)."""
    t = 0
    for v in a.ravel():
        t += _popcount(v)
    return t


@njit(inline="always")
def _interp(x, xs, ys):
    n = xs.shape[0]
    if x <= xs[0]:
        return ys[0]
    if x >= xs[n - 1]:
        return ys[n - 1]
    k = 1
    while xs[k] < x:
        k += 1
    t = (x - xs[k - 1]) / (xs[k] - xs[k - 1])
    return ys[k - 1] + t * (ys[k] - ys[k - 1])


@njit(inline="always")
def _step(x, up, dw, a, bp, bm, law, gamma, table, dw_nom):
    """Mean step (>= 0) of one pulse; the numba twin of update_laws.step_sizes."""
    r = bp - bm
    s = dw * ((1.0 + a) if up else (1.0 - a))
    if law == 0:
        f = 1.0
    elif law == 1:
        f = (1.0 - gamma * x) if up else (1.0 + gamma * x)
    elif law == 2:
        f = (1.0 - x / bp) if up else (1.0 - x / bm)
    elif law == 3:
        f = math.exp(0.5 * gamma - gamma * ((x - bm) if up else (bp - x)) / r)
    elif law == 4:
        d = (bp - x) if up else (x - bm)
        f = (2.0 ** gamma) * (max(d, 0.0) / r) ** gamma
    else:
        m = _interp(x, table[0], table[1] if up else table[3])
        return max(m * r * (dw / dw_nom), 0.0)
    return max(s * f, 0.0)


@njit(inline="always")
def _pulses(x, n, up, dw, a, bp, bm, law, gamma, c2c, table, dw_nom, stream, row, zx, zr, zf):
    """State after ``n`` pulses in one direction.  A constant step without cycle-to-cycle noise moves
    ``n`` steps at once (the same state: every step has one size and one sign, so clipping the sum equals
    clipping each step)."""
    if law == 0 and c2c == 0.0:
        s = _step(x, up, dw, a, bp, bm, law, gamma, table, dw_nom) * n
        x = x + s if up else x - s
        return min(max(x, bm), bp)
    for k in range(n):
        s = _step(x, up, dw, a, bp, bm, law, gamma, table, dw_nom)
        if law == 5:
            sd = _interp(x, table[0], table[2] if up else table[4]) * (bp - bm) * (dw / dw_nom)
            if sd > 0.0:
                s = max(s + sd * _normal_at(stream, row, k, zx, zr, zf), 0.0)
        elif c2c != 0.0:
            f = 1.0 + abs(c2c) * _normal_at(stream, row, k, zx, zr, zf)
            s = s * (max(f, 0.0) if c2c > 0.0 else f)
        x = x + s if up else x - s
        if x > bp:
            x = bp
        elif x < bm:
            x = bm
    return x


@njit(cache=True, nogil=True)
def _apply_constant(Xp, Xm, pair, mx, md, sgx, sgd, rows, nr, cols, nc, dwu, asym, bp, bm, c2c, stream, cell0, count,
                    zx, zr, zf):
    """The coincidences of one sample's trains ``mx`` (rows ``rows[:nr]`` fire) and ``md`` (columns
    ``cols[:nc]``) on constant-step devices: :func:`_pulses` with the step, which does not depend on the
    state, taken once per device (the same numbers, in a loop the compiler keeps tight); without
    cycle-to-cycle noise the ``n`` steps move at once.  ``sgx``, ``sgd``: the signs (a device moves up
    where exactly one is negative)."""
    N = md.shape[0]
    total = 0
    for ii in range(nr):
        i = rows[ii]
        bi = mx[i]
        neg = sgx[i] < 0
        for jj in range(nc):
            j = cols[jj]
            n = _popcount(bi & md[j])
            if n == 0:
                continue
            up = neg != (sgd[j] < 0)
            count[i, j] += n
            total += n
            minus = pair and not up
            if minus:
                up = True
            s = max(dwu[i, j] * ((1.0 + asym[i, j]) if up else (1.0 - asym[i, j])), 0.0)
            x = Xm[i, j] if minus else Xp[i, j]
            lo = bm[i, j]
            hi = bp[i, j]
            if c2c == 0.0:
                x = x + s * n if up else x - s * n
                x = min(max(x, lo), hi)
            else:
                row = (cell0 + np.uint64(i)) * np.uint64(N) + np.uint64(j)
                for k in range(n):
                    f = 1.0 + abs(c2c) * _normal_at(stream, row, k, zx, zr, zf)
                    st = s * (max(f, 0.0) if c2c > 0.0 else f)
                    x = x + st if up else x - st
                    x = min(max(x, lo), hi)
            if minus:
                Xm[i, j] = x
            else:
                Xp[i, j] = x
    return total


@njit(cache=True, nogil=True)
def _apply(Xp, Xm, pair, mx, md, sgx, sgd, rows, nr, cols, nc, dwu, asym, bp, bm, law, gamma, c2c, table, dw_nom,
           stream, cell0, count, zx, zr, zf):
    """As :func:`_apply_constant` for any law: each device's pulses by :func:`_pulses` (noise row
    ``(cell0 + i) N + j``)."""
    if law == 0:
        return _apply_constant(Xp, Xm, pair, mx, md, sgx, sgd, rows, nr, cols, nc, dwu, asym, bp, bm, c2c, stream,
                               cell0, count, zx, zr, zf)
    N = md.shape[0]
    total = 0
    for ii in range(nr):
        i = rows[ii]
        bi = mx[i]
        neg = sgx[i] < 0
        for jj in range(nc):
            j = cols[jj]
            n = _popcount(bi & md[j])
            if n == 0:
                continue
            up = neg != (sgd[j] < 0)
            row = (cell0 + np.uint64(i)) * np.uint64(N) + np.uint64(j)
            count[i, j] += n
            total += n
            if pair and not up:
                Xm[i, j] = _pulses(Xm[i, j], n, True, dwu[i, j], asym[i, j], bp[i, j], bm[i, j], law, gamma,
                                   c2c, table, dw_nom, stream, row, zx, zr, zf)
            else:
                Xp[i, j] = _pulses(Xp[i, j], n, up, dwu[i, j], asym[i, j], bp[i, j], bm[i, j], law, gamma,
                                   c2c, table, dw_nom, stream, row, zx, zr, zf)
    return total


# --------------------------------------------------------------------------- kernels
@njit(cache=True, nogil=True)
def stochastic_trains(P, stream, sample0, BL):
    """(B, L) probabilities -> (B, L) uint64 bit trains of length BL."""
    B, L = P.shape
    out = np.zeros((B, L), np.uint64)
    for b in range(B):
        base = np.uint64(sample0 + b) * np.uint64(L)
        for i in range(L):
            p = P[b, i]
            if p <= 0.0:
                continue
            m = np.uint64(0)
            c0 = (base + np.uint64(i)) * np.uint64(BL)
            for t in range(BL):
                if _unit(_mix(stream + GOLDEN * (c0 + np.uint64(t) + np.uint64(1)))) < p:
                    m |= np.uint64(1) << np.uint64(t)
            out[b, i] = m
    return out


@njit(cache=True, nogil=True)
def pulse_outer(Xp, Xm, pair, xm, dm, sx, sd, dwu, asym, bp, bm, law, gamma, c2c, table, dw_nom, stream, sample0,
                count, zx, zr, zf):
    """Apply the coincidences of every sample's trains: rows ``xm`` (B, K) and columns ``dm`` (B, N)
    uint64, signs ``sx``, ``sd`` (+-1); a device moves against ``sx sd`` (gradient descent).  ``count``
    (K, N) int64 gains the pulses each device took.  Returns the coincidences."""
    B, K = xm.shape
    N = dm.shape[1]
    rows = np.empty(K, np.int64)
    cols = np.empty(N, np.int64)
    total = 0
    for b in range(B):
        nr = 0
        for i in range(K):
            if xm[b, i] != 0:
                rows[nr] = i
                nr += 1
        nc = 0
        for j in range(N):
            if dm[b, j] != 0:
                cols[nc] = j
                nc += 1
        if nr == 0 or nc == 0:
            continue
        total += _apply(Xp, Xm, pair, xm[b], dm[b], sx[b], sd[b], rows, nr, cols, nc, dwu, asym, bp, bm, law, gamma,
                        c2c, table, dw_nom, stream, np.uint64(sample0 + b) * np.uint64(K), count, zx, zr, zf)
    return total


@njit(inline="always")
def _train(p, stream, c0, BL):
    """The stochastic train of one element (see :func:`stochastic_trains`); ``c0`` its counter base."""
    m = np.uint64(0)
    if p <= 0.0:
        return m
    for t in range(BL):
        if _unit(_mix(stream + GOLDEN * (c0 + np.uint64(t) + np.uint64(1)))) < p:
            m |= np.uint64(1) << np.uint64(t)
    return m


@njit(cache=True, nogil=True)
def pulse_counts(Xp, Xm, pair, n_signed, dwu, asym, bp, bm, law, gamma, c2c, table, dw_nom, stream, count,
                 zx, zr, zf):
    """Apply ``|n|`` pulses to each device, up where ``n > 0`` (the transfers of mixed precision);
    the noise row of device (i, j) is ``i N + j``."""
    K, N = n_signed.shape
    total = 0
    for i in range(K):
        for j in range(N):
            n = n_signed[i, j]
            if n == 0:
                continue
            up = n > 0
            m = n if up else -n
            row = np.uint64(i) * np.uint64(N) + np.uint64(j)
            count[i, j] += m
            total += m
            while m > 0:   # the noise layout has NCOL columns: longer trains take fresh rows
                k = min(m, NCOL)
                if pair and not up:
                    Xm[i, j] = _pulses(Xm[i, j], k, True, dwu[i, j], asym[i, j], bp[i, j], bm[i, j], law, gamma,
                                       c2c, table, dw_nom, stream, row, zx, zr, zf)
                else:
                    Xp[i, j] = _pulses(Xp[i, j], k, up, dwu[i, j], asym[i, j], bp[i, j], bm[i, j], law, gamma,
                                       c2c, table, dw_nom, stream, row, zx, zr, zf)
                m -= k
                row += np.uint64(K) * np.uint64(N)
    return total


# --------------------------------------------------------------------------- numpy twins
def popcount_np(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.uint64)
    c = np.zeros(v.shape, dtype=np.int64)
    for t in range(64):
        c += ((v >> np.uint64(t)) & np.uint64(1)).astype(np.int64)
    return c


def stochastic_trains_np(P: np.ndarray, stream: int, sample0: int, BL: int) -> np.ndarray:
    B, L = P.shape
    s = (np.arange(B, dtype=np.uint64) + np.uint64(sample0))[:, None, None]
    i = np.arange(L, dtype=np.uint64)[None, :, None]
    t = np.arange(BL, dtype=np.uint64)[None, None, :]
    with np.errstate(over="ignore"):
        h = mix64_np(np.uint64(stream) + GOLDEN * ((s * np.uint64(L) + i) * np.uint64(BL) + t + np.uint64(1)))
    u = ((h >> np.uint64(11)).astype(np.float64) + 0.5) * _TWO_M53
    bits = (u < P[:, :, None]) & (P[:, :, None] > 0)
    w = (np.uint64(1) << np.arange(BL, dtype=np.uint64))
    return (bits.astype(np.uint64) * w).sum(axis=2, dtype=np.uint64)


def deterministic_trains(P: np.ndarray, BL: int, spread: bool) -> np.ndarray:
    """(B, L) probabilities -> uint64 trains: ``n = rint(p BL)`` pulses, first slots (rows) or spread
    evenly (columns).  Pure numpy: no randomness, a few operations per element."""
    n = np.rint(np.clip(P, 0.0, 1.0) * BL).astype(np.int64)
    t = np.arange(BL, dtype=np.int64)[None, None, :]
    if spread:
        on = ((t + 1) * n[:, :, None]) // BL > (t * n[:, :, None]) // BL
    else:
        on = t < n[:, :, None]
    w = (np.uint64(1) << np.arange(BL, dtype=np.uint64))
    return (on.astype(np.uint64) * w).sum(axis=2, dtype=np.uint64)


def _normals_cells(stream: int, rows: np.ndarray, k: int) -> np.ndarray:
    return normals_np(np.uint64(stream), rows.astype(np.uint64), NCOL, np.array([k]))[:, 0]


def _pulse_np(X, sel, up, k, rows, tile_params, model_law, stream):
    """One pulse (index k) on the devices ``sel`` (a boolean mask) of state X, moving up or down."""
    from archsim.model.update_laws import step_sizes
    dwu, asym, bp, bm, m = tile_params
    x = X[sel]
    s = step_sizes(m, x, up, dwu[sel], asym[sel], bp[sel], bm[sel])
    if m.law == "table":
        t = m.table_arrays()
        sd = np.interp(x, t[0], t[2] if up else t[4]) * (bp[sel] - bm[sel]) * (dwu[sel] / m.dw)
        z = _normals_cells(stream, rows[sel], k) if np.any(sd > 0) else 0.0
        s = np.maximum(s + sd * z, 0.0)
    elif m.c2c > 0:
        f = 1.0 + m.c2c * _normals_cells(stream, rows[sel], k)
        s = s * (f if m.c2c_signed else np.maximum(f, 0.0))
    X[sel] = np.clip(x + s if up else x - s, bm[sel], bp[sel])


def _whole_steps(tile_params) -> bool:
    """The law moves ``n`` pulses as one step of ``n dw`` (constant, no cycle-to-cycle noise)."""
    m = tile_params[4]
    return m.law == "constant" and m.c2c == 0


def _steps_np(X, sel, up, n, tile_params):
    """``n`` (per device) constant steps at once on the devices ``sel`` of X (see :func:`_pulses`)."""
    from archsim.model.update_laws import step_sizes
    dwu, asym, bp, bm, m = tile_params
    s = step_sizes(m, X[sel], up, dwu[sel], asym[sel], bp[sel], bm[sel]) * n[sel]
    X[sel] = np.minimum(np.maximum(X[sel] + s if up else X[sel] - s, bm[sel]), bp[sel])


def pulse_outer_np(Xp, Xm, pair, xm, dm, sx, sd, tile_params, stream, sample0, count) -> int:
    """Numpy twin of :func:`pulse_outer` (same arguments but the law's scalars, held in the model)."""
    B, K = xm.shape
    N = dm.shape[1]
    total = 0
    cells = np.arange(K * N, dtype=np.uint64).reshape(K, N)
    for b in range(B):
        n = popcount_np(xm[b][:, None] & dm[b][None, :])
        if not n.any():
            continue
        up = (sx[b][:, None] * sd[b][None, :]) < 0
        rows = np.uint64((sample0 + b) * K * N) + cells
        count += n
        total += int(n.sum())
        if _whole_steps(tile_params):
            for direction in (True, False):
                sel = (n > 0) & (up == direction)
                if pair and not direction:
                    _steps_np(Xm, sel, True, n, tile_params)
                else:
                    _steps_np(Xp, sel, direction, n, tile_params)
            continue
        for k in range(int(n.max())):
            act = n > k
            for direction in (True, False):
                sel = act & (up == direction)
                if not sel.any():
                    continue
                if pair and not direction:
                    _pulse_np(Xm, sel, True, k, rows, tile_params, tile_params[4], stream)
                else:
                    _pulse_np(Xp, sel, direction, k, rows, tile_params, tile_params[4], stream)
    return total


def pulse_counts_np(Xp, Xm, pair, n_signed, tile_params, stream, count) -> int:
    K, N = n_signed.shape
    m_abs = np.abs(n_signed)
    count += m_abs
    total = int(m_abs.sum())
    base = np.arange(K * N, dtype=np.uint64).reshape(K, N)
    up = n_signed > 0
    if _whole_steps(tile_params):       # as the kernel: chunks of at most NCOL pulses, each at once
        left = m_abs.copy()
        while left.any():
            k = np.minimum(left, NCOL)
            for direction in (True, False):
                sel = (k > 0) & (up == direction)
                if pair and not direction:
                    _steps_np(Xm, sel, True, k, tile_params)
                else:
                    _steps_np(Xp, sel, direction, k, tile_params)
            left -= k
        return total
    for k in range(int(m_abs.max()) if m_abs.size else 0):
        act = m_abs > k
        rows = base + np.uint64(k // NCOL) * np.uint64(K * N)
        for direction in (True, False):
            sel = act & (up == direction)
            if not sel.any():
                continue
            if pair and not direction:
                _pulse_np(Xm, sel, True, k % NCOL, rows, tile_params, tile_params[4], stream)
            else:
                _pulse_np(Xp, sel, direction, k % NCOL, rows, tile_params, tile_params[4], stream)
    return total


ZIG = (ZIG_X, ZIG_R, ZIG_F)

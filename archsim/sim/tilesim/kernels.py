"""Numba kernels of the tile simulator, each beside its plain-numpy twin.

Every kernel ``foo`` has a serial (``foo``) and a parallel (``foo_par``, rows of the batch split by
``prange``) compiled variant of one row routine, and a numpy twin ``foo_np`` that the tests use as the
reference.  The kernels do the element-wise work around the BLAS matrix products (which stay in
numpy): input quantization into DAC pulses (in :mod:`.dac_kernels`, whose names this module
re-exports), and the fused read-noise / ADC / shift-and-add accumulation of a block of column currents.  Compiled with ``fastmath=False`` (no reassociation,
no fused multiply-add), so a kernel and its twin perform the same IEEE operations in the same order
and agree to the last bit (the only exception is ``log``/``exp`` in the rare slow path of the
normal generator, where numba's and numpy's math libraries may differ in the last ulp).

The serial variants are what :mod:`archsim.sim.tilesim` calls by default.  The kernels run between
BLAS calls, and after its work each thread pool spins for a while (OpenBLAS's workers for up to
2^28 cycles, GNU OpenMP's for its spin count): on a 2-core machine the parallel variants and the
BLAS threads then steal each other's cores and ``parallel=True`` is several times slower.  With
``OMP_WAIT_POLICY=PASSIVE`` and ``OPENBLAS_THREAD_TIMEOUT=4`` in the environment (set before numpy
and numba load) the parallel variants pay on large calls (``SimConfig(parallel=True)``; calls under
``PARALLEL_MIN_ELEMENTS`` stay serial).  Results do not depend on which variant or how many threads
run: each output element is accumulated by one thread in a fixed order, and each random number is
a pure function of its counter.

The random numbers the read-noise kernels draw are counter-based: :mod:`.rng` states the generator.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from archsim.sim.tilesim.rng import GOLDEN, ZIG_F, ZIG_R, ZIG_X, _ONE, _normals_into, _normals_live, normals_np  # noqa: F401
from archsim.sim.tilesim.dac_kernels import (  # noqa: F401 (re-exported: the input-side kernels)
    quantize, quantize_np, quantize_par, quantize_planes_cm, run_quantize)

# ---------------------------------------------------------------------------------------------
# column currents -> (read noise) -> ADC -> shift-and-add accumulation
# ---------------------------------------------------------------------------------------------
# I     (NC, B, N) column currents of one conversion unit, one slab per conversion (pulse)
# var   (NC, B, N) float32 read-noise variance of each current (noise kernel only)
# lo, inv, step (N,) ADC range per column: code = clip(rint((v - lo) * inv), 0, qmax); v = lo + code*step
# coef  (NC,) shift-and-add weight of each conversion (pulse weight x slice weight x pair sign)
# out   (B, N) float64 accumulator: out[b, j] += coef[p] * v  (with ``init``: the first conversion
#       writes instead of adding, so a fresh accumulator needs no zeroing pass)

#: ADC transfer functions (archsim.model.adc_kinds): 0 rounds to the nearest code (thresholds half an LSB
#: from each level: SAR, flash), 1 takes the first code at or above the value (a single-slope ramp whose
#: counter stops when the ramp reaches the input)
TRANSFER_ROUND, TRANSFER_CEIL = 0, 1


@njit(inline="always")
def _code(t, tf):
    return np.ceil(t) if tf == TRANSFER_CEIL else np.rint(t)


@njit(inline="always")
def _adc_row(I, lo, inv, step, qmax, coef, out, b, quant, init, tf):
    zero = qmax - qmax
    ob = out[b]
    n = ob.shape[0]
    for p in range(I.shape[0]):
        cp = coef[p]
        Ib = I[p, b]
        if quant:
            if init and p == 0:
                for j in range(n):
                    c = _code((Ib[j] - lo[j]) * inv[j], tf)
                    c = min(max(c, zero), qmax)
                    ob[j] = cp * (lo[j] + c * step[j])
            else:
                for j in range(n):
                    c = _code((Ib[j] - lo[j]) * inv[j], tf)
                    c = min(max(c, zero), qmax)
                    ob[j] += cp * (lo[j] + c * step[j])
        else:
            if init and p == 0:
                for j in range(n):
                    ob[j] = cp * Ib[j]
            else:
                for j in range(n):
                    ob[j] += cp * Ib[j]


@njit(cache=True, fastmath=False, nogil=True)
def adc_accumulate(I, lo, inv, step, qmax, coef, out, quant, init, tf):
    for b in range(out.shape[0]):
        _adc_row(I, lo, inv, step, qmax, coef, out, b, quant, init, tf)


@njit(cache=True, fastmath=False, parallel=True)
def adc_accumulate_par(I, lo, inv, step, qmax, coef, out, quant, init, tf):
    for b in prange(out.shape[0]):
        _adc_row(I, lo, inv, step, qmax, coef, out, b, quant, init, tf)


def adc_np(v, lo, inv, step, qmax, tf=TRANSFER_ROUND):
    """numpy twin of the ADC transfer function (on float64 values)."""
    t = (np.asarray(v, dtype=np.float64) - lo) * inv
    c = np.ceil(t) if tf == TRANSFER_CEIL else np.rint(t)
    c = np.minimum(np.maximum(c, 0.0), qmax)
    return lo + c * step


def adc_accumulate_np(I, lo, inv, step, qmax, coef, out, quant, init=False, tf=TRANSFER_ROUND):
    if init:
        out[...] = 0.0
    for p in range(I.shape[0]):
        v = I[p].astype(np.float64)
        out += coef[p] * (adc_np(v, lo, inv, step, qmax, tf) if quant else v)


@njit(cache=True, fastmath=False, nogil=True)
def _noise_adc_rows(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, b0, b1, quant, init, zx, zr, zf,
                    tf):
    zero = qmax - qmax
    npair = (ncol + 1) // 2
    w = 2 * npair                      # normals per row (a padding one when ncol is odd)
    n = out.shape[1]
    # consecutive rows have consecutive pair counters: draw the normals of several rows at once
    # (narrow layers have rows of a few columns), in a buffer that stays in cache
    rpb = max(1, 8192 // w)
    z = np.empty(rpb * w)
    for bs in range(b0, b1, rpb):
        be = min(b1, bs + rpb)
        for p in range(I.shape[0]):
            cp = coef[p]
            _normals_into(z[:(be - bs) * w], streams[p] + GOLDEN * (np.uint64(row0 + bs) * np.uint64(npair) + _ONE),
                          zx, zr, zf)
            for b in range(bs, be):
                ob = out[b]
                Ib = I[p, b]
                vb = var[p, b]
                zb = z[(b - bs) * w:(b - bs) * w + n]
                if init and p == 0:
                    for j in range(n):
                        ob[j] = 0.0
                # separate loops without the generator's branches: they vectorize
                if quant:
                    for j in range(n):
                        v = Ib[j] + np.float64(np.sqrt(vb[j])) * zb[j]
                        c = _code((v - lo[j]) * inv[j], tf)
                        c = min(max(c, zero), qmax)
                        ob[j] += cp * (lo[j] + c * step[j])
                else:
                    for j in range(n):
                        ob[j] += cp * (Ib[j] + np.float64(np.sqrt(vb[j])) * zb[j])


@njit(cache=True, fastmath=False, nogil=True)
def noise_adc_accumulate(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant, init, zx, zr, zf, tf):
    """Add read noise ``sqrt(var) * z`` (z at (row0 + b, column) of each conversion's stream, ``ncol``
    columns per row), convert, and accumulate into ``out``."""
    _noise_adc_rows(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, 0, out.shape[0], quant, init,
                    zx, zr, zf, tf)


@njit(cache=True, fastmath=False, parallel=True)
def noise_adc_accumulate_par(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant, init, zx, zr, zf,
                             tf):
    B = out.shape[0]
    nblk = min(B, 64)
    for k in prange(nblk):
        _noise_adc_rows(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, k * B // nblk,
                        (k + 1) * B // nblk, quant, init, zx, zr, zf, tf)


def noise_adc_accumulate_np(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant, init=False,
                            tf=TRANSFER_ROUND):
    if init:
        out[...] = 0.0
    B, N = out.shape
    rows = np.arange(row0, row0 + B)
    cols = np.arange(N)
    for p in range(I.shape[0]):
        z = normals_np(streams[p], rows, ncol, cols)
        v = I[p].astype(np.float64) + np.sqrt(var[p]).astype(np.float64) * z   # float32 sqrt, as the kernel
        out += coef[p] * (adc_np(v, lo, inv, step, qmax, tf) if quant else v)


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------

def run_adc_accumulate(I, lo, inv, step, qmax, coef, out, quant, parallel=False, init=False, tf=TRANSFER_ROUND):
    f = adc_accumulate_par if parallel else adc_accumulate
    f(I, lo, inv, step, float(qmax), coef, out, bool(quant), bool(init), np.int64(tf))


def run_noise_adc_accumulate(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant,
                             parallel=False, init=False, tf=TRANSFER_ROUND):
    f = noise_adc_accumulate_par if parallel else noise_adc_accumulate
    f(I, var, streams, np.int64(row0), np.int64(ncol), lo, inv, step, float(qmax), coef, out, bool(quant),
      bool(init), ZIG_X, ZIG_R, ZIG_F, np.int64(tf))


# ---------------------------------------------------------------------------------------------
# every conversion unit of a row block at once: one stacked product -> noise -> ADC -> shift-add
# ---------------------------------------------------------------------------------------------
# M     (NC * B, ncols) column currents of one row block for every unit u (slice, array of the pair)
#       side by side: unit u's currents of conversion p, row b are M[p * B + b, u * N:(u + 1) * N]
# Mv    (NC * B, *) float32 read-noise variances, unit u's at columns vcol0 + u * N (Mv may be M itself
#       when the variance matrix was stacked into the same product)
# streams (U, NC) stream keys; lo, inv, step (U, N); coef (U, NC); out (B, N) float64 accumulator.
# Each output element is accumulated unit by unit, conversion by conversion, in that order: the same
# IEEE operations in the same order as ``adc_accumulate`` / ``noise_adc_accumulate`` called per unit.

@njit(cache=True, fastmath=False, nogil=True)
def _live_rows(Mvf, ldv, col0, n, r0, bs, be, live):
    """live[b - bs] = whether row r0 + b of the variances (flat ``Mvf``, rows of ``ldv``) has a nonzero value in
    columns col0 .. col0 + n; returns how many do."""
    cnt = 0
    for b in range(bs, be):
        o = np.uint64((r0 + b) * ldv + col0)
        nz = False
        for j in range(n):
            if Mvf[o + np.uint64(j)] != 0.0:
                nz = True
                break
        live[b - bs] = nz
        cnt += 1 if nz else 0
    return cnt


@njit(cache=True, fastmath=False, nogil=True)
def _units_rows(M, Mv, vcol0, streams, row0, ncol, lo, inv, step, qmax, coef, out, b0, b1, noise, quant, init,
                zx, zr, zf, tf):
    # M, Mv and out are C-ordered (run_units_accumulate makes sure) and read through flat unsigned indices: no
    # view per row, no negative-index checks (a third faster on narrow layers, where rows have a few columns)
    zero = qmax - qmax
    n = out.shape[1]
    B = out.shape[0]
    U = coef.shape[0]
    NC = coef.shape[1]
    npair = (ncol + 1) // 2
    w = 2 * npair
    rpb = max(1, 8192 // w)
    z = np.empty(rpb * w)
    live = np.empty(rpb, np.bool_)
    Mf = M.reshape(-1)
    Mvf = Mv.reshape(-1)
    of = out.reshape(-1)
    ldm = M.shape[1]
    ldv = Mv.shape[1]
    for bs in range(b0, b1, rpb):
        be = min(b1, bs + rpb)
        for u in range(U):
            c0 = u * n
            lu, iu, su = lo[u], inv[u], step[u]
            for p in range(NC):
                cp = coef[u, p]
                if noise:
                    # a row whose variances are all 0 (every input of its pulse 0, as on a blank image
                    # border) adds 0 x z: its normals are not drawn.  Each normal is a function of its
                    # (stream, row, column) alone, so skipping some leaves the others unchanged
                    nlive = _live_rows(Mvf, ldv, vcol0 + c0, n, p * B, bs, be, live)
                    base = streams[u, p] + GOLDEN * (np.uint64(row0 + bs) * np.uint64(npair) + _ONE)
                    if nlive == be - bs:
                        _normals_into(z[:(be - bs) * w], base, zx, zr, zf)
                    elif nlive:
                        _normals_live(z, base, npair, live, be - bs, zx, zr, zf)
                first = init and u == 0 and p == 0
                for b in range(bs, be):
                    ob = np.uint64(b * n)
                    ib = np.uint64((p * B + b) * ldm + c0)
                    if first:
                        for j in range(n):
                            of[ob + np.uint64(j)] = 0.0
                    # a row whose read-noise variances are all zero takes the noiseless branches below:
                    # v = I + sqrt(0) * z = I exactly (up to the sign of a zero current)
                    if noise and live[b - bs]:
                        vb = np.uint64((p * B + b) * ldv + vcol0 + c0)
                        zb = np.uint64((b - bs) * w)
                        if quant:
                            for j in range(n):
                                uj = np.uint64(j)
                                v = np.float64(Mf[ib + uj]) + np.float64(np.sqrt(Mvf[vb + uj])) * z[zb + uj]
                                c = _code((v - lu[uj]) * iu[uj], tf)
                                c = min(max(c, zero), qmax)
                                of[ob + uj] += cp * (lu[uj] + c * su[uj])
                        else:
                            for j in range(n):
                                uj = np.uint64(j)
                                of[ob + uj] += cp * (np.float64(Mf[ib + uj]) + np.float64(np.sqrt(Mvf[vb + uj])) * z[zb + uj])
                    elif quant:
                        for j in range(n):
                            uj = np.uint64(j)
                            c = _code((np.float64(Mf[ib + uj]) - lu[uj]) * iu[uj], tf)
                            c = min(max(c, zero), qmax)
                            of[ob + uj] += cp * (lu[uj] + c * su[uj])
                    else:
                        for j in range(n):
                            uj = np.uint64(j)
                            of[ob + uj] += cp * np.float64(Mf[ib + uj])


@njit(cache=True, fastmath=False, nogil=True)
def units_accumulate(M, Mv, vcol0, streams, row0, ncol, lo, inv, step, qmax, coef, out, noise, quant, init,
                     zx, zr, zf, tf):
    """Read noise (optional), ADC and shift-and-add of every unit of a row block (layout above)."""
    _units_rows(M, Mv, vcol0, streams, row0, ncol, lo, inv, step, qmax, coef, out, 0, out.shape[0], noise, quant,
                init, zx, zr, zf, tf)


@njit(cache=True, fastmath=False, parallel=True)
def units_accumulate_par(M, Mv, vcol0, streams, row0, ncol, lo, inv, step, qmax, coef, out, noise, quant, init,
                         zx, zr, zf, tf):
    B = out.shape[0]
    nblk = min(B, 64)
    for k in prange(nblk):
        _units_rows(M, Mv, vcol0, streams, row0, ncol, lo, inv, step, qmax, coef, out, k * B // nblk,
                    (k + 1) * B // nblk, noise, quant, init, zx, zr, zf, tf)


def units_accumulate_np(M, Mv, vcol0, streams, row0, ncol, lo, inv, step, qmax, coef, out, noise, quant, init=False,
                        tf=TRANSFER_ROUND):
    """numpy twin of :func:`units_accumulate`."""
    if init:
        out[...] = 0.0
    B, n = out.shape
    U, NC = coef.shape
    for u in range(U):
        sl = slice(u * n, (u + 1) * n)
        I = M[:, sl].reshape(NC, B, n)
        if noise:
            var = Mv[:, vcol0 + u * n:vcol0 + (u + 1) * n].reshape(NC, B, n)
            noise_adc_accumulate_np(I, var, streams[u], row0, ncol, lo[u], inv[u], step[u], qmax, coef[u], out, quant,
                                    tf=tf)
        else:
            adc_accumulate_np(I, lo[u], inv[u], step[u], qmax, coef[u], out, quant, tf=tf)


def run_units_accumulate(M, Mv, vcol0, streams, row0, ncol, lo, inv, step, qmax, coef, out, noise, quant,
                         parallel=False, init=False, tf=TRANSFER_ROUND):
    f = units_accumulate_par if parallel else units_accumulate
    if Mv is None:
        Mv = np.zeros((1, 1), np.float32)
    M, Mv = np.ascontiguousarray(M), np.ascontiguousarray(Mv)        # the kernel reads them flat
    acc = out if out.flags.c_contiguous else np.ascontiguousarray(out)
    f(M, Mv, np.int64(vcol0), streams, np.int64(row0), np.int64(ncol), lo, inv, step, float(qmax), coef, acc,
      bool(noise), bool(quant), bool(init), ZIG_X, ZIG_R, ZIG_F, np.int64(tf))
    if acc is not out:
        out[...] = acc

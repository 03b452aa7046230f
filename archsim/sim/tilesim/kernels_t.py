"""The read-noise / ADC / shift-and-add kernel on column currents laid out column by column.

:func:`.kernels.units_accumulate` reads a row block's currents row by row (``M`` (NC * B, ncols)).  Narrow
layers (LeNet-5's convolutions have 6 and 16 output columns) then pay a row's loop overhead for a few
columns, and BLAS writes a narrow output slowly.  Here the product is taken the other way round,
``MT = stack.T @ V.T`` (ncols, NC * B): BLAS writes wide rows, and the kernel's inner loops run over the
rows of the batch (hundreds long, contiguous in every buffer, so they vectorize).

Layout: ``MT`` (ncols, NC * B) C-ordered, unit u's current of conversion p, row b, column j at
``MT[u * N + j, p * B + b]``; ``MvT`` the float32 variances, unit u's at row ``vrow0 + u * N + j`` (``MvT`` may be
``MT`` itself when the variance matrix was stacked into the same product); ``accT`` (N, B) float64, the
accumulator transposed.  Each output element sees the same IEEE operations in the same order as in
:func:`.kernels.units_accumulate` (unit by unit, conversion by conversion; the same normal at its (stream, row,
column), the same rows without noise where all of a row's variances are zero): given ``MT = M.T`` the two
give the same numbers bit for bit (a test checks it).

The normals of a block of rows are drawn in two passes: the SplitMix64 hashes of every (row, pair) counter
first (a loop without branches that the compiler vectorizes), then the ziggurat on them, written
column-major so that the accumulation reads each column's normals contiguously.  The numbers are those of
:mod:`.rng`, unchanged.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from archsim.sim.tilesim.kernels import TRANSFER_ROUND, _code, units_accumulate_np
from archsim.sim.tilesim.rng import (GOLDEN, ZIG_F, ZIG_R, ZIG_X, _LOW8, _LOW32, _ONE, _S8, _S32, _TWO_M23, _mix,
                                     _normal_half_rest)

#: normals per block of rows (the block's buffers stay in the core's cache)
BLOCK_NORMALS = 4096
#: the fewest rows of a block with noise
MIN_BLOCK_ROWS = 256


@njit(cache=True, fastmath=False, nogil=True, boundscheck=False)
def _normals_t(z, hs, live, m, zs, npair, n, base):
    """Normals of rows 0 .. m of a block (row r's pair counters start at ``base + GOLDEN * r * npair``) into
    ``z[j * zs + r]`` for the columns j < n of the rows with ``live[r]``; ``hs`` is scratch of m * npair."""
    zx, zr, zf = ZIG_X, ZIG_R, ZIG_F
    for k in range(m * npair):         # hashes only: vectorizes
        uk = np.uint64(k)
        hs[uk] = _mix(base + GOLDEN * uk)
    for r in range(m):
        if not live[r]:
            continue
        for jp in range(npair):
            h = hs[np.uint64(r * npair + jp)]
            for t in range(2):
                j = 2 * jp + t
                if j >= n:
                    break
                half = np.uint64(t)
                w = (h >> (_S32 * half)) & _LOW32
                i = w & _LOW8
                u = (np.float64(np.int64(w >> _S8)) + 0.5) * _TWO_M23 - 1.0
                if abs(u) < zr[i]:
                    z[np.uint64(j * zs + r)] = u * zx[i]
                else:
                    z[np.uint64(j * zs + r)] = _normal_half_rest(h, half, zx, zr, zf)


@njit(cache=True, fastmath=False, nogil=True, boundscheck=False)
def _units_rows_t(MT, MvT, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef, accT, b0, b1, noise, quant, init,
                  tf):
    zero = qmax - qmax
    n = accT.shape[0]
    B = accT.shape[1]
    U = coef.shape[0]
    NC = coef.shape[1]
    npair = (ncol + 1) // 2
    # rows per block: without noise all of them (the inner loops run over whole columns); with noise as many as
    # keep the block's normals in cache, at least MIN_BLOCK_ROWS (loops long enough to vectorize)
    rpb = max(1, min(b1 - b0, 2048)) if not noise else max(1, min(b1 - b0, max(MIN_BLOCK_ROWS, BLOCK_NORMALS // (2 * npair))))
    zs = rpb + 8                     # z's row stride: not a power of two (rows would share cache sets)
    nz = n * zs if noise else 1
    z = np.empty(nz)
    hs = np.empty(nz, np.uint64)
    live = np.empty(rpb if noise else 1, np.uint8)
    Mf = MT.reshape(-1)
    Mvf = MvT.reshape(-1)
    af = accT.reshape(-1)
    ldm = MT.shape[1]
    for bs in range(b0, b1, rpb):
        m = min(b1, bs + rpb) - bs
        for u in range(U):
            for p in range(NC):
                cp = coef[u, p]
                nlive = 0
                if noise:
                    # a row whose variances are all 0 (every input of its pulse 0) adds no noise and draws no
                    # normals; each normal is a function of its (stream, row, column) alone
                    for r in range(m):
                        live[r] = 0
                    for j in range(n):
                        vb = np.uint64((vrow0 + u * n + j) * ldm + p * B + bs)
                        for r in range(m):
                            live[r] |= np.uint8(Mvf[vb + np.uint64(r)] != 0.0)
                    for r in range(m):
                        nlive += live[r]
                    if nlive:
                        _normals_t(z, hs, live, m, zs, npair, n,
                                   streams[u, p] + GOLDEN * (np.uint64(row0 + bs) * np.uint64(npair) + _ONE))
                first = init and u == 0 and p == 0
                for j in range(n):
                    ab = np.uint64(j * B + bs)
                    mb = np.uint64((u * n + j) * ldm + p * B + bs)
                    lj, ij, sj = lo[u, j], inv[u, j], step[u, j]
                    if first:
                        for r in range(m):
                            af[ab + np.uint64(r)] = 0.0
                    if nlive:
                        vb = np.uint64((vrow0 + u * n + j) * ldm + p * B + bs)
                        zb = np.uint64(j * zs)
                        if quant:
                            for r in range(m):
                                ur = np.uint64(r)
                                x = np.float64(Mf[mb + ur])
                                y = x + np.float64(np.sqrt(Mvf[vb + ur])) * z[zb + ur]
                                v = y if live[r] else x         # rows without noise: the current itself
                                c = _code((v - lj) * ij, tf)
                                c = min(max(c, zero), qmax)
                                af[ab + ur] += cp * (lj + c * sj)
                        else:
                            for r in range(m):
                                ur = np.uint64(r)
                                x = np.float64(Mf[mb + ur])
                                y = x + np.float64(np.sqrt(Mvf[vb + ur])) * z[zb + ur]
                                af[ab + ur] += cp * (y if live[r] else x)
                    elif quant:
                        for r in range(m):
                            ur = np.uint64(r)
                            c = _code((np.float64(Mf[mb + ur]) - lj) * ij, tf)
                            c = min(max(c, zero), qmax)
                            af[ab + ur] += cp * (lj + c * sj)
                    else:
                        for r in range(m):
                            ur = np.uint64(r)
                            af[ab + ur] += cp * np.float64(Mf[mb + ur])


@njit(cache=True, fastmath=False, nogil=True)
def units_accumulate_t(MT, MvT, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef, accT, noise, quant, init,
                       tf):
    """Read noise (optional), ADC and shift-and-add of every unit of a row block, transposed layout (above)."""
    _units_rows_t(MT, MvT, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef, accT, 0, accT.shape[1], noise,
                  quant, init, tf)


@njit(cache=True, fastmath=False, parallel=True)
def units_accumulate_t_par(MT, MvT, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef, accT, noise, quant, init,
                           tf):
    B = accT.shape[1]
    # blocks of at least MIN_BLOCK_ROWS rows (the inner loops run over a block's rows); which rows a thread
    # takes does not change a number
    nblk = max(1, min(64, B // MIN_BLOCK_ROWS))
    for k in prange(nblk):
        _units_rows_t(MT, MvT, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef, accT, k * B // nblk,
                      (k + 1) * B // nblk, noise, quant, init, tf)


def units_accumulate_t_np(MT, MvT, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef, accT, noise, quant,
                          init=False, tf=TRANSFER_ROUND):
    """numpy twin of :func:`units_accumulate_t`: :func:`.kernels.units_accumulate_np` on the transposes."""
    acc = np.ascontiguousarray(accT.T)
    units_accumulate_np(MT.T, None if MvT is None else MvT.T, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef,
                        acc, noise, quant, init, tf)
    accT[...] = acc.T


def run_units_accumulate_t(MT, MvT, vrow0, streams, row0, ncol, lo, inv, step, qmax, coef, accT, noise, quant,
                           parallel=False, init=False, tf=TRANSFER_ROUND):
    f = units_accumulate_t_par if parallel else units_accumulate_t
    if MvT is None:
        MvT = np.zeros((1, 1), np.float32)
    MT, MvT = np.ascontiguousarray(MT), np.ascontiguousarray(MvT)        # the kernel reads them flat
    acc = accT if accT.flags.c_contiguous else np.ascontiguousarray(accT)
    f(MT, MvT, np.int64(vrow0), streams, np.int64(row0), np.int64(ncol), lo, inv, step, float(qmax), coef, acc,
      bool(noise), bool(quant), bool(init), np.int64(tf))
    if acc is not accT:
        accT[...] = acc

"""Numba kernels of the tile simulator's input side, each beside its plain-numpy twin: inputs quantized into
DAC pulses.

The conventions of :mod:`.kernels` hold here (which re-exports every name): a serial and a parallel
(``_par``, ``prange`` over row blocks) compiled variant of one row routine, ``fastmath=False`` so that a
kernel and its numpy twin ``_np`` perform the same IEEE operations in the same order, and ``cache=True``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

# ---------------------------------------------------------------------------------------------
# input quantization: X -> DAC pulses
# ---------------------------------------------------------------------------------------------
# mode 0: digital pulses: V[p] = sign * ((|code| >> (dac*p)) & (2^dac - 1)), V2[p] = V[p]^2
# mode 1: analog accumulation: one conversion, V[0] = code, V2[0] = sum_p 4^(dac*p) digit_p^2
# mode 2: ideal DAC: one conversion, V[0] = x * scale (no rounding, no clipping), V2[0] = V[0]^2

# X is (B, K) of float32 or float64 in any layout, read in place (no conversion copy); v and v2 are
# (NC, B, K) views, in the caller's choice of layout (row-major, or column-major to match a
# column-major X such as im2col's).  Loops run in memory order.  Returns the number of non-finite
# inputs (the caller refuses them), counted in the same pass.

@njit(inline="always")
def _quantize_one(t, lo, hi, mode):
    return t if mode == 2 else np.rint(min(max(t, lo), hi))


@njit(inline="always")
def _digits(c, mode, dac_bits, npulse, v, v2, want_v2, b, k):
    """Split code ``c`` of input (b, k) into pulses (mode 0) or their squared sum (mode 1)."""
    mask = (1 << dac_bits) - 1
    m = np.int64(abs(c))
    sgn = 1.0 if c >= 0.0 else -1.0
    if mode == 1:
        if want_v2:
            s2 = 0.0
            for p in range(npulse):
                d = np.float64((m >> (dac_bits * p)) & mask)
                s2 += d * d * np.float64(1 << (2 * dac_bits * p))
            v2[0, b, k] = s2
    else:
        for p in range(npulse):
            d = np.float64((m >> (dac_bits * p)) & mask)
            v[p, b, k] = sgn * d
            if want_v2:
                v2[p, b, k] = d * d


@njit(inline="always")
def _quantize_rows(X, scale, lo, hi, mode, dac_bits, npulse, v, v2, want_v2, b0, b1):
    K = X.shape[1]
    bad = 0
    simple = mode == 2 or (mode == 0 and npulse == 1)   # one conversion carries the (rounded) value
    # the two loop orders repeat one body on purpose: moving it into an inlined helper that carries
    # ``bad`` made the row-major pass about 1.7x slower (numba 0.68, 4000 x 512 inputs: 1.0 -> 1.8 ms)
    if X.strides[0] < X.strides[1]:   # column-major
        for k in range(K):
            for b in range(b0, b1):
                t = np.float64(X[b, k]) * scale
                bad += 0 if t - t == 0.0 else 1
                c = _quantize_one(t, lo, hi, mode)
                v[0, b, k] = c
                if simple:
                    if want_v2:
                        v2[0, b, k] = c * c
                elif bad == 0:
                    _digits(c, mode, dac_bits, npulse, v, v2, want_v2, b, k)
    else:
        for b in range(b0, b1):
            for k in range(K):
                t = np.float64(X[b, k]) * scale
                bad += 0 if t - t == 0.0 else 1
                c = _quantize_one(t, lo, hi, mode)
                v[0, b, k] = c
                if simple:
                    if want_v2:
                        v2[0, b, k] = c * c
                elif bad == 0:
                    _digits(c, mode, dac_bits, npulse, v, v2, want_v2, b, k)
    return bad


@njit(cache=True, fastmath=False, nogil=True)
def quantize(X, scale, lo, hi, mode, dac_bits, npulse, v, v2, want_v2):
    """Quantize inputs ``X`` (B, K) into conversions ``v`` (NC, B, K) and squares ``v2`` (NC, B, K);
    returns the number of non-finite inputs."""
    return _quantize_rows(X, scale, lo, hi, mode, dac_bits, npulse, v, v2, want_v2, 0, X.shape[0])


@njit(cache=True, fastmath=False, parallel=True)
def quantize_par(X, scale, lo, hi, mode, dac_bits, npulse, v, v2, want_v2):
    B = X.shape[0]
    nblk = min(B, 64)
    bad = 0
    for k in prange(nblk):
        bad += _quantize_rows(X, scale, lo, hi, mode, dac_bits, npulse, v, v2, want_v2,
                              k * B // nblk, (k + 1) * B // nblk)
    return bad


@njit(cache=True, fastmath=False, nogil=True)
def quantize_planes_cm(X, scale, lo, hi, dac_bits, npulse, buf, codes, sg):
    """Mode 0 (digital pulses) for a column-major ``X`` (B, K), written straight into the C-ordered buffer
    ``buf`` (K, npulse * B) behind ``quantize``'s column-major ``v`` views: ``buf[k, p * B + b]`` = pulse
    ``p`` of input (b, k).  The same IEEE operations as :func:`quantize` (so the same numbers), in two
    passes per input column: codes first, then each pulse plane as one contiguous run (a loop the compiler
    vectorizes, where the per-element pulse loop of ``quantize`` writes ``npulse`` strided streams).
    ``codes`` (int64) and ``sg`` (float64) are scratch of length >= B.  Returns the number of non-finite
    inputs (their codes are left 0: the caller refuses the call)."""
    B, K = X.shape
    mask = (1 << dac_bits) - 1
    bad = 0
    for k in range(K):
        for b in range(B):
            t = np.float64(X[b, k]) * scale
            if t - t == 0.0:
                c = np.rint(min(max(t, lo), hi))
            else:
                bad += 1
                c = 0.0
            codes[b] = np.int64(abs(c))
            sg[b] = 1.0 if c >= 0.0 else -1.0
        row = buf[k]
        for p in range(npulse):
            sh = dac_bits * p
            o = p * B
            for b in range(B):
                row[o + b] = sg[b] * np.float64((codes[b] >> sh) & mask)
    return bad


def quantize_np(X, scale, lo, hi, mode, dac_bits, npulse, V, V2, want_v2):
    """numpy twin of :func:`quantize` on (B, K) inputs and (NC, B, K) outputs, filled in place;
    returns the number of non-finite inputs."""
    t = np.asarray(X, dtype=np.float64) * scale
    bad = int(np.count_nonzero(~np.isfinite(t)))
    if mode == 2:
        V[0] = t
        if want_v2:
            V2[0] = t * t
        return bad
    c = np.rint(np.minimum(np.maximum(t, lo), hi))
    if bad:
        V[0] = c
        return bad
    m = np.abs(c).astype(np.int64)
    sgn = np.where(c >= 0.0, 1.0, -1.0)
    mask = (1 << dac_bits) - 1
    digits = [((m >> (dac_bits * p)) & mask).astype(np.float64) for p in range(npulse)]
    if mode == 1:
        V[0] = c
        if want_v2:
            s2 = np.zeros_like(t)
            for p, d in enumerate(digits):
                s2 += d * d * float(1 << (2 * dac_bits * p))
            V2[0] = s2
    elif npulse == 1:
        V[0] = c
        if want_v2:
            V2[0] = c * c
    else:
        for p, d in enumerate(digits):
            V[p] = sgn * d
            if want_v2:
                V2[p] = d * d
    return bad


def run_quantize(X, scale, lo, hi, mode, dac_bits, npulse, V, V2, want_v2, parallel=False) -> int:
    """Quantize ``X`` (B, K) into ``V``, ``V2`` (NC, B, K); the number of non-finite inputs."""
    f = quantize_par if parallel else quantize
    return int(f(X, float(scale), float(lo), float(hi), int(mode), int(dac_bits), int(npulse), V, V2,
                 bool(want_v2)))

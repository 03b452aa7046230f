"""Numba kernels of the forward pass's digital steps: a convolution's bias, ReLU and channel-major layout in one
pass, and max pooling in one pass.

Each does, element by element, the very IEEE operations of the numpy code in :mod:`archsim.sim.forward` it
stands for (one add of the bias in the output's dtype; ``np.maximum``'s choice, which keeps NaN and takes the
second operand of equal ones, signed zeros included), so the numbers are the same bit for bit
(``tests/sim/test_forward.py``); they only save numpy's separate passes over large arrays (bias, ReLU, the
transposing copy; one pass per window offset of a pooling).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(inline="always")
def _np_max(a, b):
    """``np.maximum(a, b)`` of two scalars: NaN if either is NaN, ``b`` when they compare equal."""
    return a if (a > b or a != a) else b


@njit(cache=True, nogil=True)
def conv_out(yt, bias, has_bias, relu, out):
    """``out[b, c, p] = act(yt[c, b * P + p] + bias[c])``: ``yt`` (C, B * P) is the transposed product of a
    convolution (rows (b, oh, ow), ``P = Ho * Wo``), ``out`` (B, C, P) C-ordered, ``act`` ReLU (``np.maximum(v,
    0)``) or none."""
    B, C, P = out.shape
    zero = out.dtype.type(0)
    for b in range(B):
        for c in range(C):
            src = yt[c, b * P:(b + 1) * P]
            dst = out[b, c]
            bc = bias[c] if has_bias else zero
            for p in range(P):
                v = src[p] + bc if has_bias else src[p]
                dst[p] = _np_max(v, zero) if relu else v


@njit(cache=True, nogil=True, boundscheck=False)
def max_pool(x, kh, kw, sh, sw, out):
    """Max pooling without padding: ``out`` (B, C, Ho, Wo) the running ``np.maximum`` of the window offsets
    ``(i, j)`` in C order, from the first offset's value, as :func:`archsim.sim.forward._pool` computes it (an
    output row at a time)."""
    B, C, Ho, Wo = out.shape
    for b in range(B):
        for c in range(C):
            xc = x[b, c]
            oc = out[b, c]
            for oh in range(Ho):
                o = oc[oh]
                for i in range(kh):
                    row = xc[oh * sh + i]
                    for j in range(kw):
                        if i == 0 and j == 0:
                            for ow in range(Wo):
                                o[ow] = row[ow * sw]
                        else:
                            for ow in range(Wo):
                                o[ow] = _np_max(o[ow], row[ow * sw + j])


@njit(cache=True, nogil=True, boundscheck=False)
def im2col_into(x, c0, pt, pl, sh, sw, out):
    """``out[c, i, j, b, oh, ow] = x[b, c0 + c, oh * sh + i - pt, ow * sw + j - pl]``, 0 outside the map: ``out``
    (cg, kh, kw, B, Ho, Wo), C-ordered, is the transposed im2col matrix of channels ``c0 .. c0 + cg`` of ``x``
    (B, C, H, W), C-ordered, zero-padded by ``pt`` rows on top and ``pl`` columns on the left (a copy: the same
    numbers as :func:`archsim.sim.forward.im2col`'s numpy copies)."""
    cg, kh, kw, B, Ho, Wo = out.shape
    _, C, H, W = x.shape
    xf = x.reshape(-1)
    of = out.reshape(-1)
    zero = of.dtype.type(0)
    for c in range(cg):
        for i in range(kh):
            for j in range(kw):
                # the output columns whose input column ow * sw + j - pl lies inside the map: lo .. hi
                lo = 0
                while lo < Wo and lo * sw + j - pl < 0:
                    lo += 1
                hi = Wo
                while hi > lo and (hi - 1) * sw + j - pl >= W:
                    hi -= 1
                base = ((c * kh + i) * kw + j) * B
                for b in range(B):
                    for oh in range(Ho):
                        o = np.uint64(((base + b) * Ho + oh) * Wo)
                        h = oh * sh + i - pt
                        if h < 0 or h >= H:
                            for ow in range(Wo):
                                of[o + np.uint64(ow)] = zero
                            continue
                        src = ((b * C + c0 + c) * H + h) * W + j - pl
                        for ow in range(lo):
                            of[o + np.uint64(ow)] = zero
                        if sw == 1:
                            for ow in range(lo, hi):
                                of[o + np.uint64(ow)] = xf[np.uint64(src + ow)]
                        else:
                            for ow in range(lo, hi):
                                of[o + np.uint64(ow)] = xf[np.uint64(src + ow * sw)]
                        for ow in range(hi, Wo):
                            of[o + np.uint64(ow)] = zero


@njit(cache=True, nogil=True, boundscheck=False)
def conv_out_pool(yt, bias, has_bias, relu, Ho, Wo, kh, kw, sh, sw, out):
    """:func:`conv_out` followed by :func:`max_pool` (no padding) in one pass: ``out`` (B, C, Hp, Wp) the running
    ``np.maximum`` over each window, in the same order, of ``act(yt[c, b * Ho * Wo + h * Wo + w] + bias[c])``:
    the same numbers, without writing the convolution's output.  Unsigned indices: numba then drops its
    negative-index checks from the inner loops."""
    B, C, Hp, Wp = out.shape
    P = Ho * Wo
    zero = out.dtype.type(0)
    for b in range(B):
        for c in range(C):
            uc = np.uint64(c)
            bc = bias[c] if has_bias else zero
            for ph in range(Hp):
                for pw in range(Wp):
                    r = zero
                    s0 = b * P + ph * sh * Wo + pw * sw
                    for i in range(kh):
                        for j in range(kw):
                            v = yt[uc, np.uint64(s0 + i * Wo + j)]
                            if has_bias:
                                v = v + bc
                            if relu:
                                v = _np_max(v, zero)
                            r = v if (i == 0 and j == 0) else _np_max(r, v)
                    out[np.uint64(b), uc, np.uint64(ph), np.uint64(pw)] = r

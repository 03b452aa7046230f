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


@njit(cache=True, nogil=True)
def max_pool(x, kh, kw, sh, sw, out):
    """Max pooling without padding: ``out`` (B, C, Ho, Wo) the running ``np.maximum`` of the window offsets
    ``(i, j)`` in C order, from the first offset's value, as :func:`archsim.sim.forward._pool` computes it."""
    B, C, Ho, Wo = out.shape
    for b in range(B):
        for c in range(C):
            xc = x[b, c]
            oc = out[b, c]
            for oh in range(Ho):
                for ow in range(Wo):
                    r = xc[oh * sh, ow * sw]
                    for i in range(kh):
                        for j in range(kw):
                            if i or j:
                                r = _np_max(r, xc[oh * sh + i, ow * sw + j])
                    oc[oh, ow] = r

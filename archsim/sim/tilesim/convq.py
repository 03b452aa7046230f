"""DAC quantization of a convolution's inputs straight from its feature maps (no im2col matrix first).

A convolution's array inputs are the rows of its im2col matrix (:func:`archsim.sim.forward.im2col`): each
input value of the map appears in up to ``kh x kw`` rows.  Quantizing the matrix quantizes every value that
many times and first writes the whole matrix; here each map value is quantized once into its pulse planes,
and the planes are gathered into the same column-major buffers :meth:`ProgrammedMatrix._quantize` fills
(``buf[k, p * nb + r]``: input ``k`` of pulse ``p`` of row ``r``).  Quantization is element-wise with one
scale, and padding (zeros) quantizes to code 0, so the buffers hold the very numbers the im2col path
writes: the products and everything after them are the same bit for bit (a test checks it).

Modes as in :mod:`.kernels`: 0 digital pulses (``npulse`` planes of ``dac_bits``-bit digits with the sign),
1 pulses accumulated in analog (one conversion; its squared digits' weighted sum for the variance), 2 ideal
DAC (the scaled value itself).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, fastmath=False, nogil=True)
def conv_planes(x, pt, pl, b0, b1, scale, lo, hi, mode, dac_bits, npulse, qv, qv2, want_v2):
    """Pulse planes of maps ``b0 .. b1`` of the inputs ``x`` (B, C, H, W) zero-padded by ``pt`` rows on top and
    ``pl`` columns on the left (to the planes' size): ``qv`` (NC, C, b1 - b0, Hp, Wp) in the product's dtype,
    ``qv2`` (same shape, float32) the squares (mode 1: the weighted sum of squared digits), written only if
    ``want_v2``.  The same IEEE operations as :func:`.kernels.quantize` (a zero input gives +0.0 in every
    mode, as the padding of the im2col matrix does).  Returns the number of non-finite inputs."""
    _, C, H, W = x.shape
    Hp, Wp = qv.shape[3], qv.shape[4]
    mask = (1 << dac_bits) - 1
    bad = 0
    for b in range(b0, b1):
        for c in range(C):
            for h in range(Hp):
                for w in range(Wp):
                    hi_, wi = h - pt, w - pl
                    if hi_ < 0 or hi_ >= H or wi < 0 or wi >= W:
                        for p in range(qv.shape[0]):
                            qv[p, c, b - b0, h, w] = 0.0
                            if want_v2:
                                qv2[p, c, b - b0, h, w] = 0.0
                        continue
                    t = np.float64(x[b, c, hi_, wi]) * scale
                    bad += 0 if t - t == 0.0 else 1
                    if mode == 2:
                        qv[0, c, b - b0, h, w] = t
                        if want_v2:
                            qv2[0, c, b - b0, h, w] = t * t
                        continue
                    cc = np.rint(min(max(t, lo), hi))
                    if mode == 0 and npulse == 1:
                        qv[0, c, b - b0, h, w] = cc
                        if want_v2:
                            qv2[0, c, b - b0, h, w] = cc * cc
                        continue
                    if not (t - t == 0.0):
                        qv[0, c, b - b0, h, w] = cc
                        continue
                    m = np.int64(abs(cc))
                    sgn = 1.0 if cc >= 0.0 else -1.0
                    if mode == 1:
                        qv[0, c, b - b0, h, w] = cc
                        if want_v2:
                            s2 = 0.0
                            for p in range(npulse):
                                d = np.float64((m >> (dac_bits * p)) & mask)
                                s2 += d * d * np.float64(1 << (2 * dac_bits * p))
                            qv2[0, c, b - b0, h, w] = s2
                    else:
                        for p in range(npulse):
                            d = np.float64((m >> (dac_bits * p)) & mask)
                            qv[p, c, b - b0, h, w] = sgn * d
                            if want_v2:
                                qv2[p, c, b - b0, h, w] = d * d
    return bad


@njit(cache=True, fastmath=False, nogil=True, boundscheck=False)
def conv_codes(x, pt, pl, scale, lo, hi, qv):
    """:func:`conv_planes` for one digital pulse (mode 0, ``npulse`` 1), no squares: ``qv`` (1, C, B, Hp, Wp)
    ``= rint(min(max(x * scale, lo), hi))`` inside, 0 on the padding; the same IEEE operations, written a map
    row at a time so that the loop vectorizes (:func:`conv_planes` tests every element for padding and mode).
    Returns the number of non-finite inputs."""
    B, C, H, W = x.shape
    Hp, Wp = qv.shape[3], qv.shape[4]
    bad = 0
    for c in range(C):
        for b in range(B):
            q = qv[0, c, b]
            for h in range(Hp):
                hi_ = h - pt
                row = q[h]
                if hi_ < 0 or hi_ >= H:
                    for w in range(Wp):
                        row[w] = 0.0
                    continue
                for w in range(pl):
                    row[w] = 0.0
                for w in range(pl + W, Wp):
                    row[w] = 0.0
                xr = x[b, c, hi_]
                for w in range(W):
                    t = np.float64(xr[w]) * scale
                    bad += 0 if t - t == 0.0 else 1
                    row[w + pl] = np.rint(min(max(t, lo), hi))
    return bad


@njit(cache=True, fastmath=False, nogil=True, boundscheck=False)
def gather_rows(q, b0, Ho, Wo, sh, sw, kh, kw, r0, r1, krow, buf, buf2, square):
    """``buf[krow[k], p * nb + (r - r0)]`` = plane ``p`` of ``q`` (NC, C, maps, Hp, Wp, C-ordered; map 0 is image
    ``b0``) at im2col row ``r`` (image, oh, ow in C order) and column ``k`` (c, i, j in C order), for rows
    ``r0 .. r1`` (``buf`` C-ordered; ``krow`` the array row of each im2col column, the identity for
    im2col's own order): one run of output positions per output row of the map, with flat unsigned indices
    (numba then drops the negative-index checks and the copy vectorizes: 3x faster than 2-D views).  With
    ``square``, ``buf2`` (float32, the same shape) gets each gathered value's square in the same pass, taken
    in float64 and rounded to float32: with digital pulses (mode 0) a value is ``+-d`` exactly, so this is
    :func:`conv_planes`'s ``d * d`` bit for bit."""
    NC, C, M, Hp, Wp = q.shape
    qf = q.reshape(-1)
    bf = buf.reshape(-1)
    b2 = buf2.reshape(-1)
    ncol = buf.shape[1]
    nb = r1 - r0
    HW = Ho * Wo
    bs = r0 // HW
    ohs = (r0 - bs * HW) // Wo
    ows = r0 - bs * HW - ohs * Wo
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                kbase = krow[(c * kh + i) * kw + j] * ncol
                for p in range(NC):
                    cbase = (p * C + c) * M
                    b, oh, ow = bs, ohs, ows
                    d = kbase + p * nb
                    r = r0
                    while r < r1:
                        n = min(Wo - ow, r1 - r)
                        src = ((cbase + b - b0) * Hp + oh * sh + i) * Wp + ow * sw + j
                        if sw == 1:
                            for t in range(n):
                                bf[np.uint64(d + t)] = qf[np.uint64(src + t)]
                            if square:
                                for t in range(n):
                                    v = np.float64(qf[np.uint64(src + t)])
                                    b2[np.uint64(d + t)] = np.float32(v * v)
                        else:
                            for t in range(n):
                                bf[np.uint64(d + t)] = qf[np.uint64(src + t * sw)]
                            if square:
                                for t in range(n):
                                    v = np.float64(qf[np.uint64(src + t * sw)])
                                    b2[np.uint64(d + t)] = np.float32(v * v)
                        r += n
                        d += n
                        ow = 0
                        oh += 1
                        if oh == Ho:
                            oh = 0
                            b += 1


class MapRows:
    """The rows of a convolution's im2col matrix, quantized, for :meth:`ProgrammedMatrix._matmul`: ``prepare``
    quantizes every map value once into pulse planes (in the calling thread's workspace; the chunks, on any
    thread, only read them), and a call returns what :meth:`ProgrammedMatrix._quantize` returns for rows
    ``r0 .. r1`` (its column-major branch, the layout of im2col's matrix): ``V``, ``V2`` (NC, nb, K) views and
    ``Vf``, ``V2f`` (NC * nb, K) over the thread's workspace buffers."""

    def __init__(self, pm, x: np.ndarray, geom):
        self.pm, self.x, self.geom = pm, x, geom
        self.krow = pm.input_rows        # where each im2col column sits in the arrays
        self.qv = self.qv2 = None
        self.square = False

    def prepare(self, want_v2: bool, dt) -> None:
        from archsim.model.errors import ArchsimError
        from archsim.sim.tilesim.support import _WS

        pm, x = self.pm, self.x
        (kh, kw), (sh, sw), (pt, pl, pb, pr), (Ho, Wo) = self.geom
        B, C, H, W = x.shape
        qshape = (pm.n_conv, C, B, H + pt + pb, W + pl + pr)
        self.qv = _WS.get("QV", qshape, dt)
        self.qv2 = _WS.get("QV2", qshape if want_v2 and pm.conv_mode != 0 else (1, 1, 1, 1, 1), np.float32)
        lo = -float(pm.x_code_max) if pm.x_signed else 0.0
        # digital pulses: the squares are the gathered codes squared (:func:`gather_rows` with ``square``), not a second plane
        self.square = bool(want_v2) and int(pm.conv_mode) == 0
        if int(pm.conv_mode) == 0 and int(pm.arch.input_pulses) == 1 and pm.n_conv == 1:
            bad = conv_codes(x, pt, pl, float(pm.x_scale), lo, float(pm.x_code_max), self.qv)
        else:
            bad = conv_planes(x, pt, pl, 0, B, float(pm.x_scale), lo, float(pm.x_code_max), int(pm.conv_mode),
                              int(pm.arch.dac_bits), int(pm.arch.input_pulses), self.qv, self.qv2,
                              bool(want_v2) and not self.square)
        if bad:
            raise ArchsimError(f"layer '{pm.layer}': inputs contain NaN or infinity ({bad} values)")

    def __call__(self, g: int, r0: int, r1: int, want_v2: bool, dt):
        from archsim.sim.tilesim.support import _WS

        (kh, kw), (sh, sw), _, (Ho, Wo) = self.geom
        nb, k, nc = r1 - r0, self.pm.K, self.pm.n_conv
        bufv = _WS.get("V", (k, nc * nb), dt)
        bufw = _WS.get("V2", (k, nc * nb) if want_v2 else (1, 1), np.float32)
        square = bool(want_v2 and self.square)
        gather_rows(self.qv, 0, Ho, Wo, sh, sw, kh, kw, r0, r1, self.krow, bufv, bufw, square)
        if want_v2 and not square:
            gather_rows(self.qv2, 0, Ho, Wo, sh, sw, kh, kw, r0, r1, self.krow, bufw, bufw, False)
        V = bufv.reshape(k, nc, nb).transpose(1, 2, 0)
        V2 = bufw.reshape(k, nc, nb).transpose(1, 2, 0) if want_v2 else bufw.reshape(1, 1, 1)
        return V, V2, bufv.T, bufw.T

"""Numba kernels of the tile simulator, each beside its plain-numpy twin.

Every kernel ``foo`` has a serial (``foo``) and a parallel (``foo_par``, rows of the batch split by
``prange``) compiled variant of one row routine, and a numpy twin ``foo_np`` that the tests use as the
reference.  The kernels do the element-wise work around the BLAS matrix products (which stay in
numpy): input quantization into DAC pulses, and the fused read-noise / ADC / shift-and-add
accumulation of a block of column currents.  Compiled with ``fastmath=False`` (no reassociation,
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

Random numbers (counter-based, no generator state)
---------------------------------------------------
A normal deviate is a pure function of a 64-bit *stream* key and its (row, column) position.
Each 64-bit hash feeds two neighbouring columns (2j and 2j + 1) of a row::

    h = splitmix64_mix(stream + GOLDEN * (row * ceil(ncol / 2) + j + 1))

i.e. output number ``row * ceil(ncol/2) + j + 1`` of a SplitMix64 generator started at ``stream``
(Steele, Lea and Flood, OOPSLA 2014; the mixer is Stafford's "Mix13" variant used by
``java.util.SplittableRandom``).  Column 2j takes the low 32 bits of ``h``, column 2j + 1 the high
32 bits.  Each 32-bit word drives a ziggurat with 256 strips (Marsaglia and Tsang, J. Stat. Softw.
5(8), 2000, in the layout of Doornik's ZIGNOR, "An improved ziggurat method to generate normal random
samples", 2005): 8 bits pick the strip, the other 24 bits give the signed uniform ``u`` (disjoint
bits, as Doornik requires), so a deviate accepted on the first try lies on a grid of 2^-23 of its
strip's width (below 4.4e-7).  About 1.5% of words fall outside their strip's rectangle; the
ziggurat then continues (wedge or tail test, and retries with fresh 53-bit uniforms) with the
SplitMix64 sequence started at ``splitmix64_mix(h + GOLDEN * (half + 1))`` (``half`` = 0 or 1), so
every deviate still depends on (stream, row, column) alone.  Same key, same numbers, whatever the thread count, chunking or order
of evaluation.  The ziggurat is exact (not an approximation of the normal distribution) up to the
resolution of its uniforms.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# ---------------------------------------------------------------------------------------------
# counter-based random numbers
# ---------------------------------------------------------------------------------------------

GOLDEN = np.uint64(0x9E3779B97F4A7C15)   # SplitMix64 increment (2^64 / golden ratio)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_LOW8 = np.uint64(255)
_LOW32 = np.uint64(0xFFFFFFFF)
_S8, _S32 = np.uint64(8), np.uint64(32)
_ONE = np.uint64(1)
_TWO_M53 = 2.0 ** -53
_TWO_M23 = 2.0 ** -23


def _ziggurat_tables(strips: int = 256, r: float = 3.6541528853610088, v: float = 4.92867323399e-3):
    """Ziggurat tables: strip edges ``x`` (strips + 1, decreasing, ``x[strips] = 0``), rectangle
    ratios ``x[i+1]/x[i]`` and densities ``f[i] = exp(-x[i]^2 / 2)``.

    ``r`` is the start of the tail and ``v`` the area of each strip for 256 strips (Marsaglia and
    Tsang 2000; Doornik 2005's layout); mathematical constants of the algorithm, not physics.
    """
    x = np.zeros(strips + 1)
    f = math.exp(-0.5 * r * r)
    x[0] = v / f
    x[1] = r
    for i in range(2, strips):
        x[i] = math.sqrt(-2.0 * math.log(v / x[i - 1] + f))
        f = math.exp(-0.5 * x[i] * x[i])
    ratio = x[1:] / x[:-1]
    dens = np.exp(-0.5 * x * x)
    return x, ratio, dens


ZIG_X, ZIG_R, ZIG_F = _ziggurat_tables()


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(inline="always")
def _unit(h):
    """Uniform in (0, 1) from the top 53 bits."""
    return (np.float64(np.int64(h >> _S11)) + 0.5) * _TWO_M53


@njit(inline="always")
def _ziggurat_rest(u, i, seed, zx, zr, zf):
    """The ziggurat after a first try ``(u, i)`` fell outside its rectangle: tail, wedge, retries,
    with uniforms ``_unit(_mix(seed + GOLDEN * k))``, k = 1, 2, ..."""
    k = np.uint64(0)
    while True:
        if abs(u) < zr[i]:
            return u * zx[i]
        if i == 0:  # base strip: sample the tail beyond r (Marsaglia's method)
            r = zx[1]
            while True:
                k += _ONE
                x = math.log(_unit(_mix(seed + GOLDEN * k))) / r
                k += _ONE
                y = math.log(_unit(_mix(seed + GOLDEN * k)))
                if -2.0 * y >= x * x:
                    break
            return x - r if u < 0.0 else r - x
        x = u * zx[i]
        k += _ONE
        if zf[i] + _unit(_mix(seed + GOLDEN * k)) * (zf[i + _ONE] - zf[i]) < math.exp(-0.5 * x * x):
            return x   # under the density in the wedge
        k += _ONE
        h = _mix(seed + GOLDEN * k)
        u = 2.0 * _unit(h) - 1.0
        i = h & _LOW8


@njit(cache=True)
def _normal_half_rest(h, half, zx, zr, zf):
    """Slow path of the generator (the 32-bit word ``half`` of hash ``h`` missed its rectangle on the
    first try).  Takes the hash, not the try's (u, i): a call with integer arguments only kept the
    kernels' fast loop three times faster in numba 0.6x."""
    w = (h >> (_S32 * half)) & _LOW32
    i = w & _LOW8
    u = (np.float64(np.int64(w >> _S8)) + 0.5) * _TWO_M23 - 1.0
    return _ziggurat_rest(u, i, _mix(h + GOLDEN * (half + _ONE)), zx, zr, zf)


# ---- numpy twins of the generator ----

def mix64_np(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def _ziggurat_rest_py(u: float, i: int, seed: int) -> float:
    """Pure-Python twin of :func:`_ziggurat_rest` (uint64 arithmetic with Python ints)."""
    g = int(GOLDEN)
    mix = mix64_py

    def unit(h):
        return (float(h >> 11) + 0.5) * _TWO_M53

    zx, zr, zf = ZIG_X, ZIG_R, ZIG_F
    k = 0
    while True:
        if abs(u) < zr[i]:
            return float(u * zx[i])
        if i == 0:
            r = float(zx[1])
            while True:
                k += 1
                x = math.log(unit(mix(seed + g * k))) / r
                k += 1
                y = math.log(unit(mix(seed + g * k)))
                if -2.0 * y >= x * x:
                    break
            return x - r if u < 0.0 else r - x
        x = float(u * zx[i])
        k += 1
        if zf[i] + unit(mix(seed + g * k)) * (zf[i + 1] - zf[i]) < math.exp(-0.5 * x * x):
            return x
        k += 1
        h = mix(seed + g * k)
        u = 2.0 * unit(h) - 1.0
        i = h & 255


def normals_np(stream, rows: np.ndarray, ncol: int, cols: np.ndarray) -> np.ndarray:
    """Standard normals at (row, col) of a stream laid out with ``ncol`` columns, shape (rows, cols)."""
    npair = np.uint64((int(ncol) + 1) // 2)
    r = np.asarray(rows, dtype=np.uint64)[:, None]
    c = np.asarray(cols, dtype=np.uint64)[None, :]
    half = c & _ONE
    with np.errstate(over="ignore"):
        h = mix64_np(np.uint64(stream) + GOLDEN * (r * npair + (c >> _ONE) + _ONE))
        h, half = np.broadcast_arrays(h, half)
        w = (h >> (_S32 * half)) & _LOW32
        i = (w & _LOW8).astype(np.intp)
        u = ((w >> _S8).astype(np.int64).astype(np.float64) + 0.5) * _TWO_M23 - 1.0
        z = u * ZIG_X[i]
        slow = ~(np.abs(u) < ZIG_R[i])
        if slow.any():
            seeds = mix64_np(h[slow] + GOLDEN * (half[slow] + _ONE))
            z[slow] = [_ziggurat_rest_py(float(uu), int(ii), int(ss))
                       for uu, ii, ss in zip(u[slow], i[slow], seeds)]
    return z


_MASK64 = (1 << 64) - 1


def mix64_py(z: int) -> int:
    """SplitMix64 finalizer on a Python int (the same function as :func:`mix64_np`)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def stream_keys_np(base, units) -> np.ndarray:
    """Stream key of each sub-stream index: ``mix(base + GOLDEN * (unit + 1))``."""
    u = np.asarray(units, dtype=np.uint64)
    if u.size <= 64:   # a few keys: Python ints are quicker than numpy's error-state machinery
        b, g = int(base), int(GOLDEN)
        return np.array([mix64_py(b + g * (int(k) + 1)) for k in u.ravel()], dtype=np.uint64).reshape(u.shape)
    with np.errstate(over="ignore"):
        return mix64_np(np.uint64(base) + GOLDEN * (u + _ONE))


@njit(cache=True, fastmath=False, nogil=True)
def _normals_row(out, stream, row, ncol, col0, zx, zr, zf):
    npair = np.uint64((ncol + 1) // 2)
    base = stream + GOLDEN * (np.uint64(row) * npair + _ONE)
    if col0 % 2 == 0:
        _normals_into(out, base + GOLDEN * np.uint64(col0 // 2), zx, zr, zf)
        return
    tmp = np.empty(out.shape[0] + 1)
    _normals_into(tmp, base + GOLDEN * np.uint64(col0 // 2), zx, zr, zf)
    out[:] = tmp[1:]


@njit(cache=True, fastmath=False, nogil=True)
def normals(stream, row0, nrows, ncol, col0, ncols, zx, zr, zf):
    """Standard normals for rows ``row0 .. row0+nrows`` and columns ``col0 .. col0+ncols`` of a
    stream laid out with ``ncol`` columns per row."""
    out = np.empty((nrows, ncols))
    for b in range(nrows):
        _normals_row(out[b], stream, row0 + b, ncol, col0, zx, zr, zf)
    return out


@njit(cache=True, fastmath=False, parallel=True)
def normals_par(stream, row0, nrows, ncol, col0, ncols, zx, zr, zf):
    out = np.empty((nrows, ncols))
    for b in prange(nrows):
        _normals_row(out[b], stream, row0 + b, ncol, col0, zx, zr, zf)
    return out


def normals_nb(stream, row0: int, nrows: int, ncol: int, col0: int, ncols: int, parallel: bool = False):
    f = normals_par if parallel else normals
    return f(np.uint64(stream), np.int64(row0), np.int64(nrows), np.int64(ncol), np.int64(col0),
             np.int64(ncols), ZIG_X, ZIG_R, ZIG_F)


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


# ---------------------------------------------------------------------------------------------
# column currents -> (read noise) -> ADC -> shift-and-add accumulation
# ---------------------------------------------------------------------------------------------
# I     (NC, B, N) column currents of one conversion unit, one slab per conversion (pulse)
# var   (NC, B, N) float32 read-noise variance of each current (noise kernel only)
# lo, inv, step (N,) ADC range per column: code = clip(rint((v - lo) * inv), 0, qmax); v = lo + code*step
# coef  (NC,) shift-and-add weight of each conversion (pulse weight x slice weight x pair sign)
# out   (B, N) float64 accumulator: out[b, j] += coef[p] * v  (with ``init``: the first conversion
#       writes instead of adding, so a fresh accumulator needs no zeroing pass)

@njit(inline="always")
def _adc_row(I, lo, inv, step, qmax, coef, out, b, quant, init):
    zero = qmax - qmax
    ob = out[b]
    n = ob.shape[0]
    for p in range(I.shape[0]):
        cp = coef[p]
        Ib = I[p, b]
        if quant:
            if init and p == 0:
                for j in range(n):
                    c = np.rint((Ib[j] - lo[j]) * inv[j])
                    c = min(max(c, zero), qmax)
                    ob[j] = cp * (lo[j] + c * step[j])
            else:
                for j in range(n):
                    c = np.rint((Ib[j] - lo[j]) * inv[j])
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
def adc_accumulate(I, lo, inv, step, qmax, coef, out, quant, init):
    for b in range(out.shape[0]):
        _adc_row(I, lo, inv, step, qmax, coef, out, b, quant, init)


@njit(cache=True, fastmath=False, parallel=True)
def adc_accumulate_par(I, lo, inv, step, qmax, coef, out, quant, init):
    for b in prange(out.shape[0]):
        _adc_row(I, lo, inv, step, qmax, coef, out, b, quant, init)


def adc_np(v, lo, inv, step, qmax):
    """numpy twin of the ADC transfer function (on float64 values)."""
    c = np.rint((np.asarray(v, dtype=np.float64) - lo) * inv)
    c = np.minimum(np.maximum(c, 0.0), qmax)
    return lo + c * step


def adc_accumulate_np(I, lo, inv, step, qmax, coef, out, quant, init=False):
    if init:
        out[...] = 0.0
    for p in range(I.shape[0]):
        v = I[p].astype(np.float64)
        out += coef[p] * (adc_np(v, lo, inv, step, qmax) if quant else v)


@njit(cache=True, fastmath=False, nogil=True)
def _normals_into(z, base, zx, zr, zf):
    """z[j] = normal at column j of the row whose pair counters start at ``base``."""
    # The generator is written out here rather than in an inline helper: numba's inlining of a
    # helper that calls the slow path made this loop three times slower.
    n = z.shape[0]
    for jp in range((n + 1) // 2):
        h = _mix(base + GOLDEN * np.uint64(jp))
        for t in range(2):
            j = 2 * jp + t
            if j >= n:
                break
            half = np.uint64(t)
            w = (h >> (_S32 * half)) & _LOW32
            i = w & _LOW8
            u = (np.float64(np.int64(w >> _S8)) + 0.5) * _TWO_M23 - 1.0
            if abs(u) < zr[i]:
                z[j] = u * zx[i]
            else:
                z[j] = _normal_half_rest(h, half, zx, zr, zf)


@njit(cache=True, fastmath=False, nogil=True)
def _noise_adc_rows(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, b0, b1, quant, init, zx, zr, zf):
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
                        c = np.rint((v - lo[j]) * inv[j])
                        c = min(max(c, zero), qmax)
                        ob[j] += cp * (lo[j] + c * step[j])
                else:
                    for j in range(n):
                        ob[j] += cp * (Ib[j] + np.float64(np.sqrt(vb[j])) * zb[j])


@njit(cache=True, fastmath=False, nogil=True)
def noise_adc_accumulate(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant, init, zx, zr, zf):
    """Add read noise ``sqrt(var) * z`` (z at (row0 + b, column) of each conversion's stream, ``ncol``
    columns per row), convert, and accumulate into ``out``."""
    _noise_adc_rows(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, 0, out.shape[0], quant, init,
                    zx, zr, zf)


@njit(cache=True, fastmath=False, parallel=True)
def noise_adc_accumulate_par(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant, init, zx, zr, zf):
    B = out.shape[0]
    nblk = min(B, 64)
    for k in prange(nblk):
        _noise_adc_rows(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, k * B // nblk,
                        (k + 1) * B // nblk, quant, init, zx, zr, zf)


def noise_adc_accumulate_np(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant, init=False):
    if init:
        out[...] = 0.0
    B, N = out.shape
    rows = np.arange(row0, row0 + B)
    cols = np.arange(N)
    for p in range(I.shape[0]):
        z = normals_np(streams[p], rows, ncol, cols)
        v = I[p].astype(np.float64) + np.sqrt(var[p]).astype(np.float64) * z   # float32 sqrt, as the kernel
        out += coef[p] * (adc_np(v, lo, inv, step, qmax) if quant else v)


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------

def run_quantize(X, scale, lo, hi, mode, dac_bits, npulse, V, V2, want_v2, parallel=False) -> int:
    """Quantize ``X`` (B, K) into ``V``, ``V2`` (NC, B, K); the number of non-finite inputs."""
    f = quantize_par if parallel else quantize
    return int(f(X, float(scale), float(lo), float(hi), int(mode), int(dac_bits), int(npulse), V, V2,
                 bool(want_v2)))


def run_adc_accumulate(I, lo, inv, step, qmax, coef, out, quant, parallel=False, init=False):
    f = adc_accumulate_par if parallel else adc_accumulate
    f(I, lo, inv, step, float(qmax), coef, out, bool(quant), bool(init))


def run_noise_adc_accumulate(I, var, streams, row0, ncol, lo, inv, step, qmax, coef, out, quant,
                             parallel=False, init=False):
    f = noise_adc_accumulate_par if parallel else noise_adc_accumulate
    f(I, var, streams, np.int64(row0), np.int64(ncol), lo, inv, step, float(qmax), coef, out, bool(quant),
      bool(init), ZIG_X, ZIG_R, ZIG_F)

"""Counter-based random numbers of the tile simulator: Numba kernels with their numpy twins.

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
def _normals_live(z, base, npair, live, nrows, zx, zr, zf):
    """Like :func:`_normals_into` on ``nrows`` rows of ``2 * npair`` values (row r's pair counters start at
    ``base + GOLDEN * r * npair``), for the rows with ``live[r]`` only; the others are left as they were."""
    w = 2 * npair
    for r in range(nrows):
        if not live[r]:
            continue
        rb = base + GOLDEN * (np.uint64(r) * np.uint64(npair))
        for jp in range(npair):
            h = _mix(rb + GOLDEN * np.uint64(jp))
            for t in range(2):
                j = r * w + 2 * jp + t
                half = np.uint64(t)
                wd = (h >> (_S32 * half)) & _LOW32
                i = wd & _LOW8
                u = (np.float64(np.int64(wd >> _S8)) + 0.5) * _TWO_M23 - 1.0
                if abs(u) < zr[i]:
                    z[j] = u * zx[i]
                else:
                    z[j] = _normal_half_rest(h, half, zx, zr, zf)


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



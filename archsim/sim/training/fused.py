"""The fused stochastic update of analog training: one Numba pass per layer and batch draws every sample's
pulse trains and applies their coincidences, with the numbers of :mod:`archsim.sim.training.kernels`
(the same streams, counters, noise rows and floating-point operations in the same order per device: the
same states, bit for bit, as the trains drawn by :func:`kernels.stochastic_trains` then applied by
:func:`kernels.pulse_outer`; tests/sim/test_training.py compares them and tests/sim/test_training_pins.py
pins whole training runs).

What makes it quick (an epoch of the 784-256-128-10 network applies about 6,000 coincidences per sample):

- a sample's trains are drawn into two small buffers (no ``(B, L)`` train arrays), and its active columns
  are packed with their trains and signs, so a row meets them in one tight loop: the CPU's population
  count of ``row & column`` for each, the devices with a coincidence gathered without a branch;
- only those devices are touched.  Each device moves independently of the others within a sample, so
  visiting them row by row changes no number; a device's pulses keep their order (noise column ``k``
  for its ``k``-th pulse);
- a constant step (the benchmark's devices, aihwkit's ConstantStepDevice) is taken in a loop of its own,
  the cycle-to-cycle normals drawn there two per hash (the ziggurat's fast path written out in the loop:
  behind a helper function numba's compiled code ran it 20 times slower), without that noise ``n`` steps
  at once as the other kernels do;
- where no device-to-device spread makes them differ, a constant-step tile's steps and bounds are four
  scalars (:func:`uniform_steps`): a coincidence touches three cache lines (the state, the pulse count,
  the read weight) instead of seven (packing the four per-device arrays side by side was slower);
- the weights the reads use (``gain x`` or ``gain/2 (x+ - x-)``, :meth:`AnalogTile.read_weights`) are
  rewritten where a device moved, with the expression of ``AnalogTile.weights``, instead of the whole
  matrix once per read;
- the three stream keys of the update are computed here from the tile's root and counter
  (``mix(root + GOLDEN n)``, as ``AnalogTile.next_stream``).

No ``fastmath``: it would let the compiler reassociate and contract the state arithmetic, and the states
would no longer be the other kernels' (or main's) bit for bit.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from archsim.sim.tilesim.rng import GOLDEN, _mix, _normal_half_rest
from archsim.sim.training.kernels import _LOW8, _LOW32, _S8, _S32, _TWO_M23, NCOL, _normal_at, _pulses, _train


@intrinsic
def _popc(typingctx, v):
    """Set bits of a uint64 (LLVM's ctpop: the CPU's population count)."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.int64(types.uint64), codegen


@njit(cache=True, nogil=True)
def stochastic_update(Xp, Xm, pair, x, d, c, um, root, n0, BL, dwu, asym, bp, bm, law, gamma, c2c, table, dw_nom,
                      sample0, count, W, g, w_ok, same, zx, zr, zf):
    """One fused pass of the stochastic update ``W -= lr sum_b x_b^T d_b`` for every sample of the batch.

    Probabilities ``p_x = C_x |x|``, ``p_d = C_d |d|`` (clipped to 1; ``C_x = C_d = c``, or with update
    management ``C_x = c r``, ``C_d = c / r``, ``r = sqrt(max|d| / max|x|)`` per sample); trains from the
    streams ``mix(root + GOLDEN (n0 + 1))`` (rows) and ``n0 + 2`` (columns), device noise from ``n0 + 3``;
    a device moves against ``sign(x) sign(d)``.  ``count`` gains each device's pulses; where ``w_ok``,
    ``W`` (the read weights, ``g x`` or ``g (x+ - x-)``) is kept equal to the states.  ``same``: a
    constant-step tile's up step, down step and bounds where every device has the same, bit for bit
    (:func:`uniform_steps`; no device-to-device spread), else empty.  Returns (coincidences, row
    pulses, column pulses)."""
    B, K = x.shape
    N = d.shape[1]
    stream_x = _mix(root + GOLDEN * np.uint64(n0 + 1))
    stream_d = _mix(root + GOLDEN * np.uint64(n0 + 2))
    stream = _mix(root + GOLDEN * np.uint64(n0 + 3))
    mx = np.zeros(K, np.uint64)
    md = np.zeros(N, np.uint64)
    rows = np.empty(K, np.int64)
    cols = np.empty(N, np.int64)
    cm = np.empty(N, np.uint64)
    cneg = np.empty(N, np.bool_)
    cnt = np.empty(N, np.int64)
    hit = np.empty(N, np.int64)
    const = law == 0
    uni = same.shape[0] == 4                       # every device has the same steps and bounds: scalars
    sup = sdn = blo = bhi = 0.0
    if uni:
        sup, sdn, blo, bhi = same[0], same[1], same[2], same[3]
    total = 0
    nrow = 0
    ncol = 0
    for b in range(B):
        cx = c
        cd = c
        if um:
            xmax = 0.0
            for i in range(K):
                xmax = max(xmax, abs(x[b, i]))
            dmax = 0.0
            for j in range(N):
                dmax = max(dmax, abs(d[b, j]))
            if xmax > 0.0 and dmax > 0.0:
                r = math.sqrt(dmax / xmax)
                cx = c * r
                cd = c / r
        s = np.uint64(sample0 + b)
        for i in range(K):
            mx[i] = _train(min(max(cx * abs(x[b, i]), 0.0), 1.0), stream_x,
                           (s * np.uint64(K) + np.uint64(i)) * np.uint64(BL), BL)
        nr = 0
        for i in range(K):
            if mx[i] != 0:
                rows[nr] = i
                nr += 1
                nrow += _popc(mx[i])
        for j in range(N):
            md[j] = _train(min(max(cd * abs(d[b, j]), 0.0), 1.0), stream_d,
                           (s * np.uint64(N) + np.uint64(j)) * np.uint64(BL), BL)
        nc = 0
        for j in range(N):
            m = md[j]
            if m != 0:
                cols[nc] = j
                cm[nc] = m
                cneg[nc] = d[b, j] < 0
                nc += 1
                ncol += _popc(m)
        if nr == 0 or nc == 0:
            continue
        cell0 = s * np.uint64(K)
        for ii in range(nr):
            i = rows[ii]
            bi = mx[i]
            negx = x[b, i] < 0
            nh = 0
            for jj in range(nc):                   # coincidences of this row with every active column
                n = _popc(bi & cm[jj])
                cnt[jj] = n
                hit[nh] = jj
                nh += n != 0
            if const and not pair:                 # a constant step on single devices: its own loop
                for h in range(nh):
                    jj = hit[h]
                    j = cols[jj]
                    n = cnt[jj]
                    up = negx != cneg[jj]
                    count[i, j] += n
                    total += n
                    if uni:
                        sv = sup if up else sdn
                        lo = blo
                        hi = bhi
                    else:
                        a = asym[i, j]
                        sv = max(dwu[i, j] * ((1.0 + a) if up else (1.0 - a)), 0.0)
                        lo = bm[i, j]
                        hi = bp[i, j]
                    xv = Xp[i, j]
                    if c2c == 0.0:
                        xv = xv + sv * n if up else xv - sv * n
                        xv = min(max(xv, lo), hi)
                    else:
                        base = stream + GOLDEN * ((cell0 + np.uint64(i)) * np.uint64(N) + np.uint64(j)) * \
                            np.uint64(NCOL // 2)
                        hh = np.uint64(0)
                        for k in range(n):             # pulse k: noise column k, two columns per hash
                            half = np.uint64(k & 1)
                            if half == 0:
                                hh = _mix(base + GOLDEN * np.uint64((k >> 1) + 1))
                            w = (hh >> (_S32 * half)) & _LOW32
                            zi = np.int64(w & _LOW8)
                            u = (np.float64(np.int64(w >> _S8)) + 0.5) * _TWO_M23 - 1.0
                            if abs(u) < zr[zi]:
                                z = u * zx[zi]
                            else:
                                z = _normal_half_rest(hh, half, zx, zr, zf)
                            f = 1.0 + abs(c2c) * z     # c2c < 0: a signed model's factor, not cut
                            st = sv * (max(f, 0.0) if c2c > 0.0 else f)
                            xv = xv + st if up else xv - st
                            xv = min(max(xv, lo), hi)
                    Xp[i, j] = xv
                    if w_ok:
                        W[i, j] = g * xv
                continue
            for h in range(nh):
                jj = hit[h]
                j = cols[jj]
                n = cnt[jj]
                up = negx != cneg[jj]
                count[i, j] += n
                total += n
                minus = pair and not up                # a pair's down pulse: an up pulse on the minus device
                if minus:
                    up = True
                xv = Xm[i, j] if minus else Xp[i, j]
                if const:                          # a constant-step pair (the minus device moves up)
                    a = asym[i, j]
                    sv = max(dwu[i, j] * ((1.0 + a) if up else (1.0 - a)), 0.0)
                    lo = bm[i, j]
                    hi = bp[i, j]
                    if c2c == 0.0:
                        xv = xv + sv * n if up else xv - sv * n
                        xv = min(max(xv, lo), hi)
                    else:
                        row = (cell0 + np.uint64(i)) * np.uint64(N) + np.uint64(j)
                        for k in range(n):
                            f = 1.0 + abs(c2c) * _normal_at(stream, row, k, zx, zr, zf)
                            st = sv * (max(f, 0.0) if c2c > 0.0 else f)
                            xv = xv + st if up else xv - st
                            xv = min(max(xv, lo), hi)
                else:
                    row = (cell0 + np.uint64(i)) * np.uint64(N) + np.uint64(j)
                    xv = _pulses(xv, n, up, dwu[i, j], asym[i, j], bp[i, j], bm[i, j], law, gamma, c2c, table,
                                 dw_nom, stream, row, zx, zr, zf)
                if minus:
                    Xm[i, j] = xv
                else:
                    Xp[i, j] = xv
                if w_ok:
                    W[i, j] = g * (Xp[i, j] - Xm[i, j]) if pair else g * xv
    return total, nrow, ncol


def uniform_steps(dwu, asym, bm, bp) -> np.ndarray:
    """The up step ``max(dwu (1 + a), 0)``, down step ``max(dwu (1 - a), 0)`` (the expressions of
    :func:`kernels._apply_constant`, so the same floats), lower and upper bound of a constant-step tile
    whose devices all have the same, bit for bit (+0 and -0 told apart); else an empty array."""
    v = np.stack([np.maximum(dwu * (1.0 + asym), 0.0), np.maximum(dwu * (1.0 - asym), 0.0), bm, bp], axis=-1)
    bits = v.reshape(-1, 4).view(np.uint64)
    if bits.shape[0] and np.all(bits == bits[0]):
        return v.reshape(-1, 4)[0].copy()
    return np.zeros(0)

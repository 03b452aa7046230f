"""Plain-numpy twin of the whole MVM pipeline, one array at a time (the tests' reference).

Where :meth:`ProgrammedMatrix.matmul` multiplies a row block against all column blocks at once and
fuses noise, ADC and accumulation in Numba kernels, :func:`reference_matmul` walks
``LayerMap.blocks`` array by array, in float64, with the numpy twins of every kernel and of the
random-number generator.  The two agree to rounding (bit for bit in float64 without noise, up to
the last bits of the float32 read-noise variance with it).
"""
from __future__ import annotations

import numpy as np

from archsim.sim.tilesim import kernels as K_
from archsim.sim.tilesim import rng
from archsim.sim.tilesim.programmed import ProgrammedMatrix


def _array_currents(pm: ProgrammedMatrix, Vb: np.ndarray, c, s, g, r0, r1, c0, c1, q0, q1) -> np.ndarray:
    """Column currents (units of one conductance step) of the array holding rows ``r0:r1`` when its row chunk
    ``q0:q1`` is read with inputs ``Vb`` (B, q1 - q0).

    With IR drop on, the array is solved vector by vector by nodal analysis
    (:func:`archsim.sim.crossbar.solve_vector`, a sparse LU per vector), in its full physical size:
    the block in the corner next to the drivers, unused cells at ``g_min``, the chunk's rows driven and every
    other row at 0 V."""
    if not pm.ir_drop:
        return Vb @ pm.G[c, s, g, q0:q1, c0:c1]
    from archsim.sim.crossbar import solve_vector

    full = np.full((pm.arch.rows, pm.arch.cols), pm.gmin_u * pm.g_unit)
    full[:r1 - r0, :c1 - c0] = pm.G[c, s, g, r0:r1, c0:c1] * pm.g_unit
    v = np.zeros(pm.arch.rows)
    out = np.empty((Vb.shape[0], c1 - c0))
    for b in range(Vb.shape[0]):
        v[q0 - r0:q1 - r0] = Vb[b]
        out[b] = solve_vector(full, pm.arch.parasitics, v)[:c1 - c0] / pm.g_unit
    return out


def reference_matmul(pm: ProgrammedMatrix, X: np.ndarray, *, key=(0,), first_row: int = 0) -> np.ndarray:
    """``X @ W`` through ``pm``'s arrays, array by array, plain numpy."""
    X3, vec = pm._inputs3(X, check_finite=True)
    pm._check_ready()
    groups, B, Kd = X3.shape
    Ng, NC = pm.Ng, pm.n_conv
    noise = pm.has_read_noise
    quant = not pm.cfg.ideal_adc
    qmax = float((1 << pm.arch.adc_bits) - 1)
    streams = pm.stream_keys(key) if noise else None
    rows = np.arange(first_row, first_row + B)
    coef0 = pm.conv_coef
    out = np.zeros((B, pm.N))
    # quantized inputs, per group: (NC, B, K) and their squares
    Vs, V2s = [], []
    for g in range(groups):
        V = np.empty((NC, B, Kd))
        V2 = np.empty((NC, B, Kd))
        lo = -float(pm.x_code_max) if pm.x_signed else 0.0
        K_.quantize_np(X3[g], pm.x_scale, lo, float(pm.x_code_max), pm.conv_mode, pm.arch.dac_bits,
                       pm.arch.input_pulses, V, V2, True)
        Vs.append(V)
        V2s.append(V2)
    array_index = {rb: i for i, rb in enumerate(pm.array_bounds)}
    n_chunks = pm.row_chunks
    S2 = pm.S2
    pending = {}
    reads = ((blk, array_index[blk[1:3]] * n_chunks + k) for blk in pm.blocks for k in range(n_chunks))
    for (g, r0, r1, c0, c1, s, c), rb in reads:     # every array, every row chunk of it
        q0, q1 = pm.row_bounds[rb]
        if q0 == q1:
            continue          # an empty row chunk: no current, its conversions read 0
        V, V2 = Vs[g], V2s[g]
        I = np.stack([_array_currents(pm, V[p][:, q0:q1], c, s, g, r0, r1, c0, c1, q0, q1) for p in range(NC)])
        var = None
        if noise:
            var = np.stack([V2[p][:, q0:q1].astype(np.float32) @ S2[c, s, g, q0:q1, c0:c1].astype(np.float32)
                            for p in range(NC)])
        if pm.analog_pair:
            if c == 0:
                pending[g, rb, c0, s] = (I, var)
                continue
            I0, var0 = pending.pop((g, rb, c0, s))
            I = I0 - I
            var = None if var is None else var0 + var
            cu = 0
        else:
            cu = c if pm.lm.copies == 2 else 0
        sl = np.s_[c0:c1]
        lo, st, inv = pm.adc_lo[g, rb, s, cu, sl], pm.adc_step[g, rb, s, cu, sl], pm.adc_inv[g, rb, s, cu, sl]
        w = pm.slice_weights[s] * pm.signs[cu]
        for p in range(NC):
            v = I[p]
            if noise:
                z = rng.normals_np(streams[g, rb, s, cu, p], rows, Ng, np.arange(c0, c1))
                v = v + np.sqrt(var[p]).astype(np.float64) * z
            if quant:
                v = K_.adc_np(v, lo, inv, st, qmax, pm.adc_transfer)
            out[:, g * Ng + c0:g * Ng + c1] += (coef0[p] * w) * v
    if pm.lm.copies == 1:
        for g in range(groups):
            code_sum = (coef0[:, None] * Vs[g].sum(axis=2)).sum(axis=0)
            slice_w = sum(float(1 << (pm.bits_per_cell * s)) for s in range(pm.slices))
            out[:, g * Ng:(g + 1) * Ng] -= ((pm.gmin_u * slice_w + pm.offset_code) * code_sum)[:, None]
    out *= pm.out_scale
    return out[0] if vec else out

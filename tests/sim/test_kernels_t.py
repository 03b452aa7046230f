"""The transposed read-noise / ADC / shift-and-add kernel (archsim.sim.tilesim.kernels_t) against the row-major
kernel and the numpy twin, and the simulator's products in the transposed layout."""
import numpy as np
import pytest

from archsim.sim.tilesim import kernels as K_
from archsim.sim.tilesim import kernels_t as KT


def _case(rng, U, NC, B, N, fused, dead_frac):
    M = (rng.random((NC * B, 2 * U * N if fused else U * N)) * 50).astype(np.float32)
    M[::7, 0] = -0.0                      # signed zero currents: their sign must survive as in the row kernel
    Mv = M if fused else (rng.random((NC * B, U * N)) * 4).astype(np.float32)
    vcol0 = U * N if fused else 0
    dead = rng.random((NC * B, U)) < dead_frac
    for u in range(U):
        Mv[dead[:, u], vcol0 + u * N:vcol0 + (u + 1) * N] = 0.0
    streams = rng.integers(0, 2**63, (U, NC), dtype=np.uint64)
    lo = np.where(rng.random((U, N)) < 0.5, 0.0, -20.0)
    step = rng.random((U, N)) + 0.2
    coef = rng.standard_normal((U, NC))
    return M, Mv, vcol0, streams, lo, 1.0 / step, step, coef


@pytest.mark.parametrize("U,NC,B,N,fused", [(2, 3, 300, 5, True), (2, 3, 300, 5, False), (1, 1, 5000, 6, False),
                                            (3, 4, 37, 7, True), (1, 2, 700, 16, False), (1, 1, 9, 1, False)])
def test_transposed_kernel_equals_row_kernel_bit_for_bit(U, NC, B, N, fused):
    """Given M.T, the same numbers as the row-major kernel, bit for bit (the same IEEE operations in the same
    order, the same normals, the same noiseless rows), on 1 and several threads; and the numpy twin."""
    rng = np.random.default_rng(U * 100 + N)
    M, Mv, vcol0, streams, lo, inv, step, coef = _case(rng, U, NC, B, N, fused, 0.4)
    MT = np.ascontiguousarray(M.T)
    MvT = MT if fused else np.ascontiguousarray(Mv.T)
    for noise in (True, False):
        for quant in (True, False):
            for tf in (K_.TRANSFER_ROUND, K_.TRANSFER_CEIL):
                a = np.empty((B, N))
                K_.run_units_accumulate(M, Mv, vcol0, streams, 11, N, lo, inv, step, 255.0, coef, a, noise, quant,
                                        init=True, tf=tf)
                for par in (False, True):
                    t = np.full((N, B), np.nan)
                    KT.run_units_accumulate_t(MT, MvT, vcol0, streams, 11, N, lo, inv, step, 255.0, coef, t, noise,
                                              quant, parallel=par, init=True, tf=tf)
                    assert np.array_equal(t.T.view(np.uint64), a.view(np.uint64)), (noise, quant, tf, par)
                w = np.empty((N, B))
                KT.units_accumulate_t_np(MT, MvT, vcol0, streams, 11, N, lo, inv, step, 255.0, coef, w, noise, quant,
                                         init=True, tf=tf)
                # the twin: the same IEEE operations; log/exp of the generator's rare slow path may differ in the last ulp
                np.testing.assert_allclose(w, t, rtol=1e-12, atol=1e-12)


def test_transposed_kernel_accumulates_without_init():
    """Without ``init`` the kernel adds to what the accumulator holds (the next row block of a layer)."""
    rng = np.random.default_rng(3)
    M, Mv, vcol0, streams, lo, inv, step, coef = _case(rng, 1, 1, 200, 6, False, 0.0)   # one term per element
    MT, MvT = np.ascontiguousarray(M.T), np.ascontiguousarray(Mv.T)
    first = np.empty((6, 200))
    KT.run_units_accumulate_t(MT, MvT, 0, streams, 0, 6, lo, inv, step, 255.0, coef, first, True, True, init=True)
    twice = first.copy()
    KT.run_units_accumulate_t(MT, MvT, 0, streams, 0, 6, lo, inv, step, 255.0, coef, twice, True, True, init=False)
    np.testing.assert_array_equal(twice, first + first)   # x + x is exact in binary floating point


@pytest.mark.parametrize("ncols", [1, 7, 70])
def test_simulator_output_layout_does_not_change_numbers(ncols):
    """Narrow layers (fewer than COLMAJOR_MAX_COLS columns) take their products transposed (``A.T @ V.T``), wider
    ones row-major: either way a row-major and a column-major input (im2col's layout) give the same outputs bit for
    bit, and the (B, N) output holds the float64 sums rounded once."""
    from archsim.sim.tilesim import programmed
    from tests.sim.test_tilesim import Architecture, program, ts
    rng = np.random.default_rng(9)
    a = Architecture(device="sonos", rows=64, cols=32, cols_per_adc=8, weight_bits=8, bits_per_cell=4,
                     input_bits=6, dac_bits=2)
    W = rng.standard_normal((150, ncols))
    X = rng.standard_normal((64, 150))
    pm = program(W, a, ts.SimConfig(precision="float32"), seed=(3, 1, 4))[0].calibrate(X)
    assert (pm.Ng < programmed.COLMAJOR_MAX_COLS) == (ncols < 32)
    y_c = pm.matmul(np.ascontiguousarray(X), key=(2,))
    y_f = pm.matmul(np.asfortranarray(X), key=(2,))
    assert np.array_equal(y_c, y_f)
    y32 = pm.matmul(X, key=(2,), dtype=np.float32)
    assert np.array_equal(y32, y_c.astype(np.float32))

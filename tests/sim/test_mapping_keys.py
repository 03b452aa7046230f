"""The accuracy simulator follows the mapping keys the cost model prices: ``conv_mapping: kernel_position`` (each
kernel position's rows on arrays of their own) and ``parallel_rows`` (row chunks converted on their own, with or
without wire resistance).  Each test states a law: exactness without errors, equality with an independent
construction, the cost model's conversion count, the nodal solve of the whole array, thread independence."""
import numpy as np
import pytest

from archsim import GraphBuilder
from archsim.cost.events import events
from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.model.device import load_device
from archsim.model.weights import random_weights, weight_matrix
from archsim.sim import forward
from archsim.sim import tilesim as ts
from archsim.sim.accuracy import simulate
from archsim.sim.crossbar import effective_matrix, solve_vector
from tests.support import lenet, single_dense

#: no device error of any kind: what is left is the mapping's arithmetic
CLEAN = dict(prog_error=False, d2d_sigma_rel=0.0, stuck_on_rate=0.0, stuck_off_rate=0.0, time_s=0.0)
EXACT = ts.SimConfig(read_noise=False, ideal_adc=True, ideal_dac=True, **CLEAN)
#: read through real wires, drivers and sense amplifiers
WIRES = dict(r_wire_ohm=2.0, r_in_ohm=50.0, r_out_ohm=50.0)


def _conv_layer(cin=20, cout=6, hw=6, stride=1, padding=1, seed=0):
    """One 3 x 3 convolution: with 16-row arrays each kernel position takes 2 arrays (16 + 4 rows of 20)."""
    b = GraphBuilder(f"kp_{cin}_{cout}", (cin, hw, hw))
    b.conv("c", cout, 3, stride=stride, padding=padding, relu=False)
    wl = random_weights(b.build(), seed=seed)
    return wl, wl.layer("c")


def _programmed(wl, layer, arch, cfg, W=None, x_cal=None, seed=7):
    m = map_workload(wl, arch)
    lm = m.layer(layer.name)
    W = weight_matrix(layer, np.float64)[0] if W is None else W
    pm = ts.ProgrammedMatrix.program(W, lm, arch, m.device, cfg, seed=seed)
    return (pm if x_cal is None else pm.calibrate(forward.im2col(x_cal, layer))), lm


def _inputs(layer, n=5, seed=1):
    return np.random.default_rng(seed).random((n,) + tuple(layer.in_shape)).astype(np.float32)


def test_without_errors_both_conv_mappings_compute_the_float_conv():
    """Ideal cells, no noise, ideal converters, weights on the quantization grid: either mapping gives
    ``im2col(x) @ W`` to float64 rounding (1e-12 of the largest output: a few hundred additions), and the
    convolution read from its maps gives the im2col matrix's numbers bit for bit."""
    wl, layer = _conv_layer(stride=2)
    rng = np.random.default_rng(2)
    q = rng.integers(-127, 128, size=(layer.K, layer.N))
    q.flat[0] = 127
    W = q * 0.01                        # exactly the 8-bit grid of w_scale = 1.27
    x = _inputs(layer)
    cols = forward.im2col(x, layer)
    want = cols.astype(np.float64) @ W
    a = Architecture(device="reram", rows=16, cols=8, cols_per_adc=8)
    for cm, positions, row_blocks in (("im2col", 1, 12), ("kernel_position", 9, 18)):
        pm, lm = _programmed(wl, layer, a.replace(conv_mapping=cm), EXACT, W=W, x_cal=x)
        assert (lm.positions, lm.row_blocks, pm.n_arrays) == (positions, row_blocks, lm.arrays)
        np.testing.assert_array_equal(pm.quantized_weights()[0], W)
        y = pm.matmul(cols)
        np.testing.assert_allclose(y, want, rtol=0, atol=1e-12 * np.abs(want).max())
        got = pm.matmul_maps(x, layer.kernel, layer.stride, layer.padding, layer.out_shape[1:])
        assert np.array_equal(got, y)


def test_kernel_position_equals_its_padded_im2col_construction():
    """An independent construction of the kernel-position arrays: the rows of each kernel position (matrix rows
    ``c * 9 + p``) copied into a matrix of their own, zero-padded to whole 16-row arrays, stacked position after
    position and mapped by plain im2col, with the inputs placed the same way (zero on the padding).  The padded
    arrays are the kernel-position arrays cell for cell (a zero weight of a differential pair sits at g_min, as an
    unused cell does; its row gets 0 V, as an unused row does), so with read noise, quantized inputs, calibrated
    ADC ranges per array and IR drop both give the same numbers (to float64 rounding of the nodal solves and
    products: 1e-9 of the largest output)."""
    wl, layer = _conv_layer()
    x = _inputs(layer, n=6)
    a = Architecture(device="sonos", rows=16, cols=8, cols_per_adc=8, adc_bits=6, dac_bits=4,
                     mapping="differential", differential_readout="digital", conv_mapping="kernel_position", **WIRES)
    cfg = ts.SimConfig(calib_percentile=99.0, precision="float64", **CLEAN)
    pm, lm = _programmed(wl, layer, a, cfg, x_cal=x)
    assert pm.ir_drop and pm.has_read_noise and lm.positions == 9
    W = weight_matrix(layer, np.float64)[0]
    cols = forward.im2col(x, layer).astype(np.float64)
    C, P, rows = 20, 9, 16
    per = -(-C // rows) * rows                  # 32 padded rows per kernel position
    Wp = np.zeros((P * per, W.shape[1]))
    Xp = np.zeros((cols.shape[0], P * per))
    for p in range(P):
        Wp[p * per:p * per + C] = W[p::P]
        Xp[:, p * per:p * per + C] = cols[:, p::P]
    lmp = ts.layer_map(P * per, W.shape[1], a)
    pmp = ts.ProgrammedMatrix.program(Wp, lmp, a, pm.device, cfg, seed=7).calibrate(Xp)
    assert len(pmp.row_bounds) == len(pm.row_bounds) == 18
    y = pm.matmul(cols, key=(3,), first_row=5)
    yp = pmp.matmul(Xp, key=(3,), first_row=5)
    maps = pm.matmul_maps(x, layer.kernel, layer.stride, layer.padding, layer.out_shape[1:], key=(3,), first_row=5)
    assert np.array_equal(maps, y)     # the maps' gather places each input on its array row, bit for bit
    np.testing.assert_allclose(y, yp, rtol=0, atol=1e-9 * np.abs(yp).max())
    # the construction is not trivially met: the mapping changes the numbers (read noise, ADC ranges, IR drop)
    pi, _ = _programmed(wl, layer, a.replace(conv_mapping="im2col"), cfg, x_cal=x)
    assert np.abs(pi.matmul(cols, key=(3,), first_row=5) - y).max() > 1e-3 * np.abs(y).max()


def test_kernel_position_is_the_sum_of_its_one_by_one_sub_convolutions():
    """The convolution split into its 9 one-by-one sub-convolutions (kernel position ``p``: weights ``W[p::9]`` on the
    inputs ``im2col(x)[:, p::9]``), each simulated as a layer of its own (20 rows: a 16-row and a 4-row array) and
    the outputs added, gives the kernel-position numbers: IR drop, quantized inputs (a fixed DAC range, so every
    sub-layer codes its inputs alike) and ADC ranges calibrated per array.  Each position holds the layer's largest
    weight, so each sub-layer's quantization scale is the layer's.  1e-9 of the largest output: float64 rounding
    of the digital sums in another order."""
    wl, layer = _conv_layer()
    W = weight_matrix(layer, np.float64)[0].copy()
    W[:9, 0] = np.abs(W).max()          # c = 0 of every kernel position: the layer's largest weight
    x = _inputs(layer, n=4)
    cols = forward.im2col(x, layer).astype(np.float64)
    a = Architecture(device="pcm", rows=16, cols=8, cols_per_adc=8, adc_bits=6, dac_bits=4, dac_range="fixed",
                     dac_full_scale=1.0, conv_mapping="kernel_position", **WIRES)
    cfg = ts.SimConfig(read_noise=False, precision="float64", **CLEAN)
    pm, lm = _programmed(wl, layer, a, cfg, W=W, x_cal=x)
    assert pm.ir_drop and lm.positions == 9 and lm.row_blocks == 18
    total = np.zeros((cols.shape[0], W.shape[1]))
    for p in range(9):
        sub = ts.ProgrammedMatrix.program(W[p::9], ts.layer_map(20, W.shape[1], a), a, pm.device, cfg, seed=p)
        assert sub.w_scale == pm.w_scale and len(sub.row_bounds) == 2
        total += sub.calibrate(cols[:, p::9]).matmul(cols[:, p::9])
    y = pm.matmul(cols)
    np.testing.assert_allclose(y, total, rtol=0, atol=1e-9 * np.abs(total).max())
    pi, _ = _programmed(wl, layer, a.replace(conv_mapping="im2col"), cfg, W=W, x_cal=x)
    assert np.abs(pi.matmul(cols) - total).max() > 1e-3 * np.abs(total).max()    # im2col's arrays differ


def test_each_weight_keeps_its_programmed_cells_whichever_the_conv_mapping():
    """Programming errors, device-to-device variation and stuck cells are drawn per weight in matrix order, so the
    two mappings of one chip hold the same cells; read without noise through ideal converters they compute the same
    products (only the partial sums' grouping differs: 1e-12 of the largest output)."""
    wl, layer = _conv_layer(cin=12)
    x = _inputs(layer)
    cfg = ts.SimConfig(read_noise=False, ideal_adc=True, ideal_dac=True, stuck_on_rate=0.01, d2d_sigma_rel=0.05)
    a = Architecture(device="pcm", rows=16, cols=8, cols_per_adc=8)
    pi, _ = _programmed(wl, layer, a, cfg, x_cal=x)
    pk, lm = _programmed(wl, layer, a.replace(conv_mapping="kernel_position"), cfg, x_cal=x)
    assert lm.positions == 9
    assert np.array_equal(pk.conductances(), pi.conductances())
    assert np.array_equal(pk.conductances("target"), pi.conductances("target"))
    cols = forward.im2col(x, layer)
    yi, yk = pi.matmul(cols), pk.matmul(cols)
    np.testing.assert_allclose(yk, yi, rtol=0, atol=1e-12 * np.abs(yi).max())
    assert np.abs(yi - cols @ weight_matrix(layer, np.float64)[0]).max() > 1e-3 * np.abs(yi).max()   # they do err


@pytest.mark.parametrize("parallel_rows", ["auto", 16, 24])
@pytest.mark.parametrize("conv_mapping", ["im2col", "kernel_position"])
def test_conversions_per_image_equal_the_cost_models_count(conv_mapping, parallel_rows):
    """Every layer converts as many column currents per image as the cost model prices: one per column, row
    chunk (``ceil(rows / parallel_rows)`` per array, partly filled or not), unit and input pulse; the ADC ranges
    hold one entry per converted column."""
    wl = random_weights(lenet(), seed=0)
    a = Architecture(device="reram", rows=64, cols=32, cols_per_adc=8, conv_mapping=conv_mapping,
                     parallel_rows=parallel_rows)
    m = map_workload(wl, a)
    priced = events(m)["conversion"]
    cfg = ts.SimConfig(read_noise=False, **CLEAN)
    for lm, want in zip(m.layers, priced):
        layer = wl.layer(lm.layer)
        pm = ts.ProgrammedMatrix.program(weight_matrix(layer, np.float64)[0], lm, a, m.device, cfg, seed=0)
        assert pm.adc_step.size * pm.n_conv == pm.conversions_per_vector
        assert pm.conversions_per_vector * lm.vectors == pytest.approx(want, rel=1e-12)
        assert len(pm.row_bounds) == lm.row_blocks * a.row_chunks
    if conv_mapping == "kernel_position":
        assert m.layer("c2").positions == 25 and m.layer("c1").positions == 1   # c1's 25 rows stay packed


@pytest.mark.parametrize("kw", [
    dict(mapping="differential", differential_readout="analog", conv_mapping="kernel_position", dac_bits=8),
    dict(mapping="differential", differential_readout="digital", conv_mapping="im2col", dac_bits=4),
    dict(mapping="offset", conv_mapping="kernel_position", input_accumulation="analog"),
])
def test_row_chunks_with_wire_resistance_equal_nodal_solves_of_the_whole_array(kw):
    """``parallel_rows`` 6 of 16 with wire, driver and sense resistance: each chunk read drives its rows of the full
    physical array and holds the others at 0 V; the pipeline (one effective matrix per array, its chunk's rows
    multiplied) equals the array-by-array reference that solves the whole array's nodal circuit per vector and
    chunk (1e-9 of the largest output: float64 rounding of two different solves)."""
    wl, layer = _conv_layer(cin=10, hw=4, padding=0)       # 4 vectors per image: the reference solves each
    x = _inputs(layer, n=1)
    a = Architecture(device="pcm", rows=16, cols=8, cols_per_adc=8, adc_bits=7, parallel_rows=6, **WIRES, **kw)
    pm, _ = _programmed(wl, layer, a, ts.SimConfig(calib_percentile=99.0, precision="float64"), x_cal=x)
    assert pm.ir_drop and pm.row_chunks == 3
    cols = forward.im2col(x, layer)
    y = pm.matmul(cols, key=(2,))
    r = ts.reference_matmul(pm, cols, key=(2,))
    np.testing.assert_allclose(y, r, rtol=0, atol=1e-9 * np.abs(r).max())


def test_a_chunk_read_is_the_full_array_solve_with_the_other_rows_at_zero():
    """The law the pipeline rests on: the circuit is linear in the row voltages, so driving a chunk's rows with the
    others at 0 V gives the effective matrix's chunk columns times the chunk's inputs (1e-12 relative)."""
    rng = np.random.default_rng(4)
    g = rng.uniform(1e-6, 1e-4, size=(16, 8))
    par = Architecture(**WIRES).parasitics
    E = effective_matrix(g, par)
    v = np.zeros(16)
    v[6:12] = rng.random(6)
    np.testing.assert_allclose(solve_vector(g, par, v), E[:, 6:12] @ v[6:12], rtol=1e-12)


def test_chunked_ir_drop_tends_to_ideal_wires_and_grows_with_them():
    """As the wire resistance goes to 0 the chunked read tends to the ideal-wire result (1e-6: the solve's
    conditioning at 1e-9 ohm); the error grows with the wires; and without an ADC the chunks add up to the read of
    all rows at once (the circuit is linear): chunks change the numbers only through their conversions."""
    rng = np.random.default_rng(16)
    W = rng.random((70, 20))          # non-negative weights and inputs: every column loses current
    X = rng.random((6, 70))
    base = Architecture(device="reram", rows=32, cols=32, weight_bits=8, bits_per_cell=8)

    def run(a):
        lm = ts.layer_map(70, 20, a)
        return ts.ProgrammedMatrix.program(W, lm, a, load_device(a.device), EXACT).matmul(X)

    ideal = run(base.replace(parallel_rows=8))
    np.testing.assert_allclose(run(base.replace(parallel_rows=8, r_wire_ohm=1e-9)), ideal, rtol=1e-6)
    err = [np.abs(run(base.replace(parallel_rows=8, r_wire_ohm=rw, r_in_ohm=10.0, r_out_ohm=10.0)) - ideal).max()
           for rw in (0.5, 2.0, 8.0)]
    assert 0 < err[0] < err[1] < err[2]
    # the circuit is linear (superposition): without quantization the chunks' digital sum is the full read
    np.testing.assert_allclose(run(base.replace(parallel_rows=8, r_wire_ohm=8.0, r_in_ohm=10.0, r_out_ohm=10.0)),
                               run(base.replace(r_wire_ohm=8.0, r_in_ohm=10.0, r_out_ohm=10.0)), rtol=1e-12)


def test_parallel_rows_with_ideal_wires_is_arrays_of_that_many_rows():
    """Reading 64 of 128 rows at once converts each 64-row partial sum on its own and adds the results
    digitally: with ideal wires exactly what arrays of 64 rows compute, chip for chip (same seed)."""
    wl = random_weights(single_dense(256, 16), seed=0)
    x = np.random.default_rng(1).random((16, 256))
    a = Architecture(device="reram", rows=128, cols=128, adc_bits=5)
    chunked = simulate(map_workload(wl, a.replace(parallel_rows=64)), x, trials=2, seed=3)
    short = simulate(map_workload(wl, a.replace(rows=64)), x, trials=2, seed=3)
    full = simulate(map_workload(wl, a), x, trials=2, seed=3)
    assert np.array_equal(chunked.logit_error, short.logit_error)
    assert not np.array_equal(chunked.logit_error, full.logit_error)   # the key changes what is computed


def test_both_keys_with_wires_give_the_same_numbers_on_1_and_2_threads():
    """A network (a grouped convolution among its layers) simulated with kernel-position arrays read in chunks
    through resistive wires: the same seed gives the same numbers bit for bit on 1 and 2 threads (read noise keyed
    by image and row, never by thread)."""
    b = GraphBuilder("kp_net", (20, 6, 6))
    b.conv("c1", 8, 3, padding=1)
    b.conv("c2", 8, 3, stride=2, padding=1)
    b.conv("c3", 8, 3, padding=1, groups=2)        # 4 channels per group: 9 positions of 4 rows each
    b.dense("fc", 10, relu=False)
    wl = random_weights(b.build(), seed=3)
    x = np.random.default_rng(5).random((8, 20, 6, 6)).astype(np.float32)
    a = Architecture(device="pcm", rows=16, cols=8, cols_per_adc=8, conv_mapping="kernel_position",
                     parallel_rows=6, **WIRES)
    m = map_workload(wl, a)
    assert m.layer("c1").positions == m.layer("c3").positions == 9
    runs = [simulate(m, x, trials=2, seed=4, chunk=3, calib=8, cfg=ts.SimConfig(threads=t)) for t in (1, 2)]
    assert runs[0].logit_error.min() > 0
    assert np.array_equal(runs[0].logit_error, runs[1].logit_error)
    assert np.array_equal(runs[0].correct, runs[1].correct)
    assert np.array_equal(runs[0].per_layer.relative_error, runs[1].per_layer.relative_error)

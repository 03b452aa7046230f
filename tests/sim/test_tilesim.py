"""Monte Carlo tile simulator: exactness without errors, each error source against its analytic
prediction, the read-noise fast path against brute force, reproducibility, kernels against their
numpy twins, the array split against the Mapping's, and bad input."""
import math

import numba
import numpy as np
import pytest
from scipy import stats

from archsim.io import techlib
from archsim import Architecture
from archsim.sim import tilesim as ts
from archsim.model.device import Device
from archsim.model.errors import ArchsimError
from archsim.sim.tilesim import kernels as kn
from archsim.sim.tilesim import rng as trng
from archsim.model.device import load_device

EXACT = ts.SimConfig(prog_error=False, read_noise=False, ideal_adc=True, ideal_dac=True)


def program(W, arch, cfg=EXACT, seed=0, groups=1, device=None):
    dev = load_device(device or arch.device)
    K, N = (W.shape if W.ndim == 2 else (W.shape[1], W.shape[0] * W.shape[2]))
    lm = ts.layer_map(K, N, arch, dev, groups=groups)
    return ts.ProgrammedMatrix.program(W, lm, arch, dev, cfg, seed=seed), lm


def grid_weights(rng, shape, wmax, scale=0.01):
    """Weights on the quantization grid: exactly representable with wmax codes."""
    q = rng.integers(-wmax, wmax + 1, size=shape)
    q.flat[0] = wmax
    return q * scale


def device_file(tmp_path, body, name="dev"):
    p = tmp_path / f"{name}.yaml"
    p.write_text("name: %s\nkind: analog\n" % name
                 + "conductance:\n  g_min: {value: 10, unit: uS, assumption: t}\n"
                 + "  g_max: {value: 100, unit: uS, assumption: t}\n"
                 + "  levels: {value: 64, unit: levels, assumption: t}\n"
                 + "read:\n  voltage: {value: 0.2, unit: V, assumption: t}\n"
                 + "  pulse: {value: 10, unit: ns, assumption: t}\n"
                 + "cell:\n  area: {value: 12, unit: F2, assumption: t}\n" + body)
    return str(p)


# ------------------------------------------------------------------------------------------------
# 1. exact without errors; quantization error within its bound
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device, mapping, readout, bpc", [
    ("sonos", "differential", "digital", 4),
    ("reram", "differential", "analog", 5),
    ("pcm", "offset", "digital", 4),
    ("ecram", "offset", "digital", 8),
    ("sram", "differential", "digital", 1),
])
def test_exact_without_errors_on_a_matrix_larger_than_one_array(device, mapping, readout, bpc):
    rng = np.random.default_rng(1)
    a = Architecture(device=device, rows=128, cols=128, weight_bits=16, bits_per_cell=bpc, mapping=mapping,
                     differential_readout=readout)
    wmax = 2 ** 15 - 1
    W = grid_weights(rng, (300, 200), wmax)
    X = rng.standard_normal((40, 300))
    pm, lm = program(W, a)
    assert (lm.row_blocks, lm.col_blocks) == (3, 2)
    assert pm.n_arrays == lm.arrays == 3 * 2 * lm.slices * lm.copies
    Y = pm.matmul(X)
    np.testing.assert_allclose(Y, X @ W, rtol=0, atol=1e-11 * np.abs(X @ W).max())
    # every device error switched on changes nothing for an exact device only
    if device == "sram":
        pm2, _ = program(W, a, ts.SimConfig(ideal_adc=True, ideal_dac=True, time_s=1e5))
        np.testing.assert_array_equal(pm2.matmul(X), Y)


def test_exact_with_groups_and_granular_adc_and_quantized_inputs():
    # grouped conv-like matrix, SONOS (g_min = 0), small arrays: the granular ADC never clips
    rng = np.random.default_rng(2)
    a = Architecture(device="sonos", rows=16, cols=8, cols_per_adc=8, weight_bits=4, bits_per_cell=3,
                     input_bits=4, dac_bits=1, adc_bits=10)
    W = grid_weights(rng, (3, 40, 12), 7)
    X = rng.integers(0, 16, size=(3, 25, 40)).astype(float)
    X[0, 0, 0] = 15.0
    cfg = ts.SimConfig(prog_error=False, read_noise=False, adc_range="granular")
    pm, lm = program(W, a, cfg, groups=3)
    assert lm.groups == 3 and pm.n_arrays == lm.arrays
    pm = pm.calibrate(X)
    Y = pm.matmul(X)
    expect = np.concatenate([X[g] @ W[g] for g in range(3)], axis=1)
    np.testing.assert_allclose(Y, expect, rtol=0, atol=1e-12)


def test_quantization_error_within_its_bound_and_rms_as_predicted():
    rng = np.random.default_rng(3)
    a = Architecture(device="reram", weight_bits=8, input_bits=8, bits_per_cell=6)
    W = rng.standard_normal((200, 300))
    X = rng.random((300, 200))
    # weights only (ideal DAC): |err| <= sum_i |x_i| dw / 2, and rms = dw / sqrt(12) * sqrt(sum x^2)
    pm, _ = program(W, a)
    dw = pm.w_scale / pm.wmax_code
    err = pm.matmul(X) - X @ W
    bound = np.abs(X).sum(axis=1, keepdims=True) * dw / 2
    assert np.all(np.abs(err) <= bound + 1e-12)
    pred = dw / math.sqrt(12) * np.sqrt((X ** 2).sum(axis=1, keepdims=True))
    assert np.sqrt(np.mean(err ** 2)) == pytest.approx(np.sqrt(np.mean(pred ** 2 + 0 * err)), rel=0.05)
    # weights and inputs: the product of two quantized factors
    pm = ts.ProgrammedMatrix.program(W, pm.lm, a, load_device("reram"),
                                     ts.SimConfig(prog_error=False, read_noise=False, ideal_adc=True),
                                     seed=0).calibrate(X)
    dx = pm.x_max / pm.x_code_max
    err = pm.matmul(X) - X @ W
    bound = (np.abs(X).sum(axis=1, keepdims=True) * dw / 2 + np.abs(W).sum(axis=0)[None] * dx / 2
             + W.shape[0] * dw * dx / 4)
    assert np.all(np.abs(err) <= bound + 1e-12)


# ------------------------------------------------------------------------------------------------
# 2. each error source alone against its analytic prediction
# ------------------------------------------------------------------------------------------------

def _cell_weights(pm):
    """Weight of each cell in the digital sum (copies, slices): 2^(b s) x sign of its array."""
    w = np.array([[float(1 << (pm.bits_per_cell * s)) for s in range(pm.slices)]] * pm.lm.copies)
    if pm.lm.copies == 2:
        w[1] *= -1
    return w


@pytest.mark.parametrize("device", ["sonos", "reram", "ecram", "pcm"])
def test_programming_error_rms_matches_sigma_of_g(device):
    """Relative RMS output error from programming error alone (ideal converters, inputs x exact):

    e_bj = c sum_{s,k} w_sk sum_i x_bi d_ijsk,  d = (programmed - target) conductance / dg,
    with each d independent of mean m and variance q given by sigma(g_target) (a normal, clipped at
    g = 0: a clipped normal's moments).  Predicted relative RMS =
    sqrt(sum_bj E[e_bj^2]) / sqrt(sum_bj y_bj^2),  E[e^2] = (c sum w x m)^2 + c^2 sum w^2 x^2 q.
    """
    rng = np.random.default_rng(4)
    a = Architecture(device=device, weight_bits=8, rows=128, cols=128)
    W = rng.standard_normal((256, 256))
    X = rng.random((64, 256))
    cfg = ts.SimConfig(read_noise=False, ideal_adc=True, ideal_dac=True)
    obs, pred_mse = [], []
    for seed in range(3):
        pm, _ = program(W, a, cfg, seed=seed)
        Y = pm.matmul(X)
        Yq = X @ pm.quantized_weights()[0]
        obs.append(np.mean((Y - Yq) ** 2))
        gt = pm.conductances("target")
        sig = pm.device.prog.sigma(gt)
        mu, sd = gt, np.maximum(sig, 1e-300)
        al = mu / sd
        ey = mu * stats.norm.cdf(al) + sd * stats.norm.pdf(al)
        ey2 = (mu ** 2 + sd ** 2) * stats.norm.cdf(al) + mu * sd * stats.norm.pdf(al)
        m = np.where(sig > 0, ey - mu, 0.0) / pm.g_unit
        q = np.where(sig > 0, ey2 - ey ** 2, 0.0) / pm.g_unit ** 2
        w = _cell_weights(pm)[:, :, None, None, None]
        c = pm.out_scale
        bias = c * X @ (w * m).sum(axis=(0, 1))[0]
        var = c ** 2 * (X ** 2) @ (w ** 2 * q).sum(axis=(0, 1))[0]
        pred_mse.append(np.mean(bias ** 2 + var))
        assert np.all(pm.G >= 0)
    ref = np.mean((X @ W) ** 2)
    rel_obs, rel_pred = math.sqrt(np.mean(obs) / ref), math.sqrt(np.mean(pred_mse) / ref)
    assert rel_pred > 1e-3
    assert rel_obs == pytest.approx(rel_pred, rel=0.06)


def test_pcm_drift_mean_factor():
    """E[g(t)/g0] = E[tau^-nu] = exp(-mu L + sd^2 L^2 / 2), L = ln((t + t0)/t0), per target level."""
    rng = np.random.default_rng(5)
    a = Architecture(device="pcm", weight_bits=6, bits_per_cell=5)
    W = rng.standard_normal((256, 256))
    t = 86400.0
    pm, _ = program(W, a, ts.SimConfig(prog_error=False, read_noise=False, time_s=t, ideal_adc=True,
                                       ideal_dac=True))
    gt = pm.conductances("target")
    ratio = pm.conductances("programmed") / gt
    pred = pm.device.drift.mean_factor(t, gt)
    checked = 0
    for level in np.unique(gt):
        sel = gt == level
        if sel.sum() < 2000:
            continue
        se = ratio[sel].std() / math.sqrt(sel.sum())
        assert abs(ratio[sel].mean() - pred[sel][0]) < 4 * se
        checked += 1
    assert checked >= 3
    assert 0.4 < pred.min() < pred.max() < 0.7      # about half the conductance gone after one day
    # the output shrinks accordingly (no drift compensation)
    X = rng.random((32, 256))
    Y = pm.matmul(X)
    assert np.sum(Y * (X @ W)) / np.sum((X @ W) ** 2) < 0.75


def test_stuck_cell_rates_and_d2d_sigma():
    rng = np.random.default_rng(6)
    a = Architecture(device="reram", weight_bits=8)
    W = rng.standard_normal((256, 384))
    on, off = 0.02, 0.05
    pm, _ = program(W, a, ts.SimConfig(read_noise=False, stuck_on_rate=on, stuck_off_rate=off))
    n = pm.G.size
    f_on = np.mean(pm.G == pm.gmax_u)
    f_off = np.mean(pm.G == pm.gmin_u)
    assert abs(f_on - on) < 4 * math.sqrt(on * (1 - on) / n)
    assert abs(f_off - off) < 4 * math.sqrt(off * (1 - off) / n)
    d2d = 0.07
    pm, _ = program(W, a, ts.SimConfig(prog_error=False, read_noise=False, d2d_sigma_rel=d2d))
    r = pm.G / (pm.gmin_u + pm.codes) - 1
    assert r.std() == pytest.approx(d2d, rel=0.02)
    assert abs(r.mean()) < 4 * d2d / math.sqrt(r.size)


def test_adc_error_halves_per_bit_and_matches_uniform_quantization_noise():
    """ADC alone: each conversion adds an error uniform in +-step/2, so
    var(e_bj) = c^2 sum over conversions of (coef * step)^2 / 12; one more bit halves it."""
    rng = np.random.default_rng(7)
    W = rng.standard_normal((256, 128))
    X = rng.random((400, 256))
    rms = {}
    for policy in ("calibrated", "max"):
        for bits in (4, 5, 6, 7, 8, 9, 10):
            a = Architecture(device="sonos", weight_bits=8, bits_per_cell=7, input_bits=8, dac_bits=8,
                             adc_bits=bits, differential_readout="analog")
            pm, _ = program(W, a, ts.SimConfig(prog_error=False, read_noise=False, adc_range=policy))
            pm = pm.calibrate(X)
            pm_ideal = ts.ProgrammedMatrix.program(W, pm.lm, a, load_device("sonos"),
                                                   ts.SimConfig(prog_error=False, read_noise=False,
                                                                ideal_adc=True), seed=0).calibrate(X)
            err = pm.matmul(X) - pm_ideal.matmul(X)
            rms[policy, bits] = np.sqrt(np.mean(err ** 2))
            step = pm.adc_step[0, :, 0, 0, :]            # (row blocks, columns)
            pred = pm.out_scale * np.sqrt((step ** 2).sum(axis=0) / 12)
            if policy == "calibrated" and bits >= 6:     # fine steps: the uniform-noise model holds
                assert rms[policy, bits] == pytest.approx(np.sqrt(np.mean(pred ** 2)), rel=0.05)
            if policy == "max":   # worst-case full scale: steps 2^(bits-1) - 1 codes over rows x 255 x 127
                assert step[0, 0] == pytest.approx(128 * 255 * 127 / (2 ** (bits - 1) - 1))
    for b in range(4, 10):
        assert 1.7 < rms["calibrated", b] / rms["calibrated", b + 1] < 2.4
    for b in range(6, 10):
        assert 1.7 < rms["max", b] / rms["max", b + 1] < 2.4
        assert rms["max", b] > 5 * rms["calibrated", b]  # the worst case wastes the ADC's range


# ------------------------------------------------------------------------------------------------
# 3. read noise: fast path equal in distribution to brute-force per-cell sampling
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("readout", ["digital", "analog"])
def test_read_noise_fast_path_equals_per_cell_sampling(readout):
    rng = np.random.default_rng(8)
    a = Architecture(device="sonos", rows=64, cols=8, cols_per_adc=8, weight_bits=8, bits_per_cell=4,
                     differential_readout=readout)
    W = rng.standard_normal((100, 6))            # 2 row blocks, 2 slices, 2 copies
    x = rng.random(100)
    R = 4000
    X = np.repeat(x[None], R, axis=0)            # every row reads the same vector with fresh noise
    cfg = ts.SimConfig(prog_error=True, read_noise=True, ideal_adc=True, ideal_dac=True)
    pm, _ = program(W, a, cfg, seed=11)
    fast = pm.matmul(X, key=(5,))
    # brute force: a noisy copy of every cell for every read
    gen = np.random.default_rng(99)
    w = _cell_weights(pm)[:, :, None, None]
    G = pm.G[:, :, 0]                            # (copies, slices, K, N)
    S = np.sqrt(pm.S2[:, :, 0].astype(np.float64))
    brute = np.empty((R, W.shape[1]))
    for r in range(R):
        Gn = G + S * gen.standard_normal(G.shape)
        brute[r] = pm.out_scale * x @ (w * Gn).sum(axis=(0, 1))
    noiseless = pm.out_scale * x @ (w * G).sum(axis=(0, 1))
    pred_sd = pm.out_scale * np.sqrt((x ** 2) @ (w ** 2 * S ** 2).sum(axis=(0, 1)))
    for j in range(W.shape[1]):
        assert stats.ks_2samp(fast[:, j], brute[:, j]).pvalue > 1e-3
        zf = (fast[:, j] - noiseless[j]) / pred_sd[j]
        assert stats.kstest(zf, "norm").pvalue > 1e-3
        assert abs(zf.mean()) < 4 / math.sqrt(R)
        assert zf.std() == pytest.approx(1.0, abs=5 / math.sqrt(2 * R))


def test_normal_generator_is_standard_normal():
    z = trng.normals_nb(np.uint64(12345), 0, 1000, 1000, 0, 1000).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 5e-3 and abs(z.std() - 1) < 5e-3
    assert abs(stats.kurtosis(z)) < 0.02
    for thr in (2.0, 3.0, 3.6541528853610088, 4.0):   # tails, including the ziggurat's own tail start
        p = 2 * stats.norm.sf(thr)
        assert abs(np.mean(np.abs(z) > thr) - p) < 5 * math.sqrt(p / z.size)
    # neighbouring counters and streams are uncorrelated
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5e-3
    z2 = trng.normals_nb(np.uint64(12346), 0, 1000, 1000, 0, 1000).ravel()
    assert abs(np.corrcoef(z, z2)[0, 1]) < 5e-3


# ------------------------------------------------------------------------------------------------
# 4. reproducible across thread counts and chunking
# ------------------------------------------------------------------------------------------------

def _noisy_pm(**cfg):
    rng = np.random.default_rng(9)
    a = Architecture(device="sonos", rows=64, cols=32, cols_per_adc=8, weight_bits=8, bits_per_cell=4,
                     input_bits=6, dac_bits=2)
    W = rng.standard_normal((150, 70))
    X = rng.standard_normal((64, 150))
    pm, _ = program(W, a, ts.SimConfig(**cfg), seed=(3, 1, 4))
    return pm.calibrate(X), X


def test_same_seed_same_numbers_across_thread_counts(monkeypatch):
    from archsim.sim.tilesim import programmed
    monkeypatch.setattr(programmed, "PARALLEL_MIN_ELEMENTS", 0)   # parallel kernels even on this small case
    pm, X = _noisy_pm(parallel=True)
    pm_serial, _ = _noisy_pm(parallel=False)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        y1 = pm.matmul(X, key=(7,))
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        y2 = pm.matmul(X, key=(7,))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(y1, pm_serial.matmul(X, key=(7,)))
    assert not np.array_equal(y1, pm.matmul(X, key=(8,)))       # another MVM, fresh read noise


def assert_same_up_to_blas_rounding(pm, a, b):
    """Equal, except where BLAS products of other shapes (other row counts per call) round a column current
    differently across an ADC decision level: then that conversion moves by one code, an output by at most
    one step of the most significant slice.  The noise, keyed by each row's global index, is the same."""
    step_out = pm.adc_step.max() * pm.out_scale * np.abs(pm.conv_coef).max() * (1 << (pm.bits_per_cell * (pm.slices - 1)))
    assert np.mean(a != b) < 1e-3, np.mean(a != b)
    assert np.abs(a - b).max() <= step_out + 1e-12


def test_same_numbers_whatever_the_chunking():
    pm, X = _noisy_pm()
    whole = pm.matmul(X, key=(2, 5))
    halves = np.concatenate([pm.matmul(X[:32], key=(2, 5)), pm.matmul(X[32:], key=(2, 5), first_row=32)])
    assert_same_up_to_blas_rounding(pm, whole, halves)
    tiny, _ = _noisy_pm(chunk_elements=500)                   # internal chunks of a few rows
    assert_same_up_to_blas_rounding(pm, whole, tiny.matmul(X, key=(2, 5)))
    # a column-major (im2col-style) float32 batch reads the same codes; only BLAS rounding may differ
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(pm.matmul(np.asfortranarray(X32), key=(2, 5)), pm.matmul(X32, key=(2, 5)),
                               rtol=1e-12, atol=1e-12)
    again, _ = _noisy_pm()
    np.testing.assert_array_equal(whole, again.matmul(X, key=(2, 5)))


def test_seed_forms_and_independent_sources():
    rng = np.random.default_rng(10)
    a = Architecture(device="reram")
    W = rng.standard_normal((40, 30))
    p1, _ = program(W, a, ts.SimConfig(read_noise=False), seed=(5, 2))
    p2, _ = program(W, a, ts.SimConfig(read_noise=False), seed=np.random.SeedSequence(5, spawn_key=(2,)))
    p3, _ = program(W, a, ts.SimConfig(read_noise=False), seed=(5, 3))
    np.testing.assert_array_equal(p1.G, p2.G)
    assert not np.array_equal(p1.G, p3.G)
    # switching stuck cells on does not change the programming-error draws of the other cells
    p4, _ = program(W, a, ts.SimConfig(read_noise=False, stuck_on_rate=0.1), seed=(5, 2))
    same = p4.G != p4.gmax_u
    np.testing.assert_array_equal(p4.G[same], p1.G[same])


# ------------------------------------------------------------------------------------------------
# 5. kernels equal their numpy twins; the fast pipeline equals the array-by-array reference
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("parallel", [False, True])
def test_normals_kernel_equals_numpy_twin(parallel):
    z = trng.normals_nb(np.uint64(77), 5, 300, 1000, 17, 400, parallel=parallel)
    zr = trng.normals_np(np.uint64(77), np.arange(5, 305), 1000, np.arange(17, 417))
    np.testing.assert_allclose(z, zr, rtol=1e-14, atol=1e-14)
    assert np.mean(z == zr) > 0.99


@pytest.mark.parametrize("mode, signed", [(0, False), (0, True), (1, False), (1, True), (2, True)])
@pytest.mark.parametrize("layout, parallel", [("C", False), ("C", True), ("F", False)])  # (each parallel
def test_quantize_kernel_equals_numpy_twin(mode, signed, parallel, layout):          # variant costs a compile)
    rng = np.random.default_rng(12)
    X = rng.standard_normal((20, 33)) * 3
    X = np.asfortranarray(X.astype(np.float32)) if layout == "F" else X   # F: im2col's float32 layout
    npulse, dac = 3, 3
    hi = 2 ** 7 - 1 if signed else 2 ** 8 - 1
    lo = -hi if signed else 0
    nc = npulse if mode == 0 else 1
    outs = []
    for f in (lambda *a: kn.run_quantize(*a, parallel=parallel), kn.quantize_np):
        if layout == "F":   # column-major outputs, as ProgrammedMatrix uses for column-major inputs
            V = np.zeros((33, nc, 20)).transpose(1, 2, 0)
            V2 = np.zeros((33, nc, 20), dtype=np.float32).transpose(1, 2, 0)
        else:
            V = np.zeros((nc, 20, 33))
            V2 = np.zeros((nc, 20, 33), dtype=np.float32)
        f(X, 40.0, lo, hi, mode, dac, npulse, V, V2, True)
        outs.append((V, V2))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    if mode == 0:  # the pulses add back up to the code
        code = np.rint(np.clip(X.astype(np.float64) * 40.0, lo, hi))
        np.testing.assert_array_equal((outs[0][0] * (8.0 ** np.arange(3))[:, None, None]).sum(0), code)


@pytest.mark.parametrize("dtype, parallel", [(np.float64, False), (np.float64, True), (np.float32, False)])
@pytest.mark.parametrize("quant", [False, True])
def test_accumulate_kernels_equal_numpy_twins(dtype, parallel, quant):
    rng = np.random.default_rng(13)
    nc, B, N = 3, 17, 50
    I = (rng.standard_normal((nc, B, N)) * 100).astype(dtype)
    var = (rng.random((nc, B, N)) * 20).astype(np.float32)
    step = rng.random(N) + 0.5
    lo = -128 * step
    inv = 1 / step
    coef = np.array([1.0, -2.0, 4.0])
    streams = trng.stream_keys_np(np.uint64(3), np.arange(nc))
    for init in (False, True):   # init: the first conversion writes instead of adding
        a, b = np.ones((B, N)), np.ones((B, N))
        kn.run_adc_accumulate(I, lo, inv, step, 255, coef, a, quant, parallel, init)
        kn.adc_accumulate_np(I, lo, inv, step, 255, coef, b, quant, init)
        np.testing.assert_array_equal(a, b)
        a, b = np.ones((B, N)), np.ones((B, N))
        kn.run_noise_adc_accumulate(I, var, streams, 1000, N, lo, inv, step, 255, coef, a, quant, parallel, init)
        kn.noise_adc_accumulate_np(I, var, streams, 1000, N, lo, inv, step, 255, coef, b, quant, init)
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("arch_kw, x_signed", [
    (dict(device="sonos", mapping="differential", differential_readout="digital", dac_bits=1), False),
    (dict(device="reram", mapping="differential", differential_readout="analog", dac_bits=2), True),
    (dict(device="pcm", mapping="offset", dac_bits=4, input_accumulation="analog"), False),
    (dict(device="ecram", mapping="offset", dac_bits=8, bits_per_cell=3), True),
])
def test_pipeline_equals_array_by_array_reference(arch_kw, x_signed):
    rng = np.random.default_rng(14)
    a = Architecture(rows=64, cols=32, cols_per_adc=8, weight_bits=8, adc_bits=6, **arch_kw)
    W = rng.standard_normal((150, 70))
    X = rng.standard_normal((30, 150)) if x_signed else rng.random((30, 150))
    cfg = ts.SimConfig(time_s=3600.0, stuck_on_rate=0.01, d2d_sigma_rel=0.02, calib_percentile=99.0)
    pm, _ = program(W, a, cfg, seed=21)
    pm = pm.calibrate(X)
    y = pm.matmul(X, key=(1,), first_row=100)
    r = ts.reference_matmul(pm, X, key=(1,), first_row=100)
    np.testing.assert_allclose(y, r, rtol=1e-9, atol=1e-9 * np.abs(r).max())


# ------------------------------------------------------------------------------------------------
# 5b. IR drop: effective matrices equal per-vector nodal solves of the padded physical arrays
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch_kw", [
    dict(device="reram", mapping="differential", differential_readout="analog", dac_bits=8),
    dict(device="sonos", mapping="differential", differential_readout="digital", dac_bits=4),
    dict(device="pcm", mapping="offset", dac_bits=8),
])
def test_ir_drop_pipeline_equals_per_vector_nodal_reference(arch_kw):
    rng = np.random.default_rng(15)
    a = Architecture(rows=16, cols=8, cols_per_adc=8, weight_bits=8, bits_per_cell=4, adc_bits=8,
                     r_wire_ohm=2.0, r_in_ohm=50.0, r_out_ohm=50.0, **arch_kw)
    W = rng.standard_normal((20, 10))
    X = rng.random((4, 20))
    pm, _ = program(W, a, ts.SimConfig(calib_percentile=99.0), seed=3)
    assert pm.ir_drop
    pm = pm.calibrate(X)
    y = pm.matmul(X, key=(2,))
    r = ts.reference_matmul(pm, X, key=(2,))
    np.testing.assert_allclose(y, r, rtol=1e-9, atol=1e-9 * np.abs(r).max())


def test_ir_drop_vanishes_with_the_wires_and_grows_with_them():
    rng = np.random.default_rng(16)
    W = rng.random((100, 40))          # non-negative weights and inputs: every column loses current
    X = rng.random((8, 100))
    base = Architecture(device="reram", rows=64, cols=32, weight_bits=8, bits_per_cell=8)
    exact = program(W, base)[0].matmul(X)
    tiny = program(W, base.replace(r_wire_ohm=1e-9))[0]
    assert tiny.ir_drop
    np.testing.assert_allclose(tiny.matmul(X), exact, rtol=1e-6)
    off = program(W, base.replace(r_wire_ohm=5.0), ts.SimConfig(prog_error=False, read_noise=False, ideal_adc=True,
                                                                ideal_dac=True, ir_drop=False))[0]
    np.testing.assert_array_equal(off.matmul(X), exact)
    err = []
    for rw in (0.5, 2.0, 8.0):
        y = program(W, base.replace(r_wire_ohm=rw, r_in_ohm=10.0, r_out_ohm=10.0))[0].matmul(X)
        assert (y < exact).all()
        err.append(np.abs(y - exact).max() / np.abs(exact).max())
    assert err[0] < err[1] < err[2]
    # a digital (SRAM) array has no analog currents: parasitics change nothing
    sram = base.replace(device="sram", bits_per_cell=1)
    np.testing.assert_array_equal(program(W, sram.replace(r_wire_ohm=8.0))[0].matmul(X), program(W, sram)[0].matmul(X))


# ------------------------------------------------------------------------------------------------
# 6. the split is the Mapping's
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, groups", [
    (dict(mapping="differential", differential_readout="digital", bits_per_cell=2), 1),
    (dict(mapping="differential", differential_readout="analog", bits_per_cell=3), 1),
    (dict(mapping="offset", bits_per_cell=4, dac_bits=2), 4),
])
def test_arrays_and_conversions_match_the_mapping(kw, groups):
    a = Architecture(device="reram", rows=64, cols=32, cols_per_adc=8, **kw)
    K, N = 150, 96
    W = np.random.default_rng(15).standard_normal((groups, K, N // groups) if groups > 1 else (K, N))
    pm, lm = program(W, a, ts.SimConfig(prog_error=False, read_noise=False), groups=groups)
    assert pm.n_arrays == lm.arrays
    assert set(pm.blocks) == set(lm.blocks(a.rows, a.cols))
    assert pm.conversions_per_vector == lm.col_reads * a.conversions_per_vector
    assert pm.n_units == lm.conversions


def test_all_device_files_load_as_models():
    for name in techlib.device_names():
        dm = Device.from_record(techlib.device(name))
        assert dm.g_max > dm.g_min >= 0
    assert Device.from_record(techlib.device("pcm")).read.model == "pcm_1overf"
    assert Device.from_record(techlib.device("reram")).read.is_none   # sigma_rel 0: no noise
    assert Device.from_record(techlib.device("sram")).digital


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------

def test_bad_input_names_layer_and_what_is_allowed(tmp_path):
    a = Architecture(device="reram")
    dev = load_device("reram")
    lm = ts.layer_map(20, 10, a, dev, name="fc7")
    with pytest.raises(ArchsimError, match=r"layer 'fc7': weight shape \(10, 20\) .* allowed \(20, 10\)"):
        ts.ProgrammedMatrix.program(np.zeros((10, 20)), lm, a, dev, EXACT)
    W = np.zeros((20, 10))
    W[3, 4] = np.nan
    with pytest.raises(ArchsimError, match="layer 'fc7': weights contain NaN"):
        ts.ProgrammedMatrix.program(W, lm, a, dev, EXACT)
    with pytest.raises(ArchsimError, match="does not match architecture"):
        ts.ProgrammedMatrix.program(np.zeros((20, 10)), lm, a.replace(mapping="offset"), dev, EXACT)
    with pytest.raises(ArchsimError, match="'ir_drop' = 'yes' is not allowed; allowed true or false"):
        ts.SimConfig(ir_drop="yes")
    with pytest.raises(ArchsimError, match="adc_range.*allowed: None .*array, layer, fixed, max, granular, calibrated"):
        ts.SimConfig(adc_range="best")
    with pytest.raises(ArchsimError, match="stuck_on_rate"):
        ts.SimConfig(stuck_on_rate=1.5)
    pm = ts.ProgrammedMatrix.program(np.ones((20, 10)), lm, a, dev, ts.SimConfig(), seed=0)
    with pytest.raises(ArchsimError, match="layer 'fc7': call calibrate"):
        pm.matmul(np.ones((2, 20)))
    pm = pm.calibrate(np.ones((2, 20)))
    with pytest.raises(ArchsimError, match=r"layer 'fc7': inputs of shape \(2, 21\) do not fit; allowed \(B, 20\)"):
        pm.matmul(np.ones((2, 21)))
    with pytest.raises(ArchsimError, match="key"):
        pm.matmul(np.ones((2, 20)), key=(-1,))
    Xn = np.ones((2, 20))
    Xn[1, 3] = np.inf
    with pytest.raises(ArchsimError, match="layer 'fc7': inputs contain NaN or infinity"):
        pm.matmul(Xn)
    with pytest.raises(ArchsimError, match="layer 'fc7': inputs contain NaN or infinity"):
        pm.calibrate(Xn * np.nan)
    with pytest.raises(ArchsimError, match="seed"):
        ts.ProgrammedMatrix.program(np.ones((20, 10)), lm, a, dev, EXACT, seed=-3)
    bad = device_file(tmp_path, "programming_error:\n  model: cubic\n  a: {value: 1, unit: '1', assumption: t}\n")
    with pytest.raises(ArchsimError, match=r"dev.yaml: key 'programming_error.model' = 'cubic' is not allowed; "
                                           r"allowed: none, linear, saturating"):
        Device.from_record(techlib.device(bad))
    bad = device_file(tmp_path, "programming_error:\n  model: linear\n  a: {value: 1, unit: '1', assumption: t}\n",
                      name="dev2")
    with pytest.raises(ArchsimError, match=r"dev2.yaml: model 'linear' of 'programming_error' needs .* missing b"):
        Device.from_record(techlib.device(bad))
    bad = device_file(tmp_path, "drift:\n  model: exponential\n", name="dev3")
    with pytest.raises(ArchsimError, match=r"dev3.yaml: key 'drift.model' = 'exponential' is not allowed"):
        Device.from_record(techlib.device(bad))


def test_custom_device_file_families(tmp_path):
    """A device is data: a new file with a generic family needs no code."""
    path = device_file(tmp_path, "programming_error:\n  model: polynomial_gmax\n"
                       "  c0: {value: 1, unit: uS, assumption: t}\n  c1: {value: 2, unit: uS, assumption: t}\n"
                       "  c2: {value: 0, unit: uS, assumption: t}\n"
                       "read_noise:\n  model: proportional\n  sigma_rel: {value: 0.03, unit: '1', assumption: t}\n"
                       "stuck:\n  on_rate: {value: 0.01, unit: '1', assumption: t}\n", name="mydev")
    dm = Device.from_record(techlib.device(path))
    g = np.array([10e-6, 55e-6, 100e-6])
    np.testing.assert_allclose(dm.prog.sigma(g), 1e-6 + 2e-6 * g / 100e-6)
    np.testing.assert_allclose(dm.read.sigma(g), 0.03 * g)
    assert dm.stuck_on == 0.01


# ------------------------------------------------------------------------------------------------
# fresh read noise on every call unless the caller pins a key (issue 13, item 5)
# ------------------------------------------------------------------------------------------------

def test_read_noise_fresh_per_call_pinned_key_reproduces_sequence_follows_seed():
    pm, X = _noisy_pm()
    a, b = pm.matmul(X), pm.matmul(X)
    assert not np.array_equal(a, b)                                   # two calls, two draws
    np.testing.assert_array_equal(pm.matmul(X, key=(4,)), pm.matmul(X, key=(4,)))   # a pinned key reproduces
    again, _ = _noisy_pm()                                            # same programming seed: same sequence
    np.testing.assert_array_equal(again.matmul(X), a)
    np.testing.assert_array_equal(again.matmul(X), b)
    np.testing.assert_array_equal(a, pm.matmul(X, key=(pm.FRESH_KEY, 0)))  # the i-th fresh key, written out
    other, _ = _noisy_pm()
    other = ts.ProgrammedMatrix.program(np.random.default_rng(9).standard_normal((150, 70)), other.lm, other.arch,
                                        other.device, other.cfg, seed=(3, 1, 5)).calibrate(X)
    assert not np.array_equal(other.matmul(X), a)                     # another seed, other numbers


def test_float32_auto_precision_within_its_bound():
    """precision 'auto' picks float32 only where the proven float32 error is below 1/64 of every
    ADC step; without noise its output then differs from float64 by at most a few ADC codes per
    output in a few conversions (the bound lets a current move across a code boundary only when it
    lies within the bound of it)."""
    pm, X = _noisy_pm(read_noise=False, precision="auto")
    if pm.compute_dtype != np.float32:
        pytest.skip("this calibration's steps do not admit float32")
    p64, _ = _noisy_pm(read_noise=False, precision="float64")
    assert pm.float32_error_bound().max() <= pm.AUTO_FLOAT32_STEP_FRACTION
    y32, y64 = pm.matmul(X, key=(1,)), p64.matmul(X, key=(1,))
    step_out = pm.adc_step.max() * pm.out_scale * np.abs(pm.conv_coef).max() * (1 << (pm.bits_per_cell * (pm.slices - 1)))
    assert np.mean(y32 != y64) < 0.05
    assert np.abs(y32 - y64).max() <= 2 * step_out + 1e-12


def test_rows_split_across_threads_give_the_same_numbers(monkeypatch):
    from archsim.sim.tilesim import programmed
    monkeypatch.setattr(programmed, "PARALLEL_MIN_WORK", 0)           # split even this small batch
    for prec in ("float64", "float32"):
        # the chunks do not depend on the thread count and BLAS runs on one thread in each, so 1, 2 or 3
        # threads make the very same BLAS calls: equal to the last bit by construction
        one, X = _noisy_pm(threads=1, precision=prec, chunk_elements=2000)
        two, _ = _noisy_pm(threads=2, precision=prec, chunk_elements=2000)
        three, _ = _noisy_pm(threads=3, precision=prec, chunk_elements=2000)
        y1 = one.matmul(X, key=(3,))
        np.testing.assert_array_equal(y1, two.matmul(X, key=(3,)))
        np.testing.assert_array_equal(y1, three.matmul(X, key=(3,)))


def test_blas_held_to_one_thread_gives_the_same_numbers(monkeypatch):
    """Mid-sized calls hold BLAS to one thread for speed on a busy machine; the numbers
    are those of a free BLAS (its threads split the rows and columns of a product, never the sums)."""
    from archsim.sim.tilesim import programmed
    import threadpoolctl
    for prec in ("float64", "float32"):
        with threadpoolctl.threadpool_limits(2, "blas"):
            monkeypatch.setattr(programmed, "BLAS_SINGLE_MIN_WORK", 1 << 62)    # BLAS free (2 threads)
            free, X = _noisy_pm(precision=prec)
            y_free = free.matmul(X, key=(5,))
            monkeypatch.setattr(programmed, "BLAS_SINGLE_MIN_WORK", 0)          # BLAS on one thread
            held, _ = _noisy_pm(precision=prec)
            np.testing.assert_array_equal(held.matmul(X, key=(5,)), y_free)


@pytest.mark.parametrize("noise,quant,fused", [(True, True, True), (True, True, False), (False, True, False),
                                               (True, False, False)])
def test_units_kernel_equals_numpy_twin(noise, quant, fused):
    from archsim.sim.tilesim import kernels as K_
    rng = np.random.default_rng(31)
    U, NC, B, N = 3, 4, 37, 7
    M = (rng.random((NC * B, 2 * U * N if fused else U * N)) * 50).astype(np.float32)
    Mv = M if fused else (rng.random((NC * B, U * N)) * 4).astype(np.float32)
    vcol0 = U * N if fused else 0
    streams = rng.integers(0, 2**63, (U, NC), dtype=np.uint64)
    lo = np.zeros((U, N)); step = rng.random((U, N)) + 0.2; inv = 1.0 / step
    coef = rng.standard_normal((U, NC))
    a, b = np.empty((B, N)), np.empty((B, N))
    K_.run_units_accumulate(M, Mv, vcol0, streams, 11, N, lo, inv, step, 255.0, coef, a, noise, quant, init=True)
    K_.units_accumulate_np(M, Mv, vcol0, streams, 11, N, lo, inv, step, 255.0, coef, b, noise, quant, init=True)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_units_kernel_skips_zero_variance_rows_without_moving_the_stream(fused):
    """Rows whose variances are all zero (blank inputs) draw no normals; every other row's noise is
    still the normal at its own (stream, row, column): the kernel equals the twin, which draws them all
    and multiplies the skipped ones by sqrt(0)."""
    from archsim.sim.tilesim import kernels as K_
    rng = np.random.default_rng(7)
    U, NC, B, N = 2, 3, 300, 5        # 300 rows: more than one block of rows for the narrow layout
    M = (rng.random((NC * B, 2 * U * N if fused else U * N)) * 50).astype(np.float32)
    Mv = M if fused else (rng.random((NC * B, U * N)) * 4).astype(np.float32)
    vcol0 = U * N if fused else 0
    dead = rng.random((NC * B, U)) < 0.6
    for u in range(U):
        Mv[dead[:, u], vcol0 + u * N:vcol0 + (u + 1) * N] = 0.0
    Mv[5, vcol0:vcol0 + N - 1] = 0.0  # a row with only some zero variances still draws all its normals
    Mv[7:9, vcol0:] = 0.0             # whole rows of every unit
    streams = rng.integers(0, 2**63, (U, NC), dtype=np.uint64)
    lo = np.zeros((U, N)); step = rng.random((U, N)) + 0.2; inv = 1.0 / step
    coef = rng.standard_normal((U, NC))
    for quant in (True, False):
        a, b = np.empty((B, N)), np.empty((B, N))
        K_.run_units_accumulate(M, Mv, vcol0, streams, 11, N, lo, inv, step, 255.0, coef, a, True, quant, init=True)
        K_.units_accumulate_np(M, Mv, vcol0, streams, 11, N, lo, inv, step, 255.0, coef, b, True, quant, init=True)
        # the same IEEE operations in the same order: equal up to the last bits of the float64 sums
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)

"""ADC and DAC range policies (architecture keys adc_range, adc_percentile, adc_full_scale, dac_range,
dac_percentile, dac_full_scale): each policy's law, their wiring through the accuracy path and the CLI,
bad values, and that the cost model does not read them."""
import numpy as np
import pytest

from archsim.io import techlib
from archsim import Architecture
from archsim.mapping.layout import map_workload
from archsim.model import arch as A
from archsim.model.errors import ArchsimError
from archsim.sim import accuracy, forward
from archsim.sim import tilesim as ts
from archsim.model.weights import random_weights
from archsim.model.device import load_device

NO_ERR = ts.SimConfig(prog_error=False, read_noise=False)
EXACT_ADC = ts.SimConfig(prog_error=False, read_noise=False, ideal_adc=True)

# float64 products of the same operands in another shape may be summed in another order by BLAS:
# relative differences of a few ulps (1e-12 is far above that and far below any ADC step)
RTOL_SUM = 1e-12


def program(W, arch, cfg=NO_ERR, seed=0):
    dev = load_device(arch.device)
    lm = ts.layer_map(W.shape[0], W.shape[1], arch, dev)
    return ts.ProgrammedMatrix.program(W, lm, arch, dev, cfg, seed=seed)


def currents(pm, X):
    """|column current| per array of one-pulse inputs (dac_bits == input_bits, unsigned inputs): a dict
    (rb, s, cu, cb) -> flat array over vectors and the array's columns; computed here from the cells."""
    assert pm.n_conv == 1 and not pm.x_signed
    V = np.rint(np.clip(X * pm.x_scale, 0.0, pm.x_code_max))
    out = {}
    for rb, (r0, r1) in enumerate(pm.row_bounds):
        for s in range(pm.slices):
            for cu in range(pm.n_units):
                I = np.abs(V[:, r0:r1] @ np.asarray(pm.Gfast[cu, s, 0, r0:r1], dtype=np.float64))
                for cb, (q0, q1) in enumerate(pm.col_bounds):
                    out[rb, s, cu, cb] = I[:, q0:q1].ravel()
    return out


# several row blocks, column blocks, slices and both arrays of each pair (digital readout)
MULTI = dict(device="sonos", rows=16, cols=8, cols_per_adc=8, weight_bits=7, bits_per_cell=3, input_bits=6,
             dac_bits=6, adc_bits=8)


@pytest.fixture(scope="module")
def multi():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((40, 20))
    X = rng.random((300, 40))
    return W, X


# ------------------------------------------------------------------------------------------------
# ADC: per array, per layer, percentile, fixed
# ------------------------------------------------------------------------------------------------

def test_array_range_is_the_max_of_each_arrays_calibration_currents(multi):
    W, X = multi
    pm = program(W, Architecture(**MULTI)).calibrate(X)
    assert (len(pm.row_bounds), pm.slices, pm.n_units, len(pm.col_bounds)) == (3, 2, 2, 3)
    I = currents(pm, X)
    for (rb, s, cu, cb), v in I.items():
        assert pm.adc_full[0, rb, s, cu, cb] == pytest.approx(v.max(), rel=RTOL_SUM)
        q0, q1 = pm.col_bounds[cb]
        # unsigned inputs, each array converted on its own: 2^B - 1 steps span the full scale
        np.testing.assert_allclose(pm.adc_step[0, rb, s, cu, q0:q1], v.max() / 255, rtol=RTOL_SUM)


@pytest.mark.parametrize("pct", [100.0, 95.0])
def test_layer_range_is_the_largest_array_range_shared_by_all(multi, pct):
    W, X = multi
    a = Architecture(**MULTI, adc_percentile=pct)
    per_array = program(W, a).calibrate(X)
    shared = program(W, a.replace(adc_range="layer")).calibrate(X)
    top = per_array.adc_step.max()
    np.testing.assert_array_equal(shared.adc_step, np.full_like(shared.adc_step, top))
    assert len(np.unique(per_array.adc_step)) > 1      # the arrays' own ranges differ: the law is not vacuous


def test_percentile_ranges_clip_their_share_and_shrink_with_the_percentile(multi):
    W, X = multi
    a = Architecture(**MULTI)
    fulls = {}
    for pct in (100.0, 99.9, 99.0, 90.0):
        pm = program(W, a.replace(adc_percentile=pct)).calibrate(X)
        fulls[pct] = pm.adc_full
        for k, v in currents(pm, X).items():
            full = pm.adc_full[(0,) + k]
            assert full == pytest.approx(np.percentile(v, pct), rel=RTOL_SUM)
            above = np.mean(v > full * (1 + RTOL_SUM))
            # at most (100 - p)% of the currents clip, plus one: numpy's percentile interpolates between
            # the two order statistics around rank (n - 1) p / 100
            assert above <= 1 - pct / 100 + 1 / v.size + 1e-12
            if pct == 100.0:
                assert above == 0.0                        # percentile 100 is the max: nothing clips
    pcts = sorted(fulls)
    for lo, hi in zip(pcts, pcts[1:]):
        assert np.all(fulls[lo] <= fulls[hi])
    assert np.all(fulls[90.0] < fulls[100.0])


def test_lower_percentile_clips_more_outputs(multi):
    """Output error against an ideal ADC: a p90 range saturates the largest conversions, so its worst
    output error exceeds the max range's (whose error is only rounding, half a step per conversion)."""
    W, X = multi
    a = Architecture(**MULTI)
    ideal = program(W, a, EXACT_ADC).calibrate(X).matmul(X)
    err = {p: np.abs(program(W, a.replace(adc_percentile=p)).calibrate(X).matmul(X) - ideal).max()
           for p in (100.0, 90.0)}
    assert err[90.0] > 2 * err[100.0]


def test_fixed_range_smaller_than_the_signal_saturates_at_the_full_scale():
    """Every weight and input at its top: the positive array of each pair carries the worst-case current
    rows x g_max on every pulse; a fixed full scale f < 1 clips each of those conversions to f x that."""
    rows = 16
    a = Architecture(device="sonos", rows=rows, cols=8, cols_per_adc=8, weight_bits=4, bits_per_cell=3,
                     input_bits=4, dac_bits=1, adc_bits=8, adc_range="fixed")
    W = np.ones((rows, 8))
    X = np.ones((3, rows))
    exact = X @ W
    for f in (1.0, 0.5, 0.25):
        pm = program(W, a.replace(adc_full_scale=f)).calibrate(X)
        worst = rows * 1.0 * pm.gmax_u                   # rows x largest pulse code (1) x g_max
        full = f * worst
        np.testing.assert_allclose(pm.adc_step, full / 255, rtol=1e-15)
        neg = min(np.rint(rows * pm.gmin_u / (full / 255)), 255) * (full / 255)   # the g_min array, converted
        per_pulse = min(worst, full) - neg
        expect = pm.out_scale * per_pulse * sum(2.0 ** p for p in range(4))
        y = pm.matmul(X)
        np.testing.assert_allclose(y, expect, rtol=1e-12)
        if f < 1.0:   # saturated: f of the exact output, less the g_min array's share (a few % on SONOS)
            assert np.all(y <= f * exact * (1 + 1e-12))
        else:
            np.testing.assert_allclose(y, exact, rtol=0.02)   # f = 1: only the g_min array's rounding


def test_fixed_one_equals_max_on_full_arrays():
    rng = np.random.default_rng(2)
    a = Architecture(device="reram", rows=32, cols=16, cols_per_adc=8, weight_bits=8, bits_per_cell=4,
                     differential_readout="analog", dac_bits=2)
    W = rng.standard_normal((64, 16))                  # two full row blocks
    X = rng.random((10, 64))
    pmax = program(W, a.replace(adc_range="max")).calibrate(X)
    pfix = program(W, a.replace(adc_range="fixed", adc_full_scale=1.0)).calibrate(X)
    np.testing.assert_allclose(pfix.adc_step, pmax.adc_step, rtol=1e-15)
    np.testing.assert_array_equal(pfix.matmul(X, key=(1,)), pmax.matmul(X, key=(1,)))


def test_simconfig_override_and_old_name():
    """SimConfig.adc_range overrides the architecture's; 'calibrated' is the former name of 'array'."""
    rng = np.random.default_rng(3)
    W, X = rng.standard_normal((20, 8)), rng.random((30, 20))
    a = Architecture(device="sonos", rows=16, cols=8, adc_range="max")
    old = program(W, a, ts.SimConfig(prog_error=False, read_noise=False, adc_range="calibrated")).calibrate(X)
    new = program(W, a.replace(adc_range="array")).calibrate(X)
    np.testing.assert_array_equal(old.adc_step, new.adc_step)
    assert ts.range_policy(a, ts.SimConfig(adc_range="calibrated"))["adc_range"].startswith("array")
    assert ts.range_policy(a, ts.SimConfig())["adc_range"].startswith("max")


# ------------------------------------------------------------------------------------------------
# DAC
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("signed", [False, True])
def test_fixed_dac_quantizes_with_the_stated_step_and_clips(signed):
    rng = np.random.default_rng(4)
    full, bits = 2.0, 4
    a = Architecture(device="sonos", rows=32, cols=8, weight_bits=8, bits_per_cell=7, input_bits=bits,
                     dac_bits=1, dac_range="fixed", dac_full_scale=full)
    codes = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    step = full / codes
    W = rng.integers(-127, 128, size=(20, 8)) / 127.0          # on the weight grid: exact weights
    W.flat[0] = 1.0
    X = rng.uniform(-3.0 if signed else 0.0, 3.0, size=(50, 20))    # beyond the full scale: clips
    pm = program(W, a, EXACT_ADC).calibrate(X)
    assert pm.x_max == full and pm.x_signed == signed
    Xq = np.clip(np.rint(X / step), -codes if signed else 0, codes) * step
    assert np.abs(Xq).max() == pytest.approx(full)
    np.testing.assert_allclose(pm.matmul(X), Xq @ W, rtol=0, atol=1e-12 * np.abs(Xq @ W).max())


def test_dac_percentile_sets_the_input_range():
    rng = np.random.default_rng(6)
    a = Architecture(device="sonos", rows=32, cols=8, dac_percentile=99.0)
    X = rng.exponential(size=(200, 20))
    pm = program(rng.standard_normal((20, 8)), a).calibrate(X)
    assert pm.x_max == pytest.approx(np.percentile(X, 99.0), rel=RTOL_SUM) and pm.x_max < X.max()
    assert program(rng.standard_normal((20, 8)), a.replace(dac_percentile=100.0)).calibrate(X).x_max == X.max()
    # mostly zeros (as after a ReLU): a zero percentile would be no range at all; the max is taken
    Z = np.zeros((100, 20))
    Z[0, 3] = 0.7
    assert program(rng.standard_normal((20, 8)), a).calibrate(Z).x_max == 0.7


# ------------------------------------------------------------------------------------------------
# through the accuracy path, the CLI and the cost model
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grouped():
    b = __import__("archsim").GraphBuilder("small", (1, 10, 10))
    b.conv("c1", 4, 3, padding=1)
    b.conv("c2", 6, 3, groups=2)
    b.dense("fc", 10, relu=False)
    wl = random_weights(b.build(), seed=3)
    return wl, accuracy.synthetic_inputs(wl, 24, seed=1)


def _calibrated_chip(wl, a, x):
    m = map_workload(wl, a)
    chip = accuracy._Chip(m, m.device, ts.SimConfig(), seed=0, trial=0)
    forward.run(wl, x, matmul=chip, chunk=len(x))
    return chip


def test_layer_range_is_shared_over_the_groups_of_a_grouped_layer(grouped):
    wl, x = grouped
    a = Architecture(device="reram", rows=16, cols=8, cols_per_adc=8)
    own = _calibrated_chip(wl, a, x)
    shared = _calibrated_chip(wl, a.replace(adc_range="layer"), x)
    shared.share_layer_ranges()
    fulls = [own.pms["c2", g].adc_full.max() for g in (0, 1)]
    assert fulls[0] != fulls[1]
    for g in (0, 1):
        assert np.all(shared.pms["c2", g].adc_full == max(fulls))
    # the ungrouped layer: one range over its own arrays
    assert np.all(shared.pms["c1", 0].adc_full == own.pms["c1", 0].adc_full.max())


def test_architecture_keys_reach_the_accuracy_result(grouped):
    wl, x = grouped
    a = Architecture(device="reram", rows=16, cols=8, cols_per_adc=8, adc_range="fixed", adc_full_scale=0.125,
                     dac_range="fixed", dac_full_scale=0.5)
    chip = _calibrated_chip(wl, a, x)
    for pm in chip.pms.values():
        assert pm.x_max == 0.5
        g_top = pm.gmax_u - pm.gmin_u if pm.analog_pair else pm.gmax_u
        np.testing.assert_allclose(pm.adc_step * (255 if not (pm.x_signed or pm.analog_pair) else 127),
                                   0.125 * 16 * pm.v_max * g_top, rtol=1e-15)
    r = accuracy.simulate(map_workload(wl, a), x, x_cal=x[:8], trials=1, layer_sample=2)
    s = r.summary()
    assert s["adc_range"] == "fixed: 0.125 x worst-case array current"
    assert s["dac_range"] == "fixed: 0.5 at the top code"


def test_cli_accuracy_honours_the_yaml_and_prints_the_policy(tmp_path, capsys):
    from archsim.cli import main as cli
    p = tmp_path / "a.yaml"
    p.write_text("device: sonos\nadc_range: layer\nadc_percentile: 99.5\ndac_percentile: 99.9\n")
    code = cli.main(["accuracy", "-w", "lenet5", "--arch", str(p), "--samples", "50", "--trials", "1",
                     "--calibration", "16", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "layer: largest array p99.5 of calibration |I|" in out
    assert "calibrated: p99.9 of |x| per layer" in out
    code = cli.main(["accuracy", "-w", "lenet5", "--set", "adc_range=widest", "--samples", "5", "--trials", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "key 'adc_range' = 'widest' is not allowed; allowed: array, layer, fixed, max, granular" in err[0]


def test_policies_change_no_cost():
    """The cost model prices conversions by bits and rate; where the range sits changes no event."""
    import archsim
    base = archsim.estimate("lenet5", device="sonos").summary
    for kw in (dict(adc_range="layer", adc_percentile=99.0), dict(adc_range="fixed", adc_full_scale=0.1),
               dict(adc_range="max"), dict(adc_range="granular"), dict(dac_range="fixed", dac_full_scale=3.0),
               dict(dac_percentile=99.0)):
        assert archsim.estimate("lenet5", device="sonos", **kw).summary == base, kw


@pytest.mark.parametrize("body, pattern", [
    ("adc_range: widest\n", "key 'adc_range' = 'widest' is not allowed; allowed: array, layer, fixed, max, granular"),
    ("adc_percentile: 30\n", "key 'adc_percentile' = 30 is not allowed; allowed 50 to 100"),
    ("adc_percentile: 101\n", "key 'adc_percentile' = 101 is not allowed; allowed 50 to 100"),
    ("adc_full_scale: 0\n", "key 'adc_full_scale' = 0 is not allowed; allowed 1e-06 to 1"),
    ("adc_full_scale: 1.5\n", "key 'adc_full_scale' = 1.5 is not allowed; allowed 1e-06 to 1"),
    ("adc_full_scale: max\n", "key 'adc_full_scale' = 'max' is not allowed; allowed a number"),
    ("dac_range: auto\n", "key 'dac_range' = 'auto' is not allowed; allowed: calibrated, fixed"),
    ("dac_percentile: 0\n", "key 'dac_percentile' = 0 is not allowed; allowed 50 to 100"),
    ("dac_full_scale: -1\n", "key 'dac_full_scale' = -1 is not allowed; allowed 1e-12 to 1e\\+12"),
])
def test_bad_range_keys_one_line(tmp_path, body, pattern):
    p = tmp_path / "a.yaml"
    p.write_text(body)
    with pytest.raises(ArchsimError, match=pattern) as e:
        A.load(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)

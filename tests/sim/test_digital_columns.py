"""Digital compute-in-memory (SRAM with adder trees) has no ADC in the simulator, as in the cost model."""
import numpy as np

from archsim.io import techlib
from archsim import Architecture
from archsim.sim import tilesim as ts
from archsim.sim.tilesim.ranges import range_policy
from archsim.model.device import load_device


def _pm(device, adc_bits, W, X):
    arch = Architecture(device=device, adc_bits=adc_bits)
    dev = load_device(device)
    lm = ts.layer_map(W.shape[0], W.shape[1], arch, dev)
    return ts.ProgrammedMatrix.program(W, lm, arch, dev, ts.SimConfig(), seed=3).calibrate(X)


def test_digital_sram_column_sums_are_exact_whatever_adc_bits():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(300, 40))          # 3 row blocks of 128: three column sums added per output
    X = rng.random((64, 300))
    y4 = _pm("sram", 4, W, X).matmul(X, key=1)
    y10 = _pm("sram", 10, W, X).matmul(X, key=1)
    # adder trees sum integers exactly: no converter, so the ADC resolution cannot matter (bit-identical)
    assert np.array_equal(y4, y10)
    # the charge-domain SRAM macro does convert its column charges: there the ADC resolution shows
    c4 = _pm("sram_charge", 4, W, X).matmul(X, key=1)
    c10 = _pm("sram_charge", 10, W, X).matmul(X, key=1)
    assert not np.array_equal(c4, c10)
    # and the digital result is the 8-bit-input, 8-bit-weight digital product: within the input and
    # weight quantization of X @ W (relative Frobenius error of two 8-bit roundings, well under 2%)
    ref = X @ W
    assert np.linalg.norm(y4 - ref) / np.linalg.norm(ref) < 0.02


def test_range_policy_says_digital_has_no_adc():
    arch = Architecture(device="sram")
    assert range_policy(arch, ts.SimConfig(), digital=True)["adc_range"].startswith("none: digital adder trees")
    assert range_policy(arch, ts.SimConfig())["adc_range"].startswith("array")


def test_exact_chips_are_copied_not_resimulated_and_match_a_full_simulation(monkeypatch):
    """SRAM chips are all alike: simulate() copies chip 0's outcomes; they equal what simulating every chip
    gives (the shortcut switched off), bit for bit; with stuck cells the chips differ and all are simulated."""
    import workloads
    from archsim import map_workload
    from archsim.io import data
    from archsim.sim import accuracy

    wl = workloads.get("lenet5", weights=True)
    x, y = data.for_workload(wl, "test", limit=40)
    m = map_workload(wl, Architecture(device="sram"))
    fast = accuracy.simulate(m, x, y, trials=3, seed=1)
    monkeypatch.setattr(accuracy, "chips_alike", lambda device, cfg: False)
    full = accuracy.simulate(m, x, y, trials=3, seed=1)
    assert np.array_equal(fast.correct, full.correct) and np.array_equal(fast.per_trial, full.per_trial)
    assert np.array_equal(fast.logit_error, full.logit_error)
    monkeypatch.undo()
    from archsim.model.device import load_device
    dev = load_device("sram")
    assert accuracy.chips_alike(dev, ts.SimConfig())
    assert not accuracy.chips_alike(dev, ts.SimConfig(stuck_on_rate=0.01))
    assert not accuracy.chips_alike(load_device("reram"), ts.SimConfig())


def test_spread_of_identical_chips_is_exactly_zero():
    from archsim.sim.accuracy import ci95_halfwidth, spread
    assert spread([0.91] * 5) == 0.0                  # np.std leaves ~1.2e-16 from rounding the mean
    v = [0.90, 0.92, 0.95, 0.91]
    # shift invariance: the same standard deviation up to rounding (a few ulp of 0.02)
    assert abs(spread(v) - np.std(v, ddof=1)) < 1e-15
    assert spread([0.9]) == 0.0
    # identical chips: only the image term is left in the interval
    assert ci95_halfwidth([0.9] * 5, 500) == ci95_halfwidth([0.9], 500)

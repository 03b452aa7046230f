"""Accuracy versus ADC bits (benchmarks/study_adc_bits.py): a coarse ADC costs accuracy, the study is a pure
function of its seed, and a digital array has no ADC to lose accuracy to."""
import importlib.util

import numpy as np
import pandas as pd
import pytest

from tests.support import ROOT
from archsim.model.errors import ArchsimError
from archsim.report.plots import matplotlib_available


def _study_module():
    spec = importlib.util.spec_from_file_location("study_adc_bits", ROOT / "benchmarks" / "study_adc_bits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def small():
    """fashion_vgg, 1 chip x 80 Fashion-MNIST test images, seed 0, ReRAM at 4 and 8 bits."""
    mod = _study_module()
    df = mod.study(["fashion_vgg"], ["reram"], [4, 8], trials=1, samples=80, calibration=32, seed=0,
                   log=lambda *_: None)
    return mod, df


def test_four_bit_adc_loses_accuracy_against_eight_bits(small):
    _, df = small
    r4 = df[(df["device"] == "reram") & (df["adc_bits"] == 4)].iloc[0]
    r8 = df[(df["device"] == "reram") & (df["adc_bits"] == 8)].iloc[0]
    # 16 codes for a column of 128 cells quantize the partial sums coarsely: a deficit the paired interval
    # (same chip, same images) separates from 0, not a fluctuation
    assert r4["accuracy"] < r8["accuracy"]
    assert r4["separated"] and r4["diff_ci95_high"] < 0
    # the reference row is itself: D = 0 with no spread (one chip: no chip term, and no image term)
    assert r8["diff_vs_ref"] == 0 and r8["diff_ci95_low"] == 0 and r8["diff_ci95_high"] == 0


def test_digital_sram_does_not_depend_on_adc_bits(small):
    mod, _ = small
    s = mod.study(["fashion_vgg"], ["sram"], [4, 8], trials=1, samples=80, calibration=32, seed=0,
                  log=lambda *_: None)
    # adder trees, no converter: the same chips give the same outcomes whatever adc_bits says (exactly)
    assert s["accuracy"].nunique() == 1 and (s["diff_vs_ref"] == 0).all() and not s["separated"].any()


def test_study_is_deterministic_for_a_seed(small):
    mod, df = small
    again = mod.study(["fashion_vgg"], ["reram"], [4, 8], trials=1, samples=80, calibration=32, seed=0,
                      log=lambda *_: None)
    cols = ["accuracy", "diff_vs_ref", "diff_ci95_low", "diff_ci95_high"]
    first = df[df["device"] == "reram"][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again[cols].reset_index(drop=True), check_exact=True)


def test_report_files(small, tmp_path):
    mod, df = small
    files = mod.write_report(df, tmp_path, "python benchmarks/study_adc_bits.py (test)", 1.0)
    names = {p.name for p in files}
    assert {"adc_bits.csv", "adc_bits.md"} <= names
    assert ("adc_bits.png" in names) == matplotlib_available()
    back = pd.read_csv(tmp_path / "adc_bits.csv")
    assert len(back) == 2 and np.allclose(back["accuracy"], df["accuracy"], rtol=0, atol=0)
    md = (tmp_path / "adc_bits.md").read_text()
    assert "fashion_vgg on reram: 4 bits" in md and "separated from 8 bits at 4 bits" in md


def test_bits_below_the_architecture_range_are_refused():
    mod = _study_module()
    with pytest.raises(ArchsimError, match="adc_bits"):
        mod._bits("0,8")
    with pytest.raises(ArchsimError, match="at least two"):
        mod._bits("8")


def test_exact_devices_simulate_one_chip():
    mod = _study_module()
    # exact bits, no error laws: every chip is the same chip, so one stands for all; analog devices keep theirs
    assert mod.chips_for("sram", 5) == 1 and mod.chips_for("sram_charge", 5) == 1
    assert mod.chips_for("reram", 5) == 5 and mod.chips_for("pcm", 5) == 5


def test_exact_device_chips_are_alike():
    """What chips_for rests on: two sram_charge chips (exact cells, a real ADC) give the same per-image outcomes."""
    import workloads
    from archsim import Architecture
    from archsim.io import data as D
    from archsim.mapping.layout import map_workload
    from archsim.sim.accuracy import simulate
    wl = workloads.get("lenet5", weights=True)
    x, y = D.for_workload(wl, "test", limit=40)
    x_cal, _ = D.for_workload(wl, "train", limit=16)
    r = simulate(map_workload(wl, Architecture(device="sram_charge", adc_bits=4)), x, y, x_cal=x_cal, trials=2,
                 seed=3, layer_sample=4)
    assert (r.correct[0] == r.correct[1]).all() and r.logit_error[0] == r.logit_error[1]


def test_chip_matched_difference_laws():
    from scipy.stats import t as student_t
    from archsim.sim.stats import paired_difference
    mod = _study_module()
    rng = np.random.default_rng(0)
    ca = rng.random((3, 50)) < 0.8
    cb = rng.random((3, 50)) < 0.7
    pa, pb = ca.mean(axis=1), cb.mean(axis=1)
    # against itself: D = 0 and no spread at all, though the chips differ (Welch keeps their spread)
    same = mod.chip_matched_difference(pa, ca, pa, ca)
    assert same.diff == 0 and same.halfwidth == 0 and not same.separated
    assert paired_difference(pa, ca, pa, ca).halfwidth > 0
    # the chip term is Student's t over the per-chip differences, by hand
    m = mod.chip_matched_difference(pa, ca, pb, cb)
    d = pa - pb
    assert m.diff == pytest.approx(d.mean(), rel=1e-12)    # float rounding of two orders of summation
    assert m.chip_halfwidth == pytest.approx(student_t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3), rel=1e-12)
    # one chip: the same as stats.paired_difference (McNemar), to float rounding
    one, ref = mod.chip_matched_difference(pa[:1], ca[:1], pb[:1], cb[:1]), paired_difference(pa[:1], ca[:1],
                                                                                                 pb[:1], cb[:1])
    assert (one.low, one.high) == pytest.approx((ref.low, ref.high), rel=1e-12, abs=1e-15)
    with pytest.raises(ArchsimError, match="same chips"):
        mod.chip_matched_difference(pa, ca, pb[:2], cb[:2])

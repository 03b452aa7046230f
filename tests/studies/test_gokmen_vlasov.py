"""Gokmen and Vlasov's device-requirement sweeps (benchmarks/study_training.py part (b), reports/training.md):
the threshold law, the study's plan, and the report's comparison with the paper, on a synthetic store whose
thresholds are known (seconds; the sweeps themselves run from benchmarks/)."""
import importlib.util
import math
import sys

import pytest

from tests.support import ROOT
from archsim.report.training import sweep_threshold


def _module(name):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_threshold_interpolates_in_log_value_and_walks_the_worse_way():
    # errors 10 at 0.01, 12 at 0.04: 10.5 is crossed a quarter of the way in log(value): 0.01 * 4 ** 0.25
    v, how = sweep_threshold([(0.0, 9.8), (0.01, 10.0), (0.04, 12.0)], 10.2, 0.3, worse_up=True)
    assert how == "interpolated" and v == pytest.approx(0.01 * 4 ** 0.25, rel=1e-12)
    # from a reference at 0 the interpolation is linear in the value
    v, _ = sweep_threshold([(0.0, 10.0), (0.2, 11.0)], 10.0, 0.5, worse_up=True)
    assert v == pytest.approx(0.1, rel=1e-12)
    # fewer states is the worse way: walk 1200 -> 600 -> 300
    v, _ = sweep_threshold([(1200.0, 8.0), (600.0, 8.1), (300.0, 9.1)], 8.0, 0.3, worse_up=False)
    assert v == pytest.approx(math.exp(math.log(600) + 0.2 * (math.log(300) - math.log(600))), rel=1e-12)
    assert sweep_threshold([(0.0, 8.0), (1.0, 8.2)], 8.0, 0.3, True) == (None, "not reached in the swept range")
    assert sweep_threshold([(0.5, 9.0)], 8.0, 0.3, True)[1] == "at or before the first swept value"


def test_a_larger_margin_never_gives_a_smaller_threshold():
    pts = [(0.0, 8.0), (0.01, 8.2), (0.02, 8.9), (0.05, 11.0)]
    thr = [sweep_threshold(pts, 8.0, m, True)[0] for m in (0.1, 0.3, 0.6, 1.0, 2.0)]
    assert all(a <= b for a, b in zip(thr, thr[1:]))


def test_the_plan_keeps_the_paper_settings_and_changes_one_parameter_per_run():
    S = _module("study_training")
    runs = [r for part in S.GV_PARTS for r in S.plan(part)]
    names = [n for n, _, _ in runs]
    assert len(names) == len(set(names))
    assert {n.split("/")[1].split("=")[0] for n in names if n.startswith("gv/") and "=" in n} == set(S.SWEEPS)
    for name, kw, cfg in runs:
        assert (cfg.lr, cfg.bl, cfg.update_management, cfg.weight_gain) == (0.01, 10, False, 0.6)
        # the falling learning rate of part gv30s only (aihwkit's MNIST example: 0.005 from 11, 0.0025 from 21)
        assert cfg.lr_schedule == (((11, 0.005), (21, 0.0025)) if name.startswith("gv30s/") else ())
        # one sample per read in part gv10b1 only (the paper's); the others read GV_BATCH samples together
        assert cfg.batch_size == (1 if name.startswith("gv10b1/") else S.GV_BATCH)
        if "=" in name:
            key, val = name.split("/")[1].split("=")
            m = kw["update_model"]
            changed = {f for f in ("states", "asymmetry", "c2c", "dw_d2d", "bound_d2d")
                       if getattr(m, f) != getattr(S.BASE, f)}
            assert changed == {key} and getattr(m, key) == float(val)
            assert math.sqrt(cfg.lr / (cfg.bl * cfg.weight_gain * m.dw)) <= 1.0 + 1e-12   # no probability clips


def test_report_compares_thresholds_with_the_paper():
    """A synthetic store: float 5.0% after epoch 2, baseline 5.1 and 5.3 (mean 5.2, so the +0.3-point criterion is
    5.5); states cross between 600 (5.4) and 300 (5.8, two trials) a quarter of the way in log(value); asymmetry
    crosses half way in log between 0.005 (5.3) and 0.02 (5.7), at a = 0.01 (imbalance 2a/(1-a) = 0.0202, factor
    1.01 against the paper's 2%); the signed c2c never does; the bounds spread leaves the band at 0.0375, stricter than
    half the 30% specification; the one-epoch table keeps the cut c2c apart."""
    S, G = _module("study_training"), _module("training_report_gv")

    def rec(*errs):
        return dict(history=[dict(test_accuracy=1 - e / 100) for e in errs])

    store = {"float": rec(7.0, 5.0), "gv/base": rec(7.2, 5.1), "gv/base/1": rec(7.2, 5.3),
             "gv2/states=600": rec(7.3, 5.4), "gv2/states=300": rec(7.6, 5.8), "gv2/states=300/1": rec(7.6, 5.8),
             "gv/states=300": rec(7.6), "gv2/asymmetry=0.005": rec(7.3, 5.3), "gv2/asymmetry=0.02": rec(7.5, 5.7),
             "gv2/c2c=0.5": rec(7.2, 5.2), "gv2/c2c=2.0": rec(7.3, 5.4), "gv/c2c=3.0": rec(7.1),
             "gv2/bound_d2d=0.1": rec(7.2, 6.0)}
    meta = dict(paper=S.PAPER, gv_base_epochs=2, gv_train=60000, gv_test=10000, gv_batch=10)
    text = "\n".join(G.gv_section(store, meta))

    def rows(title):
        part = text.split(f"### Thresholds after {title}")[1].split("###")[0]
        return {l.split(" | ")[0].strip("| "): l for l in part.splitlines() if l.startswith("| ")}

    assert "| 2 | 5.00 | 5.20 +- 1.27 (2) | +0.20 |" in text     # t(0.975, 1) 0.1 / sqrt(2) = 1.27
    assert "**within the 0.5-point criterion**" in text
    two = rows("2 epochs")
    states = two["number of states (2 / dw)"]
    assert f"| {600 * 0.5 ** 0.25:.3g} (interpolated) | 0.50 | yes |" in states
    assert "300: 5.80 +- 0.00 (2)" in states          # two trials: mean and interval
    asym = two["up/down asymmetry"]
    assert "dw+/dw- - 1 = 0.0202" in asym and "| 1.01 | yes |" in asym
    assert "not reached up to 2 | > 6.7 | no |" in two["cycle-to-cycle noise of the step (paper's signed step)"]
    assert "device-to-device spread of the step" not in two                  # no runs, no row
    # one epoch: gv/states=300 and gv2/states=300 (trial 0) are one run's first epoch, taken once
    one = rows("one epoch")
    assert "300: 7.60 +- 0.00 (2)" in one["number of states (2 / dw)"]
    assert "3: 7.10 (1)" in one["cycle-to-cycle noise, factor cut at 0 (earlier model)"]
    # the paper's values are specifications (sufficient values): each sweep is judged against a one-sided bound
    assert states.endswith("| 0.50 | yes | consistent | " + G.WHY["states"] + " |")   # 505 states <= 2000
    assert "| 1.01 | yes | consistent |" in asym
    # a bounds spread that leaves the band at 0.0375 (linear from the baseline at 0: 0.1 * 0.3 / 0.8) is
    # stricter than half the paper's 30%
    bnd = two["device-to-device spread of the bounds"]
    assert "| 0.0375 (interpolated) | 0.12 | no | stricter than the spec |" in bnd
    verdict = text.split("### Verdict per sweep")[1]
    row = {l.split(" | ")[0].strip("| "): l for l in verdict.splitlines() if l.startswith("| ")}
    assert row["up/down asymmetry"].endswith("(1.01; consistent) | consistent (after 2 epochs) |")
    assert "so its threshold is at most 1000 states; archsim is consistent while its threshold is at most " \
           "2000 states" in row["number of states (2 / dw)"]
    assert row["device-to-device spread of the bounds"].endswith("| stricter than the spec (after 2 epochs) |")
    assert "at least 0.15" in row["device-to-device spread of the bounds"]
    # a sweep that stops short of the criterion only bounds the factor: undecided while the bound is inside 2x
    assert G._ratio("states", None, 600.0) == ("not reached down to 600", "< 0.6", "undecided (range too short)")
    assert G._ratio("c2c", None, 0.5)[1:] == ("> 1.7", "undecided (range too short)")
    assert G._ratio("c2c", None, 1.0)[2] == "no" and G._ratio("states", None, 300.0)[2] == "no"


def test_the_falling_rate_runs_are_read_apart_and_compared_with_the_constant_rate():
    """gv30s runs (falling rate) never mix into the constant-rate tables (they leave those runs after epoch 10);
    their own section reads thresholds against their own baseline: constant rate, baseline 2.0% after epoch 30
    and 300 states 2.1 (never crosses down to 300); falling rate, baseline 1.8, 600 states 1.9, 300 states 3.1:
    the 2.1 criterion is crossed a sixth of the way from 600 to 300 in log(value), at 600 / 2 ** (1/6) = 535
    states, 1.87x below the paper's 1000: within 2x; a 150-state point at 4.0 changes nothing before it."""
    S, G = _module("study_training"), _module("training_report_gv")

    def rec(err30, sched=()):
        h = [dict(test_accuracy=1 - (err30 + 1.0) / 100)] * 29 + [dict(test_accuracy=1 - err30 / 100)]
        return dict(history=h, config=dict(lr=0.01, lr_schedule=[list(x) for x in sched]))
    sc = ((11, 0.005), (21, 0.0025))
    store = {"gv30/base": rec(2.0), "gv30/states=300": rec(2.1), "gv30/float": rec(1.9),
             "gv30s/base": rec(1.8, sc), "gv30s/float": rec(1.7, sc), "gv30s/states=600": rec(1.9, sc),
             "gv30s/states=300": rec(3.1, sc), "gv30s/states=150": rec(4.0, sc)}
    # the pooled 30-epoch reading sees the constant-rate runs only
    flt, base, pts = G.errors_at(store, 30)
    assert flt == pytest.approx(1.9) and base == [pytest.approx(2.0)] and list(pts["states"]) == [300.0]
    meta = dict(paper=S.PAPER, gv_base_epochs=2, gv_train=60000, gv_test=10000, gv_batch=10)
    text = "\n".join(G.gv_section(store, meta))
    part = text.split("### Thresholds after 30 epochs with a falling learning rate")[1]
    assert "0.01, 0.005 from epoch 11, 0.0025 from epoch 21" in part
    assert "| 30 | 1.70 | 1.80 (1) | +0.10 |" in part
    thr = 600 / 2 ** (1 / 6)
    assert f"| {thr:.3g} (interpolated) | {thr / 1000:.2f} | yes | consistent |" in part
    assert (f"constant rate below 300 states (not reached down to 300), falling rate {thr:.0f} states. The "
            f"schedule raised it by at least {thr / 300:.2f}x, toward the paper's ~1000: it now lies "
            f"{1000 / thr:.2f}x below it, within 2x of the paper's ~1000.") in part
    assert "| 300 | +0.10 | +1.30 | +0.10 | +1.30 |" in part and "| 600 | - | +0.10 | - | +0.10 |" in part
    assert "excess over epochs 26-30 is +1.20 points against the constant rate's on average: fewer states cost " \
           "more at the falling rate" in part
    verdict = text.split("### Verdict per sweep")[1].split("###")[0]
    assert f"30 ep, falling lr: {thr:.3g} ({thr / 1000:.2f}; consistent) | consistent (after 30 epochs, falling lr) |" \
        in verdict
    # no states point below the baseline crosses: the threshold did not move, and the text says so
    calm = {k: v for k, v in store.items() if k not in ("gv30s/states=300", "gv30s/states=150")}
    assert ("constant rate below 300 states (not reached down to 300), falling rate below 600 states (not reached "
            "down to 600). Neither leaves the band in the swept range, so no move of the threshold is measured; at "
            "the falling rate it is undecided against 2x of the paper's ~1000 (the sweep stops at 600)") \
        in "\n".join(G.schedule_section(calm))
    assert G._moved((None, 300.0), (None, 300.0)).endswith("it is not within 2x of the paper's ~1000.")


def test_the_batch_1_runs_are_read_beside_the_batch_10_runs_after_ten_epochs():
    """gv10b1 runs (one sample per read) never mix into the pooled tables; their section reads each point after
    epoch 10 beside the batch-10 runs and the states threshold of each against its own baseline (2.0%, criterion
    2.3): batch 10 crosses between 300 (2.1) and 150 (2.6) 0.4 of the way in log(value), at 300 / 2 ** 0.4 = 227
    states; batch 1 between 300 (2.15) and 150 (2.7) 3/11 of the way, at 248 states: 1.09x, not a rise toward
    the paper's ~1000.  A batch-1 600-state point at 2.5 crosses 0.6 of the way from 1200, at 792 states: a rise."""
    G, B = _module("training_report_gv"), _module("training_report_checks")

    def rec(err10):
        h = [dict(test_accuracy=1 - (err10 + 1.0) / 100)] * 9 + [dict(test_accuracy=1 - err10 / 100)]
        return dict(history=h, config=dict(lr=0.01, batch_size=1), wall_seconds=60.0)
    store = {"gv10/base": rec(2.0), "gv10/states=300": rec(2.1), "gv10/states=150": rec(2.6), "gv10/float": rec(1.9),
             "gv10b1/base": rec(2.0), "gv10b1/states=300": rec(2.15), "gv10b1/states=150": rec(2.7),
             "gv10b1/float": rec(1.8)}
    flt, base, pts = G.errors_at(store, 10)        # the pooled reading sees the batch-10 runs only
    assert flt == pytest.approx(1.9) and base == [pytest.approx(2.0)] and pts["states"][300.0] == [pytest.approx(2.1)]
    text = "\n".join(B.batch_section(store))
    assert "| float | 1.90 (1) | 1.80 (1) | -0.10 |" in text and "| 300 states | 2.10 (1) | 2.15 (1) | +0.05 |" in text
    t10, t1 = 300 / 2 ** 0.4, 300 / 2 ** (3 / 11)
    assert (f"batch 10 {t10:.0f} states, batch 1 {t1:.0f} states. Reading one sample at a time does not raise the "
            f"threshold toward the paper's ~1000 (factor {t1 / t10:.2f})") in text
    store["gv10b1/states=600"] = rec(2.5)
    t1 = 1200 / 2 ** 0.6
    assert f"batch 1 {t1:.0f} states. Reading one sample at a time raised the threshold {t1 / t10:.2f}x" in \
        "\n".join(B.batch_section(store))
    assert B.batch_section({k: v for k, v in store.items() if not k.startswith("gv10b1/")}) == []


def test_the_states_threshold_is_read_at_other_criteria():
    """Constant-rate 30-epoch runs with the same error over every late epoch: baseline 2.0, 600 states 2.15, 300
    states 2.4, 150 states 2.9.  At 0.1 point the sweep leaves the baseline two thirds of the way from 1200 to 600
    in log(value), 1200 / 2 ** (2/3) = 756 states (within 2x of 1000); at 0.2, a fifth of the way from 600 to 300,
    522 (still within 2x); at 0.3, 0.6 of the way from 600 to 300, 396;
    at 0.5, a fifth of the way from 300 to 150, 261; at 1.0 never."""
    C = _module("training_report_checks")

    def rec(err):
        return dict(history=[dict(test_accuracy=1 - err / 100)] * 30, config=dict(lr=0.01))
    store = {"gv30/base": rec(2.0), "gv30/states=600": rec(2.15), "gv30/states=300": rec(2.4),
             "gv30/states=150": rec(2.9), "gv30s/states=600": rec(9.0)}       # another rate's runs: not read
    text = "\n".join(C.criterion_section(store))
    t1, t3, t5 = 1200 / 2 ** (2 / 3), 600 / 2 ** 0.6, 300 / 2 ** 0.2
    assert f"| 0.1 | {t1:.0f} (0.76x; within 2x) | {t1:.0f} (0.76x; within 2x) |" in text
    assert f"| 0.3 (the report's) | {t3:.0f} (0.40x; not within 2x) |" in text
    assert f"| 0.5 | {t5:.0f} (0.26x; not within 2x) |" in text
    assert "| 1 | below 150 (not reached) | below 150 (not reached) |" in text
    assert f"| 0.2 | {600 / 2 ** 0.2:.0f} (0.52x; within 2x) |" in text
    assert "Only a criterion of 0.2 point or less puts the threshold within 2x" in text
    assert C.criterion_section({"gv30/base": rec(2.0)}) == []


def test_a_specification_bounds_the_threshold_from_one_side():
    from archsim.report.training import spec_verdict
    # a spec of 0.3 (larger is worse): any threshold from 0.15 up is consistent, however far beyond 0.3
    assert [spec_verdict(t, None, 0.3, True) for t in (0.1, 0.149, 0.15, 0.3, 3.4)] == \
        ["stricter than the spec"] * 2 + ["consistent"] * 3
    # 1000 states (fewer is worse): a threshold at or below 2000 states is consistent, 244 included
    assert [spec_verdict(t, None, 1000, False) for t in (244, 2000, 2001)] == \
        ["consistent", "consistent", "stricter than the spec"]
    # never left the band: beyond the edge, which decides only when it already passes the limit
    assert spec_verdict(None, 3.0, 0.3, True) == "consistent"
    assert spec_verdict(None, 0.1, 0.3, True) == "undecided"
    assert spec_verdict(None, 150, 1000, False) == "consistent"
    assert spec_verdict(None, 3000, 1000, False) == "undecided"
    # the verdict only relaxes as the factor grows (monotone in the factor)
    order = {"stricter than the spec": 0, "undecided": 1, "consistent": 2}
    for t in (0.05, 0.12, 0.2):
        v = [order[spec_verdict(t, None, 0.3, True, f)] for f in (1, 1.5, 2, 4, 8)]
        assert v == sorted(v)
    with pytest.raises(ValueError):
        spec_verdict(0.1, None, 0.0, True)

"""Sizing's accuracy / fidelity check: candidates below the floor are never recommended; fidelity of an
error-free chip is exact; seeds fix every number; the reduced input keeps every layer's arrays; flags."""
from __future__ import annotations


import numpy as np
import pytest

import workloads
from archsim.cli import main as cli
from archsim.explore import fidelity as F
from archsim.explore import sizing, sizing_report
from archsim.explore.points import config_from_arch
from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from tests.support import registered_tiny_mlp
from archsim.sim import forward
from archsim.sim.tilesim import SimConfig

TINY = "tiny_check_mlp"
BASE = Architecture(device="sonos")
#: every analog error off, ideal converters: what is left is the weights' conductance levels
IDEAL = SimConfig(prog_error=False, read_noise=False, stuck_on_rate=0.0, stuck_off_rate=0.0, d2d_sigma_rel=0.0,
                  ideal_adc=True, ideal_dac=True, ir_drop=False)


@pytest.fixture(scope="module", autouse=True)
def tiny_registered():
    with registered_tiny_mlp(TINY):
        yield


def _cfg(name=TINY, **keys):
    return config_from_arch(name, BASE.replace(**keys), "inference")


def test_tiny_adc_fails_the_floor_and_is_never_recommended():
    # two designs on one array size: the 4-bit ADC spends less energy, the 10-bit one keeps the function
    space = sizing.SearchSpace(rows=(256,), bits_per_cell=(7,), adc_bits=(4, 10), cols_per_adc=(16,), budgets=(1,))
    res = sizing.size(TINY, BASE, space=space, workers=1, check=F.CheckSpec(samples=200, min_agreement=0.8))
    t = res.table.set_index("adc_bits")
    assert t.loc[4, "energy_per_inference_J"] < t.loc[10, "energy_per_inference_J"]   # the floor is what decides
    # measured: agreement 0.70 (4 bits) and 0.93 (10 bits) over 200 inputs, both ~0.06 (the 95% half-width)
    # away from the 0.8 floor, so the verdicts hold for any honest change of the simulator's random streams
    assert t.loc[4, "floor"] == "below floor" and t.loc[4, "agreement"] < 0.8 and not t.loc[4, "recommended"]
    assert t.loc[10, "floor"] == "pass" and t.loc[10, "agreement"] >= 0.8 and t.loc[10, "recommended"]
    assert t.loc[4, "agreement_ci95_low"] <= t.loc[4, "agreement"] <= t.loc[4, "agreement_ci95_high"]
    assert list(res.front["adc_bits"]) == [10]
    assert any(b.startswith("the fidelity floor binds") for b in res.binding), res.binding
    text = sizing_report.format_result(res)
    assert "Below the fidelity floor (never recommended): 1 designs" in text and "agreement (95%)" in text
    assert "logit error" in text and "seeded weights" in text
    assert set(res.table["metric"]) == {"fidelity"}
    # the same search without simulation recommends the 4-bit design and says accuracy was not checked
    blind = sizing.size(TINY, BASE, space=space, workers=1, check=None)
    assert blind.recommended["adc_bits"] == 4 and "NOT CHECKED" in sizing_report.format_result(blind)


def test_front_is_taken_again_until_every_member_passes():
    # a floor no design reaches: every candidate meeting the constraints is simulated, round by round
    space = sizing.SearchSpace(rows=(128, 256), bits_per_cell=(7,), adc_bits=(4, 6), cols_per_adc=(16,), budgets=(1,))
    res = sizing.size(TINY, BASE, space=space, workers=1, check=F.CheckSpec(samples=50, min_agreement=1.0))
    if res.recommended is None:
        assert (res.table["floor"] == "below floor").all() and res.check.simulations == 4
        assert res.message.startswith("no design meets the floor (top-1 agreement >= 1")
    else:   # a design agreeing on all 50 inputs: it is the only kind the front may hold
        assert (res.front["agreement"] == 1.0).all()
    assert res.check.rounds >= 1 and res.check.scored == (res.table["floor"] != "not simulated").sum()


def test_trained_network_is_scored_by_accuracy_against_float_minus_one_point():
    space = sizing.SearchSpace(rows=(128,), bits_per_cell=(7,), adc_bits=(8,), cols_per_adc=(16,), budgets=(1,))
    res = sizing.size("lenet5", BASE, space=space, workers=1, check=F.CheckSpec(samples=200))
    d = res.check.data
    assert d.metric == "accuracy" and d.y is not None and len(d.x) == 200
    assert d.floor == pytest.approx(d.reference - 0.01, abs=1e-12)     # the default floor, exactly
    r = res.recommended
    assert r["floor"] == "pass" and r["accuracy"] >= d.floor
    assert r["accuracy_ci95_low"] <= r["accuracy"] <= r["accuracy_ci95_high"]
    assert "accuracy (95%)" in sizing_report.format_result(res)


def test_fidelity_of_an_error_free_chip_is_exact():
    d = F.prepare(TINY, F.CheckSpec(samples=100, sim=IDEAL))
    r = F.check_design(d, _cfg(rows=256, cols=256, bits_per_cell=7, adc_bits=4, weight_bits=16))
    assert r["agreement"] == 1.0 and r["floor"] == "pass"
    # 16-bit weights on conductance levels: each weight within 2^-15 of its full scale, so the logits
    # within ~1e-4 relative (measured 8.5e-5); 1e-3 leaves room for float32 rounding of the activations
    assert r["logit_error"] < 1e-3


def test_check_is_a_function_of_its_seed():
    cfg = _cfg(rows=256, cols=256, bits_per_cell=7, adc_bits=6)
    a = F.check_design(F.prepare(TINY, F.CheckSpec(samples=64, seed=3)), cfg)
    b = F.check_design(F.prepare(TINY, F.CheckSpec(samples=64, seed=3)), cfg)
    c = F.check_design(F.prepare(TINY, F.CheckSpec(samples=64, seed=4)), cfg)
    assert a == b
    assert a["logit_error"] != c["logit_error"]


def test_designs_differing_in_adc_sharing_or_budget_simulate_alike():
    # sharing one ADC among columns is time multiplexing and replicas hold the same weights: the numbers
    # are the same, which is why sim_key lets them share one simulation
    d = F.prepare(TINY, F.CheckSpec(samples=64))
    a, b = _cfg(rows=128, cols=128, cols_per_adc=1), _cfg(rows=128, cols=128, cols_per_adc=64)
    b["mesh"] = [4, 4]
    assert F.sim_key(a) == F.sim_key(b)
    assert F.check_design(d, a) == F.check_design(d, b)
    assert F.sim_key(a) != F.sim_key(_cfg(rows=128, cols=128, adc_bits=6))


@pytest.mark.parametrize("name", ["vgg16", "resnet50"])
def test_reduced_input_keeps_every_layers_arrays(name):
    full = workloads.get(name)
    small = F.reduced_input(full, 32)
    assert small.input_layer.out_shape == (3, 32, 32) and small.total_macs < full.total_macs / 30
    assert [(l.name, l.K, l.N) for l in small.weighted_layers()] == [(l.name, l.K, l.N) for l in full.weighted_layers()]
    a = BASE.replace(rows=512, cols=512)
    ms, mf = map_workload(small, a), map_workload(full, a)
    assert [(l.layer, l.arrays) for l in ms.layers] == [(l.layer, l.arrays) for l in mf.layers]
    if name == "vgg16":   # five 2x2 poolings need 32 pixels at least
        with pytest.raises(ArchsimError, match="cannot be simulated at 8x8") as e:
            F.reduced_input(full, 8)
        assert "\n" not in str(e.value)


def test_reduced_vgg16_replicates_the_last_map_into_fc6():
    # torchvision's AdaptiveAvgPool2d(7) on a 1 x 1 map copies it 49 times: fc6 with every row equal to
    # the mean of its 49 copies' rows sees the same pre-activation as a 512-row layer
    small = F.seeded_weights(F.reduced_input(workloads.get("vgg16"), 32), 0)
    x = F.seeded_inputs(small, 2, 0)
    _, acts = forward.run(small, x, collect=["pool5", "flatten"])
    flat, pool = acts["flatten"].reshape(2, -1), acts["pool5"].reshape(2, -1)
    assert flat.shape == (2, 25088) and np.array_equal(flat, np.tile(pool, 49))


def test_seeded_logits_are_not_degenerate():
    wl = F.seeded_weights(workloads.get("vgg8"), 0)
    z = forward.run(wl, F.seeded_inputs(wl, 16, 1)).reshape(16, -1)
    corr = np.corrcoef(z)
    assert len(set(z.argmax(axis=1))) >= 4                  # top-1 spread over classes, not one for all
    assert corr[~np.eye(16, dtype=bool)].mean() < 0.9       # plain He-normal: ~0.996 on VGG-16
    for lay in wl.weighted_layers():                        # He variance, zero mean per output
        w = lay.weights.reshape(lay.N, -1).astype(np.float64)
        assert np.allclose(w.mean(axis=1), 0, atol=1e-6) and np.allclose(w.var(axis=1), 2 / lay.K, rtol=1e-4)


def _run(capsys, *args):
    code = cli.main(["size", *args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err.strip()


@pytest.mark.parametrize("args, flag", [
    (("--min-agreement", "1.5"), "--min-agreement"),
    (("--max-accuracy-drop", "-0.1"), "--max-accuracy-drop"),
    (("--sim-samples", "0"), "--sim-samples"),
    (("--sim-trials", "x"), "--sim-trials"),
    (("--seed", "-1"), "--seed"),
    (("--no-simulate", "--min-agreement", "0.5"), "--no-simulate"),
    (("--no-simulate", "--objective", "accuracy"), "--no-simulate"),
    (("--sim-input", "16"), "--sim-input"),
])
def test_cli_check_flags_fail_in_one_line(capsys, args, flag):
    code, _, err = _run(capsys, "-w", "lenet5", "--workers", "1", "--no-progress", *args)
    assert code == 2 and len(err.splitlines()) == 1 and flag in err, err


def test_cli_fidelity_flags(capsys):
    code, _, err = _run(capsys, "-w", "vgg16", "--sim-input", "8", "--no-progress")
    assert code == 2 and len(err.splitlines()) == 1 and "cannot be simulated at 8x8" in err
    code, _, err = _run(capsys, "-w", "vgg16", "--min-accuracy", "0.7", "--no-progress")
    assert code == 2 and "--min-agreement" in err and len(err.splitlines()) == 1
    small = ["-w", TINY, "-d", "sonos", "--rows", "256", "--bits-per-cell", "7", "--adc-bits", "4,10",
             "--cols-per-adc", "16", "--budgets", "1", "--workers", "1", "--no-progress"]
    code, out, _ = _run(capsys, *small, "--min-agreement", "0.8", "--sim-samples", "100")
    assert code == 0 and "fidelity floor: top-1 agreement >= 0.8" in out and "below the floor" in out
    code, out, _ = _run(capsys, *small, "--no-simulate")
    assert code == 0 and "NOT CHECKED" in out and "agreement" not in out


def test_memory_guard_fails_before_the_search(monkeypatch):
    monkeypatch.setattr(F, "available_bytes", lambda: 1e6)   # 1 MB free: no chip fits
    with pytest.raises(ArchsimError, match="needs about .* GB .*parameter 'check'") as e:
        sizing.size(TINY, BASE, space=sizing.SearchSpace(rows=(256,), bits_per_cell=(7,), adc_bits=(8,),
                                                         cols_per_adc=(16,), budgets=(1,)), workers=1)
    assert "\n" not in str(e.value)
    # the library names its parameter; the command line words it as its own flag
    from archsim.cli.args import FLAGS
    assert "turn the simulation off (--no-simulate:" in e.value.worded(FLAGS)
    # the estimate: 110 bytes per weight and bit slice; 8-bit weights hold 7 magnitude bits
    wl = F.prepare(TINY, F.CheckSpec(samples=8)).workload
    assert F.chip_bytes(wl, _cfg(bits_per_cell=7)) == 110 * wl.total_weights
    assert F.chip_bytes(wl, _cfg(bits_per_cell=2)) == 110 * wl.total_weights * 4


def test_objective_accuracy_scores_every_feasible_design_by_fidelity():
    space = sizing.SearchSpace(rows=(256,), bits_per_cell=(7,), adc_bits=(4, 10), cols_per_adc=(4, 16), budgets=(1,))
    res = sizing.size(TINY, BASE, space=space, workers=1, objective="accuracy",
                      constraints=sizing.Constraints(min_accuracy=None, max_area_mm2=1e6),
                      check=F.CheckSpec(samples=100, min_agreement=0.0))
    t = res.table
    assert res.objectives[-1] == "accuracy" and (t["floor"] == "pass").all()       # every design scored
    assert res.check.simulations == 2 and res.check.scored == 4                     # two ADCs, shared by cols/ADC
    assert res.recommended["agreement"] == t["agreement"].max()
    assert res.front["agreement"].is_monotonic_decreasing
    assert "agreement (95%)" in sizing_report.format_result(res)

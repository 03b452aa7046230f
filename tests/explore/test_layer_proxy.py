"""The layer proxy of the fidelity floor (archsim/explore/layer_proxy.py): checked against the full simulation of
the same designs on a network small enough for both, a search using it never reports a design whose full
simulation is below the floor, the early stop is a lower bound, and seeds fix every number."""
from __future__ import annotations

import pytest

from archsim.cli import main as cli
from archsim.explore import best, fidelity as F, layer_proxy as P, sizing
from archsim.mapping.layout import map_workload
from archsim.model import arch as A
from archsim.sim.accuracy import simulate

#: designs across devices, bits per cell, ADC bits, array sizes and signed-weight encodings whose proxy E lies in
#: the floor region (E <= P.VALID_E: output SNR >= 9 dB), from exact cells (sram) to a 4-bit ADC on 512-row arrays
DESIGNS = [dict(device="sonos", bits_per_cell=7, adc_bits=6, rows=256), dict(device="sonos", bits_per_cell=4,
           adc_bits=8, rows=128), dict(device="reram", bits_per_cell=1, adc_bits=8, rows=128),
           dict(device="pcm", bits_per_cell=2, adc_bits=8, rows=128), dict(device="pcm", bits_per_cell=4,
           adc_bits=6, rows=512), dict(device="sram", bits_per_cell=1, adc_bits=8, rows=128),
           # compare --best's other encodings: two closed-loop pairs, and a pair subtracted as currents
           dict(device="reram", bits_per_cell=3, adc_bits=8, rows=128, mapping="pairs", pair_gain=8.0),
           dict(device="ecram", bits_per_cell=4, adc_bits=6, rows=256, mapping="pairs", pair_gain=16.0,
                differential_readout="analog")]
SPEC = F.CheckSpec(method="layers", samples=100)


@pytest.fixture(scope="module")
def lenet_data():
    return F.prepare("lenet5", SPEC)


def _config(d: dict) -> dict:
    return dict(d, cols=d["rows"])


def _full_logit_error(data, config: dict) -> float:
    a = A.Architecture(**config)
    m = map_workload(data.workload, a.replace(replicate=False))
    r = simulate(m, data.x, None, x_cal=data.x_cal, trials=1, seed=data.seed, layer_sample=1)
    return float(r.logit_error.mean())


def test_proxy_bounds_the_full_simulation_within_its_band(lenet_data):
    """On trained LeNet-5, 100 test images (the same images for both), the full simulation's relative logit
    error over the proxy's E lies in the stated band: at most BAND[1] (conservative), at least BAND[0]."""
    ratios = []
    for d in DESIGNS:
        errors = P.layer_errors(lenet_data.proxy, A.Architecture(**_config(d)), None, lenet_data.sim)
        E = P.combine(errors)[0]
        assert len(errors) == 5 and E <= P.VALID_E
        ratios.append(_full_logit_error(lenet_data, _config(d)) / E)
    assert P.BAND[0] <= min(ratios) and max(ratios) <= P.BAND[1], ratios


def test_search_never_reports_a_design_whose_full_simulation_is_below_the_floor(lenet_data):
    """compare --best with the proxy floor (forced on LeNet-5): every reported design, simulated whole, has a
    logit error under the floor's E; every cheaper design was found below the floor or screened out."""
    space = sizing.SearchSpace(rows=(128, 256), bits_per_cell=None, adc_bits=(4, 6, 8), cols_per_adc=(8,),
                               budgets=(1,))
    spec = F.CheckSpec(method="layers", samples=100, min_snr_db=20.0)
    cmp = best.best_designs("lenet5", ["sonos", "pcm"], A.Architecture(), space=space, check=spec, workers=1)
    assert cmp.metric == "output SNR" and any("layer proxy" in n for n in cmp.notes)
    limit = 10 ** (-20.0 / 20)
    for res in cmp.results:
        rec = res.recommended
        assert rec is not None and rec["snr_db"] >= 20.0
        config = {k: (str(rec[k]) if k == "device" else int(rec[k]))
                  for k in ("device", "rows", "cols", "bits_per_cell", "adc_bits")}
        assert _full_logit_error(lenet_data, config) <= limit
        df = res.table
        cheaper = df[(df["energy_per_inference_J"] < rec["energy_per_inference_J"]) & df["floor"].ne("not simulated")]
        assert set(cheaper["floor"]) <= {"below floor", F.SCREENED}
    assert {"output SNR dB (95%)", "dominant", "design"} <= set(best.display(cmp).columns)


def test_early_stop_is_a_lower_bound_and_fails_the_design(lenet_data):
    a = A.Architecture(device="sonos", bits_per_cell=7, adc_bits=4, rows=512, cols=512)
    full = P.layer_errors(lenet_data.proxy, a, None, lenet_data.sim)
    part = P.layer_errors(lenet_data.proxy, a, None, lenet_data.sim, stop_above=0.01)
    assert len(part) < len(full) and list(part) == list(full)[:len(part)]
    assert P.combine(part)[0] <= P.combine(full)[0]
    r = F.check_design(lenet_data, _config(dict(device="sonos", bits_per_cell=7, adc_bits=4, rows=512)))
    assert r["floor"] == "below floor"


def test_the_proxy_is_a_function_of_its_seed(lenet_data):
    c = _config(DESIGNS[2])
    assert F.check_design(lenet_data, c) == F.check_design(lenet_data, c)
    other = F.prepare("lenet5", F.CheckSpec(method="layers", samples=100, seed=1))
    assert F.check_design(other, c)["logit_error"] != F.check_design(lenet_data, c)["logit_error"]


def test_error_falls_with_adc_bits_and_without_device_errors(lenet_data):
    """More ADC bits, and then no device error and ideal converters, give a smaller E (the only error left is
    the weights' quantization to their magnitude bits, under 2% on LeNet-5)."""
    import dataclasses
    from archsim.sim.tilesim import SimConfig
    E = [P.combine(P.layer_errors(lenet_data.proxy, A.Architecture(device="sonos", bits_per_cell=7, adc_bits=b,
                                                                  rows=256, cols=256), None, lenet_data.sim))[0]
         for b in (4, 6, 8)]
    clean = dataclasses.replace(lenet_data, sim=SimConfig(prog_error=False, read_noise=False, ideal_adc=True,
                                                          ideal_dac=True, d2d_sigma_rel=0.0, stuck_on_rate=0.0,
                                                          stuck_off_rate=0.0))
    E0 = F.check_design(clean, _config(dict(device="sonos", bits_per_cell=7, adc_bits=8, rows=256)))["logit_error"]
    assert E[0] > E[1] > E[2] > E0 and E0 < 0.02, (E, E0)


def test_floor_stays_under_the_exact_digital_chip():
    """Where the exact digital chip at the search's input bits is within REFERENCE_MARGIN_DB of the absolute
    floor (LeNet-5 with 4-bit inputs), the default floor is that chip's SNR minus the margin; with 8-bit inputs
    the absolute floor stands; --min-snr-db always does."""
    four = F.prepare("lenet5", F.CheckSpec(method="layers", samples=20), A.Architecture(input_bits=4))
    ref = P.reference_snr(four.proxy, A.Architecture(input_bits=4))
    assert ref < P.DEFAULT_MIN_SNR_DB + P.REFERENCE_MARGIN_DB
    assert four.floor == pytest.approx(max(ref - P.REFERENCE_MARGIN_DB, P.MIN_FLOOR_DB)) and "digital chip" in four.floor_text
    eight = F.prepare("lenet5", F.CheckSpec(method="layers", samples=20), A.Architecture())
    assert eight.floor == P.DEFAULT_MIN_SNR_DB
    given = F.prepare("lenet5", F.CheckSpec(method="layers", samples=20, min_snr_db=25.0), A.Architecture(input_bits=4))
    assert given.floor == 25.0


def test_which_networks_use_the_proxy():
    assert F.uses_layer_proxy("resnet50", F.CheckSpec(method="auto"))
    assert not F.uses_layer_proxy("resnet50", F.CheckSpec(method="auto", input_hw=32))
    assert not F.uses_layer_proxy("lenet5", F.CheckSpec(method="auto"))
    assert not F.uses_layer_proxy("resnet50", F.CheckSpec())          # the default: whole-network simulation
    assert F.uses_layer_proxy("lenet5", F.CheckSpec(method="layers"))


def test_cli_floor_flags_match_the_check(capsys):
    assert cli.main(["compare", "-w", "resnet50", "--best", "--min-agreement", "0.5", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--min-agreement" in err and "--min-snr-db" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["compare", "-w", "lenet5", "--best", "--min-snr-db", "20", "--no-progress"]) == 2
    assert "does not apply to lenet5" in capsys.readouterr().err
    assert cli.main(["compare", "-w", "resnet50", "--best", "--min-snr-db", "5", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--min-snr-db 5" in err and "validated" in err and len(err.strip().splitlines()) == 1

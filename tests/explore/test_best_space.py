"""The signed-weight encodings of ``compare --best``'s space (archsim/explore/sizing.py ENCODINGS) and where a
design's error comes from (archsim/explore/layer_proxy.py error_sources): two closed-loop pairs are offered only
where they hold the weight's magnitude bits, the analog subtraction halves the conversions, the closed loop
takes back the programming error that dominates one open-loop pair, and a search over the encodings never
reports a design whose full simulation is below the floor."""
from __future__ import annotations

import pytest

from archsim.cli import main as cli
from archsim.explore import best, fidelity as F, layer_proxy as P, sizing
from archsim.mapping.layout import map_workload
from archsim.model import arch as A
from archsim.sim.accuracy import simulate

SPEC = F.CheckSpec(method="layers", samples=100)


@pytest.fixture(scope="module")
def lenet_data():
    return F.prepare("lenet5", SPEC)


def _space(**kw):
    return sizing.SearchSpace(**{**dict(rows=(128,), bits_per_cell=None, adc_bits=(8,), cols_per_adc=(8,),
                                        budgets=(1,), encodings=tuple(sizing.ENCODINGS)), **kw})


def test_pairs_only_where_two_pairs_hold_the_weight():
    """8-bit weights (7 magnitude bits): two pairs of b-bit cells hold 2b bits, so pairs need b >= 4, up to what
    the device holds reliably (ecram 4, sonos 7); reram's 3 reliable bits give no pairs design.  Each pairs
    design has the gain of two binary-weighted slices, F = 2^b."""
    def designs(device):
        cfgs, _ = sizing.design_points("lenet5", A.Architecture(device=device), _space())
        return {(c["mapping"], c["differential_readout"], c["bits_per_cell"], c["pair_gain"] if c["mapping"] == "pairs"
                 else None) for c in cfgs}
    ecram = designs("ecram")
    assert {(m, b) for m, _, b, _ in ecram} == {("differential", b) for b in (1, 2, 3, 4)} | {("pairs", 4)}
    assert {g for m, _, _, g in ecram if m == "pairs"} == {16.0}
    assert {b for m, _, b, _ in designs("sonos") if m == "pairs"} == {4, 5, 6, 7}
    assert {m for m, _, _, _ in designs("reram")} == {"differential"}
    assert {r for _, r, _, _ in ecram} == {"digital", "analog"}
    plain, _ = sizing.design_points("lenet5", A.Architecture(device="ecram"), _space(encodings=None))
    assert {(c["mapping"], c["differential_readout"]) for c in plain} == {("differential", "digital")}


def test_analog_subtraction_halves_the_conversions():
    """The same design with the pair subtracted as currents converts once per pair where the digital readout
    converts each array: the ADC energy halves (same converter, same count of vectors)."""
    from archsim.api import estimate
    e = {r: estimate("lenet5", arch=A.Architecture(device="sonos", bits_per_cell=4, differential_readout=r))
         for r in ("digital", "analog")}
    adc = {r: float(v.summary["energy_adc_J"]) for r, v in e.items()}
    assert adc["analog"] == pytest.approx(adc["digital"] / 2, rel=1e-9)


def test_closed_loop_takes_back_the_programming_error(lenet_data):
    """On one open-loop pair of 4-bit PCM cells programming error is the largest source of error; on two
    closed-loop pairs of the same cells it is a small share, and the design's error is lower."""
    open_ = A.Architecture(device="pcm", bits_per_cell=4)
    closed = open_.replace(mapping="pairs", pair_gain=16.0)
    s_open = P.error_sources(lenet_data.proxy, open_, lenet_data.sim)
    s_closed = P.error_sources(lenet_data.proxy, closed, lenet_data.sim)
    assert next(iter(s_open)) == "programming error" and s_open["programming error"] > 0.5, s_open
    assert s_closed.get("programming error", 0.0) < 0.2, s_closed
    E = [P.combine(P.layer_errors(lenet_data.proxy, a, None, lenet_data.sim))[0] for a in (open_, closed)]
    assert E[1] < E[0], E
    assert all(0 < v <= 1.0 + 1e-9 for v in s_open.values()) and "weight grid" in s_open
    assert "programming error" in P.sources_text(s_open)


def test_search_over_encodings_never_reports_a_design_below_the_floor(lenet_data):
    """compare --best over every encoding with the proxy floor (forced on LeNet-5): each reported design,
    simulated whole with all its keys (mapping, readout, pair gain), has a logit error under the floor's E, and
    every cheaper design was simulated below the floor or screened out."""
    spec = F.CheckSpec(method="layers", samples=100, min_snr_db=18.0)
    cmp = best.best_designs("lenet5", ["pcm", "ecram"], A.Architecture(), space=_space(adc_bits=(6, 8)),
                            check=spec, workers=1)
    limit = 10 ** (-18.0 / 20)
    for res in cmp.results:
        rec = res.recommended
        assert rec is not None and rec["snr_db"] >= 18.0
        a = best.design_arch(rec)
        m = map_workload(lenet_data.workload, a.replace(replicate=False, mesh=A.AUTO, tiles=A.AUTO))
        r = simulate(m, lenet_data.x, None, x_cal=lenet_data.x_cal, trials=1, seed=lenet_data.seed, layer_sample=1)
        assert float(r.logit_error.mean()) <= limit
        df = res.table
        cheaper = df[(df["energy_per_inference_J"] < rec["energy_per_inference_J"]) & df["floor"].ne("not simulated")]
        assert set(cheaper["floor"]) <= {"below floor", F.SCREENED}
    assert {res.recommended["mapping"] for res in cmp.results} == {"pairs", "differential"}     # both encodings
    assert set(cmp.table["encoding"]) <= set(sizing.ENCODINGS)
    assert any(n.startswith("where the error comes from") for n in cmp.notes)
    assert "encoding" in cmp.table


def test_cli_encodings_flag(capsys):
    assert cli.main(["compare", "-w", "lenet5", "--best", "--encodings", "pairs,triples", "--no-simulate"]) == 2
    err = capsys.readouterr().err
    assert "--encodings 'triples'" in err and "pairs/analog" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["compare", "-w", "lenet5", "--encodings", "pairs"]) == 2       # without --best
    assert "applies with --best only" in capsys.readouterr().err


def test_a_device_without_a_design_says_where_its_error_comes_from(lenet_data):
    """An unreachable floor (30 dB on 4-bit ADCs): no design, and the note names the best measured design, its
    figure as an upper bound where the check stopped early, and its largest error source (the 4-bit ADC)."""
    cmp = best.best_designs("lenet5", ["ecram"], A.Architecture(), space=_space(adc_bits=(4,)),
                            check=F.CheckSpec(method="layers", samples=100, min_snr_db=30.0), workers=1)
    assert cmp.results[0].recommended is None
    line = next(n for n in cmp.notes if n.startswith("ecram (best measured"))
    assert "at most (stopped early after" in line and line.split("): ")[1].startswith("ADC"), line

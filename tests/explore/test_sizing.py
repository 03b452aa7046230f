"""Sizing: Pareto front (checked by brute force), recommended design, binding constraints, infeasibility."""
from __future__ import annotations


import numpy as np
import pytest

from archsim.cli import main as cli
from archsim.explore import sizing
from archsim.report.pareto import pareto_mask
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError

SPACE = sizing.SearchSpace(rows=(64, 128, 256), bits_per_cell=(2, 4, 7), adc_bits=(4, 8), cols_per_adc=(4, 16),
                           budgets=(1, 2))
BASE = Architecture(device="sonos")


@pytest.fixture(scope="module")
def free():
    """The small search with no constraint (in-process)."""
    return sizing.size("lenet5", BASE, space=SPACE, workers=1, check=None)


def _dominates(a, b, senses):
    better_eq = all((x <= y) if s == "min" else (x >= y) for x, y, s in zip(a, b, senses))
    strictly = any((x < y) if s == "min" else (x > y) for x, y, s in zip(a, b, senses))
    return better_eq and strictly


def _brute_front(rows, senses):
    return [i for i, r in enumerate(rows) if not any(_dominates(o, r, senses) for j, o in enumerate(rows) if j != i)]


def test_pareto_mask_matches_brute_force_with_ties():
    rng = np.random.default_rng(3)
    for senses in (["min", "min"], ["min", "max", "max"], ["min", "min", "max", "max"]):
        v = rng.integers(0, 6, size=(60, len(senses))).astype(float)  # many ties and duplicates
        v[rng.integers(0, 60, 3), 0] = np.nan
        got = np.flatnonzero(pareto_mask(v, senses))
        worst = np.where(np.array(senses) == "min", np.inf, -np.inf)
        vv = np.where(np.isnan(v), worst, v)
        assert list(got) == _brute_front(vv.tolist(), senses)


def test_front_on_a_small_grid_is_the_brute_force_front(free):
    t = free.table
    assert len(t) == 3 * 3 * 2 * 2 * 2 and free.failed == 0
    cols = ["energy_per_inference_J", "area_mm2", "inferences_per_s"]
    rows = t[cols].to_numpy(dtype=float).tolist()
    expect = _brute_front(rows, ["min", "min", "max"])
    assert sorted(np.flatnonzero(t["pareto"].to_numpy())) == expect
    # the recommended design: least energy, ties broken by area then throughput
    e = t["energy_per_inference_J"].to_numpy()
    best = [i for i in range(len(t)) if e[i] == e.min()]
    best.sort(key=lambda i: (t["area_mm2"].iloc[i], -t["inferences_per_s"].iloc[i]))
    assert free.recommended["key"] == t["key"].iloc[best[0]]
    assert bool(t["pareto"].iloc[best[0]])
    assert free.binding == ["no constraints given"]
    assert "NOT CHECKED (--no-simulate)" in free.notes[0]


def test_search_space_contents(free):
    t = free.table
    assert set(t["rows"]) == {64, 128, 256} and (t["rows"] == t["cols"]).all()
    assert set(t["budget"]) == {"1x", "2x"}
    # budget k: the most square mesh holding k times the tiles the mapping needs
    from archsim.explore.points import EvalCache
    wl = EvalCache().workload("lenet5")
    for (r, b), g in t.groupby(["rows", "bits_per_cell"]):
        need = sizing.tiles_needed(wl, BASE.replace(rows=int(r), cols=int(r), bits_per_cell=int(b)))
        for k in (1, 2):
            mesh = sizing.square_mesh(k * need)
            assert set(g[g["budget"] == f"{k}x"]["mesh"]) == {f"{mesh[0]}x{mesh[1]}"}
            assert (g[g["budget"] == f"{k}x"]["tiles_used"] >= need).all()


def test_binding_constraint_is_named(free):
    t = free.table
    rec = free.recommended
    smaller = t["area_mm2"] < rec["area_mm2"]
    assert smaller.any(), "the least-energy design is also the smallest: pick another grid"
    limit = float(t.loc[smaller, "area_mm2"].max())
    res = sizing.size("lenet5", BASE, constraints=sizing.Constraints(max_area_mm2=limit), space=SPACE, workers=1,
                      check=None)
    assert res.recommended["area_mm2"] <= limit
    assert res.recommended["energy_per_inference_J"] >= rec["energy_per_inference_J"]
    assert any(b.startswith(f"--max-area-mm2 {sizing.num(limit)} binds") for b in res.binding), res.binding
    feas = t[t["area_mm2"] <= limit]
    assert res.recommended["energy_per_inference_J"] == feas["energy_per_inference_J"].min()
    assert set(res.front["key"]) <= set(feas["key"])
    # a loose constraint does not bind
    loose = sizing.size("lenet5", BASE, constraints=sizing.Constraints(max_area_mm2=1e6), space=SPACE, workers=1,
                        check=None)
    assert loose.binding[0].startswith("no constraint binds")
    assert loose.recommended["key"] == rec["key"]


def test_nothing_fits_single_constraint(free):
    fastest = free.table["inferences_per_s"].max()
    res = sizing.size("lenet5", BASE, constraints=sizing.Constraints(min_fps=fastest * 10), space=SPACE, workers=1,
                      check=None)
    assert res.recommended is None and not res.table["feasible"].any()
    assert res.message.startswith(f"no design reaches {sizing.num(fastest * 10)} inferences/s; the fastest of the "
                                  f"{len(res.table)} designs searched reaches {sizing.num(fastest)}/s")


def test_nothing_fits_pair_names_both(free):
    t = free.table
    # a throughput some designs reach, and an area none of those fits in but others do
    fps = float(np.quantile(t["inferences_per_s"], 0.75))
    fast = t[t["inferences_per_s"] >= fps]
    area = float(fast["area_mm2"].min()) * 0.999
    assert (t["area_mm2"] <= area).any()
    res = sizing.size("lenet5", BASE, constraints=sizing.Constraints(min_fps=fps, max_area_mm2=area),
                      space=SPACE, workers=1, check=None)
    assert res.recommended is None
    within = t[t["area_mm2"] <= area]
    j = within["inferences_per_s"].idxmax()
    head = (f"no design reaches {sizing.num(fps)} inferences/s within {sizing.num(area)} mm2; the fastest within "
            f"{sizing.num(area)} mm2 reaches {sizing.num(t.loc[j, 'inferences_per_s'])}/s at "
            f"{sizing.num(t.loc[j, 'area_mm2'])} mm2")
    assert res.message.startswith(head), res.message


def fake_accuracy(config):
    """A made-up accuracy rising with ADC bits and bits per cell (for the plumbing only)."""
    return 0.5 + 0.04 * config["adc_bits"] + 0.001 * config["bits_per_cell"]


def test_accuracy_needs_a_model_and_plugs_in():
    with pytest.raises(ArchsimError, match="accuracy is not simulated"):
        sizing.size("lenet5", BASE, constraints=sizing.Constraints(min_accuracy=0.9), space=SPACE, workers=1,
                    check=None)
    res = sizing.size("lenet5", BASE, constraints=sizing.Constraints(min_accuracy=0.83), space=SPACE, workers=1,
                      accuracy_fn=fake_accuracy)
    assert res.objectives == ["energy", "area", "fps", "accuracy"] and res.accuracy_available
    assert (res.table.loc[res.table["feasible"], "adc_bits"] == 8).all()
    t = res.table[res.table["feasible"]]
    rows = t[["energy_per_inference_J", "area_mm2", "inferences_per_s", "accuracy"]].to_numpy(dtype=float).tolist()
    expect = set(t["key"].iloc[_brute_front(rows, ["min", "min", "max", "max"])])
    assert set(res.front["key"]) == expect


def test_cli_size_exit_codes(capsys):
    args = ["size", "--workload", "lenet5", "--device", "sonos", "--rows", "128,256", "--bits-per-cell", "4,7",
            "--adc-bits", "4,8", "--cols-per-adc", "16", "--budgets", "1,2", "--workers", "1", "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "recommended (least energy per inference" in out and "2 operations" in out
    assert cli.main(args + ["--min-fps", "1e12"]) == 1
    assert "no design reaches" in capsys.readouterr().out
    no_weights = [a if a != "lenet5" else "vgg8" for a in args]
    assert cli.main(no_weights + ["--rows", "256", "--bits-per-cell", "7", "--adc-bits", "8",
                                  "--min-accuracy", "0.9"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--min-accuracy" in err and "no trained weights" in err
    assert cli.main(args + ["--bits-per-cell", "9"]) == 2  # the last --bits-per-cell wins
    assert "--bits-per-cell 9" in capsys.readouterr().err


def test_square_mesh():
    for t in (1, 2, 3, 5, 7, 17, 100, 101, 59151):
        r, c = sizing.square_mesh(t)
        assert r * c >= t and abs(r - c) <= 1 and (r - 1) * c < t

"""Per-layer overrides (``layer_overrides``): twins of the uniform design where they agree with it, one layer's
own ADC bits, bits per cell and replication honoured by mapping, cost and simulator, bad input in one line."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.cli import main as cli
from archsim.cost.price import evaluate
from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from archsim.model.weights import random_weights
from archsim.sim.accuracy import simulate
from tests.support import lenet

FIGURES = ("energy_per_inference_J", "area_mm2", "inferences_per_s", "latency_s", "energy_adc_J")


def _names(wl):
    return [l.name for l in wl.weighted_layers()]


def test_overrides_equal_to_the_architecture_are_the_uniform_design_exactly():
    wl = lenet()
    a = Architecture(device="reram", adc_bits=6, bits_per_cell=2)
    same = a.replace(layer_overrides={n: {"adc_bits": 6, "bits_per_cell": 2} for n in _names(wl)})
    e0, e1 = evaluate(map_workload(wl, a)).summary, evaluate(map_workload(wl, same)).summary
    for k in FIGURES:      # the same arithmetic on the same numbers: equal to the last bit
        assert e1[k] == e0[k], k


def test_every_layer_overridden_is_the_uniform_design_with_those_keys():
    wl = lenet()
    a = Architecture(device="reram")
    every = a.replace(layer_overrides={n: {"adc_bits": 5, "bits_per_cell": 1} for n in _names(wl)})
    uni = a.replace(adc_bits=5, bits_per_cell=1)
    u, e = evaluate(map_workload(wl, uni)), evaluate(map_workload(wl, every))
    # idle tiles of the mesh are built as the architecture's (below): they leak at its ADC bits and set the
    # mesh pitch with their area, so the figures agree on a mesh the layers fill
    full = (1, u.mapping.tiles_used)
    u, e = (evaluate(map_workload(wl, x.replace(mesh=full))) for x in (uni, every))
    assert u.mapping.tiles_total == u.mapping.tiles_used and e.mapping.tiles_total == e.mapping.tiles_used
    for k in FIGURES:
        if k != "area_mm2":   # per-layer prices summed as arrays: float order only
            assert e.summary[k] == pytest.approx(u.summary[k], rel=1e-12), k
    # the layers' tiles are the same; idle tiles of the mesh are built as the architecture's, not a layer's
    assert e.layers["area_mm2"].sum() == pytest.approx(u.layers["area_mm2"].sum(), rel=1e-12)


def test_one_layer_adc_bits_move_only_that_layers_converters():
    wl = lenet()
    a = Architecture(device="reram", adc_bits=8)
    names = _names(wl)
    base = evaluate(map_workload(wl, a)).layers.set_index("layer")
    prev = None
    for bits in (4, 6, 8, 10):
        est = evaluate(map_workload(wl, a.replace(layer_overrides={names[1]: {"adc_bits": bits}})))
        t = est.layers.set_index("layer")
        others = [n for n in names if n != names[1]]
        # the other layers' converters are priced as before (their stage times may move the leakage only)
        np.testing.assert_array_equal(t.loc[others, "energy_adc_J"], base.loc[others, "energy_adc_J"])
        if prev is not None:
            assert t.loc[names[1], "energy_adc_J"] > prev     # a finer converter costs more per conversion
        prev = t.loc[names[1], "energy_adc_J"]
    assert prev > base.loc[names[1], "energy_adc_J"]    # 10 bits above the architecture's 8


def test_one_layer_bits_per_cell_sets_its_slices_and_no_other():
    wl = lenet()
    a = Architecture(device="reram", bits_per_cell=3)
    names = _names(wl)
    m = map_workload(wl, a.replace(layer_overrides={names[0]: {"bits_per_cell": 1}}))
    assert m.layers[0].slices == 7 and m.layer_bits_per_cell(names[0]) == 1    # 7 magnitude bits, 1 per cell
    assert all(l.slices == 3 for l in m.layers[1:]) and m.layer_bits_per_cell(names[1]) == 3


def test_a_layers_bits_per_cell_are_resolved_on_the_mappings_own_device():
    """A mapping built with a device of its own (not the one the architecture names) answers every layer's bits
    per cell from that device, as the layer's split was made: auto on SONOS is 7 bits (one slice), on the
    architecture's ReRAM it would be 3 + 4 (two slices)."""
    wl = lenet()
    names = _names(wl)
    m = map_workload(wl, Architecture(device="reram", layer_overrides={names[0]: {"adc_bits": 6}}), device="sonos")
    assert m.device.name == "sonos"
    for n, lm in zip(names, m.layers):
        assert m.layer_bits_per_cell(n) == lm.bits_per_cell == 7, n


def test_fixed_replication_is_kept_and_the_others_balance_the_rest():
    wl = lenet()
    a = Architecture(device="reram", tiles=40)
    names = _names(wl)
    m = map_workload(wl, a.replace(layer_overrides={names[0]: {"replication": 3}}))
    assert m.layers[0].replication == 3
    free = map_workload(wl, a)
    assert free.layers[0].replication != 3      # the greedy balance alone would not give it 3
    off = map_workload(wl, a.replace(replicate=False, layer_overrides={names[1]: {"replication": 2}}))
    assert [l.replication for l in off.layers] == [1, 2, 1, 1, 1]


def test_simulator_honours_the_overrides():
    wl = random_weights(lenet(), seed=1)
    x = np.random.default_rng(0).standard_normal((16, 1, 32, 32)).astype(np.float32)
    a = Architecture(device="reram", adc_bits=8)
    uni = a.replace(adc_bits=4, bits_per_cell=2)
    every = a.replace(layer_overrides={n: {"adc_bits": 4, "bits_per_cell": 2} for n in _names(wl)})
    r0 = simulate(map_workload(wl, uni), x, trials=1, seed=3, layer_sample=1)
    r1 = simulate(map_workload(wl, every), x, trials=1, seed=3, layer_sample=1)
    assert r1.mean == r0.mean and np.array_equal(r1.logit_error, r0.logit_error)   # the same chip, bit for bit
    r2 = simulate(map_workload(wl, a), x, trials=1, seed=3, layer_sample=1)
    assert not np.array_equal(r2.logit_error, r0.logit_error)    # and not the 8-bit chip


@pytest.mark.parametrize("ov, says", [
    ({"nope": {"adc_bits": 6}}, "no weighted layer 'nope' in lenet_t"),
    ({"c1": {"adc_bit": 6}}, "unknown key 'adc_bit'; allowed: adc_bits, bits_per_cell, replication"),
    ({"c1": {"adc_bits": 12}}, "key 'adc_bits' = 12 is not allowed; allowed 1 to 10"),
    ({"c1": {"replication": 100000}}, "replication = 100000 exceeds its 784 input vectors"),
    ({"c1": {"bits_per_cell": "auto"}}, "key 'bits_per_cell' = auto is not allowed"),
    ({"c1": 3}, "layer 'c1' = 3 is not allowed"),
])
def test_bad_overrides_fail_in_one_line(ov, says):
    with pytest.raises(ArchsimError) as e:
        map_workload(lenet(), Architecture(device="reram").replace(layer_overrides=ov))
    assert says in str(e.value) and "\n" not in str(e.value)


def test_cli_set_layer_overrides(capsys):
    assert cli.main(["estimate", "-w", "lenet5", "--set", "layer_overrides={conv1: {adc_bits: 4}}"]) == 0
    assert cli.main(["estimate", "-w", "lenet5", "--set", "layer_overrides={convX: {adc_bits: 4}}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no weighted layer 'convX'" in err[0]


def test_no_overrides_in_any_spelling_is_the_default():
    # a sweep's configuration carries the default as JSON's empty list; YAML may write null or {}
    for v in ([], (), None, {}):
        assert Architecture(layer_overrides=v) == Architecture()
    from archsim.explore.points import evaluate_point
    cfg = {"workload": "lenet5", "task": "inference", **Architecture().as_dict(), "layer_overrides": []}
    assert "error" not in evaluate_point(cfg)

"""Programmed arrays shared across a search's designs give the plain simulator's numbers to the last bit, and
reuse what they claim; the ordered check (``first``) stops at the least-energy design at the floor, the one
the round-by-round front check recommends, having simulated every cheaper design and found it below."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.explore import fidelity as F
from archsim.explore import simcache, sizing
from archsim.explore.points import config_from_arch
from archsim.model.arch import Architecture
from archsim.sim.accuracy import simulate
from archsim.mapping.layout import map_workload
from tests.support import registered_tiny_mlp

TINY = "tiny_simcache_mlp"


@pytest.fixture(scope="module", autouse=True)
def tiny_registered():
    with registered_tiny_mlp(TINY):
        yield


@pytest.fixture(scope="module")
def lenet_data():
    return F.prepare("lenet5", F.CheckSpec(samples=30))


def _cfg(name, **keys):
    return config_from_arch(name, Architecture(device="reram", rows=128, cols=128, bits_per_cell=2, adc_bits=6)
                            .replace(**keys), "inference")


def _full(data, cfg, cache=None):
    """The whole simulation result (per-image outcomes, logit error, per-layer errors) of ``cfg``."""
    a = Architecture(**{k: v for k, v in cfg.items() if k not in ("workload", "task")})
    m = map_workload(data.workload, a.replace(replicate=False, mesh="auto", tiles="auto"))
    return simulate(m, data.x, data.y, x_cal=data.x_cal, trials=2, seed=3, cfg=data.sim, layer_sample=4,
                    chip=cache.chip() if cache is not None else None)


def test_shared_arrays_give_the_plain_simulators_numbers_bit_for_bit(lenet_data):
    base = _cfg("lenet5")
    designs = [base,                                                          # everything programmed
               dict(base, layer_overrides={"conv2": {"adc_bits": 4}}),        # one layer's converter
               dict(base, layer_overrides={"fc1": {"bits_per_cell": 3}}),     # one layer's cells
               dict(base, adc_bits=4),                                        # every converter, same cells
               base]                                                          # again: all from the cache
    cache = simcache.ArrayCache()
    for cfg in designs:
        plain, shared = _full(lenet_data, cfg), _full(lenet_data, cfg, cache)
        # exact equality: the same seeds reach the same cells and noise; any difference is a cache bug
        np.testing.assert_array_equal(shared.correct, plain.correct)
        np.testing.assert_array_equal(shared.logit_error, plain.logit_error)
        np.testing.assert_array_equal(shared.per_layer["relative_error"], plain.per_layer["relative_error"])
    assert cache.reused > 0


def test_a_design_changing_one_layer_programs_only_that_layer(lenet_data):
    cache = simcache.ArrayCache()
    base = _cfg("lenet5")
    F.check_design(lenet_data, base, cache)
    layers = len(lenet_data.workload.weighted_layers())       # one group each, one chip
    assert cache.programmed == layers
    F.check_design(lenet_data, dict(base, layer_overrides={"fc2": {"bits_per_cell": 3}}), cache)
    assert cache.programmed == layers + 1                    # fc2's new cells only
    F.check_design(lenet_data, dict(base, layer_overrides={"fc2": {"adc_bits": 4}}), cache)
    assert cache.programmed == layers + 1                    # an ADC resolution: the same cells, new ranges


def test_a_budget_too_small_to_keep_anything_changes_no_number(lenet_data):
    cache = simcache.ArrayCache(budget=1.0)
    base = _cfg("lenet5")
    for cfg in (base, dict(base, layer_overrides={"conv3": {"adc_bits": 4}})):
        assert F.check_design(lenet_data, cfg, cache) == F.check_design(lenet_data, cfg)
    assert len(cache._cells) <= 1


def test_ordered_check_finds_the_front_checks_design_and_simulated_every_cheaper_one():
    space = sizing.SearchSpace(rows=(128, 256), bits_per_cell=None, adc_bits=(4, 6, 8), cols_per_adc=(16,),
                               budgets=(1,))
    check = F.CheckSpec(samples=64, min_agreement=0.8)
    base = Architecture(device="reram")
    front = sizing.size(TINY, base, space=space, workers=1, check=check)
    first = sizing.size(TINY, base, space=space, workers=1, check=check, first=True)
    assert front.recommended is not None
    assert first.recommended["key"] == front.recommended["key"]
    t, rec = first.table, first.recommended
    cheaper = t[(t["energy_per_inference_J"] < rec["energy_per_inference_J"])]
    # every cheaper design was simulated below the floor, or screened out by a kinder design (at most its rows
    # and bits per cell, at least its ADC bits) simulated with its whole 95% interval under the floor
    assert cheaper["floor"].isin(["below floor", F.SCREENED]).all()
    clear = t[(t["floor"] == "below floor") & (t["agreement_ci95_high"] < first.check.data.floor)]
    for _, r in cheaper[cheaper["floor"] == F.SCREENED].iterrows():
        assert ((clear["rows"] <= r["rows"]) & (clear["bits_per_cell"] <= r["bits_per_cell"])
                & (clear["adc_bits"] >= r["adc_bits"])).any()
    assert first.check.first and first.check.simulations <= front.check.simulations
    assert any("until the first met the floor" in n for n in first.notes)

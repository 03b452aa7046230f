"""Batched sweeps: the points that share a mapping priced together give the point-by-point results, bit for bit.

The batched path (archsim/explore/batch.py, archsim/cost/batch.py) keeps every sum of the single estimate in
its order, so the comparison is exact: no float tolerance.  Its memos are checked as laws too: prices depend
only on the keys of the cost step, event counts only on EVENT_KEYS (and the mapping).
"""
from __future__ import annotations

import dataclasses
import itertools

import pytest

from archsim.cost.batch import COST_KEYS, EVENT_KEYS, PRICE_KEYS, price_many
from archsim.cost.components import prices_for
from archsim.cost.events import events
from archsim.cost.price import evaluate
from archsim.explore import batch
from archsim.explore.points import MAPPING_KEYS, EvalCache, config_from_arch, eval_chunk, point_key
from archsim.explore.run import results_table, run_sweep
from archsim.explore.spec import Sweep
from archsim.mapping.layout import map_workload
from archsim.model import arch as A
from archsim.model.errors import ArchsimError

from tests.support import lenet


def _resnet_points() -> list[dict]:
    """ResNet-50 on SONOS: a sizing-like grid (many points per mapping, tile budgets 1x/2x/4x), distinct
    mappings (input and weight bits), and points that fail (a mesh too small, cols_per_adc > cols)."""
    base = config_from_arch("resnet50", A.Architecture(device="sonos"))
    cfgs = []
    for rows, bpc, mesh, adc, cpa in itertools.product((128, 256), (2, 4), ([20, 20], [28, 30], [40, 40]),
                                                       (4, 6, 8, 10), (1, 4, 16, 64)):
        cfgs.append(dict(base, rows=rows, cols=rows, bits_per_cell=bpc, mesh=mesh, adc_bits=adc, cols_per_adc=cpa))
    for ib, wb, apt in itertools.product((4, 8), (6, 8), (8, 16)):
        cfgs.append(dict(base, input_bits=ib, weight_bits=wb, arrays_per_tile=apt, adc_bits=ib))
    cfgs.append(dict(base, mesh=[2, 2]))                       # does not fit
    cfgs.append(dict(base, cols=64, cols_per_adc=128))          # refused key combination
    cfgs.append(dict(base, adc_bits=7, mesh=[2, 2]))
    return cfgs


def _sizing_points() -> list[dict]:
    """The design space `archsim size` searches for ResNet-50 on SONOS at 512 x 512 arrays: bits per cell 1-7,
    ADC 4-10 bits, columns per ADC 1-64, tile budgets 1x/2x/4x (336 points, 21 mappings with many replica
    groups: the routes of the batched sweep are the compiled kernel's, those of the point-by-point estimates
    numpy's)."""
    from archsim.explore import sizing
    cfgs, _ = sizing.design_points("resnet50", A.Architecture(device="sonos"), sizing.SearchSpace(rows=(512,)))
    return cfgs


def _other_points() -> list[dict]:
    """Other laws: the LUT model (inference and training), subarray laws, layer_overrides, serial stages."""
    cfgs = []
    for adc, cpa in itertools.product((5, 8), (4, 8)):
        cfgs.append(config_from_arch("lenet5", A.Architecture(device="reram", circuits="neurosim", clock_Hz="auto",
                                                               adc_bits=adc, cols_per_adc=cpa)))
        cfgs.append(config_from_arch("lenet5", A.Architecture(device="ecram", cost_model="lut", adc_bits=adc,
                                                               cols_per_adc=cpa), task="training"))
        cfgs.append(config_from_arch("mlp", A.Architecture(device="sonos", stage_timing="serial", adc_bits=adc,
                                                            cols_per_adc=cpa, node_nm=22 if adc == 5 else 32)))
        cfgs.append(config_from_arch("lenet5", A.Architecture(device="sonos", adc_bits=adc, cols_per_adc=cpa,
                                                               layer_overrides={"conv2": {"adc_bits": 6}})))
    return cfgs


def _point_by_point_csv(cfgs) -> str:
    items = [(point_key(c), c) for c in cfgs]
    results = {k: __import__("json").loads(r) for k, r in eval_chunk(items, EvalCache())}
    return results_table(cfgs, results).to_csv(index=False)


@pytest.mark.parametrize("points", [_resnet_points, _sizing_points, _other_points])
def test_batched_sweep_csv_equals_point_by_point(tmp_path, points):
    cfgs = points()
    run = run_sweep(Sweep(name="b", file="<b>", configs=tuple(cfgs)), out=tmp_path / "o", workers=1,
                    progress=False, formats="csv")
    assert run.total == len(cfgs)
    batched = (tmp_path / "o" / "b.csv").read_text(encoding="utf-8")
    assert batched == _point_by_point_csv(cfgs)       # identical text: every float bit for bit
    if points is _resnet_points:
        assert 2 <= run.failed < len(cfgs)              # the failing points keep their own messages
        assert len({batch.mapping_group(c) for c in cfgs}) < len(cfgs) // 4   # most points share a mapping


def test_price_many_is_price_of_each_architecture():
    wl = lenet()
    archs = [A.Architecture(device="sonos", adc_bits=b, cols_per_adc=c, clock_Hz=f, link_width_bits=w)
             for b, c, f, w in itertools.product((4, 8), (1, 8), (5e8, 1e9), (32, 64))]
    m = map_workload(wl, archs[0])
    got = price_many(m, archs)
    for a, s in zip(archs, got):
        assert s == evaluate(dataclasses.replace(m, arch=a)).summary


def _other_value(k: A.Key, arch: A.Architecture):
    """A valid value of key ``k`` other than the one ``arch`` has (None where there is none to try)."""
    cur = getattr(arch, k.name)
    if k.choices:
        return next((c for c in k.choices if c != str(cur)), None)
    if k.kind == "bool":
        return not cur
    if k.kind in ("int", "float") and k.lo is not None:
        v = type(cur)(k.lo) if cur != k.lo else type(cur)(k.hi)
        return v
    return None


def _variants(arch: A.Architecture, keys):
    for k in A.KEYS:
        if k.name not in keys:
            continue
        v = _other_value(k, arch)
        if v is None:
            continue
        try:
            yield k.name, arch.replace(**{k.name: v})
        except ArchsimError:
            continue


def test_prices_read_only_the_price_keys():
    """What price_many's price memo relies on: a key outside PRICE_KEYS never changes a price (bits per cell,
    weight bits, the mesh and every other key the cost step reads elsewhere included)."""
    base = A.Architecture(device="sonos")
    dev = map_workload(lenet(), base).device
    ref = prices_for(base, dev)
    tried = 0
    for name, a in _variants(base, [k.name for k in A.KEYS if k.name not in PRICE_KEYS]):
        assert prices_for(a, dev) == ref, name
        tried += 1
    assert tried >= 20 and set(PRICE_KEYS) < set(COST_KEYS)


#: derived values of an architecture prices_for may read, and the keys they are computed from
_DERIVED = {"read_rows": ("rows", "parallel_rows"), "row_chunks": ("rows", "parallel_rows")}


@pytest.mark.parametrize("kw", [
    dict(device="sonos"), dict(device="sonos", adc_rate_Hz=2e8, clock_Hz=1e9, integration_time_s=1e-8,
                                parallel_rows=32, adc_type="sar"),
    dict(device="reram", circuits="neurosim", node_nm=22), dict(device="reram", circuits="neurosim", node_nm=22,
                                                                  parallel_rows=16, clock_Hz=5e8),
    dict(device="sonos", cost_model="lut"), dict(device="sram"), dict(device="pcm", node_nm=22)])
def test_prices_for_reads_only_price_keys(kw):
    """Every attribute prices_for reads of the architecture (recorded through a proxy, on every branch these
    designs take: converter laws, subarray laws, the device table, digital SRAM, fixed rates) is a price key or
    a value derived from price keys only."""
    seen = set()

    class Recorder:
        def __init__(self, a):
            object.__setattr__(self, "_a", a)

        def __getattr__(self, name):
            seen.add(name)
            return getattr(self._a, name)

        def __hash__(self):
            return hash(self._a)

    a = A.Architecture(**kw)
    prices_for.__wrapped__(Recorder(a), map_workload(lenet(), a).device)
    read = set()
    for name in seen - {"source"}:            # the place named in a refusal (refusals are not kept)
        read.update(_DERIVED.get(name, (name,)))
    assert read <= set(PRICE_KEYS), sorted(read - set(PRICE_KEYS))
    assert {"adc_bits", "rows", "node_nm"} <= read


def test_event_counts_read_only_event_keys():
    """What price_many's event memo relies on: with the mapping fixed, two architectures that agree on
    EVENT_KEYS (values read through the architecture, derived ones included) have the same event counts."""
    base = A.Architecture(device="sonos")
    m = map_workload(lenet(), base)
    ref = events(m)
    same = changed = 0
    for name, a in _variants(base, [k.name for k in A.KEYS if k.name not in MAPPING_KEYS]):
        ev = events(dataclasses.replace(m, arch=a))
        equal = all((ev[e] == ref[e]).all() for e in ref.counts)
        if all(getattr(a, k) == getattr(base, k) for k in EVENT_KEYS):
            assert equal, name
            same += 1
        else:
            changed += not equal
    assert same >= 10 and changed >= 1      # the memo keeps keys apart that do change the counts


def test_group_architectures_equal_from_dict():
    """The group's architectures built from the first (only changed keys checked) equal from_dict's, key for
    key and in their source; a changed value that from_dict refuses is refused too."""
    base = config_from_arch("resnet50", A.Architecture(device="sonos"))
    cfgs = [dict(base), dict(base, adc_bits=6, cols_per_adc=4), dict(base, adc_bits=6.0),
            dict(base, node_nm=22, mesh=[20, 20]), dict(base, r_wire_ohm=-0.0), dict(base, clock_Hz=1e9),
            dict(base, stage_timing="serial", adc_type="sar")]
    keys = [point_key(c) for c in cfgs]
    got = batch._architectures(keys, cfgs)
    for k, c, a in zip(keys, cfgs, got):
        want = A.from_dict({n: c[n] for n in A.KEY_BY_NAME if n in c}, where=f"point {k[:12]}")
        assert a == want and a.source == want.source
        assert all(type(getattr(a, n)) is type(getattr(want, n)) for n in A.KEY_BY_NAME)
        assert repr(a.as_dict()) == repr(want.as_dict())          # -0.0 kept apart from 0.0
    bad = [dict(base), dict(base, cols=64, cols_per_adc=128)]
    with pytest.raises(ArchsimError, match="cols_per_adc"):
        batch._architectures([point_key(c) for c in bad], bad)

"""Prices of many architectures that share one mapping, as arrays over the design points.

A sweep's points often differ only in keys the mapping step does not read (ADC bits, columns per ADC,
clock, ...): they share one :class:`~archsim.mapping.layout.Mapping`.  :func:`price_many` prices all of
them together and returns, for every architecture, the summary :func:`archsim.cost.price.price` gives for
``replace(m, arch=a)``, bit for bit:

* what depends on the mapping alone (each layer's vectors, MACs, cells, tiles, buffers) is read once;
* what depends on one architecture is computed by the same law functions the single estimate calls:
  :func:`~archsim.cost.components.prices_for`, :func:`~archsim.cost.price.unit_prices`,
  :func:`~archsim.cost.pipeline.vector_time`, :func:`~archsim.cost.pipeline.buffer_bits`,
  :func:`~archsim.cost.pipeline.link_times`,
  :func:`~archsim.cost.floorplan.floorplans` (areas by part, wire lengths; every point at once), the wire laws of
  :mod:`archsim.cost.floorplan`, :func:`~archsim.cost.components.tile_static_power` (on every layer at
  once); event counts once per distinct value of the keys :func:`~archsim.cost.events.events` reads
  (:data:`EVENT_KEYS`); :func:`~archsim.cost.pipeline.transfer_times` and
  :func:`~archsim.cost.pipeline.critical_path` elementwise over the points;
* the compositions (energy by part, stage times and bounds, leakage, totals) are
  ``points x layers`` arrays, each element computed by the same operations in the same order as
  :func:`~archsim.cost.price.price` computes it for one point, so no sum is reordered.

No per-layer table is built (a sweep stores the totals).  Architectures with ``layer_overrides`` (prices per
layer) are priced one by one through :func:`~archsim.cost.price.evaluate`.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Sequence

import numpy as np

from archsim.cost import pipeline, static, tilebuffer
from archsim.cost.components import fixed_buffer_bits, prices_for, shift_add_width, tile_static_power
from archsim.cost.events import Activity, events
from archsim.cost.floorplan import floorplans, hop_time, wire_rate
from archsim.cost.price import AREA_PARTS, OPS_PER_MAC, buffer_width, evaluate, unit_prices
from archsim.cost.table import ENERGY_PARTS, EVENT_PARTS
from archsim.mapping.layout import Mapping
from archsim.model.arch import Architecture, PowerGating, StageTiming, keys_read_by

#: the architecture attributes :func:`archsim.cost.events.events` reads (tests/cost/test_batch.py checks the
#: list against the function's source): points that agree on them share their event counts
EVENT_KEYS = ("cost_model", "input_pulses", "input_bits", "row_chunks", "conversions_per_vector", "mapping",
              "circuits")


def price_many(m: Mapping, archs: Sequence[Architecture], task: str = "inference",
               activity: Activity | None = None) -> list[dict]:
    """``[price(replace(m, arch=a), events(...), prices_for(a, m.device)).summary for a in archs]``, computed
    together; every architecture must agree with ``m.arch`` on the keys the mapping step reads."""
    archs = list(archs)
    if not archs:
        return []
    if m.arch.layer_overrides:
        return [evaluate(_with_arch(m, a), task, activity).summary for a in archs]
    P, n = len(archs), len(m.layers)
    ls = m.layers
    tiles = np.array([l.tiles for l in ls], dtype=float)
    macs = np.array([l.macs for l in ls], dtype=float)
    cells = np.array([l.cells_used for l in ls], dtype=float)
    reps = np.array([l.replication for l in ls], dtype=float)
    bbpt = np.array([l.buffer_bits_per_tile for l in ls], dtype=np.int64)
    vpr = np.array([l.vectors_per_replica for l in ls], dtype=float)
    per_replica_tiles = np.array([l.tiles_per_replica for l in ls], dtype=float)
    idle = m.tiles_total - m.tiles_used
    passes = 2 if task == "training" else 1

    maps = [_with_arch(m, a) for a in archs]
    prices = [_prices(a, m.device) for a in archs]
    fps = floorplans(m, archs, prices)
    plans = [fps.point(i) for i in range(P)]
    evs, ev_memo = [], {}
    for mp, a in zip(maps, archs):
        k = tuple(getattr(a, key) for key in EVENT_KEYS)
        if k not in ev_memo:
            ev_memo[k] = events(mp, task, activity)
        evs.append(ev_memo[k])
    ups = [unit_prices(mp, p, ev, plan) for mp, p, ev, plan in zip(maps, prices, evs, plans)]

    # energy by part: e[part] + counts x J per event, event by event in the table's order (as price does)
    e = {k: np.zeros((P, n)) for k in ENERGY_PARTS}
    for event, part in EVENT_PARTS.items():
        counts = np.array([ev[event] for ev in evs]) if len(ev_memo) > 1 else evs[0][event][None, :]
        per = np.empty((P, n))
        for i, up in enumerate(ups):
            per[i] = up[event]
        e[part] = e[part] + counts * per

    # pipeline timing (pipeline.timing, one row per point)
    t_vec = np.array([pipeline.vector_time(a, p, task) for a, p in zip(archs, prices)])
    compute = vpr[None, :] * t_vec[:, None]
    buf_memo, link_memo = {}, {}
    buffer = np.empty((P, n))
    link = np.empty((P, n))
    t_hops, link_rates = np.empty(P), np.empty(P)
    for i, (mp, a, p, plan) in enumerate(zip(maps, archs, prices, plans)):
        out_bits = shift_add_width(mp) if p.psum_outputs else None
        if out_bits not in buf_memo:
            buf_memo[out_bits] = pipeline.buffer_bits(mp, passes, out_bits)
        bits = buf_memo[out_bits]
        bus = bits / (p.bus_wires * wire_rate(p, plan.bus_length) * per_replica_tiles)
        if a.buffer_width_bits == "auto" and p.buf_org is not None:   # the library's tile buffer organisation,
            w_in, w_out, word = tilebuffer.widths(mp, p.buf_org)       # as price.evaluate and pipeline.timing
            outs = passes * np.array([l.vectors_per_replica * l.N for l in mp.layers], dtype=float) * word
            clocks = pipeline.buffer_bits(mp, passes, 0.0) / w_in + outs / w_out
            buffer[i] = np.maximum(clocks / (p.clock_Hz * per_replica_tiles), bus)
        else:
            buffer[i] = np.maximum(bits / (buffer_width(a, p) * p.clock_Hz * per_replica_tiles), bus)
        link_rate = link_rates[i] = float(wire_rate(p, plan.pitch))
        k = (a.link_width_bits, p.clock_Hz, link_rate)
        if k not in link_memo:
            link_memo[k] = pipeline.link_times(mp, p.clock_Hz, passes, link_rate)
        link[i] = link_memo[k]
        t_hops[i] = float(hop_time(p, plan.pitch))
    transfers = _transfer_times(m, t_hops, np.array([a.link_width_bits for a in archs]), link_rates)
    parts = np.stack([compute, buffer, link])
    serial = np.array([a.stage_timing == StageTiming.SERIAL for a in archs])[:, None]
    stages = np.where(serial, parts.sum(axis=0), parts.max(axis=0))
    bound_idx = parts.argmax(axis=0)
    latency = _critical_paths(m, stages, transfers).tolist()
    period = stages.max(axis=1) if task == "inference" else np.array(latency)
    period_bound = [pipeline.BOUNDS[bound_idx[i, int(np.argmax(stages[i]))]] for i in range(P)]

    # leakage and I/O power over the period, shared out by tile count (as price does)
    p_tile = np.array([tile_static_power(a, p, bbpt) for a, p in zip(archs, prices)])
    p_idle = np.array([float(tile_static_power(a, p, fixed_buffer_bits(a))) for a, p in zip(archs, prices)])
    gated = np.array([a.power_gating != PowerGating.NONE for a in archs])
    e["leakage"] = static.leakage_energy(PowerGating.NONE, p_tile, tiles, idle, p_idle, period, stages, 0.0)
    if gated.any():   # power_gating idle_tiles: each layer's tiles over their stage time and one wake-up
        t_be = np.array([p.t_break_even for p in prices])
        e["leakage"][gated] = static.leakage_energy(PowerGating.IDLE_TILES, p_tile[gated], tiles, idle, p_idle[gated],
                                                    period[gated], stages[gated], t_be[gated])
    p_static = (p_tile * tiles).sum(axis=1) + idle * p_idle
    p_static[gated] = e["leakage"][gated].sum(axis=1) / period[gated]
    p_io = np.array([p.p_io for p in prices])
    e["io"] = (p_io * period)[:, None] * tiles / tiles.sum()

    energy = sum(e[k] for k in ENERGY_PARTS)
    E = energy.sum(axis=1)
    part_sums = {k: e[k].sum(axis=1) for k in ENERGY_PARTS}
    util = (cells * reps).sum() / (m.tiles_total * np.array([a.arrays_per_tile * a.rows * a.cols for a in archs]))
    arrays_total = int(sum(l.arrays * l.replication for l in ls))
    ops = OPS_PER_MAC * float(macs.sum()) * (3 if task == "training" else 1)
    out = []
    for i, (a, p, ev) in enumerate(zip(archs, prices, evs)):
        c_area = {k: float(v[i]) for k, v in fps.component_area.items()}
        chip_area_mm2 = (sum(c_area.values()) + p.a_io) * 1e6
        Ei = float(E[i])
        rate = 1.0 / float(period[i])
        s = dict(
            workload=m.workload.name, device=p.device, cost_model=str(a.cost_model), task=task,
            macs=int(macs.sum()), weights=int(m.workload.total_weights),
            energy_per_inference_J=Ei, latency_s=latency[i], inferences_per_s=rate, period_bound=period_bound[i],
            area_mm2=chip_area_mm2, tiles=m.tiles_total, tiles_used=m.tiles_used, mesh=f"{m.mesh[0]}x{m.mesh[1]}",
            chip_w_mm=float(fps.chip_w[i]) * 1e3, chip_h_mm=float(fps.chip_h[i]) * 1e3,
            arrays=arrays_total, bits_per_cell=m.bits_per_cell,
            tops=ops * rate / 1e12, tops_per_W=ops / Ei / 1e12, tops_per_mm2=ops * rate / 1e12 / chip_area_mm2,
            power_W=Ei * rate, static_power_W=float(p_static[i]) + p.p_io,
            utilization=float(util[i]),
            **{f"energy_{k}_J": float(part_sums[k][i]) for k in ENERGY_PARTS},
            **{f"area_{k}_mm2": c_area[k] * 1e6 for k in AREA_PARTS if k != "io"},
            area_io_mm2=p.a_io * 1e6,
            dominant=max(ENERGY_PARTS, key=lambda k: float(part_sums[k][i])),
        )
        if not ev.activity.source.startswith("assumed"):
            s["activity"] = ev.activity.source
        out.append(s)
    return out


#: the architecture keys prices depend on (each key's ``steps``; tests/cost/test_batch.py checks that the
#: component laws read no other key)
COST_KEYS = keys_read_by("cost")


_PRICES: "OrderedDict[tuple, object]" = OrderedDict()


def _prices(a: Architecture, dev) -> object:
    """``prices_for(a, dev)``, kept for the last 1024 distinct values of the cost keys: prices read those keys
    only (not where the keys came from, ``Architecture.source``), so points that differ elsewhere share them."""
    k = (dev,) + tuple(getattr(a, f) for f in COST_KEYS)
    p = _PRICES.get(k)
    if p is None:
        p = _PRICES[k] = prices_for(a, dev)
        if len(_PRICES) > 1024:
            _PRICES.popitem(last=False)
    return p


def _transfer_times(m: Mapping, t_hop: np.ndarray, link_width: np.ndarray, rate: np.ndarray) -> dict:
    """:func:`archsim.cost.pipeline.transfer_times` of every point (its hop time, link width and flit rate):
    ``(src, dst) -> seconds per point``, each element the same operations as there."""
    tiles = {l.layer: l.tiles for l in m.layers}
    return {(e.src, e.dst): e.max_hops * t_hop + e.bits / (link_width * min(tiles.get(e.src, 1), tiles.get(e.dst, 1))
                                                            * rate)
            for e in m.edges}


def _critical_paths(m: Mapping, stages: np.ndarray, T: dict) -> np.ndarray:
    """:func:`archsim.cost.pipeline.critical_path` of every point (a row of ``stages``; ``T``: each edge's
    transfer time per point), the same sums and maxima taken elementwise."""
    P = stages.shape[0]
    into: dict[str, list] = {}
    for e in m.edges:
        into.setdefault(e.dst, []).append(e.src)
    finish = {"input": np.zeros(P)}
    for j, l in enumerate(m.layers):   # layers are in topological order
        srcs = into.get(l.layer, ["input"])
        start = finish[srcs[0]] + T[(srcs[0], l.layer)]
        for s in srcs[1:]:
            start = np.maximum(start, finish[s] + T[(s, l.layer)])
        finish[l.layer] = start + stages[:, j]
    ends = [finish[s] + T[(s, "output")] for s in into["output"]]
    return np.maximum.reduce(ends) if len(ends) > 1 else ends[0]


def _with_arch(m: Mapping, a: Architecture) -> Mapping:
    return m if a is m.arch or a == m.arch else dataclasses.replace(m, arch=a)

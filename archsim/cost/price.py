"""Events x prices -> an :class:`Estimate`: energy and area by component, timing and efficiency.

:func:`price` multiplies the :class:`~archsim.cost.events.EventCounts` of a mapping by the
:class:`~archsim.cost.components.Prices` of its architecture (one price per event kind,
:func:`unit_prices`), adds leakage and I/O power over the pipeline period
(:mod:`archsim.cost.pipeline`) and composes the per-layer table and chip totals.  :func:`evaluate`
is the whole step for a mapping: ``price(m, events(m, task), prices_for(m.arch, m.device))``.

Two cost models, one output schema: ``circuit`` (bottom-up, the ISAAC way) and ``lut`` (Marinella et al.'s
tile table: energy per MAC includes the tile's converters, so ADC, DAC and shift-add stay zero).
Operations count 2 per MAC (multiply + add) in every TOPS figure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from archsim.cost import pipeline, static
from archsim.cost.components import (Prices, fixed_buffer_bits, lut_entry, prices_for, shift_add_width,  # noqa: F401
                                     tile_area, tile_static_power)
from archsim.cost.floorplan import Floorplan, bus_bit_energy, floorplan, hop_energy
from archsim.cost.events import Activity, EventCounts, events
from archsim.cost.table import ENERGY_PARTS, EVENT_PARTS, PRICE_FIELD
from archsim.mapping.layout import Mapping
from archsim.model.arch import PowerGating
from archsim.model.errors import ArchsimError

OPS_PER_MAC = 2
AREA_PARTS = ("array", "adc", "dac", "adder_tree", "digital", "buffer", "noc", "io")

LUT_EVENTS = {"mac_vmm": "vmm", "mac_mvm": "mvm", "mac_opu": "opu"}


def layer_prices(m: Mapping) -> list[Prices] | None:
    """Each layer's prices where ``layer_overrides`` gives layers their own ADC bits (None: one set for all)."""
    if not m.arch.layer_overrides:
        return None
    return [prices_for(m.layer_arch(l.layer), m.device) for l in m.layers]


def buffer_width(arch, prices: Prices) -> float:
    """Bits per tile buffer access: the architecture's ``buffer_width_bits``, or the library's."""
    return prices.buf_access_bits if arch.buffer_width_bits == "auto" else float(arch.buffer_width_bits)


def unit_prices(m: Mapping, prices: Prices, ev: EventCounts, plan: Floorplan | None = None) -> dict:
    """J per event for every event kind (a number, or one per layer where the price depends on the layer);
    the bus and the links by their lengths in ``plan`` (default: the floorplan of ``m``)."""
    n = len(m.layers)
    plan = plan if plan is not None else floorplan(m, prices, layer_prices(m))
    out = {e: getattr(prices, f) if isinstance(f, str) else f for e, f in PRICE_FIELD.items()}
    out["cell_read"] = prices.cell_read_energy(ev.activity.per_layer("mean_conductance_fraction", n))
    out["shift_add"] = prices.shift_add_energy(shift_add_width(m))
    out["buffer_bit"] = prices.buffer_bit_energy([l.buffer_bits_per_tile for l in m.layers],
                                                 buffer_width(m.arch, prices))
    out["bus_bit"] = bus_bit_energy(prices, plan.bus_length)
    out["bit_hop"] = hop_energy(prices, plan.pitch)
    for e, op in LUT_EVENTS.items():
        out[e] = lut_entry(prices, op)[0] if ev.total(e) > 0 else 0.0
    per = layer_prices(m)
    if per is not None:   # layer_overrides: each layer's conversions (and what scales with them) at its own price
        for e, f in PRICE_FIELD.items():
            out[e] = np.array([getattr(p, f) if isinstance(f, str) else f for p in per])
        out["shift_add"] = np.array([p.shift_add_energy(shift_add_width(m, l.layer))
                                     for p, l in zip(per, m.layers)])
    if prices.sub is not None:
        out["conversion"], out["shift_add"] = _subarray_prices(m, prices, ev)
    return out


def _subarray_prices(m: Mapping, prices: Prices, ev: EventCounts) -> tuple[np.ndarray, float]:
    """Subarray laws: J per conversion of each layer (its column's resistance: the rows one conversion reads,
    the layer's input bit density and conductance fraction) and J per shift-add."""
    a, sub = m.arch, prices.sub
    n = len(m.layers)
    rows_in_block = np.array([l.K / l.row_blocks for l in m.layers], dtype=float)
    rows_read = np.minimum(rows_in_block, a.read_rows)
    r_col = sub.column_resistance(rows_read, ev.activity.per_layer("input_bit_density", n),
                                  ev.activity.per_layer("mean_conductance_fraction", n), prices.r_on, prices.r_off)
    slices = max(l.slices for l in m.layers)
    if not a.layer_overrides:
        conv = sub.conversion_energy(a.adc_bits, a.read_rows, prices.r_on, prices.v_read, r_col, prices.t_sense, a.rows)
        return conv, sub.shift_add_energy(a.adc_bits, slices, a.weight_bits, a.input_bits)
    # layer_overrides: each layer converts at its own ADC bits
    bits = [m.layer_arch(l.layer).adc_bits for l in m.layers]
    conv = np.array([sub.conversion_energy(b, a.read_rows, prices.r_on, prices.v_read, r_col[i:i + 1],
                                           prices.t_sense, a.rows)[0] for i, b in enumerate(bits)])
    return conv, np.array([sub.shift_add_energy(b, slices, a.weight_bits, a.input_bits) for b in bits])


@dataclass(frozen=True)
class Estimate:
    """Per-layer table and chip totals for one mapping and task.  The per-layer table is built when first read
    (``layer_table`` may be a function that builds it): a caller that reads the totals only never pays for it."""

    mapping: Mapping
    task: str
    layer_table: "pd.DataFrame | Callable[[], pd.DataFrame]" = field(repr=False, compare=False)
    summary: dict
    activity: Activity | None = None     # the data statistics the events were counted with

    @property
    def layers(self) -> pd.DataFrame:
        """One row per weighted layer: energy and area by part, stage time and what bounds it, utilization."""
        if callable(self.layer_table):
            object.__setattr__(self, "layer_table", self.layer_table())
        return self.layer_table

    def __repr__(self) -> str:
        """One line: the workload, the device and the headline figures (the tables are in ``layers`` and
        ``summary``)."""
        s = self.summary
        unit = "step" if self.task == "training" else "inference"
        return (f"<Estimate {s['workload']} on {s['device']} ({s['cost_model']}, {self.task}): "
                f"{s['energy_per_inference_J'] * 1e6:.4g} uJ/{unit}, {s['inferences_per_s']:.4g} {unit}s/s, "
                f"{s['area_mm2']:.4g} mm2, {s['tops_per_W']:.4g} TOPS/W, {s['tiles']} tiles; "
                f"dominant energy: {s['dominant']}>")

    def totals(self) -> pd.DataFrame:
        return pd.DataFrame([self.summary])

    def run_energy_J(self, inferences: int) -> float:
        """Energy of a run of back-to-back inferences: dynamic energy per inference times the count,
        plus the chip's leakage over the run's duration (pipeline fill, then one period each).  With
        ``power_gating: idle_tiles`` a tile leaks only while it works on an inference (and one wake-up each),
        so leakage goes with the work: the count times the energy per inference."""
        if inferences < 0:
            raise ArchsimError(f"inferences = {inferences}; allowed 0 or more")
        if inferences == 0:
            return 0.0
        s = self.summary
        if self.mapping.arch.power_gating != PowerGating.NONE:
            return inferences * s["energy_per_inference_J"]
        dynamic = s["energy_per_inference_J"] - s["energy_leakage_J"]
        period = 1.0 / s["inferences_per_s"]
        duration = s["latency_s"] + (inferences - 1) * period
        return inferences * dynamic + s["static_power_W"] * duration


def price(m: Mapping, ev: EventCounts, prices: Prices) -> Estimate:
    """Energy per inference (or training sample), area, timing and efficiency of ``m`` from its events."""
    arch = m.arch
    task = ev.task
    n = len(m.layers)
    per = layer_prices(m)
    plan = floorplan(m, prices, per)
    up = unit_prices(m, prices, ev, plan)
    e = {k: np.zeros(n) for k in ENERGY_PARTS}
    for event, part in EVENT_PARTS.items():
        e[part] = e[part] + ev[event] * up[event]

    t_vec = pipeline.vector_time(arch, prices, task) if per is None else np.array(
        [pipeline.vector_time(m.layer_arch(l.layer), p, task) for p, l in zip(per, m.layers)])
    width = None if arch.buffer_width_bits == "auto" and prices.buf_org is not None else buffer_width(arch, prices)
    tm = pipeline.timing(m, prices, task, t_vec, plan, width)
    stages, latency, period = tm.stages, tm.latency, tm.period
    tiles = np.array([l.tiles for l in m.layers], dtype=float)
    idle = m.tiles_total - m.tiles_used
    idle_bits = fixed_buffer_bits(arch)
    p_tile = (np.asarray(tile_static_power(arch, prices, np.array([l.buffer_bits_per_tile for l in m.layers],
                                                                  dtype=float)), dtype=float)
              if per is None else     # one law on every layer at once (the same operations per element)
              np.array([tile_static_power(m.layer_arch(l.layer), p, l.buffer_bits_per_tile) for l, p in zip(m.layers, per)]))
    p_idle = float(tile_static_power(arch, prices, idle_bits))
    # ungated, the whole chip leaks for the real period per inference, idle tiles shared out by tile count;
    # gated (power_gating idle_tiles), each layer's tiles over their stage time and one wake-up (archsim.cost.static)
    e["leakage"] = static.leakage_energy(arch.power_gating, p_tile, tiles, idle, p_idle, period, stages,
                                         prices.t_break_even)
    p_static = (float((p_tile * tiles).sum()) + idle * p_idle if arch.power_gating == PowerGating.NONE
                else float(e["leakage"].sum()) / period)
    e["io"] = prices.p_io * period * tiles / tiles.sum()

    macs = np.array([l.macs for l in m.layers], dtype=float)
    V = np.array([l.vectors for l in m.layers], dtype=float)
    cells = np.array([l.cells_used for l in m.layers], dtype=float)
    chip_area = plan.component_area()
    cap = arch.arrays_per_tile * arch.rows * arch.cols
    reps = np.array([l.replication for l in m.layers], dtype=float)
    energy = sum(e[k] for k in ENERGY_PARTS)
    def df() -> pd.DataFrame:   # built when read (Estimate.layers): a caller of the totals never pays for it
        area = {k: tiles * np.array([t[k] for t in plan.tile_areas]) for k in AREA_PARTS}     # m2 per layer
        return pd.DataFrame({
            "layer": [l.layer for l in m.layers],
            "kind": [l.kind for l in m.layers],
            "macs": macs.astype(np.int64),
            "vectors": V.astype(np.int64),
            "arrays": [l.arrays for l in m.layers],
            "replication": reps.astype(np.int64),
            "tiles": tiles.astype(np.int64),
            **{f"energy_{k}_J": e[k] for k in ENERGY_PARTS},
            "energy_J": energy,
            **{f"area_{k}_mm2": area[k] * 1e6 for k in AREA_PARTS},
            "area_mm2": sum(area.values()) * 1e6,
            "stage_latency_s": stages,
            "bound": list(tm.bound),
            "utilization": cells * reps / (tiles * cap),
        })

    E = float(energy.sum())
    chip_area_mm2 = (sum(chip_area.values()) + prices.a_io) * 1e6
    ops = OPS_PER_MAC * float(macs.sum()) * (3 if task == "training" else 1)
    rate = 1.0 / period
    summary = dict(
        workload=m.workload.name, device=prices.device, cost_model=str(arch.cost_model), task=task,
        macs=int(macs.sum()), weights=int(m.workload.total_weights),
        energy_per_inference_J=E, latency_s=latency, inferences_per_s=rate, period_bound=tm.period_bound,
        area_mm2=chip_area_mm2, tiles=m.tiles_total, tiles_used=m.tiles_used, mesh=f"{m.mesh[0]}x{m.mesh[1]}",
        chip_w_mm=plan.chip_w * 1e3, chip_h_mm=plan.chip_h * 1e3,
        arrays=int(sum(l.arrays * l.replication for l in m.layers)), bits_per_cell=m.bits_per_cell,
        tops=ops * rate / 1e12, tops_per_W=ops / E / 1e12, tops_per_mm2=ops * rate / 1e12 / chip_area_mm2,
        power_W=E * rate, static_power_W=p_static + prices.p_io,
        utilization=float((cells * reps).sum() / (m.tiles_total * cap)),
        **{f"energy_{k}_J": float(e[k].sum()) for k in ENERGY_PARTS},
        **{f"area_{k}_mm2": chip_area[k] * 1e6 for k in AREA_PARTS if k != "io"},
        area_io_mm2=prices.a_io * 1e6,
        dominant=_dominant(e, prices.converter_part),
    )
    if not ev.activity.source.startswith("assumed"):    # measured or given: say so beside the totals
        summary["activity"] = ev.activity.source
    return Estimate(m, task, df, summary, ev.activity)


def _dominant(e: dict, converter_part: str = "") -> str:
    """The energy part that costs most (a digital SRAM's adder trees have their own part, adder_tree)."""
    return max(ENERGY_PARTS, key=lambda k: float(e[k].sum()))


def evaluate(m: Mapping, task: str = "inference", activity: Activity | None = None) -> Estimate:
    """Price a mapping: count its events, price them with its architecture's components."""
    ev = events(m, task, activity)
    return price(m, ev, prices_for(m.arch, m.device))

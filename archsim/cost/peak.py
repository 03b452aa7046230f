"""Bottom-up composition of a chip's peak power, area and throughput from its components.

The array side is counted by the same code as any network (:func:`archsim.cost.events.events`): a
1 x 1 convolution whose weights fill exactly one tile's arrays, every input bit 1, one vector per
vector time, priced by the same unit prices (:func:`archsim.cost.price.unit_prices`); its events per
second are the tile's peak.  The tile's shared units run at their capacity: the tile buffer moves one
access per clock, the bus one word per clock, every router port one flit per clock, the digital
units one element per clock.  ISAAC's Table I is composed this way, so a preset of ISAAC composes
its own components back to Table I's totals: a consistency check of the composition, not a
prediction (the components are Table I's figures).

Peak throughput counts, for every tile, the logical weight-matrix cells its
arrays hold (arrays / (slices x copies) x rows x cols MACs) once per vector
time, 2 operations per MAC.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

import numpy as np

from archsim.cost.components import Prices, fixed_buffer_bits, prices_for, tile_area
from archsim.cost.events import Activity, default_activity, events
from archsim.cost.pipeline import t_vector
from archsim.cost.price import OPS_PER_MAC, unit_prices
from archsim.mapping.layout import Mapping, map_workload
from archsim.model.arch import Architecture
from archsim.model.workload import GraphBuilder


@dataclass(frozen=True)
class PeakFigures:
    tile_power_W: dict
    tile_area_m2: dict
    tiles: int
    io_power_W: float
    io_area_m2: float
    ops_per_s: float

    @property
    def tile_power_total_W(self) -> float:
        return sum(self.tile_power_W.values())

    @property
    def tile_area_total_mm2(self) -> float:
        return sum(self.tile_area_m2.values()) * 1e6

    @property
    def chip_power_W(self) -> float:
        return self.tiles * self.tile_power_total_W + self.io_power_W

    @property
    def chip_area_mm2(self) -> float:
        return self.tiles * self.tile_area_total_mm2 + self.io_area_m2 * 1e6

    @property
    def ops_per_W(self) -> float:
        return self.ops_per_s / self.chip_power_W

    @property
    def ops_per_s_mm2(self) -> float:
        return self.ops_per_s / self.chip_area_mm2

    def table(self) -> pd.DataFrame:
        rows = [dict(component=k, tile_power_mW=self.tile_power_W[k] * 1e3,
                     tile_area_mm2=self.tile_area_m2.get(k, 0.0) * 1e6) for k in self.tile_power_W]
        return pd.DataFrame(rows)


def _one_conv(arch: Architecture, sets: int) -> Mapping:
    b = GraphBuilder("full_tile", (arch.rows, 8, 8))
    b.conv("tile", arch.cols * sets, 1, relu=False)
    return map_workload(b.build(), arch.replace(mesh="auto", tiles="auto", replicate=False))


def _full_tile(arch: Architecture) -> Mapping:
    """One 1x1 convolution whose weight slices fill exactly one tile's arrays (vectors: 64); the mapping
    decides the device and the bits per cell (a one-set probe first, then as many sets as fill the tile)."""
    probe = _one_conv(arch, 1)
    sets = max(1, arch.arrays_per_tile // (probe.slices * arch.copies))
    return probe if sets == 1 else _one_conv(arch, sets)


def tile_peak_power(arch: Architecture, prices: Prices, m: Mapping | None = None) -> dict:
    """Power of one tile with every array busy (W), by component (``m``: :func:`_full_tile` of ``arch``)."""
    m = m if m is not None else _full_tile(arch)
    act = default_activity(arch.circuits)
    ev = events(m, "inference", Activity(1.0, act.mean_conductance_fraction, "peak: every input bit 1"))
    up = unit_prices(m, prices, ev)
    lm = m.layers[0]
    per_s = 1.0 / (lm.vectors * t_vector(arch, prices) * lm.tiles)    # one tile's share, per second
    rate = {e: ev.total(e) * per_s for e in ("cell_read", "row_drive", "array_pulse", "conversion", "sample", "shift_add",
                                             "partial_add", "result_write", "adder_bit")}
    clk = prices.clock_Hz
    a = arch.arrays_per_tile
    t_cycle = t_vector(arch, prices) / arch.input_pulses
    return dict(
        array=rate["cell_read"] * float(np.asarray(up["cell_read"]).ravel()[0]),
        adc=rate["conversion"] * float(np.mean(up["conversion"])) + rate["sample"] * prices.e_sh,
        adder_tree=rate["adder_bit"] * prices.e_add_bit,
        dac=rate["row_drive"] * prices.e_dac + rate["array_pulse"] * prices.e_dac_array,
        digital=(rate["shift_add"] * up["shift_add"] + rate["partial_add"] * prices.e_partial_add
                 + clk * (prices.activation_units * prices.e_act_op + prices.pool_units * prices.e_digital_op
                          + prices.e_tile_shift_add)),
        buffer=(rate["result_write"] * prices.e_oreg_result + a * arch.rows * arch.dac_bits * prices.e_reg_bit / t_cycle
                + clk * (prices.buf_access_bits * float(prices.buffer_bit_energy(fixed_buffer_bits(arch)))
                         + prices.bus_wires * float(np.ravel(up["bus_bit"])[0]) + prices.e_oreg_tile)),
        noc=clk * prices.router_ports * arch.link_width_bits * float(np.ravel(up["bit_hop"])[0]) / prices.tiles_per_router,
    )


def peak(arch: Architecture, tiles: int | None = None) -> PeakFigures:
    """Peak power, area and throughput of a chip of ``tiles`` tiles (default: the architecture's mesh)."""
    if tiles is None:
        if arch.mesh == "auto":
            raise ValueError("peak(): give tiles or a fixed mesh")
        tiles = arch.mesh[0] * arch.mesh[1]
    m = _full_tile(arch)
    prices = prices_for(arch, m.device)
    slices = m.slices
    macs_per_vector = arch.arrays_per_tile / (slices * arch.copies) * arch.rows * arch.cols
    ops = OPS_PER_MAC * macs_per_vector * tiles / t_vector(arch, prices)
    area = tile_area(arch, prices, fixed_buffer_bits(arch))
    return PeakFigures(tile_peak_power(arch, prices, m), area, tiles, prices.p_io, prices.a_io, ops)


#: events inside a compute-in-memory macro's boundary: the arrays, their drivers, converters (or adder
#: trees) and the shift-add that merges pulses and slices; not buffers, network, pooling or leakage
MACRO_EVENTS = ("cell_read", "row_drive", "array_pulse", "conversion", "sample", "adder_bit", "shift_add", "partial_add",
                "offset_subtract")


def macro(arch: Architecture) -> dict:
    """Macro-level figures of one tile's arrays kept busy: ops per joule and ops per second per m2.

    The same 1 x 1 convolution as :func:`tile_peak_power` (weights filling the tile's arrays), counted
    with the default activity (``techlib/circuits/activity.yaml``), priced with the same unit prices;
    the energy is the events of :data:`MACRO_EVENTS`, the area the arrays, drivers, converters and
    shift-add units of one tile.  Ops count 2 per MAC."""
    m = _full_tile(arch)
    prices = prices_for(arch, m.device)
    ev = events(m, "inference", default_activity(arch.circuits))
    up = unit_prices(m, prices, ev)
    lm = m.layers[0]
    energy = sum(float(np.sum(ev[e] * up[e])) for e in MACRO_EVENTS)
    ops = OPS_PER_MAC * lm.macs
    t = lm.vectors * t_vector(arch, prices) / lm.replication
    area = tile_area(arch, prices, 0.0)
    a_macro = (area["array"] + area["adc"] + area["adder_tree"] + area["dac"] + area["digital"]
               - prices.a_tile_digital) * lm.tiles
    return dict(ops_per_J=ops / energy, ops_per_s_m2=ops / t / a_macro, energy_per_mac_J=energy / lm.macs)

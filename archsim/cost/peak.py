"""Bottom-up composition of a chip's peak power, area and throughput from its components.

Each component's peak power is its energy per event (techlib) times its event
rate when every array is busy: ADCs convert at ``adc_rate``; every row's DAC and
every cell pulse once per crossbar cycle; shift-and-add and the IMA output
register take every ADC result; the tile buffer moves one access per clock,
the bus one word per clock; every router port one flit per clock; the tile's
digital units one element per clock.  This is how ISAAC's Table I totals are
formed, so a preset of ISAAC must reproduce them from its parts.

Peak throughput counts, for every tile, the logical weight-matrix cells its
arrays hold (arrays / (slices x copies) x rows x cols MACs) once per vector
time, 2 operations per MAC.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from archsim.model.arch import Architecture
from archsim.model.device import load_device
from archsim.cost.components import Prices, prices_for, tile_area
from archsim.cost.pipeline import t_vector
from archsim.cost.price import OPS_PER_MAC
from archsim.mapping.layout import ceil_div, resolve_bits_per_cell

import techlib


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


def tile_peak_power(arch: Architecture, prices: Prices) -> dict:
    """Power of one tile with every array busy (W), by component."""
    a = arch.arrays_per_tile
    n_adc = ceil_div(arch.cols, arch.cols_per_adc) * arch.conversions_per_pair / arch.copies
    t_cycle = max(prices.t_read, arch.cols_per_adc / arch.adc_rate_Hz)
    adc_results = a * n_adc * arch.adc_rate_Hz  # conversions per second in the tile
    clk = arch.clock_Hz
    return dict(
        array=a * arch.rows * arch.cols * prices.e_cell_peak / t_cycle,
        adc=adc_results * prices.e_adc + a * arch.cols * arch.conversions_per_pair / arch.copies * prices.e_sh / t_cycle,
        dac=a * arch.rows * prices.e_dac / t_cycle,
        digital=(adc_results * prices.e_shift_add
                 + clk * (prices.activation_units * prices.e_act_op + prices.pool_units * prices.e_digital_op
                          + prices.e_tile_shift_add)),
        buffer=(adc_results * prices.e_oreg_result + a * arch.rows * arch.dac_bits * prices.e_reg_bit / t_cycle
                + clk * (prices.buf_access_bits * prices.e_buf_bit + prices.bus_wires * prices.e_bus_bit + prices.e_oreg_tile)),
        noc=clk * prices.router_ports * arch.link_width_bits * prices.e_noc_bit_hop / prices.tiles_per_router,
    )


def peak(arch: Architecture, tiles: int | None = None) -> PeakFigures:
    """Peak power, area and throughput of a chip of ``tiles`` tiles (default: the architecture's mesh)."""
    prices = prices_for(arch)
    if tiles is None:
        if arch.mesh == "auto":
            raise ValueError("peak(): give tiles or a fixed mesh")
        tiles = arch.mesh[0] * arch.mesh[1]
    bpc = resolve_bits_per_cell(arch, load_device(arch.device))
    slices = arch.slices(bpc)
    macs_per_vector = arch.arrays_per_tile / (slices * arch.copies) * arch.rows * arch.cols
    ops = OPS_PER_MAC * macs_per_vector * tiles / t_vector(arch, prices)
    return PeakFigures(tile_peak_power(arch, prices), tile_area(arch, prices), tiles, prices.p_io, prices.a_io, ops)

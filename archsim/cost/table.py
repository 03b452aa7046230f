"""The one table of components: what each acts in, how it is priced, where it is reported.

Every component of a tile is one row of :data:`COMPONENTS`: its name, the events it acts in (counted by
:func:`archsim.cost.events.events`), the :class:`~archsim.cost.components.Prices` field that prices each
event (``None``: priced per layer by :func:`archsim.cost.price.unit_prices`), the report part its energy
and area go to (the CSV columns ``energy_<part>_J`` and ``area_<part>_mm2``), and its energy, area and
time laws in words (``docs/modelled.md`` is generated from the same rows by :func:`table`).  The
event -> part map (:data:`EVENT_PARTS`), the energy parts (:data:`ENERGY_PARTS`) and the event ->
price field map (:data:`PRICE_FIELD`) are derived here, so a component is added in one place.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    name: str
    events: tuple            # (event, Prices field or None) pairs
    part: str                # report part: CSV columns energy_<part>_J, area_<part>_mm2
    energy: str              # energy law, in words
    area: str                # area law, in words
    time: str                # time law, in words


COMPONENTS: tuple[Component, ...] = (
    Component("cell", (("cell_read", None),), "array",
              "V_read^2 G t_read per active cell and pulse, G from the mean conductance fraction (the device's own "
              "energy per read where its file gives one); never node-scaled",
              "cell area (F^2 x node^2, or absolute) x rows x cols", "read window per pulse"),
    Component("tile table", (("mac_vmm", None), ("mac_mvm", None), ("mac_opu", None)), "array",
              "the device's tile table, J per MAC (cost_model lut)", "-", "the table's latency per vector"),
    Component("ADC", (("conversion", "e_adc"), ("sample", "e_sh")), "adc",
              "per conversion: survey law of bits, rate and node (sar, flash, ramp), a paper's table, or the "
              "multilevel sense amp's law of bits, column resistance (rows read, activity, conductances) and "
              "sensing time; per sample the sample-and-hold",
              "per ADC (law of bits), one per cols_per_adc columns; sample-and-hold per column; analog class",
              "conversion time (1/rate; rate auto: SAR b + 1 design clock cycles, ramp 2^b steps, at the node's "
              "gate delay; or one sensing clock); cols_per_adc x row chunks conversions per pulse, each charging "
              "the column mux's cols_per_adc inputs"),
    Component("row driver", (("row_drive", "e_dac"), ("array_pulse", "e_dac_array")), "dac",
              "per driven row and pulse (subarray laws: word line C_WL(cols) Vdd^2 and switch-matrix row part, "
              "x cols_per_adc); per array and pulse its clocked part (rows x cols_per_adc DFFs)",
              "per row (drivers, switch matrices, level shifters); analog class",
              "row select: ceil(log2 rows) gate delays + ln 2 R_drv C_row(cols), then the read window or the column "
              "settling ln 2 (b + 1) R_sense C_col(rows), the longer (subarray laws: inside the sensing clock)"),
    Component("adder tree", (("adder_bit", "e_add_bit"),), "adder_tree",
              "digital SRAM: about 2 x rows full-adder bits per column, toggling with the input bits",
              "2 x rows adder bits per column", "one read window per pulse"),
    Component("shift-add", (("shift_add", None), ("partial_add", "e_partial_add")),
              "digital",
              "per ADC result: adder bits of the accumulated width (subarray laws: weight and input shift-add "
              "adders and DFFs); per partial sum of a chunked column one add",
              "per ADC; logic class", "pipelined with conversion"),
    Component("tile digital", (("output_add", "e_tile_shift_add"), ("offset_subtract", "e_digital_op"),
                               ("digital_op", "e_digital_op"), ("activation_op", "e_act_op")), "digital",
              "per element operation", "per tile; logic class", "-"),
    Component("buffer", (("result_write", "e_oreg_result"), ("buffer_bit", None), ("bus_bit", None), ("register_bit", "e_reg_bit"),
                         ("output_register_write", "e_oreg_tile")), "buffer",
              "per bit moved: buffer by capacity (size law) and access width (word-line law); bus by its length "
              "(the tile H-tree of the floorplan, energy per bit per mm)",
              "per kB (SRAM class), per bus and per array register (logic class)",
              "bits / (access width x clock) per tile; the bus: bits / (bus wires x min(clock, 1 / wire delay))"),
    Component("network", (("bit_hop", None),), "noc",
              "per bit and hop: the router's energy plus the link's, energy per bit per mm x the floorplan's tile "
              "pitch", "router per tile; logic class",
              "bits / (link width x min(clock, 1 / wire delay over the pitch)); hops x (router cycles + wire delay); "
              "clock auto: 1.2 GHz at 32 nm over the gate delay"),
    Component("leakage", (), "leakage", "each unit's own static power (ADC, sample-and-hold, row driver, shift-add, "
              "tile digital, buffer per kB, router, subarray periphery) x its count in the tiles, x period", "-", "-"),
    Component("I/O", (), "io", "chip I/O power x period", "chip I/O area", "one link at the port"),
)

#: every event the cost model counts -> the report part its energy goes to
EVENT_PARTS: dict[str, str] = {e: c.part for c in COMPONENTS for e, _ in c.events}
#: event -> the Prices field that prices it (events priced per layer are set in price.unit_prices)
PRICE_FIELD: dict[str, str] = {e: f for c in COMPONENTS for e, f in c.events if f is not None}
#: the report parts, in table order: CSV columns energy_<part>_J
ENERGY_PARTS: tuple[str, ...] = tuple(dict.fromkeys(c.part for c in COMPONENTS))


def table() -> list[dict]:
    """One row per component (name, events, part, energy, area and time laws), for docs and ``list``."""
    return [dict(component=c.name, events=", ".join(e for e, _ in c.events) or "-", csv=f"energy_{c.part}_J",
                 energy=c.energy, area=c.area, time=c.time) for c in COMPONENTS]

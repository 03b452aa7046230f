"""ADC architectures: one entry per ``adc_type``, holding both what the cost model prices and what the
simulator computes.

The cost side (:mod:`archsim.cost.adc`) takes from an entry the shape of its law: units of energy and of
area versus bits (the constants, fitted on published converters, live in ``techlib/circuits/adc.yaml``),
whether energy per conversion grows above a speed corner (``rate_limited``), whether a conversion takes
``2^bits`` clock steps (``clocked``), and the names of its keys in the data file.  The simulator
(:mod:`archsim.sim.tilesim`) takes the ``transfer`` function, how a column value becomes a code:

- ``round``: the code nearest the value (thresholds half an LSB either side of each level): a SAR
  converter's binary search against its capacitive DAC, a flash converter's ``2^b - 1`` comparators;
- ``ceil``: the first code at or above the value: a single-slope (ramp) converter, whose counter stops at
  the first clock step where the ramp reaches the input, so every value reads high by up to one LSB.

``table`` is a library that tabulates one paper's converter (energy and area listed per bit count): priced
from that table, read as a ``round`` converter.  Adding an architecture is one entry here (and its
constants in the library's ``adc.yaml``); ``tests/model/test_adc_kinds.py`` walks the table.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable

#: the simulator's transfer functions, as the kernels number them (archsim.sim.tilesim.kernels)
TRANSFERS = MappingProxyType({"round": 0, "ceil": 1})


@dataclass(frozen=True)
class AdcArchitecture:
    """One ADC architecture (module docstring)."""

    name: str
    transfer: str                         # a key of TRANSFERS
    energy_units: Callable | None = None  # bits -> energy units (None: tabulated)
    area_units: Callable | None = None    # (bits, fixed units) -> area units
    rate_limited: bool = False            # energy grows linearly with rate above the survey's speed corner
    clocked: bool = False                 # a conversion takes 2^bits steps of its clock (at least)
    bit_cycles: bool = False              # a conversion takes bits + 1 comparator cycles (at least): SAR
    energy_key: str = ""                  # key of the energy per unit in the data file
    area_key: str = ""                    # key of the area per unit in the data file
    cycles: Callable | None = None        # bits -> cycles of its design clock per conversion (adc_rate_Hz auto)
    clock_key: str = ""                   # key of that design clock in the data file

    @property
    def transfer_code(self) -> int:
        return TRANSFERS[self.transfer]


ADC_KINDS = MappingProxyType({a.name: a for a in (
    AdcArchitecture("sar", "round", energy_units=lambda b: 2.0 ** b, area_units=lambda b, c: 2.0 ** b,
                    rate_limited=True, bit_cycles=True, energy_key="energy_per_step", area_key="area_per_step",
                    cycles=lambda b: b + 1.0, clock_key="design_clock"),
    AdcArchitecture("flash", "round", energy_units=lambda b: 2.0 ** b - 1.0, area_units=lambda b, c: 2.0 ** b - 1.0,
                    rate_limited=True, energy_key="energy_per_comparator", area_key="area_per_comparator",
                    cycles=lambda b: 1.0, clock_key="design_clock"),
    AdcArchitecture("ramp", "ceil", energy_units=lambda b: 2.0 ** b, area_units=lambda b, c: c + b,
                    clocked=True, energy_key="energy_per_step", area_key="area_per_counter_bit",
                    cycles=lambda b: 2.0 ** b, clock_key="f_clock"),
    AdcArchitecture("table", "round"),
)})
#: the architectures priced by a law fitted on published converters (``table`` is priced from its table)
LAW_ARCHITECTURES = tuple(k for k, a in ADC_KINDS.items() if a.energy_units is not None)

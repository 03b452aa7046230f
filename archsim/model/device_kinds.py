"""Device kinds: how a cell stores and multiplies its weight, one behaviour record per kind.

A device file says its ``kind`` (:class:`DeviceKind`); every step that treats kinds differently reads
the kind's :class:`KindBehaviour` from :data:`KIND_BEHAVIOUR` instead of comparing the kind's name:

- the device loader (:mod:`archsim.model.device`): whether the file gives conductances and error laws
  (``exact``: cells hold exact bits, the file gives ``read.energy_per_cell`` instead);
- the cost model (:mod:`archsim.cost`): whether columns go through converters (``converts``; without, an
  adder tree per column sums the array's rows and is priced in the ADC's place), whether a row drive is
  priced as an input line crossing the row's cells (``input_line_rows``), and what the ADC energy part
  is called in reports (``converter_part``);
- the simulator (:mod:`archsim.sim`): whether the cells carry programming error, read noise, drift and
  IR drop (``exact``) and whether an ADC quantizes the column sums (``converts``).

Adding a kind is one :class:`DeviceKind` member and one entry here (``tests/model/test_device_kinds.py``
walks the table).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class DeviceKind(str, Enum):
    """How a cell stores and multiplies its weight: an analog conductance read as a current (resistive,
    charge-trap, electrochemical, phase-change: ``analog``); an exact bit ANDed with the input bit and
    summed by a digital adder tree (SRAM digital compute-in-memory: ``digital``); or an exact bit that
    couples the input onto a column capacitor, the column's charge read by an ADC (SRAM analog
    charge-domain compute-in-memory: ``charge``)."""

    ANALOG = "analog"
    DIGITAL = "digital"
    CHARGE = "charge"

    __str__ = str.__str__
    __format__ = str.__format__


@dataclass(frozen=True)
class KindBehaviour:
    """What a device kind means to each step (module docstring)."""

    kind: "DeviceKind | str"
    reads: str               # how a column is read, in words (reports, docs)
    exact: bool              # cells hold exact bits: no conductances, programming error, read noise, drift, IR drop
    converts: bool           # an ADC converts each column's sum (False: a digital adder tree sums it exactly)
    input_line_rows: bool    # a row drive costs the device's input-line energy per crossed cell (no DAC law)
    converter_part: str      # what the 'adc' energy part holds, in words ('adc', 'adder trees')


#: one entry per device kind (a read-only view; :func:`register` adds a kind)
_BEHAVIOUR = {
    DeviceKind.ANALOG: KindBehaviour(
        DeviceKind.ANALOG, "conductance x row voltage, summed as a column current, converted by an ADC",
        exact=False, converts=True, input_line_rows=False, converter_part="adc"),
    DeviceKind.DIGITAL: KindBehaviour(
        DeviceKind.DIGITAL, "stored bit AND input bit, summed by a digital adder tree per column",
        exact=True, converts=False, input_line_rows=True, converter_part="adder trees"),
    DeviceKind.CHARGE: KindBehaviour(
        DeviceKind.CHARGE, "stored bit couples the input onto a column capacitor, the charge converted by an ADC",
        exact=True, converts=True, input_line_rows=False, converter_part="adc"),
}
KIND_BEHAVIOUR = MappingProxyType(_BEHAVIOUR)


def behaviour(kind) -> KindBehaviour:
    """The behaviour of a device kind (a :class:`DeviceKind`, its value, or anything with a ``kind``)."""
    return _BEHAVIOUR[str(getattr(kind, "kind", kind))]


def kind_of(text) -> "DeviceKind | str":
    """A device file's ``kind`` as a :class:`DeviceKind` (or the name of a registered kind); KeyError if
    the table has no such kind."""
    name = str(text)
    if name not in _BEHAVIOUR:
        raise KeyError(name)
    return DeviceKind(name) if name in DeviceKind._value2member_map_ else name


def register(b: KindBehaviour) -> None:
    """Add a device kind to the table (docs/extending.md); ``b.kind`` is its name as device files write it."""
    if str(b.kind) in _BEHAVIOUR:
        raise ValueError(f"device kind '{b.kind}' is already in the table")
    _BEHAVIOUR[str(b.kind)] = b


def unregister(name: str) -> None:
    """Remove a kind :func:`register` added (the built-in kinds stay)."""
    if name in DeviceKind._value2member_map_:
        raise ValueError(f"device kind '{name}' is built in")
    _BEHAVIOUR.pop(name, None)

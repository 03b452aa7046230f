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

Adding a kind is one :class:`DeviceKind` member, one behaviour and one rule here (:func:`register` does
both for a kind added at run time; ``tests/model/test_device_kinds.py`` walks the tables).

What a device file must and must not hold for its kind is the kind's :class:`KindRule`
(:data:`KIND_RULES`), applied by :func:`check_kind` when the file is loaded:

Each kind's rule lists the quantities its cost model or simulator reads (all required, so nothing is priced
at a silent 0), the sections that contradict it (refused, so nothing is silently ignored), and the levels a
cell of that kind may have:

* ``analog`` (resistive, charge-trap, electrochemical, phase-change): the cost model prices a cell read as
  ``V^2 G t`` from ``read.voltage`` and ``conductance.g_min``/``g_max`` (or ``read.energy_per_cell``) and the
  row drive with the DAC circuit; the simulator programs levels between ``g_min`` and ``g_max``.  An
  ``input_line`` section (the digital arrays' word-line energy) would be ignored: refused.
* ``digital`` (SRAM digital compute-in-memory): one exact bit per cell (2 levels; more would be priced as
  multi-bit digital cells no SRAM holds), read at ``read.energy_per_cell``, each driven input line costing
  ``input_line.energy_per_cell`` per cell it crosses (``cost.components``: the digital arrays' row drive).
  Conductances and error laws (programming error, read noise, drift, device-to-device variation) would be
  ignored by the simulator (exact bits): refused, unless a law is written as ``model: none``.
* ``charge`` (SRAM analog charge-domain compute-in-memory): one exact bit per cell, read at
  ``read.energy_per_cell``, rows driven by the DAC circuit as the analog arrays: ``input_line`` refused;
  conductances and error laws refused as for ``digital``.

:func:`check_kind` applies the rule to a :class:`techlib.Record`; it runs inside
:meth:`archsim.model.device.Device.from_record`, before anything else reads the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from archsim.model.errors import ArchsimError


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


def register(b: KindBehaviour, rule: KindRule) -> None:
    """Add a device kind to the tables (docs/extending.md): its behaviour and what its files must hold;
    ``b.kind`` is its name as device files write it."""
    if str(b.kind) in _BEHAVIOUR:
        raise ValueError(f"device kind '{b.kind}' is already in the table")
    _BEHAVIOUR[str(b.kind)] = b
    _RULES[str(b.kind)] = rule


def unregister(name: str) -> None:
    """Remove a kind :func:`register` added (the built-in kinds stay)."""
    if name in DeviceKind._value2member_map_:
        raise ValueError(f"device kind '{name}' is built in")
    _BEHAVIOUR.pop(name, None)
    _RULES.pop(name, None)


#: sections holding an error law; written as ``model: none`` they say "no such error" and are allowed anywhere
LAW_SECTIONS = ("programming_error", "read_noise", "drift")


@dataclass(frozen=True)
class KindRule:
    """What a device of one kind must and must not hold.

    ``required``: quantities read by the cost model or the simulator for this kind; ``one_of``: groups of which
    at least one quantity is required (``read.voltage`` or ``read.energy_per_cell`` for an analog cell);
    ``refused``: section or quantity prefixes that contradict the kind (``drift`` refuses ``drift.*``);
    ``laws_allowed``: error-law sections may hold a real model (else only ``model: none``); ``levels``: the
    allowed ``conductance.levels`` (low, high); ``why``: the words a refusal ends with."""

    required: tuple[str, ...]
    one_of: tuple[tuple[str, ...], ...]
    refused: tuple[str, ...]
    laws_allowed: bool
    levels: tuple[int, int]
    why: str


_COMMON = ("conductance.levels", "read.pulse", "cell.area")
_EXACT_REFUSED = ("conductance.g_min", "conductance.g_max", "d2d", "programming_error.clip_max")

#: kind -> its rule (the keys are :class:`DeviceKind` values; :func:`register` adds one)
_RULES = {
    "analog": KindRule(
        required=_COMMON + ("conductance.g_min", "conductance.g_max"),
        one_of=(("read.voltage", "read.energy_per_cell"),),
        refused=("input_line",), laws_allowed=True, levels=(2, 65536),
        why="an analog cell is read as a conductance; the row drive is the DAC circuit's"),
    "digital": KindRule(
        required=_COMMON + ("read.energy_per_cell", "input_line.energy_per_cell"),
        one_of=(), refused=_EXACT_REFUSED, laws_allowed=False, levels=(2, 2),
        why="a digital SRAM cell holds one exact bit, summed by an adder tree"),
    "charge": KindRule(
        required=_COMMON + ("read.energy_per_cell",),
        one_of=(), refused=_EXACT_REFUSED + ("input_line",), laws_allowed=False, levels=(2, 2),
        why="a charge-domain SRAM cell holds one exact bit; rows are driven by the DAC circuit"),
}
KIND_RULES = MappingProxyType(_RULES)


def _present(rec, prefix: str) -> list[str]:
    """Keys of ``rec`` (quantities and fields) equal to ``prefix`` or under ``prefix.``."""
    keys = list(rec.quantities) + list(rec.fields)
    return [k for k in keys if k == prefix or k.startswith(prefix + ".")]


def check_kind(rec, kind: str) -> None:
    """Refuse (one line naming the file, key and kind) a device record whose fields do not fit ``kind``."""
    rule = KIND_RULES[kind]
    where = rec.file
    for key in rule.required:
        if not rec.has(key):
            raise ArchsimError(f"{where}: a {kind} device needs quantity '{key}' ({rule.why}); it is missing")
    for group in rule.one_of:
        if not any(rec.has(k) for k in group):
            raise ArchsimError(f"{where}: a {kind} device needs one of {', '.join(repr(k) for k in group)}; "
                               f"none is given")
    for prefix in rule.refused:
        found = _present(rec, prefix)
        if found:
            raise ArchsimError(f"{where}: key '{found[0]}' is not allowed for kind: {kind} ({rule.why}); remove it "
                               f"or change 'kind'")
    if not rule.laws_allowed:
        for sec in LAW_SECTIONS:
            model = rec.field(f"{sec}.model")
            other = [k for k in _present(rec, sec) if k != f"{sec}.model"]
            if (model is not None and str(model) != "none") or other:
                shown = f"{sec}.model = {model}" if model is not None and str(model) != "none" else other[0]
                raise ArchsimError(f"{where}: key '{shown}' is not allowed for kind: {kind} (exact bits: no "
                                   f"programming error, read noise or drift); write '{sec}: {{model: none}}' or "
                                   f"leave it out")
    lo, hi = rule.levels
    v = rec.get("conductance.levels")
    if isinstance(v, float) and v.is_integer() and not lo <= v <= hi:
        allowed = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise ArchsimError(f"{where}: key 'conductance.levels' = {int(v)} is not allowed for kind: {kind}; allowed "
                           f"{allowed} ({rule.why})")

"""A device: one ``techlib/devices/*.yaml`` file parsed and checked whole, as typed data.

Mapping (levels), cost (read voltage and pulse, cell area, the tile table) and the simulator (error
laws) all read a :class:`Device`, never the file by dotted strings.  A device is data: no code path
depends on its name.  :func:`load_device` takes a registry name (``sonos``), a path to a YAML file,
a :class:`techlib.Record` or a :class:`Device`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import numpy as np

from archsim.io import techlib
from archsim.model.device_kinds import KIND_BEHAVIOUR, DeviceKind, behaviour, check_kind, kind_of
from archsim.model.device_laws import DriftModel, SigmaModel, drift_model, sigma_model
from archsim.model.update_laws import UpdateModel, update_model
from archsim.model.errors import ArchsimError, brief


#: the operations of a device tile table (Marinella et al., Sandia 2022): forward VMM, backward MVM, outer-product update
LUT_OPS = ("vmm", "mvm", "opu")


@dataclass(frozen=True)
class LutEntry:
    """One row of a device's tile table: energy per operation (one MAC, J) and array latency per vector (s)."""

    energy_per_op: float
    latency: float


@dataclass(frozen=True)
class Device:
    """What every step needs of a memory technology, in SI units, checked once when loaded.

    ``g_min``/``g_max`` are conductances in S; a digital device (SRAM) holds the bit values 0 and 1
    (no unit).  ``read_energy_per_cell`` (J per cell and pulse), when the file gives it, replaces
    ``V^2 G t``.  Error laws: ``prog`` (programming), ``read`` (read noise), ``drift`` (or None),
    stuck-cell rates, device-to-device variation ``d2d`` and the upper conductance clip.
    """

    name: str
    file: str
    description: str
    kind: DeviceKind
    levels: int
    g_min: float
    g_max: float
    read_voltage: float
    read_pulse: float
    read_energy_per_cell: float | None
    input_line_energy_per_cell: float   # J per cell an input line crosses when driven (digital arrays)
    cell_area: float            # F^2 when cell_area_in_F2, else m2
    cell_area_in_F2: bool
    prog: SigmaModel
    read: SigmaModel
    drift: DriftModel | None
    stuck_on: float
    stuck_off: float
    d2d: float
    clip_max: float             # S, upper bound of a programmed conductance (inf: none)
    lut: Mapping[str, LutEntry] = field(default_factory=dict)
    record: techlib.Record | None = field(default=None, compare=False, repr=False)
    #: J to (re)program one cell: ``write.voltage * write.current * write.pulse * write.pulses`` (None: no figures)
    write_energy_per_cell: float | None = None
    #: a stated stress case (``stress: true`` in the file): loadable, but left out of tables over every device
    stress: bool = False
    #: how the conductance moves per update pulse (``update`` section, :mod:`archsim.model.update_laws`); None: absent
    update: UpdateModel | None = None
    #: ``conductance.bits_per_cell_max``: the bits one cell holds reliably for inference, as the device's sources
    #: support (None: the file does not say; then every bit of ``levels``)
    bits_per_cell_max: int | None = None

    def __hash__(self) -> int:
        # equal devices have the same name and file; the tables inside (lut, law parameters) are read-only
        # mappings, which a generated hash cannot take, so a Device can key a cache (prices_for)
        return hash((self.name, self.file, self.kind, self.levels, self.g_min, self.g_max))

    @property
    def behaviour(self):
        """What the device's kind means to each step (:data:`archsim.model.device_kinds.KIND_BEHAVIOUR`)."""
        return behaviour(self.kind)

    @property
    def digital(self) -> bool:
        """Digital compute-in-memory: no converters, adder trees sum the columns."""
        return not behaviour(self.kind).converts

    @property
    def exact(self) -> bool:
        """Cells hold exact bits (SRAM, digital or charge-domain): no programming error, drift or read noise."""
        return behaviour(self.kind).exact

    @property
    def bits(self) -> int:
        """Whole bits one cell holds: floor(log2(levels)) (levels >= 2, checked when loaded)."""
        return max(1, int(math.floor(math.log2(max(2, self.levels)))))

    @property
    def reliable_bits(self) -> int:
        """Bits per cell the device's sources support for inference: ``bits_per_cell_max``, at most :attr:`bits`
        (what ``bits_per_cell: auto`` and the sizing search use; a larger explicit ``bits_per_cell`` up to
        :attr:`bits` is the user's choice)."""
        return self.bits if self.bits_per_cell_max is None else min(self.bits, self.bits_per_cell_max)

    def cell_area_m2(self, node_nm: float) -> float:
        """A cell's area in m2: ``cell.area`` in F^2 times the node squared, or the absolute area."""
        if self.cell_area_in_F2:
            f = node_nm * 1e-9
            return self.cell_area * f * f
        return self.cell_area

    def assumptions(self) -> list:
        return self.record.assumptions() if self.record is not None else []

    @classmethod
    def from_record(cls, dev: techlib.Record) -> "Device":
        """Parse and check a device file whole; every failure is one line naming the file and key.

        techlib has already refused units of the wrong dimension, NaN and infinity and negative values
        (but for the coefficients of fitted laws); here: every quantity a single number, levels a whole
        number >= 2, read pulse > 0, 0 <= g_min < g_max, rates 0 to 1, fit ranges in order."""
        for key, q in dev.quantities.items():
            if isinstance(q.value, tuple) and key != "nodes" and not key.startswith("update.table."):
                raise ArchsimError(f"{dev.file}: key '{key}' is a list of {len(q.value)} numbers; a device "
                                   f"quantity is allowed one number")
        kind_text = dev.field("kind", "analog")
        try:
            kind = kind_of(kind_text) if isinstance(kind_text, str) else kind_of(None)
        except KeyError:
            raise ArchsimError(f"{dev.file}: key 'kind' = {brief(kind_text)} is not allowed; allowed: "
                               f"{', '.join(KIND_BEHAVIOUR)}") from None
        check_kind(dev, str(kind))     # what this kind's cost and simulator read, and what contradicts it
        levels = _levels(dev)
        stuck_on = float(dev.get("stuck.on_rate", 0.0))
        stuck_off = float(dev.get("stuck.off_rate", 0.0))
        for key, v in (("stuck.on_rate", stuck_on), ("stuck.off_rate", stuck_off)):
            if not 0.0 <= v <= 1.0:
                raise ArchsimError(f"{dev.file}: key '{key}' = {v} is not allowed; allowed 0 to 1")
        if stuck_on + stuck_off > 1.0:
            raise ArchsimError(f"{dev.file}: keys 'stuck.on_rate' + 'stuck.off_rate' = {stuck_on + stuck_off:g} "
                               f"is not allowed; allowed at most 1")
        for sec in ("programming_error", "read_noise"):
            lo, hi = dev.get(f"{sec}.valid_min"), dev.get(f"{sec}.valid_max")
            if lo is not None and hi is not None and not lo <= hi:
                raise ArchsimError(f"{dev.file}: keys '{sec}.valid_min' = {lo:g} S and '{sec}.valid_max' = {hi:g} S "
                                   f"are not allowed; need valid_min <= valid_max")
        read_pulse = _positive(dev, "read.pulse")
        e_cell = dev.get("read.energy_per_cell")
        if e_cell is not None and not (math.isfinite(e_cell) and e_cell >= 0):
            raise ArchsimError(f"{dev.file}: key 'read.energy_per_cell' = {e_cell} is not allowed; allowed >= 0")
        area_q = dev.q("cell.area")
        if not (isinstance(area_q.value, float) and math.isfinite(area_q.value) and area_q.value > 0):
            raise ArchsimError(f"{dev.file}: key 'cell.area' = {area_q.value} is not allowed; allowed > 0")
        lut = _lut(dev)
        common = dict(name=dev.name, file=dev.file, description=str(dev.field("description", "")), kind=kind,
                      levels=levels, read_pulse=read_pulse, read_energy_per_cell=e_cell,
                      input_line_energy_per_cell=float(dev.get("input_line.energy_per_cell", 0.0)),
                      cell_area=area_q.value, cell_area_in_F2=area_q.unit == "F2", stuck_on=stuck_on,
                      stuck_off=stuck_off, lut=MappingProxyType(lut), record=dev,
                      write_energy_per_cell=_write_energy(dev), stress=techlib.stress_flag(dev),
                      update=update_model(dev), bits_per_cell_max=_bits_max(dev))
        if behaviour(kind).exact:
            if e_cell is None:
                raise ArchsimError(f"{dev.file}: a {kind.value} device needs quantity 'read.energy_per_cell'")
            return cls(g_min=0.0, g_max=1.0, read_voltage=float(dev.get("read.voltage", 0.0)),
                       prog=SigmaModel("programming_error", "none"), read=SigmaModel("read_noise", "none"),
                       drift=None, d2d=0.0, clip_max=np.inf, **common)
        for key in ("conductance.g_min", "conductance.g_max"):
            if not dev.has(key):
                raise ArchsimError(f"{dev.file}: missing quantity '{key}'; an analog device needs "
                                   f"conductance.g_min and conductance.g_max")
        g_min, g_max = float(dev["conductance.g_min"]), float(dev["conductance.g_max"])
        if not (0.0 <= g_min < g_max < math.inf):
            raise ArchsimError(f"{dev.file}: conductance.g_min = {g_min:g} S and g_max = {g_max:g} S are not "
                               f"allowed; need 0 <= g_min < g_max")
        v_read = _positive(dev, "read.voltage") if e_cell is None else float(dev.get("read.voltage", 0.0))
        clip = dev.get("programming_error.clip_max")
        if clip is not None and not clip > g_min:
            raise ArchsimError(f"{dev.file}: key 'programming_error.clip_max' = {clip:g} S is not allowed; "
                               f"allowed > conductance.g_min ({g_min:g} S)")
        d2d = float(dev.get("d2d.sigma_rel", 0.0))
        if not d2d >= 0:
            raise ArchsimError(f"{dev.file}: key 'd2d.sigma_rel' = {d2d} is not allowed; allowed >= 0")
        return cls(g_min=g_min, g_max=g_max, read_voltage=v_read,
                   prog=sigma_model(dev, "programming_error", g_max, v_read),
                   read=sigma_model(dev, "read_noise", g_max, v_read), drift=drift_model(dev, g_max), d2d=d2d,
                   clip_max=float(dev.get("programming_error.clip_max", np.inf)), **common)


def _levels(dev: techlib.Record) -> int:
    v = dev["conductance.levels"]
    if not (isinstance(v, float) and math.isfinite(v) and v >= 2 and float(v).is_integer() and v <= 2 ** 16):
        raise ArchsimError(f"{dev.file}: key 'conductance.levels' = {v} is not allowed; allowed a whole number "
                           f"2 to 65536")
    return int(v)


def _bits_max(dev: techlib.Record) -> int | None:
    if not dev.has("conductance.bits_per_cell_max"):
        return None
    v = dev["conductance.bits_per_cell_max"]
    if not (isinstance(v, float) and float(v).is_integer() and 1 <= v <= 16):
        raise ArchsimError(f"{dev.file}: key 'conductance.bits_per_cell_max' = {v} is not allowed; allowed a whole "
                           f"number of bits 1 to 16")
    return int(v)


def _positive(dev: techlib.Record, key: str) -> float:
    v = dev[key]
    if not (isinstance(v, float) and math.isfinite(v) and v > 0):
        raise ArchsimError(f"{dev.file}: key '{key}' = {v} is not allowed; allowed > 0")
    return float(v)


def _lut(dev: techlib.Record) -> dict[str, LutEntry]:
    out = {}
    for op in LUT_OPS:
        if dev.has(f"lut.{op}.energy_per_op"):
            e, t = dev[f"lut.{op}.energy_per_op"], dev[f"lut.{op}.latency"]
            for key, v in ((f"lut.{op}.energy_per_op", e), (f"lut.{op}.latency", t)):
                if not (isinstance(v, float) and math.isfinite(v) and v > 0):
                    raise ArchsimError(f"{dev.file}: key '{key}' = {v} is not allowed; allowed > 0")
            out[op] = LutEntry(e, t)
    return out


#: the ``write`` section: a program pulse's voltage and current, its width and the mean number of pulses per cell
WRITE_KEYS = ("voltage", "current", "pulse", "pulses")


def _write_energy(dev: techlib.Record) -> float | None:
    """J per programmed cell from the optional ``write`` section (all four keys or none)."""
    have = [k for k in WRITE_KEYS if dev.has(f"write.{k}")]
    if not have:
        return None
    if len(have) != len(WRITE_KEYS):
        raise ArchsimError(f"{dev.file}: section 'write' needs quantities "
                           f"{', '.join('write.' + k for k in WRITE_KEYS)}; missing "
                           f"{', '.join('write.' + k for k in WRITE_KEYS if k not in have)}")
    e = 1.0
    for k in WRITE_KEYS:
        v = dev[f"write.{k}"]
        if not (isinstance(v, float) and math.isfinite(v) and v > 0):
            raise ArchsimError(f"{dev.file}: key 'write.{k}' = {v} is not allowed; allowed > 0")
        e *= abs(v)
    return e


@lru_cache(maxsize=128)
def _parsed(rec: techlib.Record) -> Device:
    return Device.from_record(rec)


def load_device(device: "str | techlib.Record | Device") -> Device:
    """A :class:`Device` from a registry name, a YAML path, a techlib record or a Device."""
    if isinstance(device, Device):
        return device
    rec = device if isinstance(device, techlib.Record) else techlib.device(str(device))
    return _parsed(rec)

"""Architecture description: what the chip is built of, read from YAML and validated.

Every key has a default, a type and an allowed range; :data:`KEYS` documents
them all (``archsim list --keys`` prints the table).  A YAML file may set any
subset.  Bad input raises :class:`~archsim.errors.ArchsimError` naming the
file, the key and what is allowed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from archsim.model.errors import ArchsimError

AUTO = "auto"


@dataclass(frozen=True)
class Parasitics:
    """Wire resistance per segment and the driver / sense resistances, in ohms."""

    r_wire: float = 0.0
    r_in: float = 0.0
    r_out: float = 0.0

    def __post_init__(self):
        for k in ("r_wire", "r_in", "r_out"):
            v = getattr(self, k)
            if not np.isfinite(v) or v < 0:
                raise ArchsimError(f"crossbar parasitics: '{k}' = {v!r} ohm; allowed a finite value >= 0")

    @property
    def ideal(self) -> bool:
        return self.r_wire == 0 and self.r_in == 0 and self.r_out == 0


@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # int, float, str, bool, mesh, int_or_auto
    default: Any
    doc: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()


KEYS: tuple[Key, ...] = (
    Key("device", "str", "reram", "memory technology: a techlib device name (reram, sonos, ecram, sram, pcm) or a path to a device .yaml"),
    Key("rows", "int", 128, "rows per crossbar array (inputs summed on one column)", 2, 65536),
    Key("cols", "int", 128, "columns per crossbar array", 1, 65536),
    Key("r_wire_ohm", "float", 0.0, "wire resistance per segment between crosspoints (rows and columns; the driver-to-first-cell segment counts); 0 = ideal wires", 0.0, 1e6),
    Key("r_in_ohm", "float", 0.0, "row driver output resistance", 0.0, 1e9),
    Key("r_out_ohm", "float", 0.0, "column sense (transimpedance) input resistance", 0.0, 1e9),
    Key("arrays_per_tile", "int", 8, "crossbar arrays in one tile", 1, 4096),
    Key("weight_bits", "int", 8, "bits of weight precision (sign included)", 1, 32),
    Key("bits_per_cell", "int_or_auto", AUTO, "weight bits stored per cell; auto = as many as the device's levels allow, up to what the weight needs", 1, 16),
    Key("mapping", "str", "differential", "signed weights as a differential pair of arrays (G+ - G-) or with an offset subtracted digitally", choices=("differential", "offset")),
    Key("differential_readout", "str", "digital", "differential pairs: digital = each array of the pair has its own ADC and the difference is taken after conversion; analog = the pair's column currents are subtracted before one conversion", choices=("digital", "analog")),
    Key("input_bits", "int", 8, "bits per input activation (also the activation width sent between tiles)", 1, 32),
    Key("dac_bits", "int", 1, "bits applied per input pulse; input_bits/dac_bits pulses per vector (1 = bit-serial)", 1, 16),
    Key("input_accumulation", "str", "digital", "digital = every input pulse is converted and shift-added; analog = the pulses' charge is accumulated (binary weighted) on the column and converted once per vector", choices=("digital", "analog")),
    Key("adc_bits", "int", 8, "ADC resolution", 4, 10),
    Key("cols_per_adc", "int", 8, "columns sharing one ADC (converted one after another)", 1, 65536),
    Key("adc_rate_Hz", "float", 1.28e9, "conversions per second of one ADC", 1e3, 1e11),
    Key("mesh", "mesh", AUTO, "tile mesh as [rows, cols]; auto = the smallest near-square mesh that holds the tiles"),
    Key("tiles", "int_or_auto", AUTO, "tile budget when mesh is auto; auto = as many as the mapping needs", 1, 1_000_000),
    Key("replicate", "bool", True, "copy layers onto spare tiles of the budget to balance the pipeline"),
    Key("clock_Hz", "float", 1.2e9, "digital clock of tiles and network", 1e6, 1e10),
    Key("link_width_bits", "int", 32, "network link (flit) width", 1, 4096),
    Key("buffer_kB", "float", 64.0, "activation buffer per tile in KB", 0.0, 1e6),
    Key("node_nm", "int", 32, "CMOS node of the periphery circuits (techlib/circuits/scaling.yaml lists the nodes)", 3, 500),
    Key("circuits", "str", "default", "circuit library: default (techlib/circuits/*.yaml) or a folder under techlib/circuits/ whose files replace the default ones (e.g. isaac)"),
    Key("cost_model", "str", "circuit", "circuit: bottom-up from ADC, DAC, array, buffer, NoC components; lut: the device's tile lookup table (seed 002)", choices=("circuit", "lut")),
)
KEY_BY_NAME = {k.name: k for k in KEYS}


@dataclass(frozen=True)
class Architecture:
    device: str = "reram"
    rows: int = 128
    cols: int = 128
    r_wire_ohm: float = 0.0
    r_in_ohm: float = 0.0
    r_out_ohm: float = 0.0
    arrays_per_tile: int = 8
    weight_bits: int = 8
    bits_per_cell: int | str = AUTO
    mapping: str = "differential"
    differential_readout: str = "digital"
    input_bits: int = 8
    dac_bits: int = 1
    input_accumulation: str = "digital"
    adc_bits: int = 8
    cols_per_adc: int = 8
    adc_rate_Hz: float = 1.28e9
    mesh: tuple | str = AUTO
    tiles: int | str = AUTO
    replicate: bool = True
    clock_Hz: float = 1.2e9
    link_width_bits: int = 32
    buffer_kB: float = 64.0
    node_nm: int = 32
    circuits: str = "default"
    cost_model: str = "circuit"
    source: str = "defaults"

    def __post_init__(self):
        where = self.source
        for key in KEYS:
            object.__setattr__(self, key.name, _check(key, getattr(self, key.name), where))
        if self.dac_bits > self.input_bits:
            raise ArchsimError(f"{where}: key 'dac_bits' = {self.dac_bits} exceeds input_bits = {self.input_bits}")
        if self.cols_per_adc > self.cols:
            raise ArchsimError(f"{where}: key 'cols_per_adc' = {self.cols_per_adc} exceeds cols = {self.cols}")
        if isinstance(self.bits_per_cell, int) and self.bits_per_cell > self.weight_bits:
            raise ArchsimError(f"{where}: key 'bits_per_cell' = {self.bits_per_cell} exceeds weight_bits = {self.weight_bits}")

    def replace(self, **changes) -> "Architecture":
        """A copy with some keys changed, validated like a YAML file."""
        merged = {k.name: getattr(self, k.name) for k in KEYS}
        merged.update({k: v for k, v in changes.items() if v is not None})
        return from_dict(merged, where=self.source if not changes else f"{self.source} + overrides")

    def as_dict(self) -> dict:
        d = {k.name: getattr(self, k.name) for k in KEYS}
        if isinstance(d["mesh"], tuple):
            d["mesh"] = list(d["mesh"])
        return d

    @property
    def input_pulses(self) -> int:
        return -(-self.input_bits // self.dac_bits)

    @property
    def parasitics(self):
        """Wire, driver and sense resistances of every array (:class:`Parasitics`)."""
        return Parasitics(self.r_wire_ohm, self.r_in_ohm, self.r_out_ohm)

    @property
    def conversions_per_vector(self) -> int:
        """ADC conversions per column per vector: one per pulse, or one when pulses accumulate in analog."""
        return 1 if self.input_accumulation == "analog" else self.input_pulses

    @property
    def conversions_per_pair(self) -> int:
        """ADC conversions per column of a weight slice: 2 for a differential pair read out digitally."""
        return 2 if (self.mapping == "differential" and self.differential_readout == "digital") else 1

    @property
    def copies(self) -> int:
        """Arrays per weight slice: 2 for a differential pair, 1 for offset mapping."""
        return 2 if self.mapping == "differential" else 1


assert [f.name for f in dataclasses.fields(Architecture)][:-1] == [k.name for k in KEYS]


def _check(key: Key, value: Any, where: str):
    def bad(allowed: str):
        return ArchsimError(f"{where}: key '{key.name}' = {value!r} is not allowed; {allowed}")

    def rng(v):
        if (key.lo is not None and v < key.lo) or (key.hi is not None and v > key.hi):
            raise bad(f"allowed {key.lo:g} to {key.hi:g}")
        return v

    if key.kind == "int" or (key.kind == "int_or_auto" and value != AUTO):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad("allowed an integer" + (" or 'auto'" if key.kind == "int_or_auto" else ""))
        return rng(value)
    if key.kind == "int_or_auto":
        return AUTO
    if key.kind == "float":
        if isinstance(value, str):  # PyYAML reads 1e9 (no dot, no sign) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("allowed a number")
        return rng(float(value))
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise bad("allowed true or false")
        return value
    if key.kind == "str":
        if not isinstance(value, str) or not value:
            raise bad("allowed a name")
        if key.choices and value not in key.choices:
            raise bad(f"allowed: {', '.join(key.choices)}")
        return value
    if key.kind == "mesh":
        if value == AUTO:
            return AUTO
        if (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in value)):
            return (int(value[0]), int(value[1]))
        raise bad("allowed 'auto' or [rows, cols] with integers 1 to 4096")
    raise AssertionError(key.kind)


def from_dict(d: Mapping, where: str = "architecture") -> Architecture:
    if not isinstance(d, Mapping):
        raise ArchsimError(f"{where}: must be a mapping of keys; allowed keys: {', '.join(KEY_BY_NAME)}")
    for name in d:
        if name not in KEY_BY_NAME:
            raise ArchsimError(f"{where}: unknown key '{name}'; allowed keys: {', '.join(KEY_BY_NAME)}")
    return Architecture(**d, source=where)  # every key is checked in __post_init__


def load(path: str | Path) -> Architecture:
    """Read an architecture YAML file (``yaml.safe_load`` only)."""
    from archsim.io.yaml import load_yaml
    p = Path(path)
    doc = load_yaml(p, "architecture")
    if doc is None:
        doc = {}
    if isinstance(doc, Mapping) and "architecture" in doc and len(doc) == 1:
        doc = doc["architecture"]
    return from_dict(doc, where=str(p))


def keys_table() -> list[dict]:
    return [dict(key=k.name, default=k.default if not isinstance(k.default, tuple) else list(k.default),
                 allowed=(", ".join(k.choices) if k.choices else
                          (f"{k.lo:g}..{k.hi:g}" if k.lo is not None else k.kind)), meaning=k.doc)
            for k in KEYS]

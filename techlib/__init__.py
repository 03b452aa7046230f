"""Technology library: devices and circuits as data files, each number with its source.

A data file is YAML.  Every number sits in a *quantity*: a mapping with
``value`` (a number or a list of numbers), ``unit`` and either ``source``
(paper, table, figure) or ``assumption`` (why the value was assumed).  The
loader converts values to SI and keeps the provenance, so reports can list
every assumption they rest on.

``device(name)`` loads ``devices/<name>.yaml``; ``circuits()`` loads every
file under ``circuits/``.  Adding a device is adding a file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from archsim.model.errors import ArchsimError

ROOT = Path(__file__).resolve().parent
DEVICE_DIR = ROOT / "devices"
CIRCUIT_DIR = ROOT / "circuits"

#: what a published figure is to a preset: composed back from the paper's own component figures
#: (consistency), a figure the preset's constants were fitted to (calibrated), or one it was not built
#: from (predicted)
ROLES = ("consistency", "calibrated", "predicted")

#: unit -> factor to SI.  A unit not listed here is a loading error.
UNITS: dict[str, float] = {
    "1": 1.0, "bit": 1.0, "bits": 1.0, "levels": 1.0, "F2": 1.0, "nm": 1.0, "%": 0.01,
    "J": 1.0, "mJ": 1e-3, "uJ": 1e-6, "nJ": 1e-9, "pJ": 1e-12, "fJ": 1e-15, "aJ": 1e-18,
    "W": 1.0, "mW": 1e-3, "uW": 1e-6, "nW": 1e-9, "pW": 1e-12,
    "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "h": 3600.0, "day": 86400.0,
    "Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9, "GS/s": 1e9, "MS/s": 1e6,
    "S": 1.0, "mS": 1e-3, "uS": 1e-6, "nS": 1e-9,
    "ohm": 1.0, "kohm": 1e3, "Mohm": 1e6,
    "V": 1.0, "mV": 1e-3, "A": 1.0, "uA": 1e-6, "nA": 1e-9,
    "m2": 1.0, "mm2": 1e-6, "um2": 1e-12, "nm2": 1e-18,
    "B": 8.0, "kB": 8.0 * 1024, "KB": 8.0 * 1024,
}


@dataclass(frozen=True)
class Quantity:
    """A number (or list of numbers) in SI units with where it comes from."""

    value: Any
    unit: str
    source: str = ""
    assumption: str = ""
    key: str = ""
    file: str = ""
    note: str = ""
    role: str = ""        # published figures: consistency | calibrated | predicted
    counts: str = ""      # published figures: what the source counts (boundary, ops per MAC)

    @property
    def is_assumption(self) -> bool:
        return bool(self.assumption)

    @property
    def provenance(self) -> str:
        return f"ASSUMPTION: {self.assumption}" if self.assumption else self.source


def _number(v):
    """PyYAML reads ``1e9`` (no dot, no sign) as a string: accept such numeric strings."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _convert(raw, unit: str, where: str):
    raw = [_number(v) for v in raw] if isinstance(raw, list) else _number(raw)
    if unit not in UNITS:
        raise ArchsimError(f"{where}: unit '{unit}' is unknown; allowed: {', '.join(sorted(UNITS))}")
    f = UNITS[unit]
    if isinstance(raw, list):
        if not raw or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            raise ArchsimError(f"{where}: value must be a number or a non-empty list of numbers")
        return tuple(float(v) * f for v in raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ArchsimError(f"{where}: value must be a number or a list of numbers, got {raw!r}")
    return float(raw) * f


def _flatten(node: Mapping, prefix: str, file: str, out_q: dict, out_s: dict) -> None:
    for k, v in node.items():
        key = f"{prefix}{k}"
        where = f"{file}: key '{key}'"
        if isinstance(v, Mapping) and "value" in v:
            extra = set(v) - {"value", "unit", "source", "assumption", "note", "role", "counts"}
            if extra:
                raise ArchsimError(f"{where}: unexpected fields {sorted(extra)}; allowed: value, unit, source, "
                                   f"assumption, note, role, counts")
            role = str(v.get("role", "") or "")
            if role and role not in ROLES:
                raise ArchsimError(f"{where}: role '{role}' is not allowed; allowed: {', '.join(ROLES)}")
            if "unit" not in v:
                raise ArchsimError(f"{where}: quantity has no 'unit'")
            src, ass = str(v.get("source", "") or ""), str(v.get("assumption", "") or "")
            if not src and not ass:
                raise ArchsimError(f"{where}: quantity has neither 'source' nor 'assumption'")
            out_q[key] = Quantity(_convert(v["value"], str(v["unit"]), where), str(v["unit"]), src, ass, key, file,
                                  str(v.get("note", "") or ""), role, str(v.get("counts", "") or ""))
        elif isinstance(v, Mapping):
            _flatten(v, key + ".", file, out_q, out_s)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ArchsimError(f"{where}: bare number {v}; write it as {{value, unit, source}} so its origin is known")
        else:
            out_s[key] = v


def _display(path: Path) -> str:
    path = path.resolve()
    return f"techlib/{path.relative_to(ROOT)}" if path.is_relative_to(ROOT) else str(path)


def load_file(path: Path) -> tuple[dict, dict]:
    """Read one data file: (quantities by dotted key, other fields by dotted key)."""
    rel = _display(path)
    try:
        with open(path, "r", encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ArchsimError(f"{rel}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ArchsimError(f"{rel}:{line} is not valid YAML") from None
    if not isinstance(doc, Mapping):
        raise ArchsimError(f"{rel}: top level must be a mapping of keys")
    q: dict = {}
    s: dict = {}
    _flatten(doc, "", rel, q, s)
    return q, s


@dataclass(frozen=True, eq=False)
class Record:
    """One data file: quantities (SI) and other fields, read by dotted key (hashed by identity)."""

    name: str
    file: str
    quantities: Mapping[str, Quantity] = field(repr=False)
    fields: Mapping[str, Any] = field(repr=False)

    def __getitem__(self, key: str):
        return self.q(key).value

    def q(self, key: str) -> Quantity:
        try:
            return self.quantities[key]
        except KeyError:
            raise ArchsimError(f"{self.file}: missing quantity '{key}'") from None

    def get(self, key: str, default=None):
        q = self.quantities.get(key)
        return default if q is None else q.value

    def has(self, key: str) -> bool:
        return key in self.quantities

    def field(self, key: str, default=None):
        return self.fields.get(key, default)

    def assumptions(self) -> list[Quantity]:
        return [q for q in self.quantities.values() if q.is_assumption]


def _record(path: Path) -> Record:
    q, s = load_file(path)
    rel = _display(path)
    return Record(str(s.get("name", path.stem)), rel, MappingProxyType(q), MappingProxyType(s))


def device_names() -> list[str]:
    return sorted(p.stem for p in DEVICE_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def _device_cached(path: str, mtime: float) -> Record:
    return _record(Path(path))


def device(name_or_path: str) -> Record:
    """A device by registry name (``sonos``) or by path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        path = p
    else:
        path = DEVICE_DIR / f"{str(name_or_path).lower()}.yaml"
        if not path.exists():
            raise ArchsimError(f"unknown device '{name_or_path}'; choose one of: {', '.join(device_names())} (or a path to a .yaml file)")
    if not path.exists():
        raise ArchsimError(f"{path}: device file not found")
    return _device_cached(str(path.resolve()), path.stat().st_mtime)


@lru_cache(maxsize=None)
def circuit(name: str, library: str = "default") -> Record:
    """A circuit component.  A library other than ``default`` is a folder ``circuits/<library>/``
    whose files replace the default ones of the same name (e.g. ``circuits/isaac/adc.yaml``)."""
    if library != "default":
        if library not in circuit_libraries():
            raise ArchsimError(f"unknown circuit library '{library}'; choose one of: {', '.join(circuit_libraries())}")
        path = CIRCUIT_DIR / library / f"{name}.yaml"
        if path.exists():
            return _record(path)
    path = CIRCUIT_DIR / f"{name}.yaml"
    if not path.exists():
        raise ArchsimError(f"unknown circuit '{name}'; choose one of: {', '.join(circuit_names())}")
    return _record(path)


def circuit_names() -> list[str]:
    return sorted(p.stem for p in CIRCUIT_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def published(name: str) -> Record:
    """Published figures kept for validation: ``published/<name>.yaml``."""
    path = ROOT / "published" / f"{name}.yaml"
    if not path.exists():
        raise ArchsimError(f"unknown published record '{name}'; choose one of: "
                           f"{', '.join(sorted(p.stem for p in (ROOT / 'published').glob('*.yaml')))}")
    return _record(path)


def circuit_libraries() -> list[str]:
    return ["default"] + sorted(p.name for p in CIRCUIT_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def all_records() -> list[Record]:
    recs = [device(n) for n in device_names()] + [circuit(n) for n in circuit_names()]
    for lib in circuit_libraries()[1:]:
        recs += [_record(p) for p in sorted((CIRCUIT_DIR / lib).glob("*.yaml"))]
    recs += [_record(p) for p in sorted((ROOT / "published").glob("*.yaml"))]
    return recs


def cell_area_m2(dev: Record, node_nm: float) -> float:
    """A cell's area in m2: ``cell.area`` in F2 (times the node squared) or in an absolute unit."""
    q = dev.q("cell.area")
    if q.unit == "F2":
        f = node_nm * 1e-9  # feature size F in metres
        return q.value * f * f
    return q.value

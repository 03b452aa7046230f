"""The technology library's reader: devices and circuits as data files, each number with its source.

The data live in the top-level ``techlib/`` folder (``techlib/__init__.py`` only says where); this module
reads them.  A data file is YAML.  Every number sits in a *quantity*: a mapping with ``value`` (a number or
a list of numbers), ``unit`` and either ``source`` (paper, table, figure) or ``assumption`` (why the value
was assumed).  The loader converts values to SI and keeps the provenance, so reports can list every
assumption they rest on.

``device(name)`` loads ``techlib/devices/<name>.yaml``; ``circuit(name, library)`` one file under
``techlib/circuits/``.  Adding a device is adding a file.  A device file with ``stress: true`` is a stated
stress case: it loads by name but ``real_device_names()`` (the tables over every device) leaves it out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import math
import re

import techlib as _data   # the data folder's entry point: where the files are, nothing else
from archsim.io.yaml import load_yaml
from archsim.model.errors import ArchsimError, brief

ROOT: Path = _data.ROOT
DEVICE_DIR: Path = _data.DEVICE_DIR
CIRCUIT_DIR: Path = _data.CIRCUIT_DIR

#: what a published figure is to a preset: composed back from the paper's own component figures
#: (consistency), a figure the preset's constants were fitted to (calibrated), or one it was not built
#: from (predicted)
ROLES = ("consistency", "calibrated", "predicted")

#: unit -> (physical dimension, factor to SI).  A unit not listed here is a loading error.  ``nm`` is
#: a CMOS node's feature size and stays in nm (factor 1); ``F2`` is an area in squared feature sizes.
UNIT_TABLE: dict[str, tuple[str, float]] = {
    "1": ("dimensionless", 1.0), "%": ("dimensionless", 0.01), "levels": ("count", 1.0),
    "bit": ("information", 1.0), "bits": ("information", 1.0),
    "B": ("information", 8.0), "kB": ("information", 8.0 * 1024), "KB": ("information", 8.0 * 1024),
    "J": ("energy", 1.0), "mJ": ("energy", 1e-3), "uJ": ("energy", 1e-6), "nJ": ("energy", 1e-9),
    "pJ": ("energy", 1 / 1e12), "fJ": ("energy", 1 / 1e15), "aJ": ("energy", 1 / 1e18),
    "W": ("power", 1.0), "mW": ("power", 1e-3), "uW": ("power", 1e-6), "nW": ("power", 1e-9), "pW": ("power", 1 / 1e12),
    "s": ("time", 1.0), "ms": ("time", 1e-3), "us": ("time", 1e-6), "ns": ("time", 1e-9), "ps": ("time", 1 / 1e12),
    "h": ("time", 3600.0), "day": ("time", 86400.0),
    "Hz": ("frequency", 1.0), "kHz": ("frequency", 1e3), "MHz": ("frequency", 1e6), "GHz": ("frequency", 1e9),
    "GS/s": ("frequency", 1e9), "MS/s": ("frequency", 1e6),
    "S": ("conductance", 1.0), "mS": ("conductance", 1e-3), "uS": ("conductance", 1e-6), "nS": ("conductance", 1e-9),
    "ohm": ("resistance", 1.0), "kohm": ("resistance", 1e3), "Mohm": ("resistance", 1e6),
    "V": ("voltage", 1.0), "mV": ("voltage", 1e-3),
    "A": ("current", 1.0), "uA": ("current", 1e-6), "nA": ("current", 1e-9),
    "A/m": ("current per width", 1.0), "nA/um": ("current per width", 1e-9 / 1e-6),
    "pA/um": ("current per width", 1e-12 / 1e-6),
    "m2": ("area", 1.0), "mm2": ("area", 1e-6), "um2": ("area", 1 / 1e12), "nm2": ("area", 1 / 1e18),
    "F2": ("area", 1.0),
    "nm": ("length", 1.0),
    "fF": ("capacitance", 1 / 1e15), "aF": ("capacitance", 1 / 1e18),
    "fF/um": ("capacitance per length", 1e-15 / 1e-6),
}
#: unit -> factor to SI (kept for readers of the factors alone)
UNITS: dict[str, float] = {u: f for u, (_, f) in UNIT_TABLE.items()}
#: unit -> physical dimension
DIMENSION: dict[str, str] = {u: d for u, (d, _) in UNIT_TABLE.items()}

#: dotted key (a regular expression matched against the whole key) -> the dimensions its unit may
#: have; the first pattern that matches decides, a key no pattern matches may carry any unit.  Read
#: for every quantity of every techlib file (devices, circuits, published figures, presets).
EXPECTED: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"(.*\.)?levels", ("count", "dimensionless")),
    (r"conductance\.g_(min|max)", ("conductance",)),
    (r"programming_error\.(b|c\d+|valid_min|valid_max|clip_max)", ("conductance",)),
    (r"(programming_error|read_noise)\.[AB]", ("current",)),
    (r"(.*[._])?voltage", ("voltage",)),
    (r"(.*\.)?(pulse|latency|t0|t_read|crossbar_cycle)", ("time",)),
    (r"(.*[._])?energy_per(_\w+)?|(.*_)?energy_per_\w+|.*\.anchors\.energy|.*_energy_J", ("energy",)),
    (r"(.*[._])?(power|leakage_per_\w+)", ("power",)),
    (r"cell\.area|.+\.area|(.*[._])?area_(per_\w+|1bit)|(.*[._])?\w+_area(_per_\w+)?|chip_area(_\w+)?",
     ("area",)),
    (r"(.*\.)?(rate|max_rate|clock|f_corner|f_clock|f_bit_cycle)", ("frequency",)),
    (r"(.*\.)?(bits|bits_min|bits_max|enob|access_width|bus_wires)", ("information",)),
    (r"(.*\.)?reference_size", ("information",)),
    (r"(.*\.)?(node|nodes|process)", ("length",)),
    (r"stuck\.(on|off)_rate|.*sigma_rel|.*_activity|.*_fraction", ("dimensionless",)),
)
_EXPECTED = tuple((re.compile(pat), dims) for pat, dims in EXPECTED)
#: keys whose values may be negative: coefficients of fitted laws (a slope, a polynomial term, an
#: exponent's coefficients).  Every other quantity is a physical amount, a count or a rate: >= 0.
SIGNED = re.compile(r"programming_error\.(a|c\d+)|drift\.nu_\w+|read_noise\.q_\w+|.*_fit\.\w+|update\.(asymmetry|table\.state)")
#: largest magnitude a quantity may have in its own unit (beyond it a typo, not a figure)
MAX_MAGNITUDE = 1e30


def expected_dimensions(key: str) -> tuple[str, ...] | None:
    """The dimensions the unit of the quantity ``key`` may have (None: any)."""
    for pat, dims in _EXPECTED:
        if pat.fullmatch(key):
            return dims
    return None


def _units_of(dims: tuple[str, ...]) -> str:
    return ", ".join(u for u, d in DIMENSION.items() if d in dims)


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


def _scalar(v, unit: str, key: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ArchsimError(f"{where}: value {brief(v)} is not allowed; allowed a number or a non-empty list of numbers")
    if isinstance(v, int) and abs(v) > MAX_MAGNITUDE:
        raise ArchsimError(f"{where}: value {brief(v)} is too large; allowed at most {MAX_MAGNITUDE:g} in magnitude")
    x = float(v)
    if not math.isfinite(x):
        raise ArchsimError(f"{where}: value {x} is not allowed; allowed a finite number")
    if abs(x) > MAX_MAGNITUDE:
        raise ArchsimError(f"{where}: value {x:g} is too large; allowed at most {MAX_MAGNITUDE:g} in magnitude")
    if x < 0 and not SIGNED.fullmatch(key):
        raise ArchsimError(f"{where}: value {x:g} {unit} is negative; allowed >= 0")
    return x * UNITS[unit]


def _convert(raw, unit: str, where: str, key: str = ""):
    """``raw`` (a number or a list of numbers) in ``unit``, checked and converted to SI."""
    if unit not in UNITS:
        raise ArchsimError(f"{where}: unit {brief(unit, 30)} is unknown; allowed: {', '.join(sorted(UNITS))}")
    dims = expected_dimensions(key) if key else None
    if dims is not None and DIMENSION[unit] not in dims:
        raise ArchsimError(f"{where}: unit '{unit}' is {DIMENSION[unit]}; expected {' or '.join(dims)} "
                           f"({_units_of(dims)})")
    if isinstance(raw, list):
        if not raw:
            raise ArchsimError(f"{where}: value is an empty list; allowed a number or a non-empty list of numbers")
        return tuple(_scalar(_number(v), unit, key, where) for v in raw)
    return _scalar(_number(raw), unit, key, where)


#: the fields of a quantity
QUANTITY_FIELDS = ("value", "unit", "source", "assumption", "note", "role", "counts")


def _flatten(node: Mapping, prefix: str, file: str, out_q: dict, out_s: dict) -> None:
    for k, v in node.items():
        if not isinstance(k, str) or not k:
            raise ArchsimError(f"{file}: key {brief(k, 40)} under '{prefix[:-1] or 'the top level'}' is not allowed; "
                               f"keys are names")
        key = f"{prefix}{k}"
        where = f"{file}: key '{key if len(key) <= 80 else key[:77] + '...'}'"
        if isinstance(v, Mapping) and "value" in v:
            extra = [f for f in v if f not in QUANTITY_FIELDS]
            if extra:
                raise ArchsimError(f"{where}: unexpected field {brief(extra[0], 40)}; allowed: "
                                   f"{', '.join(QUANTITY_FIELDS)}")
            role = str(v.get("role", "") or "")
            if role and role not in ROLES:
                raise ArchsimError(f"{where}: role {brief(role, 40)} is not allowed; allowed: {', '.join(ROLES)}")
            if "unit" not in v:
                raise ArchsimError(f"{where}: quantity has no 'unit'")
            src, ass = str(v.get("source", "") or ""), str(v.get("assumption", "") or "")
            if not src and not ass:
                raise ArchsimError(f"{where}: quantity has neither 'source' nor 'assumption'")
            if not isinstance(v["unit"], (str, int)) or isinstance(v["unit"], bool):
                raise ArchsimError(f"{where}: unit {brief(v['unit'], 30)} is not allowed; allowed a unit name "
                                   f"({', '.join(sorted(UNITS))})")
            out_q[key] = Quantity(_convert(v["value"], str(v["unit"]), where, key), str(v["unit"]), src, ass, key, file,
                                  str(v.get("note", "") or ""), role, str(v.get("counts", "") or ""))
        elif isinstance(v, Mapping):
            _flatten(v, key + ".", file, out_q, out_s)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ArchsimError(f"{where}: bare number {brief(v)}; write it as {{value, unit, source}} so its origin "
                               f"is known")
        else:
            out_s[key] = v


def _display(path: Path) -> str:
    path = path.resolve()
    return f"techlib/{path.relative_to(ROOT)}" if path.is_relative_to(ROOT) else str(path)


def load_file(path: Path, what: str = "techlib") -> tuple[dict, dict]:
    """Read one data file: (quantities by dotted key, other fields by dotted key)."""
    rel = _display(path)
    doc = load_yaml(path, what, shown=rel)
    if not isinstance(doc, Mapping):
        got = "an empty file" if doc is None else f"a {type(doc).__name__}"
        raise ArchsimError(f"{rel}: top level must be a mapping of keys; got {got}")
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


def _record(path: Path, what: str = "techlib") -> Record:
    q, s = load_file(path, what)
    rel = _display(path)
    name = s.get("name", path.stem)
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ArchsimError(f"{rel}: key 'name' = {brief(name)} is not allowed; allowed a name of 1 to 100 characters")
    return Record(name.strip(), rel, MappingProxyType(q), MappingProxyType(s))


def device_names() -> list[str]:
    """Every registry device, stress cases included (each loads by name)."""
    try:
        stamp = DEVICE_DIR.stat().st_mtime_ns    # a file added or removed changes the folder's time
    except OSError:
        stamp = None
    return list(_device_names(str(DEVICE_DIR), stamp))


@lru_cache(maxsize=4)
def _device_names(folder: str, stamp) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in Path(folder).glob("*.yaml")))


def stress_flag(rec: Record) -> bool:
    """A device file's optional ``stress`` key: ``true`` marks a stated stress case (a cell made worse on
    purpose to exercise a method, e.g. yao_taox with a 20% programming error), not a device to rank;
    default false.  Anything but a YAML boolean is refused."""
    v = rec.field("stress", False)
    if not isinstance(v, bool):
        raise ArchsimError(f"{rec.file}: key 'stress' = {brief(v)} is not allowed; allowed true or false")
    return v


def is_stress_device(name_or_path: str) -> bool:
    """Whether a device (registry name or YAML path) is marked ``stress: true``."""
    return stress_flag(device(name_or_path))


def real_device_names() -> list[str]:
    """The registry devices that are not stress cases: what a table over "every device" ranks."""
    return [n for n in device_names() if not is_stress_device(n)]


@lru_cache(maxsize=None)
def _device_cached(path: str, mtime: float) -> Record:
    return _record(Path(path), "device")


def device(name_or_path: str) -> Record:
    """A device by registry name (``sonos``) or by path to a YAML file."""
    text = str(name_or_path)
    shown = repr(text if len(text) <= 300 else "..." + text[-297:])   # a path: its end names the file
    if not text.lower().endswith((".yaml", ".yml")):
        if text.lower() not in device_names():
            raise ArchsimError(f"unknown device {shown}; choose one of: {', '.join(device_names())} "
                               f"(or a path to a .yaml file)")
        path = DEVICE_DIR / f"{text.lower()}.yaml"
    else:
        path = Path(text)
    try:
        st = path.stat()
        resolved = str(path.resolve())
    except FileNotFoundError:
        raise ArchsimError(f"{shown[1:-1]}: device file not found") from None
    except (OSError, ValueError) as exc:
        raise ArchsimError(f"{shown[1:-1]}: cannot read device file ({exc.__class__.__name__})") from None
    return _device_cached(resolved, st.st_mtime)


@lru_cache(maxsize=None)
def circuit(name: str, library: str = "default") -> Record:
    """A circuit component.  A library other than ``default`` is a folder ``circuits/<library>/``
    whose files replace the default ones of the same name (e.g. ``circuits/isaac/adc.yaml``)."""
    if library != "default":
        if library not in circuit_libraries():
            raise ArchsimError(f"unknown circuit library {brief(library)}; choose one of: {', '.join(circuit_libraries())}")
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

"""Sweep files: a YAML file of grids and points, read and checked whole, becomes a :class:`Sweep`.

A sweep file (read with ``yaml.safe_load`` only)::

    name: resnet_adc                # optional; names the output files (default: the file's stem)
    workloads: [resnet50, vgg16]    # swept around everything below (a list or one name)
    devices: [sonos, reram]         # idem (or put `device` in base, grid or points)
    tasks: inference                # idem (inference | training); default inference
    preset: isaac                   # optional starting architecture (or  arch: my_arch.yaml)
    base: {arrays_per_tile: 16}     # fixed architecture keys
    grid:                           # cartesian product, the last key varying fastest
      rows: [64, 128, 256]
      adc_bits: [6, 8]
    points:                         # and/or explicit points (merged over base)
      - {rows: 512, adc_bits: 10, cols_per_adc: 32}

Each value is checked alone here (one line naming the file and the key); combinations of keys are
checked per point when it is evaluated (:func:`archsim.explore.points.evaluate_point`).  The
configurations come out in file order, duplicates dropped, each with its stable key.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from archsim.io import techlib
import workloads as _workloads

from archsim.explore.points import ARCH_KEYS, CONFIG_KEYS, TASKS, json_value, canonical_device, \
    canonical_workload, point_key
from archsim.io.yaml import load_yaml
from archsim.model import arch as _arch
from archsim.model import presets
from archsim.io.files import safe_stem
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError, brief

#: most configurations one sweep file may expand to, counted from the list sizes (the product of the
#: grid's list lengths plus the points, times the workloads, devices and tasks) before anything is expanded
MAX_POINTS = 100_000

#: top-level keys of a sweep file
FILE_KEYS = ("name", "description", "workloads", "devices", "tasks", "preset", "arch", "base", "grid", "points")


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its configurations in file order (duplicates removed)."""

    name: str
    file: str
    configs: tuple[dict, ...] = field(repr=False)
    description: str = ""
    duplicates: int = 0
    point_keys: tuple | None = field(default=None, repr=False)

    @property
    def keys(self) -> list[str]:
        """Stable key of each configuration, in order."""
        if self.point_keys is None:
            object.__setattr__(self, "point_keys", tuple(point_key(c) for c in self.configs))
        return list(self.point_keys)

    def __len__(self) -> int:
        return len(self.configs)


def _err(file: str, msg: str) -> ArchsimError:
    return ArchsimError(f"{file}: {msg}")


def _check_value(file: str, section: str, key: str, value):
    """One value of one key, checked alone (combinations are checked per point, at evaluation)."""
    top = section in ("workloads", "devices", "tasks")
    name = f"key '{section}'" if top else f"{section}: key '{key}'"
    if key == "workload":
        if not isinstance(value, str) or not value:
            raise _err(file, f"{name} = {brief(value)} is not allowed; allowed a workload name "
                             f"({', '.join(_workloads.names())})")
        try:
            return canonical_workload(value)
        except ArchsimError:
            raise _err(file, f"{name} = {brief(value)} is an unknown workload; choose one of: "
                             f"{', '.join(_workloads.names())}") from None
    if key == "task":
        if value not in TASKS:
            raise _err(file, f"{name} = {brief(value)} is not allowed; allowed: {', '.join(TASKS)}")
        return value
    if key not in _arch.KEY_BY_NAME:
        raise _err(file, f"{section}: unknown key {brief(key, 40)}; allowed keys: {', '.join(CONFIG_KEYS)}")
    v = _arch._check(_arch.KEY_BY_NAME[key], value, f"{file}: {section}" if not top else file)
    if key == "device":
        try:
            techlib.device(v)
            load_device(v)      # parsed and checked whole (kind rules included): a broken device fails the
        except ArchsimError as exc:     # sweep at once, not every point of it one by one
            raise _err(file, f"{name} = {brief(value)}: {exc}") from None
        v = canonical_device(v)
    return json_value(v)


def _mapping_or_fail(file: str, section: str, node) -> dict:
    if node is None:
        return {}
    if not isinstance(node, Mapping):
        raise _err(file, f"'{section}' must be a mapping of keys (key: value); got {type(node).__name__}")
    return dict(node)


def _name_list(file: str, key: str, node) -> list | None:
    if node is None:
        return None
    vals = [node] if isinstance(node, str) else node
    if not isinstance(vals, list) or not vals:
        raise _err(file, f"'{key}' must be a name or a non-empty list of names; got {brief(node)}")
    return vals


def _count_points(file: str, doc: Mapping, grid, pts) -> int:
    """The number of configurations the file asks for, from the sizes of its lists alone (nothing is
    expanded); more than :data:`MAX_POINTS` is refused."""
    n_grid = 1 if isinstance(grid, Mapping) and grid else 0
    if n_grid:
        for vals in grid.values():
            n_grid *= len(vals) if isinstance(vals, list) else 1
    n_pts = len(pts) if isinstance(pts, list) else 0
    inner = n_grid + n_pts if (grid is not None or pts is not None) else 1
    outer = 1
    for top in ("workloads", "devices", "tasks"):
        v = doc.get(top)
        outer *= len(v) if isinstance(v, list) and v else 1
    total = outer * max(inner, 1)
    if total > MAX_POINTS:
        raise _err(file, f"the sweep has {total:,} points (grid {n_grid:,} + points {n_pts:,}, times {outer:,} "
                         f"workload/device/task combinations); allowed at most {MAX_POINTS:,} per file: split it "
                         f"or narrow the grid")
    return total


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; every problem is one line naming the file and the key."""
    p = Path(path)
    f = str(path)
    doc = load_yaml(p, "sweep")
    return sweep_from_dict(doc, file=f, base_dir=p.parent, default_name=p.stem)


def sweep_from_dict(doc, file: str = "sweep", base_dir: str | Path = ".", default_name: str = "sweep") -> Sweep:
    f = file
    if not isinstance(doc, Mapping):
        got = "an empty file" if doc is None else type(doc).__name__
        raise _err(f, f"a sweep file must be a mapping with keys {', '.join(FILE_KEYS)}; got {got}")
    for k in doc:
        if k not in FILE_KEYS:
            hint = " (architecture keys go under base:, grid: or points:)" if k in CONFIG_KEYS else ""
            raise _err(f, f"unknown key {brief(k, 40)}{hint}; allowed keys: {', '.join(FILE_KEYS)}")
    name = doc.get("name", safe_stem(default_name, "sweep"))
    if not isinstance(name, str) or not name.strip() or safe_stem(name.strip()) != name.strip():
        raise _err(f, f"key 'name' = {brief(name)} is not allowed; allowed a plain name: letters, digits, '.', "
                         f"'_' and '-', not starting with '.' (it names the output files)")
    desc = doc.get("description", "") or ""
    grid = doc.get("grid")
    pts = doc.get("points")
    _count_points(f, doc, grid, pts)     # before any value is checked or anything expanded

    # starting architecture: defaults, a preset or an architecture file
    if doc.get("preset") is not None and doc.get("arch") is not None:
        raise _err(f, "keys 'preset' and 'arch' both given; choose one")
    start = {k.name: json_value(k.default) for k in _arch.KEYS}
    if doc.get("preset") is not None:
        try:
            a = presets.load(str(doc["preset"])).architecture
        except ArchsimError as exc:
            raise _err(f, f"key 'preset': {exc}") from None
        start.update({k: json_value(v) for k, v in a.as_dict().items()})
    elif doc.get("arch") is not None:
        ap = Path(str(doc["arch"]))
        if not ap.is_absolute():
            ap = Path(base_dir) / ap
        try:
            a = _arch.load(ap)
        except ArchsimError as exc:
            raise _err(f, f"key 'arch': {exc}") from None
        start.update({k: json_value(v) for k, v in a.as_dict().items()})

    base = _mapping_or_fail(f, "base", doc.get("base"))
    base = {k: _check_value(f, "base", k, v) for k, v in base.items()}

    outer: dict[str, list] = {}
    for top, key in (("workloads", "workload"), ("devices", "device"), ("tasks", "task")):
        vals = _name_list(f, top, doc.get(top))
        if vals is None:
            continue
        if key in base:
            raise _err(f, f"key '{key}' is set in base and swept by '{top}'; set it in one place")
        seen = []
        for v in vals:
            cv = _check_value(f, top, key, v)
            if cv not in seen:
                seen.append(cv)
        outer[key] = seen

    combos: list[dict] = []
    if grid is not None:
        grid = _mapping_or_fail(f, "grid", grid)
        if not grid:
            raise _err(f, "'grid' is empty; give lists of values, e.g. grid: {rows: [64, 128]}")
        axes = []
        for k, vals in grid.items():
            if k in outer:
                raise _err(f, f"grid key '{k}' is also swept by the top-level list; set it in one place")
            if k in base:
                raise _err(f, f"grid key '{k}' is also set in base; set it in one place")
            if not isinstance(vals, list):
                raise _err(f, f"grid key '{k}' = {brief(vals)} must be a list of values (write [{brief(vals)}] or put it "
                             f"in base:)")
            if not vals:
                raise _err(f, f"grid key '{k}' is an empty list; give at least one value")
            checked = [_check_value(f, "grid", k, v) for v in vals]
            axes.append((k, checked))
        for prod in itertools.product(*(vals for _, vals in axes)):
            combos.append(dict(zip((k for k, _ in axes), prod)))

    if pts is not None:
        if not isinstance(pts, list) or not pts:
            raise _err(f, "'points' must be a non-empty list of mappings (- {rows: 256, adc_bits: 6})")
        for i, pnode in enumerate(pts):
            sec = f"points[{i}]"
            pnode = _mapping_or_fail(f, sec, pnode)
            for k in pnode:
                if k in outer:
                    raise _err(f, f"{sec} key '{k}' is also swept by the top-level list; set it in one place")
            combos.append({k: _check_value(f, sec, k, v) for k, v in pnode.items()})
    if grid is None and pts is None:
        combos.append({})

    outer_axes = [(k, outer[k]) for k in ("workload", "device", "task") if k in outer]
    configs: list[dict] = []
    keys: list[str] = []
    seen_keys: set[str] = set()
    dup = 0
    for out_vals in itertools.product(*(v for _, v in outer_axes)):
        head = dict(zip((k for k, _ in outer_axes), out_vals))
        for combo in combos:
            merged = {**base, **head, **combo}
            if "workload" not in merged:
                raise _err(f, f"no workload: add  workloads: [{', '.join(_workloads.names()[:3])}, ...]  "
                              f"or 'workload' in base, grid or each point")
            cfg = {"workload": merged["workload"], "task": merged.get("task", "inference")}
            for k in ARCH_KEYS:
                cfg[k] = merged.get(k, start[k])
            k = point_key(cfg)
            if k in seen_keys:
                dup += 1
                continue
            seen_keys.add(k)
            configs.append(cfg)
            keys.append(k)
    return Sweep(name=name.strip(), file=f, configs=tuple(configs), description=str(desc), duplicates=dup,
                 point_keys=tuple(keys))

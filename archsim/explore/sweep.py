"""Design-space sweeps: a YAML file of grids and points, one tidy table out, resumable.

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

Every point is a flat *configuration*: ``workload``, ``task`` and every
architecture key (defaults filled in).  :func:`evaluate_point` maps it to a
result by a pure function of that dict, and :func:`point_key` names it by the
SHA-256 of its canonical JSON, so the same design has the same key in every
sweep, process and machine.  :func:`run_sweep` evaluates the points missing
from the result store (:mod:`archsim.store`) on an executor (in-process, a
local process pool or a Dask cluster), writes each result as it finishes and
assembles the table: the configuration columns, an ``error`` column (a point
that cannot be built, e.g. a network that does not fit a small mesh, is kept
with its message) and every :attr:`Estimate.summary` column.

Repeated estimates are made cheap by per-process memoization of pure
functions: each workload graph is built once per process with its
topological views memoized, and a mapping is reused between architectures
that agree on the keys the mapping reads (:data:`MAPPING_KEYS`; the tests check
that archsim/mapping.py reads no other).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import math
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

import techlib
import workloads as _workloads

from archsim.model import arch as _arch
from archsim.cost.price import evaluate
from archsim.io.files import atomic_write
from archsim.model.errors import ArchsimError
from archsim.io.yaml import load_yaml
from archsim.mapping.layout import map_workload
from archsim.model.workload import Workload

TASKS = ("inference", "training")
ARCH_KEYS: tuple[str, ...] = tuple(k.name for k in _arch.KEYS)
#: configuration keys besides the architecture's
POINT_KEYS: tuple[str, ...] = ("workload", "task")
CONFIG_KEYS: tuple[str, ...] = POINT_KEYS + ARCH_KEYS
#: top-level keys of a sweep file
FILE_KEYS = ("name", "description", "workloads", "devices", "tasks", "preset", "arch", "base", "grid", "points")
#: summary keys that repeat a configuration column with the same meaning: the configuration's is kept
SAME_AS_CONFIG = ("workload", "device", "task", "cost_model")
#: summary keys whose name is a configuration column with another meaning: renamed in the table
RENAMED_SUMMARY = {"tiles": "tiles_total", "mesh": "mesh_used", "bits_per_cell": "bits_per_cell_used"}

#: architecture keys archsim/mapping.py reads (directly or through Architecture properties).  A mapping
#: computed for one architecture is reused, with the architecture swapped, for another that agrees on these.
MAPPING_KEYS: tuple[str, ...] = ("device", "rows", "cols", "arrays_per_tile", "weight_bits", "bits_per_cell",
                                 "mapping", "differential_readout", "input_bits", "mesh", "tiles", "replicate")


# ---------------------------------------------------------------------------------------------------------------------
# configurations and keys

def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, floats as ``repr`` (round-trips float64 exactly)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def point_key(config: Mapping) -> str:
    """Stable key of a configuration: SHA-256 (hex) of its canonical JSON."""
    return hashlib.sha256(canonical_json(dict(config)).encode("ascii")).hexdigest()


def _json_value(v):
    if isinstance(v, tuple):
        return [_json_value(x) for x in v]
    return v


def config_from_arch(workload: str, arch: _arch.Architecture, task: str = "inference") -> dict:
    """The configuration of one design: workload, task and every architecture key."""
    d = {"workload": canonical_workload(workload), "task": task}
    d.update({k: _json_value(v) for k, v in arch.as_dict().items()})
    return d


def canonical_workload(name: str) -> str:
    """The registry's canonical name (aliases and spelling folded), so a design has one key."""
    try:
        return _workloads._resolve(name).name
    except AttributeError:  # registry without the private resolver: trust the caller's spelling
        _workloads.get(name)
        return str(name)


def canonical_device(name: str) -> str:
    p = Path(str(name))
    if p.suffix in (".yaml", ".yml"):
        return str(name)
    return str(name).lower()


# ---------------------------------------------------------------------------------------------------------------------
# per-process memoization (pure functions of their arguments)

class _MemoWorkload(Workload):
    """The same frozen graph with its derived views memoized.  The graph is never changed after it is built,
    so every view is a pure function of it; lists are copied on the way out."""

    def _memo(self, name, fn, *args):
        cache = self.__dict__.setdefault("_memo_cache", {})
        k = (name,) + args
        if k not in cache:
            cache[k] = fn(*args)
        v = cache[k]
        return list(v) if isinstance(v, list) else v

    def layers(self):
        return self._memo("layers", super().layers)

    def weighted_layers(self):
        return self._memo("weighted_layers", super().weighted_layers)

    def predecessors(self, name):
        return self._memo("predecessors", super().predecessors, name)

    def successors(self, name):
        return self._memo("successors", super().successors, name)

    def weighted_sources(self, name):
        return self._memo("weighted_sources", super().weighted_sources, name)

    @property
    def total_weights(self):
        return self._memo("total_weights", lambda: Workload.total_weights.fget(self))

    @property
    def total_macs(self):
        return self._memo("total_macs", lambda: Workload.total_macs.fget(self))


@lru_cache(maxsize=32)
def cached_workload(name: str) -> Workload:
    """The workload ``name``, built once per process (with memoized graph views)."""
    wl = _workloads.get(name)
    if type(wl) is not Workload or not hasattr(wl, "__dict__"):
        return wl
    return _MemoWorkload(**{f.name: getattr(wl, f.name) for f in dataclasses.fields(wl)})


_MAPPINGS: "OrderedDict[tuple, Any]" = OrderedDict()
_MAPPINGS_MAX = 512


def cached_mapping(wl: Workload, a: _arch.Architecture, use_cache: bool = True):
    """``map_workload(wl, a)``, reusing a mapping computed for an architecture that agrees on :data:`MAPPING_KEYS`."""
    if not use_cache:
        return map_workload(wl, a)
    k = (wl.name, id(wl)) + tuple(_hashable(getattr(a, n)) for n in MAPPING_KEYS)
    m = _MAPPINGS.get(k)
    if m is None:
        m = map_workload(wl, a)  # errors (a layer that does not fit) are not cached: they name a.source
        _MAPPINGS[k] = m
        if len(_MAPPINGS) > _MAPPINGS_MAX:
            _MAPPINGS.popitem(last=False)
        return m
    _MAPPINGS.move_to_end(k)
    return m if m.arch == a else dataclasses.replace(m, arch=a)


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def _plain(v):
    """numpy scalars to Python scalars (JSON-ready), recursively."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


# ---------------------------------------------------------------------------------------------------------------------
# the pure point function

def evaluate_point(config: Mapping, accuracy_fn: Callable[[dict], float | None] | None = None,
                   use_cache: bool = True) -> dict:
    """Result of one configuration: ``{"summary": {...}}`` or ``{"error": "one line"}``.

    Pure: the result depends on ``config`` (and ``accuracy_fn``) only.  Bad combinations of keys (cols_per_adc >
    cols, a network that does not fit the mesh) are results, with the point's key prefix as the place named.
    Anything but an :class:`ArchsimError` is a bug and propagates.
    """
    cfg = dict(config)
    missing = [k for k in ("workload",) if k not in cfg]
    if missing:
        raise ArchsimError(f"configuration has no '{missing[0]}'")
    where = f"point {point_key(cfg)[:12]}"
    try:
        a = _arch.from_dict({k: cfg[k] for k in ARCH_KEYS if k in cfg}, where=where)
        wl = cached_workload(cfg["workload"])
        est = evaluate(cached_mapping(wl, a, use_cache), task=cfg.get("task", "inference"))
        summary = _plain(est.summary)
        if accuracy_fn is not None:
            acc = accuracy_fn(cfg)
            summary["accuracy"] = float("nan") if acc is None else float(acc)
    except ArchsimError as exc:
        return {"error": f"{exc}"}
    return {"summary": summary}


def result_json(result: Mapping) -> str:
    """A result as JSON text (repr floats: float64 round-trips bit for bit; NaN kept)."""
    return json.dumps(result, separators=(",", ":"), allow_nan=True)


def _eval_chunk(items: Sequence[tuple[str, dict]], accuracy_fn=None, use_cache: bool = True) -> list[tuple[str, str]]:
    """Worker entry point: ``[(key, config)] -> [(key, result JSON)]``."""
    return [(k, result_json(evaluate_point(c, accuracy_fn, use_cache))) for k, c in items]


# ---------------------------------------------------------------------------------------------------------------------
# executors (one registry): each maps _eval_chunk over chunks and yields results as they finish

class InProcessExecutor:
    name = "in-process"

    def __init__(self, workers: int = 1, scheduler=None):
        self.workers = 1

    def run(self, fn: Callable, chunks: list) -> Iterator[list]:
        for ch in chunks:
            yield fn(ch)


class LocalPoolExecutor:
    name = "process pool"

    def __init__(self, workers: int, scheduler=None):
        self.workers = int(workers)

    def run(self, fn: Callable, chunks: list) -> Iterator[list]:
        import concurrent.futures as cf
        import multiprocessing as mp
        # fork (where there is one) hands the workers the parent's warm caches and registered workloads
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() and sys.platform != "darwin" else None
        pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        try:
            futures = [pool.submit(fn, ch) for ch in chunks]
            for f in cf.as_completed(futures):
                yield f.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A Dask distributed cluster (``--scheduler tcp://host:port``, or a ``distributed.Client``).

    archsim must be importable on every worker (same version: results are keyed by configuration only).
    """
    name = "dask"

    def __init__(self, workers: int | None = None, scheduler=None):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ArchsimError("--scheduler needs the Dask extra: pip install 'dask[distributed]'") from None
        if scheduler is None:
            raise ArchsimError("the dask executor needs a scheduler address (--scheduler tcp://host:port)")
        self.scheduler = scheduler
        self.workers = workers

    def connect(self):
        """Connect now (a bad address fails before any work); :meth:`run` reuses the connection."""
        from distributed import Client
        if isinstance(self.scheduler, Client):
            return self.scheduler
        if getattr(self, "_client", None) is None:
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ArchsimError(f"--scheduler {self.scheduler}: cannot connect ({exc.__class__.__name__}: "
                                   f"{' '.join(str(exc).split())[:200]})") from None
        return self._client

    def close(self) -> None:
        c = getattr(self, "_client", None)
        if c is not None:
            c.close()
            self._client = None

    def run(self, fn: Callable, chunks: list) -> Iterator[list]:
        from distributed import as_completed
        own = getattr(self, "_client", None) is None and not _is_client(self.scheduler)
        client = self.connect()
        try:
            futures = client.map(fn, chunks, pure=False)
            for f in as_completed(futures):
                yield f.result()
        finally:
            if own:
                self.close()


def _is_client(obj) -> bool:
    try:
        from distributed import Client
    except ImportError:
        return False
    return isinstance(obj, Client)


EXECUTORS: dict[str, type] = {"in-process": InProcessExecutor, "process": LocalPoolExecutor, "dask": DaskExecutor}


def make_executor(workers: int | None = None, scheduler=None):
    """Dask when a scheduler is given; else a local process pool (in-process for one worker)."""
    if scheduler is not None:
        return EXECUTORS["dask"](workers, scheduler)
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ArchsimError(f"--workers {workers!r}: allowed a whole number of 1 or more")
    return EXECUTORS["in-process"]() if workers == 1 else EXECUTORS["process"](workers)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _mapping_group(cfg: Mapping) -> tuple:
    return (cfg["workload"],) + tuple(canonical_json(cfg.get(k)) for k in MAPPING_KEYS)


def _chunks(items: list[tuple[str, dict]], workers: int) -> list[list]:
    """Points cut into chunks small enough to balance the workers and to lose little work to a kill, packing
    the points that share a mapping into the same chunk (one mapping per group, warm in that worker)."""
    if not items:
        return []
    groups: dict[tuple, list] = {}
    for it in items:
        groups.setdefault(_mapping_group(it[1]), []).append(it)
    size = max(1, min(32, len(items) // (max(1, workers) * 8)))
    chunks: list[list] = []
    cur: list = []
    for g in groups.values():
        if cur and len(cur) + len(g) > size:
            chunks.append(cur)
            cur = []
        for i in range(0, len(g), max(size, 1)):
            part = g[i:i + size]
            if len(part) == size:
                chunks.append(part)
            else:
                cur.extend(part)
    if cur:
        chunks.append(cur)
    return chunks


def run_points(configs: Iterable[Mapping | tuple[str, Mapping]], workers: int | None = None, scheduler=None, accuracy_fn=None,
               on_result: Callable[[str, dict, str], None] | None = None, progress: bool = False,
               desc: str = "points", use_cache: bool = True, executor=None) -> dict[str, dict]:
    """Evaluate configurations (or ``(key, configuration)`` pairs) on an executor; ``{key: result}``, each
    distinct configuration once.

    ``executor`` (or ``workers`` / ``scheduler``, see :func:`make_executor`) runs them;
    ``on_result(key, config, result_json)`` is called in this process as each point finishes.
    """
    items: dict[str, dict] = {}
    for c in configs:
        if isinstance(c, tuple):  # (key, config) pairs whose keys are known
            items.setdefault(c[0], dict(c[1]))
        else:
            items.setdefault(point_key(c), dict(c))
    out: dict[str, dict] = {}
    if not items:
        return out
    ex = executor or make_executor(workers, scheduler)
    if len(items) == 1 and isinstance(ex, LocalPoolExecutor):
        ex = InProcessExecutor()
    chunks = _chunks(list(items.items()), getattr(ex, "workers", None) or 2)
    fn = _eval_chunk
    if accuracy_fn is not None or not use_cache:
        fn = functools.partial(_eval_chunk, accuracy_fn=accuracy_fn, use_cache=use_cache)
    bar = _progress(len(items), desc) if progress else None
    try:
        for results in ex.run(fn, chunks):
            for k, rj in results:
                if on_result is not None:
                    on_result(k, items[k], rj)
                out[k] = json.loads(rj)
            if bar is not None:
                bar.update(len(results))
    finally:
        if bar is not None:
            bar.close()
    return out


def _progress(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="pt", file=sys.stderr, disable=None, smoothing=0.1)


# ---------------------------------------------------------------------------------------------------------------------
# sweep files

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
            raise _err(file, f"{name} = {value!r} is not allowed; allowed a workload name "
                             f"({', '.join(_workloads.names())})")
        try:
            return canonical_workload(value)
        except ArchsimError:
            raise _err(file, f"{name} = {value!r} is an unknown workload; choose one of: "
                             f"{', '.join(_workloads.names())}") from None
    if key == "task":
        if value not in TASKS:
            raise _err(file, f"{name} = {value!r} is not allowed; allowed: {', '.join(TASKS)}")
        return value
    if key not in _arch.KEY_BY_NAME:
        raise _err(file, f"{section}: unknown key '{key}'; allowed keys: {', '.join(CONFIG_KEYS)}")
    v = _arch._check(_arch.KEY_BY_NAME[key], value, f"{file}: {section}" if not top else file)
    if key == "device":
        try:
            techlib.device(v)
        except ArchsimError as exc:
            raise _err(file, f"{name} = {value!r}: {exc}") from None
        v = canonical_device(v)
    return _json_value(v)


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
        raise _err(file, f"'{key}' must be a name or a non-empty list of names; got {node!r}")
    return vals


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
            raise _err(f, f"unknown key '{k}'{hint}; allowed keys: {', '.join(FILE_KEYS)}")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\0"):
        raise _err(f, f"key 'name' = {name!r}: allowed a plain name (no slashes)")
    desc = doc.get("description", "") or ""

    # starting architecture: defaults, a preset or an architecture file
    if doc.get("preset") is not None and doc.get("arch") is not None:
        raise _err(f, "keys 'preset' and 'arch' both given; choose one")
    start = {k.name: _json_value(k.default) for k in _arch.KEYS}
    if doc.get("preset") is not None:
        from archsim.model import presets
        try:
            a = presets.load(str(doc["preset"])).architecture
        except ArchsimError as exc:
            raise _err(f, f"key 'preset': {exc}") from None
        start.update({k: _json_value(v) for k, v in a.as_dict().items()})
    elif doc.get("arch") is not None:
        ap = Path(str(doc["arch"]))
        if not ap.is_absolute():
            ap = Path(base_dir) / ap
        try:
            a = _arch.load(ap)
        except ArchsimError as exc:
            raise _err(f, f"key 'arch': {exc}") from None
        start.update({k: _json_value(v) for k, v in a.as_dict().items()})

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

    grid = doc.get("grid")
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
                raise _err(f, f"grid key '{k}' = {vals!r} must be a list of values (write [{vals}] or put it in base:)")
            if not vals:
                raise _err(f, f"grid key '{k}' is an empty list; give at least one value")
            checked = [_check_value(f, "grid", k, v) for v in vals]
            axes.append((k, checked))
        for prod in itertools.product(*(vals for _, vals in axes)):
            combos.append(dict(zip((k for k, _ in axes), prod)))

    pts = doc.get("points")
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


# ---------------------------------------------------------------------------------------------------------------------
# the model fingerprint: results in a store are reused only by the same model

#: modules that hold no model (tables, plots, command line, storage): editing them keeps stored results valid
#: What a stored result depends on, below ``archsim/``: the steps that compute a design point.  The command
#: line, reports, sizing and the store itself are left out (editing them does not change a number).
MODEL_PARTS = ("model", "mapping", "cost", "sim", "io", "explore/sweep.py")


@lru_cache(maxsize=1)
def model_fingerprint() -> str:
    """SHA-256 over archsim's model code, the workload builders (and trained weights) and the technology library.

    Conservative: an edit to any model file (the accuracy simulator's included) retires stored results."""
    import archsim
    pkg = Path(archsim.__file__).parent
    roots = [(pkg / part, "*.py") for part in MODEL_PARTS]
    roots += [(Path(_workloads.__file__).parent, "*.py"), (Path(_workloads.__file__).parent, "*.npz"),
              (techlib.ROOT, "*.py"), (techlib.ROOT, "*.yaml")]
    h = hashlib.sha256()
    for root, pattern in roots:
        paths = [root] if root.is_file() else sorted(root.rglob(pattern))
        for p in paths:
            if "__pycache__" in p.parts:
                continue
            h.update(str(p.relative_to(pkg.parent)).encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# tables

def results_table(configs: Sequence[Mapping], results: Mapping[str, Mapping],
                  keys: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per configuration (in the given order): key, configuration columns, error, summary columns."""
    rows = []
    summary_cols: dict[str, None] = {}
    keys = keys if keys is not None else [point_key(c) for c in configs]
    for cfg, k in zip(configs, keys):
        res = results.get(k)
        row = {"key": k}
        for c in CONFIG_KEYS:
            v = cfg.get(c)
            if c == "mesh":
                v = v if v == _arch.AUTO else f"{v[0]}x{v[1]}"
            row[c] = v
        if res is None:
            row["error"] = "not computed"
        elif "error" in res:
            row["error"] = res["error"]
        else:
            row["error"] = None
            for sk, sv in res["summary"].items():
                if sk in SAME_AS_CONFIG:
                    continue
                col = RENAMED_SUMMARY.get(sk, sk if sk not in row else f"{sk}_result")
                row[col] = sv
                summary_cols.setdefault(col)
        rows.append(row)
    cols = ["key", "workload", "device", "task"] + [c for c in ARCH_KEYS if c != "device"] + ["error"] + list(summary_cols)
    data = {}
    for c in cols:
        vals = [r.get(c) for r in rows]
        types = {type(v) for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(types) > 1 and not types <= {int, float}:
            # one type per column (Parquet needs it): a column mixing 'auto' and numbers becomes text
            data[c] = pd.Series([None if v is None else str(v) for v in vals], dtype=object)
        elif types == {int} and any(v is None for v in vals):
            data[c] = pd.Series(vals, dtype="Int64")  # integers stay integers beside the rows that failed
        else:
            data[c] = vals
    df = pd.DataFrame(data, columns=cols)
    return df


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
        return True
    except ImportError:
        return False


def resolve_formats(formats: Sequence[str] | str | None) -> tuple[list[str], str | None]:
    """(formats to write, note).  ``auto``: CSV, plus Parquet when pyarrow is installed."""
    if formats is None or formats == "auto" or list(formats) == ["auto"]:
        return (["csv", "parquet"], None) if parquet_available() else (["csv"], "Parquet skipped: pyarrow is not installed")
    fs = [formats] if isinstance(formats, str) else list(formats)
    out = []
    for x in fs:
        for y in str(x).split(","):
            y = y.strip().lower()
            if y not in ("csv", "parquet"):
                raise ArchsimError(f"--format {x!r}: allowed csv, parquet or auto")
            if y not in out:
                out.append(y)
    if "parquet" in out and not parquet_available():
        raise ArchsimError("--format parquet needs pyarrow: pip install pyarrow")
    return out, None


def write_table(df: pd.DataFrame, out_dir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    files = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if "csv" in formats:
            p = out_dir / f"{stem}.csv"
            atomic_write(p, df.to_csv(index=False))
            files.append(p)
        if "parquet" in formats:
            p = out_dir / f"{stem}.parquet"
            atomic_write(p, lambda f: df.to_parquet(f, index=False, engine="pyarrow"))
            files.append(p)
    except OSError as exc:
        raise ArchsimError(f"--out {out_dir}: cannot write there ({exc.strerror})") from None
    return files


# ---------------------------------------------------------------------------------------------------------------------
# running a sweep

STORE_NAME = "results.sqlite"


@dataclass
class SweepRun:
    sweep: Sweep
    table: pd.DataFrame
    files: list
    store: Path
    total: int
    reused: int
    computed: int
    failed: int
    seconds: float
    executor: str
    note: str | None = None


def run_sweep(sweep: Sweep | str | Path, out: str | Path | None = None, workers: int | None = None,
              scheduler=None, resume: bool = False, formats: Sequence[str] | str | None = "auto",
              progress: bool = True) -> SweepRun:
    """Evaluate a sweep's missing points into its store (``out/results.sqlite``) and write its table.

    The store keeps every finished point (one transaction each), so a run killed at any moment and started
    again with ``resume=True`` computes only the points it lacks.
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    fmts, note = resolve_formats(formats)
    out_dir = Path(out) if out is not None else Path(f"sweep_{sweep.name}")
    store_path = out_dir / STORE_NAME
    if store_path.exists() and not resume and _stored_points(store_path):
        raise ArchsimError(f"{store_path} exists: pass --resume to continue that sweep, or choose another --out")
    ex = make_executor(workers, scheduler)  # bad --workers / missing dask / no scheduler fail before any work
    if hasattr(ex, "connect"):
        ex.connect()
    try:
        return _run_sweep(sweep, ex, out_dir, store_path, fmts, note, progress)
    finally:
        if hasattr(ex, "close"):
            ex.close()


def _stored_points(path: Path) -> int:
    from archsim.explore.store import Store
    with Store(path) as st:
        return len(st)


def _run_sweep(sweep: Sweep, ex, out_dir: Path, store_path: Path, fmts, note, progress) -> SweepRun:
    from archsim.explore.store import Store
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchsimError(f"--out {out_dir}: cannot create ({exc.strerror})") from None
    fp = model_fingerprint()
    t0 = time.perf_counter()
    with Store(store_path) as store:
        old = store.meta_get("model_fingerprint")
        if old is not None and old != fp and len(store):
            raise ArchsimError(
                f"{store_path} holds results of another archsim model (fingerprint {old[:12]}, this one {fp[:12]}: "
                f"model code or techlib data changed); choose another --out or delete {store_path}")
        store.meta_set("model_fingerprint", fp)
        store.meta_set("sweep_file", str(sweep.file))
        keys = sweep.keys
        done = store.keys()
        pending = [(k, c) for k, c in zip(keys, sweep.configs) if k not in done]
        reused = len(keys) - len(pending)
        computed = 0

        def on_result(k, cfg, rj):
            nonlocal computed
            if store.put(k, cfg, rj):
                computed += 1

        if pending:
            run_points(pending, executor=ex, on_result=on_result, progress=progress, desc=sweep.name)
        results = store.get_many(keys)
    table = results_table(sweep.configs, results, keys)
    failed = int(table["error"].notna().sum())
    files = write_table(table, out_dir, sweep.name, fmts)
    return SweepRun(sweep, table, files, store_path, len(keys), reused, computed, failed,
                    time.perf_counter() - t0, ex.name, note)

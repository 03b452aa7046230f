"""Design points: one flat configuration in, one result out, named by a stable key.

Every point is a flat *configuration*: ``workload``, ``task`` and every architecture key (defaults
filled in).  :func:`evaluate_point` maps it to a result by a pure function of that dict, and
:func:`point_key` names it by the SHA-256 of its canonical JSON, so the same design has the same key in
every sweep, process and machine.  A point that cannot be built (a network that does not fit a small
mesh, cols_per_adc > cols) is a result too: ``{"error": "one line"}``.

Repeated estimates are made cheap by an :class:`EvalCache` that the caller passes in (one per run, one
per worker process of a pool): each workload graph is built once with its topological views memoized,
and a mapping is reused between architectures that agree on the keys the mapping reads
(:data:`MAPPING_KEYS`, the keys whose field says the mapping step reads them; the tests check that no other
key changes a mapping).

:func:`model_fingerprint` hashes the code and data a result depends on, so a result store is reused
only by the same model.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from archsim.io import techlib
import workloads as _workloads

from archsim.cost.price import evaluate
from archsim.mapping.layout import map_workload
from archsim.model.device import load_device
from archsim.model import arch as _arch
from archsim.model.errors import ArchsimError
from archsim.model.workload import Workload

TASKS = ("inference", "training")
ARCH_KEYS: tuple[str, ...] = tuple(k.name for k in _arch.KEYS)
#: configuration keys besides the architecture's
POINT_KEYS: tuple[str, ...] = ("workload", "task")
CONFIG_KEYS: tuple[str, ...] = POINT_KEYS + ARCH_KEYS

#: architecture keys the mapping step reads (each key's ``steps`` in archsim/model/arch.py).  A mapping computed
#: for one architecture is reused, with the architecture swapped, for another that agrees on these.
MAPPING_KEYS: tuple[str, ...] = _arch.keys_read_by("mapping")


# ---------------------------------------------------------------------------------------------------------------------
# configurations and keys
def canonical_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, floats as ``repr`` (round-trips float64 exactly)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def point_key(config: Mapping) -> str:
    """Stable key of a configuration: SHA-256 (hex) of its canonical JSON."""
    return hashlib.sha256(canonical_json(dict(config)).encode("ascii")).hexdigest()


def keys_and_texts(configs: Sequence[Mapping]) -> tuple[list[str], list[str]]:
    """Each configuration's :func:`point_key` and the canonical JSON it hashes (the text a result store keeps
    of the configuration: :func:`canonical_json` and the store's sorted-key JSON agree on every configuration
    that has a key, one without NaN or infinity)."""
    texts = [canonical_json(dict(c)) for c in configs]
    sha = hashlib.sha256
    return [sha(t.encode("ascii")).hexdigest() for t in texts], texts


def json_value(v):
    if isinstance(v, tuple):
        return [json_value(x) for x in v]
    return v


def config_from_arch(workload: str, arch: _arch.Architecture, task: str = "inference") -> dict:
    """The configuration of one design: workload, task and every architecture key."""
    d = {"workload": canonical_workload(workload), "task": task}
    d.update({k: json_value(v) for k, v in arch.as_dict().items()})
    return d


def canonical_workload(name: str) -> str:
    """The registry's canonical name (aliases and spelling folded), so a design has one key."""
    return _workloads._resolve(name).name


def canonical_device(name: str) -> str:
    p = Path(str(name))
    if p.suffix in (".yaml", ".yml"):
        return str(name)
    return str(name).lower()


# ---------------------------------------------------------------------------------------------------------------------
# the cache a run passes in (what it memoizes are pure functions of their arguments)

class EvalCache:
    """What the points of one run share: workloads built once (with memoized graph views) and the last
    ``max_mappings`` mappings, each reused for every architecture that agrees on :data:`MAPPING_KEYS`.

    Make one per run (a pool worker makes or inherits one per process) and pass it to
    :func:`evaluate_point`; nothing is kept between runs.  Errors (a layer that does not fit) are not cached:
    their message names the architecture that failed.
    """

    def __init__(self, max_mappings: int = 512):
        self.max_mappings = int(max_mappings)
        self._workloads: dict[str, Workload] = {}
        self._mappings: "OrderedDict[tuple, Any]" = OrderedDict()
        self._devices: dict = {}

    def workload(self, name: str) -> Workload:
        """The workload ``name``, built once per cache (with memoized graph views)."""
        wl = self._workloads.get(name)
        if wl is None:
            wl = self._workloads[name] = _workloads.get(name)   # immutable: its views memoized in it
        return wl

    def device(self, name: str):
        """The device ``name`` (a registry name or a YAML path), loaded once per cache: a run reads each device
        file once (not its folder and file times again for every mapping)."""
        dev = self._devices.get(name)
        if dev is None:
            dev = self._devices[name] = load_device(name)
        return dev

    def mapping(self, wl: Workload, a: _arch.Architecture):
        """``map_workload(wl, a)``, reusing a mapping computed for an architecture that agrees on
        :data:`MAPPING_KEYS`."""
        k = (wl.name, id(wl)) + tuple(_hashable(getattr(a, n)) for n in MAPPING_KEYS)
        m = self._mappings.get(k)
        if m is None:
            # errors (a layer that does not fit) are not cached: they name a.source
            m = map_workload(wl, a, self.device(a.device))
            self._mappings[k] = m
            if len(self._mappings) > self.max_mappings:
                self._mappings.popitem(last=False)
            return m
        self._mappings.move_to_end(k)
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
                   cache: EvalCache | None = None) -> dict:
    """Result of one configuration: ``{"summary": {...}}`` or ``{"error": "one line"}``.

    Pure: the result depends on ``config`` (and ``accuracy_fn``) only; ``cache`` (None: build and map afresh)
    changes how long it takes, never what it returns.  Bad combinations of keys (cols_per_adc > cols, a
    network that does not fit the mesh) are results, with the point's key prefix as the place named.
    Anything but an :class:`ArchsimError` is a bug and propagates.
    """
    cfg = dict(config)
    missing = [k for k in ("workload",) if k not in cfg]
    if missing:
        raise ArchsimError(f"configuration has no '{missing[0]}'")
    where = f"point {point_key(cfg)[:12]}"
    try:
        a = _arch.from_dict({k: cfg[k] for k in ARCH_KEYS if k in cfg}, where=where)
        if cache is None:
            wl = _workloads.get(cfg["workload"])
            m = map_workload(wl, a)
        else:
            wl = cache.workload(cfg["workload"])
            m = cache.mapping(wl, a)
        est = evaluate(m, task=cfg.get("task", "inference"))
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


def eval_chunk(items: Sequence[tuple[str, dict]], cache: EvalCache | None = None,
               accuracy_fn=None) -> list[tuple[str, str]]:
    """Worker entry point: ``[(key, config)] -> [(key, result JSON)]``."""
    return [(k, result_json(evaluate_point(c, accuracy_fn, cache))) for k, c in items]


# ---------------------------------------------------------------------------------------------------------------------
# the model fingerprint: results in a store are reused only by the same model

#: What a stored result depends on, below ``archsim/``: the steps that compute a design point.  The command
#: line, reports, sizing and the store itself are left out (editing them does not change a number).
MODEL_PARTS = ("model", "mapping", "cost", "sim", "io", "explore/points.py")


def model_fingerprint() -> str:
    """SHA-256 over archsim's model code, the workload builders (and trained weights) and the technology library.

    Conservative: an edit to any model file (the accuracy simulator's included) retires stored results.
    Not memoized (a pure function of files, about 10 ms): a run computes it once."""
    pkg = Path(__file__).parent.parent
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

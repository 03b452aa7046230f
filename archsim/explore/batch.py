"""Evaluating a chunk of design points together: points grouped by mapping, each group priced at once.

:func:`eval_chunk` is the worker entry point of a sweep (:func:`archsim.explore.run.run_points`): it returns
what :func:`archsim.explore.points.eval_chunk` returns, ``[(key, result JSON)]`` in the chunk's order and
bit for bit the same (tests/explore/test_batch.py compares the two), but maps each group of points that
agree on :data:`~archsim.explore.points.MAPPING_KEYS` once and prices the group's architectures together
(:func:`archsim.cost.batch.price_many`).

A group in which anything fails (a point's keys are refused, the network does not fit, a price cannot be
computed) is evaluated point by point instead, so every error message is the one that point gives alone
(it names the point's key).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

from archsim.cost.batch import price_many
from archsim.explore.points import (ARCH_KEYS, MAPPING_KEYS, EvalCache, _plain, canonical_json, evaluate_point,
                                    result_json)
from archsim.mapping.routes import compiled_transport
from archsim.model import arch as _arch
from archsim.model.errors import ArchsimError


def mapping_group(cfg: dict) -> tuple:
    """What a point's mapping depends on: its workload, task and the mapping keys."""
    get = cfg.get
    return (get("workload"), get("task", "inference")) + tuple([_hashable(get(k)) for k in MAPPING_KEYS])


_SIMPLE = frozenset((str, int, float, bool, type(None)))


def _hashable(v):
    """A configuration value as a key: numbers and text with their type, lists as tuples, tables as JSON."""
    t = type(v)
    if t in _SIMPLE:
        return (t, v)
    if isinstance(v, list):
        return ("list",) + tuple(_hashable(x) for x in v)
    if isinstance(v, dict) and not v:
        return ("dict",)
    return (type(v), v) if v is None or isinstance(v, (str, int, float)) else canonical_json(v)


_PLAIN = (float, int, str, bool)


def _architectures(keys: list[str], cfgs: list[dict]) -> list:
    """Each point's ``from_dict`` of its architecture keys (named ``point <key>``): the first point's in full, the
    others from it (:meth:`~archsim.model.arch.Architecture.with_checked`) with only the keys whose values differ
    checked; a point with other keys present is built in full."""
    first = cfgs[0]
    present = [k for k in ARCH_KEYS if k in first]
    base = _arch.from_dict({k: first[k] for k in present}, where=f"point {keys[0][:12]}")
    out = [base]
    for key, c in zip(keys[1:], cfgs[1:]):
        where = f"point {key[:12]}"
        if [k for k in ARCH_KEYS if k in c] != present:
            out.append(_arch.from_dict({k: c[k] for k in ARCH_KEYS if k in c}, where=where))
            continue
        out.append(base.with_checked({k: c[k] for k in present if not _same(c[k], first[k])}, where))
    return out


def _same(v, v0) -> bool:
    """Whether a key's value is the first point's: the same scalar type and value (-0.0 apart from 0.0); lists
    and tables are always checked again."""
    t = type(v)
    if t is not type(v0) or t not in _SIMPLE or v != v0:
        return False
    return t is not float or math.copysign(1.0, v) == math.copysign(1.0, v0)


def eval_chunk(items: Sequence[tuple[str, dict]], cache: EvalCache | None = None,
               accuracy_fn: Callable[[dict], float | None] | None = None) -> list[tuple[str, str]]:
    """``[(key, config)] -> [(key, result JSON)]``, the points that share a mapping evaluated together."""
    cache = cache if cache is not None else EvalCache()
    groups: dict[tuple, list[int]] = {}
    for i, (_, cfg) in enumerate(items):
        groups.setdefault(mapping_group(cfg), []).append(i)
    out: list = [None] * len(items)
    # many mappings: the compiled routes pay for numba's start-up; BLAS held to one thread for the chunk (not
    # around each mapping's routes) unless an accuracy function runs its own products here
    with compiled_transport(hold_blas=accuracy_fn is None):
        for idx in groups.values():
            results = _eval_group([items[i][0] for i in idx], [items[i][1] for i in idx], cache, accuracy_fn)
            for i, r in zip(idx, results):
                out[i] = (items[i][0], result_json(r))
    return out


def _eval_group(keys: list[str], cfgs: list[dict], cache: EvalCache, accuracy_fn) -> list[dict]:
    """Results of points that share a mapping; point by point where anything in the group fails."""
    try:
        if any("workload" not in c for c in cfgs):
            raise ArchsimError("configuration has no 'workload'")
        archs = _architectures(keys, cfgs)
        wl = cache.workload(cfgs[0]["workload"])
        m = cache.mapping(wl, archs[0])
        summaries = price_many(m, archs, task=cfgs[0].get("task", "inference"))
    except ArchsimError:
        return [evaluate_point(c, accuracy_fn, cache) for c in cfgs]
    out = []
    for c, s in zip(cfgs, summaries):
        summary = {k: v if type(v) in _PLAIN else _plain(v) for k, v in s.items()}
        if accuracy_fn is not None:
            try:
                acc = accuracy_fn(c)
            except ArchsimError as exc:
                out.append({"error": f"{exc}"})
                continue
            summary["accuracy"] = float("nan") if acc is None else float(acc)
        out.append({"summary": summary})
    return out

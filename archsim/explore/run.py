"""Running points and sweeps: evaluate what the store lacks, keep each result as it finishes, write one table.

:func:`run_points` evaluates configurations on an executor (:mod:`archsim.explore.executors`) with one
:class:`EvalCache` for the run.  :func:`run_sweep` evaluates the points of a :class:`Sweep` missing from
its result store (:mod:`archsim.explore.store`), writes each result as it finishes and assembles the
table: the configuration columns, an ``error`` column (a point that cannot be built, e.g. a network that
does not fit a small mesh, is kept with its message) and every :attr:`Estimate.summary` column, as CSV
(and Parquet when pyarrow is installed).
"""
from __future__ import annotations

import functools
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import pandas as pd

from archsim.io.csvtext import to_csv_text
from archsim.io.files import atomic_write, check_in_place, check_target, resolve_out_folder
from archsim.explore.executors import (InProcessExecutor, LocalPoolExecutor, frozen_heap, make_chunks,
                                       make_executor)
from archsim.explore.batch import eval_chunk
from archsim.explore.points import (ARCH_KEYS, CONFIG_KEYS, EvalCache, keys_and_texts, model_fingerprint,
                                    point_key)
from archsim.explore.spec import Sweep, load_sweep
from archsim.explore.store import Store, config_json
from archsim.model import arch as _arch
from archsim.model.errors import ParameterError

#: summary keys that repeat a configuration column with the same meaning: the configuration's is kept
SAME_AS_CONFIG = ("workload", "device", "task", "cost_model")
#: summary keys whose name is a configuration column with another meaning: renamed in the table
RENAMED_SUMMARY = {"tiles": "tiles_total", "mesh": "mesh_used", "bits_per_cell": "bits_per_cell_used"}
STORE_NAME = "results.sqlite"


# ---------------------------------------------------------------------------------------------------------------------
# running points

def run_points(configs: Iterable[Mapping | tuple[str, Mapping]], workers: int | None = None, scheduler=None, accuracy_fn=None,
               on_result: Callable[[str, dict, str], None] | None = None, progress: bool = False,
               desc: str = "points", executor=None, cache: EvalCache | None = None,
               on_results: Callable[[list[tuple[str, dict, str]]], None] | None = None,
               collect: bool = True, config_text: bool = False) -> dict[str, dict]:
    """Evaluate configurations (or ``(key, configuration)`` pairs) on an executor; ``{key: result}``, each
    distinct configuration once.

    ``executor`` (or ``workers`` / ``scheduler``, see :func:`make_executor`) runs them;
    ``on_result(key, config, result_json)`` is called in this process as each point finishes.  ``cache``
    (default: a new :class:`EvalCache`) is shared by the points evaluated in this process and copied into
    the workers of a local pool.  ``on_results([(key, config, result_json), ...])``, where given, is called
    instead once per finished chunk (a store writes the chunk in one transaction).  ``collect=False``: the
    results go to the callbacks only (the values of the returned dict are None).  ``config_text=True``: the
    workers also write each configuration as the store keeps it (sorted-key JSON) and ``on_results`` gets that
    text in place of the configuration (the parent process then has less to do while the workers compute).
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
    chunks = make_chunks(list(items.items()), ex.workers or 2)
    fn = eval_chunk if accuracy_fn is None else functools.partial(eval_chunk, accuracy_fn=accuracy_fn)
    if config_text:
        fn = functools.partial(_with_config_text, fn)
    cache = cache if cache is not None else EvalCache()
    bar = _progress(len(items), desc) if progress else None
    try:
        for results in ex.run(fn, chunks, cache):
            if config_text:
                if on_results is not None:
                    on_results([(k, text, rj) for k, rj, text in results])
                results = [(k, rj) for k, rj, _ in results]
            elif on_results is not None:
                on_results([(k, items[k], rj) for k, rj in results])
            for k, rj in results:
                if on_result is not None and on_results is None:
                    on_result(k, items[k], rj)
                out[k] = json.loads(rj) if collect else None
            if bar is not None:
                bar.update(len(results))
    finally:
        if bar is not None:
            bar.close()
    return out


def _with_config_text(fn: Callable, chunk: list, cache: EvalCache | None) -> list[tuple[str, str, str]]:
    """``fn(chunk, cache)``'s ``(key, result JSON)`` pairs with each point's configuration as the store keeps it."""
    return [(k, rj, config_json(c)) for (k, rj), (_, c) in zip(fn(chunk, cache), chunk)]


def _progress(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="pt", file=sys.stderr, disable=None, smoothing=0.1)


# ---------------------------------------------------------------------------------------------------------------------
# tables

def results_table(configs: Sequence[Mapping], results: Mapping[str, Mapping],
                  keys: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per configuration (in the given order): key, configuration columns, error, summary columns.

    Built a column at a time (one frame per sweep): each configuration column read down the points, each
    result's summary values placed under the columns its keys name (the names worked out once per distinct
    list of summary keys: a renamed key, or ``<key>_result`` where a summary key repeats a column)."""
    keys = list(keys) if keys is not None else [point_key(c) for c in configs]
    n = len(configs)
    data: dict[str, list] = {"key": keys}
    for c in CONFIG_KEYS:
        vals = [cfg.get(c) for cfg in configs]
        if c == "mesh":
            vals = [v if v == _arch.AUTO else f"{v[0]}x{v[1]}" for v in vals]
        data[c] = vals
    fixed = ("key",) + CONFIG_KEYS + ("error",)
    errors: list = [None] * n
    summary: dict[str, list] = {}
    names_of: dict[tuple, list] = {}
    for r, k in enumerate(keys):
        res = results.get(k)
        if res is None:
            errors[r] = "not computed"
            continue
        if "error" in res:
            errors[r] = res["error"]
            continue
        s = res["summary"]
        sk = tuple(s)
        names = names_of.get(sk)
        if names is None:
            names = names_of[sk] = _summary_columns(sk, fixed)
        for col, v in zip(names, s.values()):
            if col is not None:
                got = summary.get(col)
                if got is None:
                    got = summary[col] = [None] * n
                got[r] = v
    data["error"] = errors
    data.update(summary)
    cols = ["key", "workload", "device", "task"] + [c for c in ARCH_KEYS if c != "device"] + ["error"] + list(summary)
    out = {}
    for c in cols:
        vals = data[c]
        types = _types(vals)
        if len(types) > 1 and not types <= {int, float}:
            # one type per column (Parquet needs it): a column mixing 'auto' and numbers becomes text
            out[c] = pd.Series([None if v is None else str(v) for v in vals], dtype=object)
        elif types == {int} and any(v is None for v in vals):
            out[c] = pd.Series(vals, dtype="Int64")  # integers stay integers beside the rows that failed
        else:
            out[c] = vals
    return pd.DataFrame(out, columns=cols)


def _summary_columns(summary_keys: tuple, fixed: tuple) -> list:
    """The column of each summary key (None: a key the configuration already holds with the same meaning),
    as one row's dict would name them: renamed keys, and ``<key>_result`` for a key the row already has."""
    row = dict.fromkeys(fixed)
    names = []
    for sk in summary_keys:
        if sk in SAME_AS_CONFIG:
            names.append(None)
            continue
        col = RENAMED_SUMMARY.get(sk, sk if sk not in row else f"{sk}_result")
        row[col] = None
        names.append(col)
    return names


def _types(vals: list) -> set:
    """The types of a column's values, None and NaN left out."""
    types = set(map(type, vals))
    types.discard(type(None))
    for t in [t for t in types if issubclass(t, float)]:
        if all(math.isnan(v) for v in vals if type(v) is t):
            types.discard(t)
    return types


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
                raise ParameterError(f"{{param}} {x!r}: allowed csv, parquet or auto", "format")
            if y not in out:
                out.append(y)
    if "parquet" in out and not parquet_available():
        raise ParameterError("{param} parquet needs pyarrow: pip install pyarrow", "format")
    return out, None


def write_table(df: pd.DataFrame, out_dir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    files = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if "csv" in formats:
            p = out_dir / f"{stem}.csv"
            atomic_write(p, to_csv_text(df))   # df.to_csv(index=False) byte for byte, faster
            files.append(p)
        if "parquet" in formats:
            p = out_dir / f"{stem}.parquet"
            atomic_write(p, lambda f: df.to_parquet(f, index=False, engine="pyarrow"))
            files.append(p)
    except OSError as exc:
        raise ParameterError(f"{{param}} {out_dir}: cannot write there ({exc.strerror})", "out") from None
    return files


# ---------------------------------------------------------------------------------------------------------------------
# running a sweep

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
    #: points this run computed but another run sharing the store wrote first (its row is kept; same model)
    by_other: int = 0

    def failures(self) -> list[tuple[int, str]]:
        """``(points, first message)`` per distinct cause of the failed points, most frequent first; a cause is
        a message with the point's key and every number taken out (the same refusal at another size)."""
        if not self.failed:
            return []
        import re
        groups: dict[str, list] = {}
        for msg in self.table["error"].dropna():
            text = re.sub(r"^point [0-9a-f]+: ", "", str(msg))
            cause = re.sub(r"[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?", "#", text)
            groups.setdefault(cause, [0, text])[0] += 1
        return sorted(((n, first) for n, first in groups.values()), key=lambda t: -t[0])

    def failures_text(self, limit: int = 10) -> str:
        """How many points failed and the first error of each distinct cause (empty when none failed)."""
        causes = self.failures()
        if not causes:
            return ""
        lines = [f"{self.failed} of {self.total} points failed ({len(causes)} distinct cause"
                 f"{'s' if len(causes) > 1 else ''}; first error of each):"]
        lines += [f"  {n} point{'s' if n > 1 else ''}: {first}" for n, first in causes[:limit]]
        if len(causes) > limit:
            lines.append(f"  ... and {len(causes) - limit} more causes (see the 'error' column)")
        return "\n".join(lines)

    def counts_text(self) -> str:
        """The truthful account of where the points came from (one line)."""
        rate = self.computed / self.seconds if self.seconds > 0 and self.computed else 0.0
        other = f", {self.by_other} computed by another run meanwhile" if self.by_other else ""
        return (f"{self.total} points: {self.reused} already in the store, {self.computed} computed by this run "
                f"({rate:,.0f} points/s){other}, {self.failed} with an error (see the 'error' column)")


def run_sweep(sweep: Sweep | str | Path, out: str | Path | None = None, workers: int | None = None,
              scheduler=None, resume: bool = False, formats: Sequence[str] | str | None = "auto",
              progress: bool = True) -> SweepRun:
    """Evaluate a sweep's missing points into its store (``out/results.sqlite``) and write its table.

    The store keeps every finished point (one transaction per finished chunk), so a run killed at any moment and started
    again with ``resume=True`` computes only the points it lacks.
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    fmts, note = resolve_formats(formats)
    # every output checked before any work: the folder (a dangling link refused, links resolved), the store
    # and its side files (regular or absent, never a link), the tables (regular or absent)
    out_dir = resolve_out_folder(out if out is not None else f"sweep_{sweep.name}", "out")
    store_path = check_in_place(out_dir / STORE_NAME, "store")
    for f in fmts:
        check_target(out_dir / f"{sweep.name}.{f}")
    if store_path.exists() and not resume and _stored_points(store_path):
        raise ParameterError(f"{store_path} exists: pass {{param}} to continue that sweep, or choose another {{param}}",
                             "resume", "out")
    ex = make_executor(workers, scheduler)  # bad --workers / missing dask / no scheduler fail before any work
    if hasattr(ex, "connect"):
        ex.connect()
    try:
        with frozen_heap():       # the collector leaves the process's old objects alone (see frozen_heap)
            return _run_sweep(sweep, ex, out_dir, store_path, fmts, note, progress)
    finally:
        if hasattr(ex, "close"):
            ex.close()


def _stored_points(path: Path) -> int:
    with Store(path) as st:
        return len(st)


def _run_sweep(sweep: Sweep, ex, out_dir: Path, store_path: Path, fmts, note, progress) -> SweepRun:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"{{param}} {out_dir}: cannot create ({exc.strerror})", "out") from None
    cache = EvalCache()
    if hasattr(ex, "start") and sweep.configs and not store_path.exists():
        # a new store: the pool's workers start now and warm up on the first point while this process reads
        # the model's fingerprint, opens the store and makes the keys and chunks
        ex.start(cache, warm=sweep.configs[:1])
    fp = model_fingerprint()
    t0 = time.perf_counter()
    with Store(store_path) as store:
        old = store.meta_get("model_fingerprint")
        if old is not None and old != fp and len(store):
            raise ParameterError(
                f"{store_path} holds results of another archsim model (fingerprint {old[:12]}, this one {fp[:12]}: "
                f"model code or techlib data changed); choose another {{param}} or delete {store_path}", "out")
        store.meta_set("model_fingerprint", fp)
        store.meta_set("sweep_file", str(sweep.file))
        texts = None
        if sweep.point_keys is None:
            # keys not known yet (a sweep built in code, not read from a file): each configuration's canonical
            # JSON made once, hashed for its key and kept for the store's row
            keys, texts = keys_and_texts(sweep.configs)
            object.__setattr__(sweep, "point_keys", tuple(keys))
        keys = sweep.keys
        done = store.keys()
        pending = [(k, c) for k, c in zip(keys, sweep.configs) if k not in done]
        text_of = {k: t for k, t in zip(keys, texts) if k not in done} if texts is not None else None
        reused = len(keys) - len(pending)
        computed = by_other = 0
        results: dict[str, dict] = {}

        def on_results(rows):
            # INSERT OR IGNORE, one transaction per finished chunk: when two runs share the store, the first row
            # of a point is kept and the other run's identical result is counted as computed by another run (and
            # read back from the store below, like the points a previous run left); the rows this run wrote are
            # decoded here, from the very text the store now holds, while the workers go on
            nonlocal computed, by_other
            if text_of is not None:
                rows = [(k, text_of[k], rj) for k, _, rj in rows]
            new = store.put_many(rows)
            computed += sum(new)
            by_other += len(new) - sum(new)
            for (k, _, rj), is_new in zip(rows, new):
                if is_new:
                    results[k] = json.loads(rj)

        if pending:
            run_points(pending, executor=ex, on_results=on_results, progress=progress, desc=sweep.name,
                       collect=False, config_text=text_of is None, cache=cache)
        missing = [k for k in keys if k not in results]
        if missing:
            results.update(store.get_many(missing))
    table = results_table(sweep.configs, results, keys)
    failed = int(table["error"].notna().sum())
    files = write_table(table, out_dir, sweep.name, fmts)
    return SweepRun(sweep, table, files, store_path, len(keys), reused, computed, failed,
                    time.perf_counter() - t0, ex.name, note, by_other)

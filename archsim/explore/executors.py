"""Executors: where the points of a run are evaluated, and how they are cut into chunks.

One registry (:data:`EXECUTORS`): in this process, a local process pool, or a Dask distributed cluster.
Each has ``run(fn, chunks, cache)``, calling ``fn(chunk, cache)`` for every chunk (``fn`` is
:func:`archsim.explore.points.eval_chunk`, perhaps with an accuracy function bound) and yielding the
results as they finish.  In this process ``cache`` is the run's :class:`EvalCache`; a pool worker
inherits a copy of it when it starts, and a Dask worker makes its own on its first chunk, then keeps it
for the chunks that follow.  :func:`make_chunks` packs the points that share a mapping into the same chunk.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from typing import Callable, Iterator, Mapping

from archsim.explore.batch import eval_chunk, mapping_group
from archsim.explore.points import EvalCache
from archsim.mapping import transport_kernel
from archsim.model.errors import ParameterError

#: The :class:`EvalCache` of a worker process: set by the pool's initializer (a copy of the parent's) or
#: made on a Dask worker's first chunk.  The process that runs a sweep never reads it; it passes its cache.
_worker_cache: EvalCache | None = None


#: how often (seconds) a pool worker's watchdog checks that the process that started it is still alive
WATCHDOG_PERIOD_S = 0.5


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when ``parent_pid`` (the sweep that started it) dies, SIGKILL included.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, so the kernel kills this process when its parent goes (no
    Python needs to run in either).  Everywhere (and as a second line on Linux, where the signal follows
    the parent *thread*): a daemon thread that polls ``os.getppid()`` and ends the process with ``os._exit``
    when the parent has changed (the worker was re-parented to init or a subreaper).
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal
            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no libc / prctl here: the watchdog below still holds
            pass
    if os.getppid() != parent_pid:     # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        import time
        while True:
            time.sleep(WATCHDOG_PERIOD_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    import threading
    threading.Thread(target=watch, name="archsim-parent-watchdog", daemon=True).start()


def _init_worker(cache: EvalCache | None, parent_pid: int | None = None, warm: tuple = ()) -> None:
    """Pool worker start: die with the parent, leave Ctrl-C to the parent (which ends the pool), keep ``cache``,
    then evaluate the configurations ``warm`` and forget their results (see :meth:`LocalPoolExecutor.start`)."""
    global _worker_cache
    _worker_cache = cache
    if parent_pid is not None:
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles Ctrl-C and terminates the workers
        _die_with_parent(parent_pid)
    if warm:
        if _worker_cache is None:
            _worker_cache = EvalCache()
        try:
            # what the first points need (the workload built, the device read, the price memos filled, the
            # code's pages copied from the parent) made while the parent still prepares the chunks; pure
            # memos only, so no result changes.  A failure here is left to the real evaluation to report.
            eval_chunk([("warm-up", dict(c)) for c in warm], _worker_cache)
        except Exception:  # noqa: BLE001
            pass


def _in_worker(fn: Callable, chunk: list) -> list:
    """Run ``fn(chunk, cache)`` in a worker process with that process's cache."""
    global _worker_cache
    if _worker_cache is None:
        _worker_cache = EvalCache()
    return fn(chunk, _worker_cache)


class InProcessExecutor:
    name = "in-process"

    def __init__(self, workers: int = 1, scheduler=None):
        self.workers = 1

    def run(self, fn: Callable, chunks: list, cache: EvalCache | None = None) -> Iterator[list]:
        for ch in chunks:
            yield fn(ch, cache)


#: how many new objects (allocations less deallocations) the collector lets pass before examining them, while a
#: sweep runs (Python's default: 700).  A sweep keeps every result it decodes (a table per point), so with the
#: default a 1,680-point sweep made about 85 passes over those young objects, 26-38 ms of its CPU (3%); with this
#: many it makes none, and a sweep of any size still has its cyclic garbage collected every 100,000 objects.
SWEEP_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """While the block runs, keep the objects that exist now out of the garbage collector's passes, and make its
    passes over new objects rarer (:data:`SWEEP_GC_THRESHOLD`).

    A forked worker shares its parent's memory page by page until either writes to a page; the collector's
    full passes touch every tracked object (a sweep's process holds a few hundred thousand: numpy, pandas,
    numba, scipy), so in the workers and in the parent each pass copied much of the heap (measured on the
    sizing sweep with 2 workers: 12,500-13,500 page faults per worker after its first chunk, 1,900-2,800 with
    the heap frozen; 1.63-1.93 s of CPU for the sweep against 1.19-1.43 s).  :func:`gc.freeze` moves those
    objects to a generation the collector never scans (nothing is lost: :func:`gc.unfreeze` at the end puts
    them back and a later pass collects what became garbage meanwhile).  A caller that froze the heap itself
    keeps it frozen (and its thresholds).  Forked workers inherit both settings.
    """
    if gc.get_freeze_count():
        yield
        return
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], SWEEP_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class LocalPoolExecutor:
    name = "process pool"

    def __init__(self, workers: int, scheduler=None):
        self.workers = int(workers)
        self._pool = None
        self._cache = None

    def start(self, cache: EvalCache | None = None, warm: tuple = ()) -> None:
        """Start the workers now, before the chunks are ready: each evaluates the configurations ``warm`` (one
        or two of the run's) and forgets them while this process prepares the run (its store, keys and chunks),
        so their first chunks find the memos filled.  :meth:`run` then uses these workers (with ``cache``, the
        one given here); :meth:`close` ends them if :meth:`run` never does.  Call it inside
        :func:`frozen_heap`, as a sweep does."""
        if self._pool is None:
            self._cache = cache
            self._pool = self._new_pool(cache, tuple(warm))
            self._pool.submit(int)      # the workers fork now (a pool starts them with its first task)

    def close(self) -> None:
        if self._pool is not None:
            _terminate(self._pool)
            self._pool = None

    def _new_pool(self, cache: EvalCache | None, warm: tuple):
        import concurrent.futures as cf
        import multiprocessing as mp
        # fork (where there is one) hands the workers the parent's warm cache and registered workloads
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() and sys.platform != "darwin" else None
        if ctx is not None:
            transport_kernel.warm()   # the compiled routes loaded once here, inherited by every worker
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                      initargs=(cache, os.getpid(), warm))

    def run(self, fn: Callable, chunks: list, cache: EvalCache | None = None) -> Iterator[list]:
        with frozen_heap():   # the workers fork from a heap the collector leaves alone (see frozen_heap)
            pool, self._pool = self._pool, None
            if pool is None or cache is not self._cache:
                if pool is not None:
                    _terminate(pool)
                pool = self._new_pool(cache, ())
            yield from self._run(pool, fn, chunks)

    def _run(self, pool, fn: Callable, chunks: list) -> Iterator[list]:
        import concurrent.futures as cf
        finished = False
        try:
            futures = [pool.submit(_in_worker, fn, ch) for ch in chunks]
            for f in cf.as_completed(futures):
                yield f.result()
            finished = True
        finally:
            if finished:
                pool.shutdown(wait=True)
            else:
                _terminate(pool)      # interrupted, failed or abandoned: no worker goes on computing


def _terminate(pool) -> None:
    """End a process pool now: cancel what has not started and terminate (then reap) its workers."""
    held = getattr(pool, "_processes", None)      # concurrent.futures keeps its workers there (pid -> Process)
    procs = list(held.values()) if isinstance(held, dict) else []
    # the pool's manager thread reaps the workers too: joined before they are checked, else a worker it has
    # reaped but not yet marked reads as alive here (waitpid finds no child, the exit code is still unset)
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    if manager is not None:
        manager.join(timeout=10)
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)


class DaskExecutor:
    """A Dask distributed cluster (``--scheduler tcp://host:port``, or a ``distributed.Client``).

    archsim must be importable on every worker (same version: results are keyed by configuration only).
    """
    name = "dask"

    def __init__(self, workers: int | None = None, scheduler=None):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ParameterError("{param} needs the Dask extra: pip install 'dask[distributed]'", "scheduler") from None
        if scheduler is None:
            raise ParameterError("the dask executor needs a scheduler address ({param} tcp://host:port)", "scheduler")
        self.scheduler = scheduler
        self.workers = workers
        self._client = None

    def connect(self):
        """Connect now (a bad address fails before any work); :meth:`run` reuses the connection."""
        from distributed import Client
        if isinstance(self.scheduler, Client):
            return self.scheduler
        if self._client is None:
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ParameterError(f"{{param}} {self.scheduler}: cannot connect ({exc.__class__.__name__}: "
                                     f"{' '.join(str(exc).split())[:200]})", "scheduler") from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(self, fn: Callable, chunks: list, cache: EvalCache | None = None) -> Iterator[list]:
        """``cache`` stays here: each Dask worker keeps its own (see :data:`_worker_cache`)."""
        from distributed import Client, as_completed
        own = self._client is None and not isinstance(self.scheduler, Client)
        client = self.connect()
        try:
            futures = client.map(functools.partial(_in_worker, fn), chunks, pure=False)
            for f in as_completed(futures):
                yield f.result()
        finally:
            if own:
                self.close()


EXECUTORS: dict[str, type] = {"in-process": InProcessExecutor, "process": LocalPoolExecutor, "dask": DaskExecutor}


def make_executor(workers: int | None = None, scheduler=None):
    """Dask when a scheduler is given; else a local process pool (in-process for one worker)."""
    if scheduler is not None:
        return EXECUTORS["dask"](workers, scheduler)
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(f"{{param}} {workers!r}: allowed a whole number of 1 or more", "workers")
    return EXECUTORS["in-process"]() if workers == 1 else EXECUTORS["process"](workers)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _mapping_group(cfg: Mapping) -> tuple:
    return mapping_group(cfg)


def make_chunks(items: list[tuple[str, dict]], workers: int) -> list[list]:
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

"""Design points per minute of ``archsim sweep`` on ResNet-50: in process, a local pool (optionally a Dask cluster).

Two sweeps of ResNet-50 on SONOS, each run end to end through :func:`archsim.explore.run.run_sweep` (validation,
executor, the SQLite store, the CSV table) into a fresh folder:

* ``sizing``: the design space ``archsim size`` searches (rows = cols 64..1024, bits per cell 1..7, ADC 4-10 bits,
  columns per ADC 1-64, tile budgets 1x/2x/4x): 1,680 points, 16 per mapping (priced together,
  :mod:`archsim.cost.batch`);
* ``distinct``: every point a different mapping (rows, cols, arrays per tile, input and weight bits; every
  fourth of them): the worst case for batching.

Each run is paired with the numpy baseline timed right after it, the same points' flat ``MACs x energy/op``
sum (the simplest analytic estimate); the table gives per-pair medians over ``--repeat`` pairs (default 7), so
the ratio holds under load.  ``cpu_points_per_min`` counts the CPU time of the run (this process and its
workers): what a quiet machine gives.  Also timed once: ``api.estimate`` per point without the sweep's caches
(a naive loop).  Target: 100,000 ResNet-50 points per minute.

Run: ``python benchmarks/bench_sweep.py [--quick] [--repeat N] [--dask] [--out reports/bench]``.
"""
from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsim.io import techlib  # noqa: E402
from archsim.cost import batch as cost_batch  # noqa: E402
from archsim.cost import adc, components, static  # noqa: E402
from archsim.mapping import transport_kernel  # noqa: E402
from archsim.cost.components import prices_for  # noqa: E402
from archsim.model import arch as arch_model  # noqa: E402
import workloads  # noqa: E402
from archsim import Architecture, api  # noqa: E402
from archsim.report import tables as report  # noqa: E402
from archsim.explore import sizing  # noqa: E402
from archsim.explore.executors import default_workers  # noqa: E402
from archsim.explore.points import ARCH_KEYS, EvalCache, config_from_arch  # noqa: E402
from archsim.explore.run import SweepRun, run_sweep  # noqa: E402
from archsim.explore.spec import Sweep  # noqa: E402

TARGET_PER_MIN = 100_000


def sizing_points(quick: bool) -> list[dict]:
    space = sizing.SearchSpace()
    if quick:
        space = sizing.SearchSpace(rows=(128, 256, 512), bits_per_cell=(2, 4, 7))
    cfgs, _ = sizing.design_points("resnet50", Architecture(device="sonos"), space)
    return cfgs


def distinct_points(quick: bool) -> list[dict]:
    base = config_from_arch("resnet50", Architecture(device="sonos"))
    grid = itertools.product((128, 256, 512), (128, 256), (4, 8, 16, 32), (4, 6, 8, 10, 12), (6, 8))
    cfgs = [dict(base, rows=r, cols=c, arrays_per_tile=a, input_bits=i, weight_bits=w) for r, c, a, i, w in grid]
    return cfgs[::4] if quick else cfgs


def time_run(cfgs, name, out_root: Path, **kw) -> tuple[float, float, SweepRun]:
    """(wall seconds, CPU seconds of this process and its workers, run) of one sweep into a fresh folder."""
    s = Sweep(name=name, file=f"<{name}>", configs=tuple(cfgs))
    out = out_root / f"{name}_{kw.get('workers', 'dask')}_{len(os.listdir(out_root))}"
    # every run starts as a fresh ``archsim sweep`` process would: the process's memos emptied (prices, ADC laws,
    # leakage densities, device nodes, node scaling factors, accepted key values, built-in workloads and their
    # memoized views); numba's start-up for the compiled routes is paid once per process and timed apart
    cost_batch._PRICES.clear()
    prices_for.cache_clear()
    adc.adc_law.cache_clear()
    static.density.cache_clear()
    components.device_nodes.cache_clear()
    components._SCALED.clear()
    arch_model._ACCEPTED.clear()
    workloads._BUILT.clear()
    c0 = _cpu()
    t0 = time.perf_counter()
    run = run_sweep(s, out=out, progress=False, formats="csv", **kw)
    dt = time.perf_counter() - t0
    assert run.computed == len(cfgs), (run.computed, len(cfgs))
    return dt, _cpu() - c0, run


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (a pool's workers, once it is shut)."""
    import resource
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def flat_energy_per_op(cfgs) -> tuple[np.ndarray, dict]:
    wl = EvalCache().workload("resnet50")
    macs = wl.mvm_table()["macs"].to_numpy(dtype=float)
    e_op = {}
    for c in cfgs:
        d = c["device"]
        if d not in e_op:
            rec = techlib.device(d)
            e_op[d] = rec["lut.vmm.energy_per_op"] if rec.has("lut.vmm.energy_per_op") else 1e-14
    return macs, e_op


def numpy_flat_seconds(cfgs, macs, e_op) -> float:
    """Seconds for the flat estimate of every point in numpy: sum(MACs x energy/op) for each point's device."""
    t0 = time.perf_counter()
    out = [float((macs * e_op[c["device"]]).sum()) for c in cfgs]
    dt = time.perf_counter() - t0
    assert len(out) == len(cfgs)
    return dt


def api_per_point(cfgs, n: int) -> float:
    """Seconds per point of a naive loop: api.estimate with the workload rebuilt and mapped every time."""
    sample = cfgs[:: max(1, len(cfgs) // n)][:n]
    t0 = time.perf_counter()
    for c in sample:
        a = Architecture(**{k: c[k] for k in ARCH_KEYS})
        try:
            api.estimate(c["workload"], arch=a)
        except Exception:  # noqa: BLE001  (points that do not fit still cost their attempt)
            pass
    return (time.perf_counter() - t0) / len(sample)


def _row(name, cfgs, executor, workers, walls, cpus, flats) -> dict:
    n = len(cfgs)
    wall = float(np.median(walls))
    return dict(sweep=name, points=n, executor=executor, workers=workers, repeats=len(walls), seconds=wall,
                points_per_min=60 * n / wall, cpu_points_per_min=60 * n / float(np.median(cpus)) if cpus else np.nan,
                numpy_flat_points_per_min=60 * n / float(np.median(flats)),
                over_numpy_flat=float(np.median(np.array(walls) / np.array(flats))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer points and 3 pairs (a smoke run)")
    ap.add_argument("--repeat", type=int, default=None, help="pairs (run, numpy baseline) per row (default 7)")
    ap.add_argument("--dask", action="store_true", help="also a Dask local cluster of 2 workers (dask[distributed])")
    ap.add_argument("--no-dask", action="store_true", help=argparse.SUPPRESS)   # the default now
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="local worker counts (default 1 2)")
    ap.add_argument("--out", help="also write sweep_throughput.md there (e.g. reports/bench)")
    args = ap.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)

    try:
        load0 = os.getloadavg()[0]
    except (AttributeError, OSError):
        load0 = float("nan")
    scenarios = {"sizing": sizing_points(args.quick), "distinct": distinct_points(True)}
    c0 = _cpu()
    transport_kernel.warm()      # numba's start-up: once per process (each sweep's first compiled route)
    t_numba = _cpu() - c0
    cluster = None
    if args.dask:
        try:
            from distributed import LocalCluster
            t0 = time.perf_counter()
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None)
            t_cluster = time.perf_counter() - t0
        except ImportError:
            print("dask[distributed] is not installed: Dask rows skipped")
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        for name, cfgs in scenarios.items():
            macs, e_op = flat_energy_per_op(cfgs)
            numpy_flat_seconds(cfgs, macs, e_op)     # warm
            naive = api_per_point(cfgs, 40 if not args.quick else 10)
            flat_once = numpy_flat_seconds(cfgs, macs, e_op)
            rows.append(_row(name, cfgs, "api.estimate loop (no caches, no store)", 1, [naive * len(cfgs)], [],
                             [flat_once]))
            runs = []
            execs = [(f"workers={w}", dict(workers=w)) for w in args.workers]
            if cluster is not None:
                execs.append(("dask", dict(scheduler=cluster.scheduler_address)))
            for label, kw in execs:
                walls, cpus, flats = [], [], []
                for _ in range(repeat):
                    dt, cpu, run = time_run(cfgs, name, tmp, **kw)
                    walls.append(dt)
                    cpus.append(cpu if label != "dask" else np.nan)
                    flats.append(numpy_flat_seconds(cfgs, macs, e_op))
                runs.append(run)
                executor = "dask LocalCluster" if label == "dask" else run.executor
                rows.append(_row(name, cfgs, executor, kw.get("workers", 2), walls,
                                 cpus if label != "dask" else [], flats))
            for r in runs[1:]:
                pd.testing.assert_frame_equal(r.table, runs[0].table, check_exact=True)
    finally:
        if cluster is not None:
            cluster.close()
        shutil.rmtree(tmp, ignore_errors=True)

    df = pd.DataFrame(rows)
    cpus = default_workers()
    try:
        load = "load average before/after %.1f/%.1f (other jobs share the cores)" % (load0, os.getloadavg()[0])
    except (AttributeError, OSError):
        load = "load average unknown"
    head = (f"ResNet-50 design points through archsim sweep (store and CSV included) on {cpus} CPU core(s), "
            f"{load}; per-pair medians of {repeat} (run, numpy baseline) pairs; results identical bit for bit "
            f"across executors (checked)")
    print(head + "\n")
    print(report.to_text(df))
    numba_line = (f"Once per process, not in the timings: numba's start-up for the compiled routes, {t_numba:.2f} s of "
                  f"CPU (a pool loads it before forking its workers)")
    print("\n" + numba_line)
    if cluster is not None:
        print(f"Dask LocalCluster start-up (not in the timings): {t_cluster:.1f} s")
    sized = df[(df.sweep == "sizing") & ~df.executor.str.startswith("api")]
    best = sized["points_per_min"].max() if len(sized) else float("nan")
    best_cpu = sized["cpu_points_per_min"].max() if len(sized) else float("nan")
    ratio = sized["over_numpy_flat"].min() if len(sized) else float("nan")
    verdict = "meets" if best >= 100_000 else "misses"
    line = (f"Best sizing-sweep rate: {best:,.0f} points/min wall ({verdict} the 100,000/min target under this load), "
            f"{best_cpu:,.0f} per CPU-minute; {ratio:,.0f}x the numpy flat sum's time")
    print("\n" + line)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        p = out / "sweep_throughput.md"
        p.write_text(f"# Sweep throughput\n\nGenerated by `python benchmarks/bench_sweep.py`. {head}.\n\n"
                     f"{report.to_markdown(df)}\n\n{line}.\n\n{numba_line}.\n\n{report.OPS_NOTE}\n", encoding="utf-8")
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

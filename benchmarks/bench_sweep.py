"""Design points per second of ``archsim sweep`` on ResNet-50: in-process, a local pool, a Dask local cluster.

Two sweeps of ResNet-50 on SONOS, each run end to end through :func:`archsim.explore.run.run_sweep` (validation,
executor, one SQLite transaction per finished point, the CSV table) into a fresh folder:

* ``sizing``: the design space ``archsim size`` searches (rows = cols 64..1024, bits per cell 1..7, ADC 4-10 bits,
  columns per ADC 1-64, tile budgets 1x/2x/4x): 1,680 points, many sharing a mapping (the run's
  EvalCache reuses it; each run starts with a fresh one);
* ``distinct``: every point a different mapping (rows, cols, arrays per tile, input and weight bits): the
  worst case for the memo.

Baselines timed in the same run: ``api.estimate`` per point without the sweep's caches (what a naive loop
costs), and plain numpy computing the same points' flat ``MACs x energy/op`` sum (the simplest analytic
estimate).  Target: 10,000 ResNet-50 points per minute (167/s).

Run: ``python benchmarks/bench_sweep.py [--quick] [--no-dask] [--out reports/bench]``.
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

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsim.io import techlib  # noqa: E402
from archsim import Architecture, api  # noqa: E402
from archsim.report import tables as report  # noqa: E402
from archsim.explore import sizing  # noqa: E402
from archsim.explore.executors import default_workers  # noqa: E402
from archsim.explore.points import ARCH_KEYS, EvalCache, config_from_arch  # noqa: E402
from archsim.explore.run import SweepRun, run_sweep  # noqa: E402
from archsim.explore.spec import Sweep  # noqa: E402

TARGET_PER_S = 10_000 / 60


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


def time_run(cfgs, name, out_root: Path, **kw) -> tuple[float, SweepRun]:
    s = Sweep(name=name, file=f"<{name}>", configs=tuple(cfgs))
    out = out_root / f"{name}_{kw.get('workers', 'dask')}_{len(os.listdir(out_root))}"
    t0 = time.perf_counter()
    run = run_sweep(s, out=out, progress=False, formats="csv", **kw)
    dt = time.perf_counter() - t0
    assert run.computed == len(cfgs), (run.computed, len(cfgs))
    return dt, run


def numpy_flat_per_point(cfgs) -> float:
    """Seconds per point of the flat estimate in numpy: sum(MACs x energy/op) for each point's device."""
    wl = EvalCache().workload("resnet50")
    macs = wl.mvm_table()["macs"].to_numpy(dtype=float)
    e_op = {}
    for c in cfgs:
        d = c["device"]
        if d not in e_op:
            rec = techlib.device(d)
            e_op[d] = rec["lut.vmm.energy_per_op"] if rec.has("lut.vmm.energy_per_op") else 1e-14
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        out = [float((macs * e_op[c["device"]]).sum()) for c in cfgs]
        best = min(best, time.perf_counter() - t0)
    assert len(out) == len(cfgs)
    return best / len(cfgs)


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer points (a smoke run)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask local cluster")
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="local worker counts (default 1 2)")
    ap.add_argument("--out", help="also write sweep_throughput.md there (e.g. reports/bench)")
    args = ap.parse_args(argv)

    try:
        load0 = os.getloadavg()[0]
    except (AttributeError, OSError):
        load0 = float("nan")
    scenarios = {"sizing": sizing_points(args.quick), "distinct": distinct_points(args.quick)}
    cluster = None
    if not args.no_dask:
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
            flat = numpy_flat_per_point(cfgs)
            naive = api_per_point(cfgs, 40 if not args.quick else 10)
            rows.append(dict(sweep=name, points=len(cfgs), executor="api.estimate loop (no caches, no store)",
                             workers=1, seconds=naive * len(cfgs), points_per_s=1 / naive,
                             points_per_min=60 / naive, over_numpy_flat=naive / flat))
            runs = []
            for w in args.workers:
                dt, run = time_run(cfgs, name, tmp, workers=w)
                runs.append(run)
                rows.append(dict(sweep=name, points=len(cfgs), executor=run.executor, workers=w, seconds=dt,
                                 points_per_s=len(cfgs) / dt, points_per_min=60 * len(cfgs) / dt,
                                 over_numpy_flat=(dt / len(cfgs)) / flat))
            if cluster is not None:
                dt, run = time_run(cfgs, name, tmp, scheduler=cluster.scheduler_address)
                runs.append(run)
                rows.append(dict(sweep=name, points=len(cfgs), executor="dask LocalCluster", workers=2, seconds=dt,
                                 points_per_s=len(cfgs) / dt, points_per_min=60 * len(cfgs) / dt,
                                 over_numpy_flat=(dt / len(cfgs)) / flat))
            for r in runs[1:]:
                pd.testing.assert_frame_equal(r.table, runs[0].table, check_exact=True)
            rows.append(dict(sweep=name, points=len(cfgs), executor="numpy flat MACs x energy/op", workers=1,
                             seconds=flat * len(cfgs), points_per_s=1 / flat, points_per_min=60 / flat,
                             over_numpy_flat=1.0))
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
            f"{load}; results identical bit for bit across executors (checked)")
    print(head + "\n")
    print(report.to_text(df))
    if cluster is not None:
        print(f"\nDask LocalCluster start-up (not in the timings): {t_cluster:.1f} s")
    sized = df[(df.sweep == "sizing") & ~df.executor.str.startswith(("api", "numpy"))]
    best = sized["points_per_min"].max() if len(sized) else float("nan")
    verdict = "meets" if best >= 10_000 else "misses"
    line = f"Best sizing-sweep rate: {best:,.0f} points/min ({verdict} the 10,000/min target)"
    print("\n" + line)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        p = out / "sweep_throughput.md"
        p.write_text(f"# Sweep throughput\n\nGenerated by `python benchmarks/bench_sweep.py`. {head}.\n\n"
                     f"{report.to_markdown(df)}\n\n{line}.\n\n{report.OPS_NOTE}\n", encoding="utf-8")
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

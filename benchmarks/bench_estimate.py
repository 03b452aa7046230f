"""Time an estimate (map + price) for every built-in workload, and what ``archsim estimate`` computes.

Columns (milliseconds, per-pair medians over ``--repeat`` pairs, default 7: each timed run is paired with the
numpy baselines timed right after it, so the ratios hold under load):
  * ``api_ms``: ``api.estimate(name, arch=...)``, what ``archsim estimate --workload <name>`` computes: the
    network built, mapped, its events counted and priced (chip totals; the per-layer table is built only when
    read);
  * ``estimate_ms``: the same on a network already built (``api.estimate(workload)``);
  * ``*_cpu_ms``: the CPU time of one such call (this process), what a quiet machine's clock shows;
  * ``table_ms``: ``estimate_ms`` plus reading the per-layer table and printing the totals as text;
  * baselines in plain numpy: ``numpy_flat``, the simplest analytic estimate (MACs x energy/op summed over
    a layer array), and ``numpy_forward``, one digital inference of the network (im2col + matmul per
    weighted layer, random weights, batch 1): what it costs to *run* the net once on this CPU.
Run: ``python benchmarks/bench_estimate.py [--repeat N] [--workloads resnet50,...]``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import workloads  # noqa: E402
from archsim import Architecture, api  # noqa: E402
from archsim.report import tables as report  # noqa: E402


def timed(fn, inner: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def cpu_timed(fn) -> float:
    """CPU seconds of one call (this process): what a quiet machine's clock would show for one-threaded code."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def estimate_with_table(wl, a):
    est = api.estimate(wl, arch=a)
    est.layers  # noqa: B018  (the per-layer table, built when read)
    report.to_text(report.display_frame(est.totals()))
    return est


def numpy_flat(macs: np.ndarray, e_op: float) -> float:
    return float((macs * e_op).sum())


def numpy_forward(wl, rng):
    """One batch-1 inference of the weighted layers (shapes from the workload, random weights)."""
    mats = []
    for l in wl.weighted_layers():
        mats.append((rng.standard_normal((l.vectors, l.K * l.groups), dtype=np.float32),
                     rng.standard_normal((l.K * l.groups, l.N // l.groups if l.groups > 1 else l.N), dtype=np.float32)))

    def run():
        for x, w in mats:
            x @ w
    return run


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7, help="pairs (timed run, numpy baselines) per figure (default 7)")
    ap.add_argument("--workloads", help="comma-separated built-in names (default: every one)")
    args = ap.parse_args(argv)
    a = Architecture(device="sonos")
    rng = np.random.default_rng(0)
    names = args.workloads.split(",") if args.workloads else workloads.names()
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for name in names:
        wl = workloads.get(name)
        macs = wl.mvm_table()["macs"].to_numpy(dtype=float)
        fwd = numpy_forward(wl, rng)
        estimate_with_table(wl, a)          # warm caches (techlib files) once
        api.estimate(name, arch=a)
        pairs = []
        for _ in range(args.repeat):
            t_api = timed(lambda: api.estimate(name, arch=a))
            c_api = cpu_timed(lambda: api.estimate(name, arch=a))
            t_est = timed(lambda: api.estimate(wl, arch=a))
            c_est = cpu_timed(lambda: api.estimate(wl, arch=a))
            t_tab = timed(lambda: estimate_with_table(wl, a))
            t_flat = timed(lambda: numpy_flat(macs, 13.7e-15), 200)
            t_fwd = timed(fwd)
            pairs.append((t_api, t_est, t_tab, t_flat, t_fwd, c_api, c_est))
        P = np.array(pairs)
        med = np.median(P, axis=0) * 1e3
        rows.append(dict(workload=name, weighted_layers=len(wl.weighted_layers()), api_ms=med[0], api_cpu_ms=med[5],
                         estimate_ms=med[1], estimate_cpu_ms=med[6], table_ms=med[2], numpy_flat_ms=med[3],
                         numpy_forward_ms=med[4],
                         api_over_flat=float(np.median(P[:, 0] / P[:, 3])),
                         api_over_forward=float(np.median(P[:, 0] / P[:, 4]))))
    import pandas as pd
    df = pd.DataFrame(rows)
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"per-pair medians of {args.repeat} pairs; load average before/after {load0:.1f}/{load1:.1f}\n")
    print(report.to_text(df))
    if "resnet50" in set(df.workload):
        r = df.set_index("workload").loc["resnet50"]
        print(f"\nResNet-50: archsim estimate (api.estimate by name) {r.api_ms:.1f} ms ({r.api_cpu_ms:.1f} ms of CPU), "
              f"on a built network {r.estimate_ms:.1f} ms ({r.estimate_cpu_ms:.1f} ms of CPU; target <= 5 ms); "
              f"{r.api_over_forward:.2f}x one numpy inference")


if __name__ == "__main__":
    main()

"""Time a full estimate (mapping + cost + report table) for every built-in workload.

Baselines timed in the same run, in plain numpy:
  * ``numpy_flat``: the simplest analytic estimate, MACs x energy/op summed over a layer array;
  * ``numpy_forward``: one digital inference of the network (im2col + matmul per weighted layer,
    random weights, batch 1): what it costs to *run* the net once on this CPU.
Run: ``python benchmarks/bench_estimate.py [--repeat N]``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import workloads  # noqa: E402
from archsim import Architecture  # noqa: E402
from archsim.cost import price as cost  # noqa: E402
from archsim.mapping import layout as mapping  # noqa: E402
from archsim.report import tables as report  # noqa: E402


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def full_estimate(wl, a):
    est = cost.evaluate(mapping.map_workload(wl, a))
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
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    a = Architecture(device="sonos")
    rng = np.random.default_rng(0)
    rows = []
    for name in workloads.names():
        wl = workloads.get(name)
        t_build = best_of(lambda: workloads.get(name), args.repeat)
        full_estimate(wl, a)  # warm caches (techlib files) once
        t_est = best_of(lambda: full_estimate(wl, a), args.repeat)
        macs = wl.mvm_table()["macs"].to_numpy(dtype=float)
        t_flat = best_of(lambda: numpy_flat(macs, 13.7e-15), args.repeat)
        t_fwd = best_of(numpy_forward(wl, rng), max(1, min(args.repeat, 3)))
        rows.append(dict(workload=name, weighted_layers=len(wl.weighted_layers()),
                         build_ms=t_build * 1e3, estimate_ms=t_est * 1e3, numpy_flat_ms=t_flat * 1e3,
                         estimate_over_flat=t_est / t_flat, numpy_forward_ms=t_fwd * 1e3,
                         estimate_over_forward=t_est / t_fwd))
    import pandas as pd
    df = pd.DataFrame(rows)
    print(report.to_text(df))
    r50 = df.set_index("workload").loc["resnet50", "estimate_ms"] if "resnet50" in set(df.workload) else float("nan")
    print(f"\nResNet-50 full estimate: {r50:.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    main()

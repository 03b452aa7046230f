"""Crossbar circuit solver timing, beside plain numpy in the same run.

For square arrays of 64, 128 and 256: the time to compute the effective matrix (one solve of the
nodal system for all input directions), the same via a general sparse LU (scipy splu, the textbook
way), and MVM throughput at batch 1000 with IR drop on (effective matrix x inputs) against plain numpy
``W @ X`` with the ideal matrix.  With ngspice installed, also one SPICE operating point for scale.
    python benchmarks/bench_circuit.py [--sizes 64,128,256] [--repeat 3]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse.linalg as spla

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsim.sim import crossbar as cb  # noqa: E402
from archsim.report import tables as report  # noqa: E402


def best(fn, repeat):
    t = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def splu_effective(g, par):
    Y, B, S = cb.nodal_system(g, par)
    lu = spla.splu(Y)
    return (S @ lu.solve(B.toarray()))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,128,256")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    par = cb.Parasitics(1.0, 100.0, 100.0)
    rng = np.random.default_rng(0)
    rows = []
    for n in [int(s) for s in a.sizes.split(",")]:
        g = rng.uniform(1 / 3e6, 1 / 2e3, (n, n))
        X = rng.uniform(0, 0.2, (n, 1000))
        t_solve = best(lambda: cb.effective_matrix(g, par), a.repeat)
        t_splu = best(lambda: splu_effective(g, par), 1) if n <= 128 else float("nan")
        G = cb.effective_matrix(g, par)
        Wt = g.T.copy()
        t_np = best(lambda: Wt @ X, a.repeat * 5)
        t_ir = best(lambda: G @ X, a.repeat * 5)
        t_spice = float("nan")
        if shutil.which("ngspice") and n <= 64:
            t0 = time.perf_counter()
            cb.spice_currents(g, par, X[:, 0])
            t_spice = time.perf_counter() - t0
        rows.append(dict(size=n, solve_ms=t_solve * 1e3, sparse_lu_ms=t_splu * 1e3, spice_one_vector_ms=t_spice * 1e3,
                         numpy_mvm_ms=t_np * 1e3, ir_drop_mvm_ms=t_ir * 1e3, mvm_ratio=t_ir / t_np))
    print(report.to_text(pd.DataFrame(rows)))
    print("\nsolve: block elimination down the rows (archsim.sim.crossbar.effective_matrix); sparse_lu: scipy splu with all "
          "inputs as right-hand sides; MVM at batch 1000, IR drop on = effective matrix @ inputs vs numpy W @ X. "
          "Targets: 128x128 solve < 50 ms; IR-drop MVM <= 2x numpy.")


if __name__ == "__main__":
    main()

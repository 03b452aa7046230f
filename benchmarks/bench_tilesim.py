"""Time the Monte Carlo tile simulator beside plain numpy ``X @ W`` in the same run.

    python benchmarks/bench_tilesim.py [--repeat 15] [--batch 1000] [--quick]

Matrices of 128 x 128 and 1024 x 1024 (the latter as 64 pairs of 128 x 128 arrays), a batch of 1000
input vectors:

(a) programming error + 8-bit ADC (calibrated ranges), no read noise;
(b) the same plus fresh per-cell read noise on every MVM (the fast path: one float32 variance product
    and one normal per vector, column, conversion and array).

Like-for-like configuration (targets: (a) <= 1.5x and (b) <= 3x numpy): SONOS, 7 bits per cell so an
8-bit differential weight is one slice, dac_bits = input_bits = 8 (one pulse per vector),
differential_readout analog (the pair's currents subtracted before one conversion), so the arrays do
exactly the multiply-adds of ``X @ W`` and every extra cost is the simulator's.  Both sides compute
in float64 (numpy's default and the simulator's default precision).  The bit-serial configuration
(1-bit pulses, 8 pulses, each array of the pair converted on its own) and float32 on both sides are
reported for information (without --quick).

Two thread environments, each in its own process (the settings must be made before numpy and numba
load their thread pools):

- ``default``: the environment as found; the simulator's Numba kernels run serially (the default,
  ``SimConfig(parallel=False)``) while numpy's BLAS uses its threads.
- ``tuned``: ``OMP_WAIT_POLICY=PASSIVE`` and ``OPENBLAS_THREAD_TIMEOUT=4`` (neither the OpenMP
  threads of Numba's kernels nor OpenBLAS's threads spin after their work, so the two pools do not
  steal each other's cores) and ``SimConfig(parallel=True)``.  The numpy baseline runs in the same
  environment.  Without these two settings, ``parallel=True`` is several times slower on a 2-core
  machine.

Times are the best of ``--repeat`` runs, simulator and numpy interleaved so that machine noise hits
both alike; programming and first-call (JIT compile or cache load) times are reported apart and
excluded from the MVM time.

(c) a LeNet-5 MNIST test-set pass with 10 trials (``part_c_lenet_mnist``), run after the two
environments, beside the exact numpy forward pass run 10 times.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from archsim.model.device import load_device

TUNED_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "4"}

FAIR = dict(device="sonos", rows=128, cols=128, weight_bits=8, bits_per_cell=7, input_bits=8, dac_bits=8,
            adc_bits=8, mapping="differential", differential_readout="analog")
BIT_SERIAL = dict(FAIR, dac_bits=1, differential_readout="digital")


def best_of(fns: dict, repeat: int) -> dict:
    """Best time (s) of each callable, runs interleaved so that machine noise hits all alike."""
    best = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def run_case(n: int, arch_kw: dict, batch: int, repeat: int, precision: str = "float64",
             parallel: bool = False, seed: int = 0):
    import numpy as np

    from archsim.io import techlib
    from archsim import Architecture
    from archsim.sim import tilesim

    a = Architecture(**arch_kw)
    dev = load_device(a.device)
    rng = np.random.default_rng(seed)
    dt = np.dtype(precision)
    W = rng.standard_normal((n, n)).astype(dt)
    X = rng.random((batch, n)).astype(dt)
    lm = tilesim.layer_map(n, n, a, dev)
    rows = []
    for label, noise in (("(a) prog. error + ADC", False), ("(b) + read noise", True)):
        cfg = tilesim.SimConfig(read_noise=noise, precision=precision, parallel=parallel)
        t0 = time.perf_counter()
        pm = tilesim.ProgrammedMatrix.program(W, lm, a, dev, cfg, seed=seed).calibrate(X[:100])
        t_prog = time.perf_counter() - t0
        t0 = time.perf_counter()
        pm.matmul(X[:2], key=(0,))
        t_first = time.perf_counter() - t0
        counter = iter(range(1, 1 << 30))
        best = best_of({"sim": lambda: pm.matmul(X, key=(next(counter),)), "numpy": lambda: X @ W}, repeat)
        Y = pm.matmul(X, key=(0,))
        E = X.astype(np.float64) @ W.astype(np.float64)
        rel = float(np.sqrt(np.mean((Y - E) ** 2) / np.mean(E ** 2)))
        rows.append(dict(size=f"{n}x{n}", arrays=lm.arrays, case=label, sim_ms=best["sim"] * 1e3,
                         numpy_ms=best["numpy"] * 1e3, ratio=best["sim"] / best["numpy"],
                         program_ms=t_prog * 1e3, first_call_ms=t_first * 1e3, rel_rms_err=rel))
    return rows


def describe(kw: dict) -> str:
    from archsim import Architecture

    a = Architecture(**kw)
    return (f"device {a.device}, arrays {a.rows}x{a.cols}, weight_bits {a.weight_bits}, bits_per_cell "
            f"{a.bits_per_cell}, {a.mapping} pair read {a.differential_readout}, input_bits {a.input_bits}, "
            f"dac_bits {a.dac_bits} ({a.input_pulses} pulse{'s' if a.input_pulses > 1 else ''}), "
            f"adc_bits {a.adc_bits} (calibrated range)")


def table(rows: list[dict]) -> str:
    head = (f"{'size':>9} {'arrays':>6}  {'case':<22} {'sim ms':>8} {'numpy ms':>9} {'ratio':>6}  "
            f"{'program ms':>10} {'1st call ms':>11} {'rel. RMS err':>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['size']:>9} {r['arrays']:>6}  {r['case']:<22} {r['sim_ms']:>8.2f} {r['numpy_ms']:>9.2f} "
                     f"{r['ratio']:>5.2f}x  {r['program_ms']:>10.1f} {r['first_call_ms']:>11.1f} "
                     f"{r['rel_rms_err']:>12.4f}")
    return "\n".join(lines)


def part_c_lenet_mnist(trials: int = 10):
    """Part (c): LeNet-5 on the 10,000 MNIST test images, ``trials`` programmed chips (SONOS,
    the like-for-like configuration above, read noise on), against 30 s; beside the exact numpy forward
    pass run ``trials`` times in the same process.  Needs the MNIST cache (python -m archsim.io.data fetch mnist)."""
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    import time

    import workloads
    from archsim import Architecture, map_workload
    from archsim.sim import accuracy
    from archsim.io import data
    from archsim.sim import forward
    from archsim.sim.tilesim import SimConfig

    wl = workloads.get("lenet5", weights=True)
    x, y = data.for_workload(wl, "test")
    a = Architecture(**FAIR)
    t0 = time.perf_counter()
    r = accuracy.simulate(map_workload(wl, a), x, y, trials=trials, seed=0, cfg=SimConfig(parallel=False), calib=128)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(trials):
        forward.run(wl, x)
    t_np = time.perf_counter() - t0
    return (f"{t_sim:.1f} s for {trials} trials x {len(x)} images (target < 30 s); exact numpy forward x {trials}: "
            f"{t_np:.1f} s; ratio {t_sim / t_np:.1f}x; accuracy {r.mean:.4f} +- {r.std:.4f} "
            f"(float {r.reference:.4f})")


def run_env(env_name: str, args) -> None:
    """The tables of one thread environment (this process was started with it)."""
    import numba
    import numpy as np

    parallel = env_name == "tuned"
    settings = ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in TUNED_ENV)
    print(f"\n=== environment '{env_name}': {settings}; SimConfig(parallel={parallel}); numpy {np.__version__}, "
          f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), batch {args.batch}, "
          f"best of {args.repeat}")
    print(f"Like-for-like, float64 (targets: (a) <= 1.5x, (b) <= 3x numpy): {describe(FAIR)}")
    print(table([r for n in (128, 1024) for r in run_case(n, FAIR, args.batch, args.repeat, parallel=parallel)]))
    if not args.quick:
        print(f"For information, float32 on both sides: {describe(FAIR)}")
        print(table([r for n in (128, 1024)
                     for r in run_case(n, FAIR, args.batch, args.repeat, "float32", parallel=parallel)]))
        print(f"For information, bit serial, float64: {describe(BIT_SERIAL)}")
        print(table([r for n in (128, 1024)
                     for r in run_case(n, BIT_SERIAL, args.batch, args.repeat, parallel=parallel)]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="only the like-for-like float64 tables")
    ap.add_argument("--env", choices=("default", "tuned", "both"), default="both",
                    help="thread environment(s) to time; 'both' runs each in its own process")
    args = ap.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    if args.env == "both":
        for name in ("default", "tuned"):
            env = dict(os.environ)
            if name == "tuned":
                env.update(TUNED_ENV)
            cmd = [sys.executable, __file__, "--env", name, "--repeat", str(args.repeat), "--batch", str(args.batch)]
            if args.quick:
                cmd.append("--quick")
            subprocess.run(cmd, env=env, check=True)
    else:
        sys.path.insert(0, str(root))
        run_env(args.env, args)
    if args.env == "both":
        c = part_c_lenet_mnist()
        print("\n(c) LeNet-5 MNIST, 10 trials: " + ("not run yet (hook: part_c_lenet_mnist)" if c is None else str(c)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

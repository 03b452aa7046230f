"""Time the network path users run (``archsim accuracy``) beside numpy baselines in the same run.

    python benchmarks/bench_network.py [--images 10000] [--trials 10] [--repeat 7] [--workloads lenet5,mnist_cnn3]
    python benchmarks/bench_network.py --workloads lenet5:1000:1,mnist_cnn3:500:1   # what README reports
    python benchmarks/bench_network.py --workloads lenet5:10000:10 --configs default --timings sim,pulse,float

Per workload (LeNet-5 with its trained weights on the MNIST test images; ``mnist_cnn3`` with seeded
random weights, fidelity) and configuration:

- ``default``: ``Architecture(device="sonos")`` as the README's command runs it: 8 one-bit DAC pulses,
  each array of the differential pair converted on its own, read noise, calibrated 8-bit ADCs;
- ``1pulse-analog``: ``dac_bits=8`` (one pulse) and ``differential_readout=analog``;
- ``1pulse-reram`` (only when named in ``--configs``): the same on ReRAM, which has no read noise, so no
  variance product: what one pulse costs where exact noise does not need a second product.

Four timings, interleaved in every repeat so that machine noise hits all alike:

- ``sim``: :func:`archsim.sim.accuracy.simulate` (``trials`` chips; calibration, the exact reference
  pass and the per-layer sample included: the whole command);
- ``pass``: ``trials`` scored passes (:func:`archsim.sim.accuracy.scored_pass`, on the simulator's threads)
  of the images through chips already programmed and calibrated (the scored pass alone: what the whole command costs per image once the images outnumber the
  128 calibration images, e.g. 10,000 images x 10 chips; the chips are built outside the timing);
- ``pulse numpy``: ``trials`` float32 forward passes whose matmul hook performs the same matrix
  products as the hardware: per layer, group and row block, one ``(pulses x rows, K_block) @ (K_block,
  N)`` product per weight slice and array of the pair (pulse planes stacked as rows, a plain copy
  of the inputs), numpy's BLAS with its threads;
- ``float numpy``: ``trials`` plain float32 forward passes (:func:`archsim.sim.forward.run`);
- ``floor numpy`` (configurations with read noise): ``trials`` float32 forward passes whose matmul hook
  also computes the read-noise variance product ``(cols * cols) @ S`` (``S`` of the weight matrix's
  shape, ``W * W`` here: the values do not change the time), the least any simulator must compute to
  draw exact per-read noise when the input codes are not all 0 or 1 (one pulse of an 8-bit DAC): the
  variance of output ``j`` is ``sum_i v_i^2 sigma_ij^2``, and ``sigma`` depends on the conductance for
  SONOS and PCM, so the sum is a second matrix product as large as the forward one.

``--one-thread`` runs the simulator on one thread (``SimConfig(threads=1)``) and holds BLAS to one thread in
every timing (numpy baselines included): the fair comparison of work done; without it each side uses its
threads (the simulator splits the images over the usable cores, numpy's BLAS its own threads).

``--clock cpu`` times this process's CPU time instead of the wall clock (with ``--one-thread``: the work done,
whatever else the machine runs).

``--timings`` picks which of ``sim,pass,pulse,float,floor`` run (default all; at 10,000 images x 10
chips ``pass`` repeats most of ``sim`` and can be left out).

Reported: per-pair medians over ``repeat`` repeats of sim / pulse numpy, sim / float numpy, pass / pulse
numpy and pass / float numpy (not the fastest run); seconds of the chosen clock, with the load average printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONFIGS = {"default": dict(device="sonos"),
           "1pulse-analog": dict(device="sonos", dac_bits=8, differential_readout="analog"),
           # not timed by default: one pulse on a device without read noise (no variance product to compute)
           "1pulse-reram": dict(device="reram", dac_bits=8, differential_readout="analog")}
DEFAULT_CONFIGS = ("default", "1pulse-analog")


def load(name: str, images: int):
    import numpy as np

    import workloads
    from archsim.io import data
    from archsim.model.weights import random_weights

    if workloads.weights_path(name).exists():
        wl = workloads.get(name, weights=True)
        x, y = data.for_workload(wl, "test", limit=images)
        return wl, x, y
    wl = random_weights(workloads.get(name), seed=0)
    x, _ = data.for_workload(wl, "test", limit=images)
    return wl, np.asarray(x), None


def pulse_hook(m):
    """Forward-pass hook doing the pulse-level products of the mapping's arrays, in plain numpy."""
    import numpy as np

    from archsim.model.weights import weight_matrix

    arch = m.arch
    lms = {lm.layer: lm for lm in m.layers}
    pulses = arch.input_pulses if arch.input_accumulation == "digital" else 1
    mats: dict = {}

    def hook(layer, cols, group):
        lm = lms[layer.name]
        units = lm.slices * lm.conversions      # arrays read per slice: 2 for a digital pair, 1 analog
        if layer.name not in mats:
            W = weight_matrix(layer, np.float32)
            mats[layer.name] = [[np.ascontiguousarray(W[g]) for _ in range(units)] for g in range(W.shape[0])]
        rows, K = cols.shape
        planes = np.empty((K, pulses, rows), np.float32)
        planes[:] = cols.T[:, None, :]
        P = planes.reshape(K, pulses * rows).T
        out = None
        for r0 in range(0, K, arch.rows):
            r1 = min(K, r0 + arch.rows)
            for Wu in mats[layer.name][group]:
                y = P[:, r0:r1] @ Wu[r0:r1]
                out = y[:rows] if out is None else out + y[:rows]
        return out / units
    return hook


def floor_hook():
    """Forward-pass hook doing the float product and the read-noise variance product of the same shape,
    both in the layout the float pass uses (see :func:`archsim.sim.forward._exact`)."""
    import numpy as np

    from archsim.model.weights import weight_matrix

    mats: dict = {}

    def hook(layer, cols, group):
        if layer.name not in mats:
            W = weight_matrix(layer, np.float32)
            mats[layer.name] = [(np.ascontiguousarray(W[g].T), np.ascontiguousarray((W[g] * W[g]).T))
                                for g in range(W.shape[0])]
        WT, ST = mats[layer.name][group]
        c2 = np.square(cols)                      # keeps im2col's column-major layout
        if cols.flags.f_contiguous and not cols.flags.c_contiguous and cols.shape[0] >= 4 * WT.shape[0]:
            y, v = (WT @ cols.T).T, (ST @ c2.T).T
        else:
            y, v = cols @ WT.T, c2 @ ST.T
        hook.sink += float(v[0, 0]) if v.size else 0.0      # the variance product is used, not optimized away
        return y
    hook.sink = 0.0
    return hook


def calibrated_chips(m, x, trials: int, seed: int = 0, cfg=None) -> list:
    """The ``trials`` chips :func:`~archsim.sim.accuracy.simulate` builds, programmed and calibrated on the
    first 128 images as it does, ready for the scored pass (the simulator's own per-trial hook)."""
    from archsim.model.device import load_device
    from archsim.sim import accuracy, forward
    from archsim.sim.tilesim import SimConfig

    chips = []
    n_cal = min(128, len(x))
    for t in range(trials):
        chip = accuracy._Chip(m, load_device(m.arch.device), cfg or SimConfig(), seed, t)
        forward.run(m.workload, x[:n_cal], matmul=chip, chunk=n_cal)
        chip.phase = accuracy.TEST_PASS
        chips.append(chip)
    return chips


TIMINGS = ("sim", "pass", "pulse", "float", "floor")
#: the clock every timing reads (``--clock``): wall clock, or this process's CPU time
CLOCK = [time.perf_counter]


def bench(name: str, cfg_name: str, images: int, trials: int, repeat: int, timings=TIMINGS, one_thread=False) -> dict:
    import contextlib

    from archsim import Architecture, map_workload
    from archsim.sim import accuracy, forward
    from archsim.sim.tilesim import SimConfig
    from archsim.sim.tilesim.support import blas_single_thread, matmul_threads

    with blas_single_thread() if one_thread else contextlib.nullcontext():
        return _bench(name, cfg_name, images, trials, repeat, timings, SimConfig(threads=1 if one_thread else 0),
                      Architecture, map_workload, accuracy, forward, matmul_threads)


def _bench(name, cfg_name, images, trials, repeat, timings, cfg, Architecture, map_workload, accuracy, forward,
           matmul_threads) -> dict:
    wl, x, y = load(name, images)
    m = map_workload(wl, Architecture(**CONFIGS[cfg_name]))
    accuracy.simulate(m, x[:64], None if y is None else y[:64], trials=1, cfg=cfg)   # compile / load kernels
    step = accuracy._chunk(wl, None)
    hook = pulse_hook(m)
    fhook = floor_hook()
    res = {k: [] for k in timings}
    r = None
    for _ in range(repeat):
        if "sim" in res:
            t0 = CLOCK[0]()
            r = accuracy.simulate(m, x, y, trials=trials, seed=0, cfg=cfg)
            res["sim"].append(CLOCK[0]() - t0)
        if "pass" in res:
            chips = calibrated_chips(m, x, trials, cfg=cfg)
            t0 = CLOCK[0]()
            for chip in chips:
                accuracy.scored_pass(chip, wl, x, step, matmul_threads(cfg))
            res["pass"].append(CLOCK[0]() - t0)
            del chips
        if "pulse" in res:
            t0 = CLOCK[0]()
            for _ in range(trials):
                forward.run(wl, x, matmul=hook)
            res["pulse"].append(CLOCK[0]() - t0)
        if "float" in res:
            t0 = CLOCK[0]()
            for _ in range(trials):
                forward.run(wl, x)
            res["float"].append(CLOCK[0]() - t0)
        if "floor" in res:
            t0 = CLOCK[0]()
            for _ in range(trials):
                forward.run(wl, x, matmul=fhook)
            res["floor"].append(CLOCK[0]() - t0)
    nan = float("nan")

    def ratio(a, k):
        return statistics.median(s / b for s, b in zip(res[a], res[k])) if a in res and k in res else nan

    def med(k):
        return statistics.median(res[k]) if k in res else nan
    if r is None:
        r = accuracy.simulate(m, x[:256], None if y is None else y[:256], trials=1, seed=0, cfg=cfg)
    return dict(workload=name, config=cfg_name, sim_s=med("sim"), pass_s=med("pass"), pulse_s=med("pulse"),
                float_s=med("float"), floor_s=med("floor"),
                vs_pulse=ratio("sim", "pulse"), vs_float=ratio("sim", "float"),
                pass_pulse=ratio("pass", "pulse"), pass_float=ratio("pass", "float"),
                pass_floor=ratio("pass", "floor"), floor_float=ratio("floor", "float"),
                metric=r.metric, mean=r.mean, std=r.std, reference=r.reference)


def main(argv=None) -> int:
    import numba
    import numpy as np

    from archsim.sim.tilesim import SimConfig
    from archsim.sim.tilesim.support import matmul_threads

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=10000, help="images per workload (default 10000)")
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--workloads", default="lenet5,mnist_cnn3",
                    help="comma-separated; NAME:IMAGES:TRIALS overrides the sizes for one workload")
    ap.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help="of " + ",".join(CONFIGS))
    ap.add_argument("--timings", default=",".join(TIMINGS), help="which of " + ",".join(TIMINGS) + " to time")
    ap.add_argument("--one-thread", action="store_true",
                    help="the simulator on one thread (SimConfig(threads=1)) and BLAS held to one thread everywhere")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time by the wall clock (default) or by this process's CPU time: with --one-thread on a "
                         "machine busy with other jobs, CPU time is the work done, where the wall clock also counts "
                         "the time the process waited for a core")
    a = ap.parse_args(argv)
    CLOCK[0] = time.process_time if a.clock == "cpu" else time.perf_counter
    timings = tuple(t for t in a.timings.split(",") if t)
    bad = [t for t in timings if t not in TIMINGS] + [c for c in a.configs.split(",") if c not in CONFIGS]
    if bad:
        ap.error(f"unknown timings/configs {bad}; allowed timings {','.join(TIMINGS)}, configs {','.join(CONFIGS)}")
    sim_threads = 1 if a.one_thread else matmul_threads(SimConfig())
    print(f"numpy {np.__version__}, numba {numba.__version__}; simulator threads {sim_threads}, BLAS "
          f"{'1 thread' if a.one_thread else 'its own threads'}; "
          f"{a.clock} clock; per-pair medians over {a.repeat} repeats; load average before {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    head = (f"{'workload':<11} {'images':>6} {'trials':>6} {'config':<14} {'sim s':>7} {'pass s':>7} {'pulse np s':>10} "
            f"{'float np s':>10} {'floor np s':>10} {'sim/pulse':>9} {'sim/float':>9} {'pass/pulse':>10} {'pass/float':>10} "
            f"{'pass/floor':>10} {'floor/float':>11}  result")
    print(head)
    print("-" * len(head))
    for spec in a.workloads.split(","):
        name, *sizes = spec.split(":")
        images = int(sizes[0]) if sizes else a.images
        trials = int(sizes[1]) if len(sizes) > 1 else a.trials
        for c in a.configs.split(","):
            r = bench(name, c, images, trials, a.repeat, timings, a.one_thread)
            print(f"{r['workload']:<11} {images:>6} {trials:>6} {r['config']:<14} {r['sim_s']:>7.2f} {r['pass_s']:>7.2f} "
                  f"{r['pulse_s']:>10.2f} {r['float_s']:>10.2f} {r['floor_s']:>10.2f} {r['vs_pulse']:>8.2f}x "
                  f"{r['vs_float']:>8.2f}x {r['pass_pulse']:>9.2f}x {r['pass_float']:>9.2f}x {r['pass_floor']:>9.2f}x "
                  f"{r['floor_float']:>10.2f}x  {r['metric']} {r['mean']:.4f} +- {r['std']:.4f} "
                  f"(float {r['reference']:.4f})", flush=True)
    print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

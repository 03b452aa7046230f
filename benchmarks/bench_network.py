"""Time the network path users run (``archsim accuracy``) beside numpy baselines in the same run.

    python benchmarks/bench_network.py [--images 10000] [--trials 10] [--repeat 7] [--workloads lenet5,mnist_cnn3]
    python benchmarks/bench_network.py --workloads lenet5:2000:2,mnist_cnn3:300:1   # what README reports

Per workload (LeNet-5 with its trained weights on the MNIST test images; ``mnist_cnn3`` with seeded
random weights, fidelity) and configuration:

- ``default``: ``Architecture(device="sonos")`` as the README's command runs it: 8 one-bit DAC pulses,
  each array of the differential pair converted on its own, read noise, calibrated 8-bit ADCs;
- ``1pulse-analog``: ``dac_bits=8`` (one pulse) and ``differential_readout=analog``.

Four timings, interleaved in every repeat so that machine noise hits all alike:

- ``sim``: :func:`archsim.sim.accuracy.simulate` (``trials`` chips; calibration, the exact reference
  pass and the per-layer sample included: the whole command);
- ``pass``: ``trials`` forward passes of the images through chips already programmed and calibrated
  (the scored pass alone: what the whole command costs per image once the images outnumber the
  128 calibration images, e.g. the 10,000 x 10 of issue 13; the chips are built outside the timing);
- ``pulse numpy``: ``trials`` float32 forward passes whose matmul hook performs the same matrix
  products as the hardware: per layer, group and row block, one ``(pulses x rows, K_block) @ (K_block,
  N)`` product per weight slice and array of the pair (pulse planes stacked as rows, a plain copy
  of the inputs), numpy's BLAS with its threads;
- ``float numpy``: ``trials`` plain float32 forward passes (:func:`archsim.sim.forward.run`).

Reported: per-pair medians over ``repeat`` repeats of sim / pulse numpy, sim / float numpy, pass / pulse
numpy and pass / float numpy (not the fastest run); wall-clock seconds, with the load average printed.
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
           "1pulse-analog": dict(device="sonos", dac_bits=8, differential_readout="analog")}


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


def calibrated_chips(m, x, trials: int, seed: int = 0) -> list:
    """The ``trials`` chips :func:`~archsim.sim.accuracy.simulate` builds, programmed and calibrated on the
    first 128 images as it does, ready for the scored pass (the simulator's own per-trial hook)."""
    from archsim.model.device import load_device
    from archsim.sim import accuracy, forward
    from archsim.sim.tilesim import SimConfig

    chips = []
    n_cal = min(128, len(x))
    for t in range(trials):
        chip = accuracy._Chip(m, load_device(m.arch.device), SimConfig(), seed, t)
        forward.run(m.workload, x[:n_cal], matmul=chip, chunk=n_cal)
        chip.phase = accuracy.TEST_PASS
        chips.append(chip)
    return chips


def bench(name: str, cfg_name: str, images: int, trials: int, repeat: int) -> dict:
    import numpy as np

    from archsim import Architecture, map_workload
    from archsim.sim import accuracy, forward

    wl, x, y = load(name, images)
    m = map_workload(wl, Architecture(**CONFIGS[cfg_name]))
    accuracy.simulate(m, x[:64], None if y is None else y[:64], trials=1)        # compile / load kernels
    hook = pulse_hook(m)
    res = {"sim": [], "pass": [], "pulse": [], "float": []}
    r = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = accuracy.simulate(m, x, y, trials=trials, seed=0)
        res["sim"].append(time.perf_counter() - t0)
        chips = calibrated_chips(m, x, trials)
        t0 = time.perf_counter()
        for chip in chips:
            forward.run(wl, x, matmul=chip)
        res["pass"].append(time.perf_counter() - t0)
        del chips
        t0 = time.perf_counter()
        for _ in range(trials):
            forward.run(wl, x, matmul=hook)
        res["pulse"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(trials):
            forward.run(wl, x)
        res["float"].append(time.perf_counter() - t0)
    ratio = lambda a, k: statistics.median(s / b for s, b in zip(res[a], res[k]))  # noqa: E731
    return dict(workload=name, config=cfg_name, sim_s=statistics.median(res["sim"]),
                pass_s=statistics.median(res["pass"]),
                pulse_s=statistics.median(res["pulse"]), float_s=statistics.median(res["float"]),
                vs_pulse=ratio("sim", "pulse"), vs_float=ratio("sim", "float"),
                pass_pulse=ratio("pass", "pulse"), pass_float=ratio("pass", "float"),
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
    ap.add_argument("--configs", default=",".join(CONFIGS))
    a = ap.parse_args(argv)
    print(f"numpy {np.__version__}, numba {numba.__version__}; simulator threads {matmul_threads(SimConfig())}; "
          f"per-pair medians over {a.repeat} repeats; load average before {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    head = (f"{'workload':<11} {'images':>6} {'trials':>6} {'config':<14} {'sim s':>7} {'pass s':>7} {'pulse np s':>10} "
            f"{'float np s':>10} {'sim/pulse':>9} {'sim/float':>9} {'pass/pulse':>10} {'pass/float':>10}  result")
    print(head)
    print("-" * len(head))
    for spec in a.workloads.split(","):
        name, *sizes = spec.split(":")
        images = int(sizes[0]) if sizes else a.images
        trials = int(sizes[1]) if len(sizes) > 1 else a.trials
        for c in a.configs.split(","):
            r = bench(name, c, images, trials, a.repeat)
            print(f"{r['workload']:<11} {images:>6} {trials:>6} {r['config']:<14} {r['sim_s']:>7.2f} {r['pass_s']:>7.2f} "
                  f"{r['pulse_s']:>10.2f} {r['float_s']:>10.2f} {r['vs_pulse']:>8.2f}x {r['vs_float']:>8.2f}x "
                  f"{r['pass_pulse']:>9.2f}x {r['pass_float']:>9.2f}x  {r['metric']} {r['mean']:.4f} +- {r['std']:.4f} "
                  f"(float {r['reference']:.4f})", flush=True)
    print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

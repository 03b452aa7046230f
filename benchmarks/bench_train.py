"""Time one training epoch: archsim on the arrays (Numba kernels and their numpy twins), a numpy float SGD
epoch of the same network (archsim.sim.train), and IBM aihwkit's CPU analog tile where it is installed.

    python benchmarks/bench_train.py [--images 3000] [--repeats 3] [--devices noiseless,constant]
        [--aihwkit-python /path/to/venv/bin/python]

Network 784-256-128-10 (rpu_mlp, sigmoid), MNIST, batch 10, lr 0.01 per sample, BL 10 with update
management, exact reads; the devices and the whole training set-up are those of
``benchmarks/aihwkit_side_by_side.py`` (``noiseless``: Gokmen and Vlasov's constant step, dw_min 0.001 on
|w| <= 0.6, no noise; ``constant``: aihwkit's ConstantStepDevice defaults, 30% cycle-to-cycle and
device-to-device spreads).  Each round times, one after the other in this process: an archsim epoch
(Numba), an archsim epoch on the numpy twins (on fewer images, scaled), a numpy float SGD epoch, and
(with ``--aihwkit-python``) an aihwkit epoch in a subprocess of that venv (outside archsim's
dependencies; it times its own epoch, after its imports; torch and OpenMP on one thread, as archsim's
kernels and BLAS).  Ratios are per-round pairs, medians over
rounds (the machine is shared: ratios, not absolute times; the load average is printed).  Every epoch is
timed in wall seconds and in CPU seconds of its process (``time.process_time``, the epoch alone: no
set-up, no test); on a loaded machine the CPU seconds move less than the wall seconds.
``--twin-images 0`` skips the numpy twins (the slowest part of a round).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

import aihwkit_side_by_side as side  # noqa: E402
import workloads  # noqa: E402
from archsim.sim import train as float_train  # noqa: E402
from archsim.sim.tilesim.support import blas_single_thread  # noqa: E402

TWIN_IMAGES = 200


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--devices", default="noiseless,constant")
    p.add_argument("--twin-images", type=int, default=TWIN_IMAGES, help="images of the numpy-twin epoch (0: skip)")
    p.add_argument("--aihwkit-python", help="python of a venv with aihwkit installed")
    a = p.parse_args(argv)
    data = side.load(a.images, 500)
    x, y = data[0], data[1]
    wl = workloads.get("rpu_mlp")
    n_twin = min(a.images, a.twin_images)

    def archsim(name, numba=True, n=None):
        d = data if n is None else (x[:n], y[:n], data[2], data[3])
        r = side.archsim_trial(name, d, 1, 0, use_numba=numba)
        return r["seconds"][0], r["epoch_cpu"][0], r["accuracy"][0]

    def numpy_float():
        c0, t0 = time.process_time(), time.perf_counter()
        float_train.fit(wl, x, y, float_train.TrainConfig(epochs=1, batch_size=side.BATCH, lr=side.LR * side.BATCH,
                                                          optimizer="sgd", momentum=0.0, schedule="constant"), log=None)
        return time.perf_counter() - t0, time.process_time() - c0

    def aihwkit(name):
        res = subprocess.run([a.aihwkit_python, str(ROOT / "benchmarks" / "aihwkit_side_by_side.py"), "--time-epoch",
                              str(a.images), "--devices", name], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})    # one thread, as archsim
        if res.returncode:
            raise RuntimeError("aihwkit failed: " + ((res.stdout + res.stderr).strip().splitlines() or ["?"])[-1])
        o = json.loads(res.stdout.strip().splitlines()[-1])
        return o["seconds"], o["epoch_cpu"], o["accuracy"]

    names = [n for n in a.devices.split(",") if n]
    for name in names:
        archsim(name, True, 20)                    # compile the kernels (cached afterwards)
    load0 = os.getloadavg()[0]
    print(f"{a.images} images, batch {side.BATCH}, BL {side.BL}, {a.repeats} rounds (per-round pairs, medians; "
          f"a shared machine, load average {load0:.1f} at the start); epoch seconds, wall and CPU of the process")
    for name in names:
        rows = []
        with blas_single_thread():                 # every trainer on one BLAS thread: a loaded 2-core machine
            for _ in range(a.repeats):
                t_nb, c_nb, acc = archsim(name)
                t_np = archsim(name, False, n_twin)[0] * a.images / n_twin if n_twin else np.nan
                t_f, c_f = numpy_float()
                r = [t_nb, t_np, t_f, c_nb, c_f]
                if a.aihwkit_python:
                    t_a, c_a, acc_a = aihwkit(name)
                    r += [t_a, c_a]
                rows.append(r)
        r = np.array(rows)
        med = np.median(r, axis=0)
        print(f"device '{name}' ({side.DEVICES[name]}):")
        print(f"  archsim epoch, numba kernels   : {med[0]:.2f} s wall, {med[3]:.2f} s CPU (accuracy {acc:.4f})")
        if n_twin:
            print(f"  archsim epoch, numpy twins     : {med[1]:.2f} s, scaled from {n_twin} images (numba "
                  f"{np.median(r[:, 1] / r[:, 0]):.1f}x faster)")
        print(f"  numpy float SGD epoch          : {med[2]:.2f} s wall, {med[4]:.2f} s CPU; archsim / float "
              f"{np.median(r[:, 0] / r[:, 2]):.1f}x (wall), {np.median(r[:, 3] / r[:, 4]):.1f}x (CPU)")
        if a.aihwkit_python:
            print(f"  aihwkit epoch (CPU tile)       : {med[5]:.2f} s wall, {med[6]:.2f} s CPU (accuracy "
                  f"{acc_a:.4f}); archsim faster by {np.median(r[:, 5] / r[:, 0]):.2f}x (wall), "
                  f"{np.median(r[:, 6] / r[:, 3]):.2f}x (CPU); per round (wall): "
                  f"{', '.join(f'{v:.2f}' for v in r[:, 5] / r[:, 0])}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

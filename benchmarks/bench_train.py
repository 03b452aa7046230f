"""Time one training epoch: archsim on the arrays (Numba kernels and their numpy twins), a numpy float SGD
epoch of the same network (archsim.sim.train), and IBM aihwkit's CPU analog tile where it is installed.

    python benchmarks/bench_train.py [--images 3000] [--repeats 3] [--aihwkit-python /path/to/venv/bin/python]

Network 784-256-128-10 (rpu_mlp, sigmoid), MNIST, batch 10, lr 0.01 per sample, BL 10, constant-step
device (dw_min 0.001 on |w| <= 0.6, the Gokmen-Vlasov baseline), exact reads.  Timings are per-pair
medians over ``--repeats`` rounds run in the same process, one after the other (the machine is shared:
ratios, not absolute times); aihwkit runs in its own venv (outside archsim's dependencies) in a
subprocess, given the same images through a temporary .npz file, and reports its own epoch time and
accuracy.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import workloads  # noqa: E402
from archsim.io.data import load_dataset  # noqa: E402
from archsim.model.update_laws import UpdateModel  # noqa: E402
from archsim.sim import train as float_train  # noqa: E402
from archsim.sim.training import AnalogTrainConfig, fit  # noqa: E402
from archsim.sim.tilesim.support import blas_single_thread  # noqa: E402

TWIN_IMAGES = 200

AIHWKIT = r'''
import json, sys, time, numpy as np, torch
from aihwkit.nn import AnalogLinear, AnalogSequential
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs.devices import ConstantStepDevice
torch.set_num_threads(1)
d = np.load(sys.argv[1])
x, y, xt, yt = (torch.tensor(d[k]) for k in ("x", "y", "xt", "yt"))
dev = ConstantStepDevice(dw_min=0.001, w_max=0.6, w_min=-0.6, dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0,
                         w_max_dtod=0.0, w_min_dtod=0.0)
cfg = SingleRPUConfig(device=dev)
cfg.forward.is_perfect = True
cfg.backward.is_perfect = True
cfg.update.desired_bl = 10
cfg.update.update_bl_management = False
cfg.update.update_management = False
torch.manual_seed(0)
m = AnalogSequential(AnalogLinear(784, 256, True, rpu_config=cfg), torch.nn.Sigmoid(),
                     AnalogLinear(256, 128, True, rpu_config=cfg), torch.nn.Sigmoid(),
                     AnalogLinear(128, 10, True, rpu_config=cfg))
opt = AnalogSGD(m.parameters(), lr=0.01 * 10)   # aihwkit's loss is a batch mean: lr x batch = lr per sample
opt.regroup_param_groups(m)
loss = torch.nn.CrossEntropyLoss()
t0 = time.perf_counter()
for s in range(0, len(x), 10):
    opt.zero_grad()
    l = loss(m(x[s:s + 10]), y[s:s + 10])
    l.backward()
    opt.step()
sec = time.perf_counter() - t0
with torch.no_grad():
    acc = float((m(xt).argmax(1) == yt).float().mean())
print(json.dumps({"seconds": sec, "accuracy": acc}))
'''


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--aihwkit-python", help="python of a venv with aihwkit installed")
    a = p.parse_args(argv)
    x, y = load_dataset("mnist", "train", limit=a.images)
    xt, yt = load_dataset("mnist", "test", limit=2000)
    data = (x, y, xt, yt)
    wl = workloads.get("rpu_mlp")
    base = UpdateModel("constant", states=1200)
    common = dict(lr=0.01, bl=10, batch_size=10, update_management=False, converters=False, epochs=1)

    def archsim(numba, n=None):
        d = data if n is None else (x[:n], y[:n], xt, yt)
        r = fit(wl, "ideal", d, AnalogTrainConfig(use_numba=numba, **common), update_model=base)
        return r.history[-1]["seconds"], r.final_accuracy

    def numpy_float():
        t0 = time.perf_counter()
        float_train.fit(wl, x.reshape(len(x), -1), y, float_train.TrainConfig(epochs=1, batch_size=10, lr=0.1, optimizer="sgd",
                                                          momentum=0.0, schedule="constant"), log=None)
        return time.perf_counter() - t0

    archsim(True, 20)                              # compile the kernels (cached afterwards)
    n_twin = min(a.images, TWIN_IMAGES)
    rows = []
    with blas_single_thread():                    # both trainers on one BLAS thread: a loaded 2-core machine
        for _ in range(a.repeats):
            t_nb, acc = archsim(True)
            t_np = archsim(False, n_twin)[0] * a.images / n_twin    # the twins are slow: timed on fewer images
            t_f = numpy_float()
            rows.append((t_nb, t_np, t_f))
    r = np.array(rows)
    med = np.median(r, axis=0)
    print(f"{a.images} images, batch 10, {a.repeats} rounds (per-pair medians; a shared, loaded machine):")
    print(f"  archsim analog SGD epoch, numba kernels : {med[0]:.2f} s (accuracy {acc:.4f})")
    print(f"  archsim analog SGD epoch, numpy twins   : {med[1]:.2f} s, scaled from {n_twin} images  (numba speedup "
          f"{np.median(r[:, 1] / r[:, 0]):.1f}x)")
    print(f"  numpy float SGD epoch (archsim.sim.train): {med[2]:.2f} s  (analog / float {np.median(r[:, 0] / r[:, 2]):.1f}x)")
    if a.aihwkit_python:
        with tempfile.TemporaryDirectory() as tmp:
            f = Path(tmp) / "d.npz"
            np.savez(f, x=x.reshape(len(x), -1), y=y, xt=xt.reshape(len(xt), -1), yt=yt)
            s = Path(tmp) / "aihw.py"
            s.write_text(AIHWKIT)
            out = []
            for _ in range(a.repeats):
                res = subprocess.run([a.aihwkit_python, str(s), str(f)], capture_output=True, text=True)
                if res.returncode:
                    print("  aihwkit failed: " + (res.stderr.strip().splitlines() or ["?"])[-1])
                    return
                out.append(json.loads(res.stdout.strip().splitlines()[-1]))
        t_a = float(np.median([o["seconds"] for o in out]))
        print(f"  aihwkit analog SGD epoch (CPU tile)     : {t_a:.2f} s (accuracy {out[-1]['accuracy']:.4f}); "
              f"archsim is {t_a / med[0]:.1f}x faster")


if __name__ == "__main__":
    main()

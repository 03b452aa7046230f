#!/usr/bin/env python3
"""Train a built-in MNIST or Fashion-MNIST workload with archsim's numpy trainer and write its weight file.

    python scripts/train_weights.py --workload lenet5 --epochs 6 --seed 0
    python scripts/train_weights.py --workload mnist_cnn5 --noise-aware yao_taox_noisy   # noise-aware weights
    python scripts/train_weights.py --workload fashion_vgg        # Fashion-MNIST, about 30 min on 2 cores

Trains on the 50,000-image training split of the workload's data set, reports the
10,000-image validation split after each epoch, measures the official 10,000-image test set
once at the end with the exact forward pass (:mod:`archsim.sim.forward`) and writes
``workloads/weights/<name>.npz``: ``<layer>.weight`` / ``<layer>.bias`` float32,
``meta.test_accuracy``, ``meta.valid_accuracy``, ``meta.train_seconds``, the data
set and input preparation, and every training setting as ``meta.train.<key>``
(0-d arrays; the file loads with ``np.load(allow_pickle=False)``).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import workloads  # noqa: E402
from archsim.io import data  # noqa: E402
from archsim.model import weights  # noqa: E402
from archsim.sim import forward  # noqa: E402
from archsim.sim import train  # noqa: E402
from archsim.model.errors import ArchsimError  # noqa: E402

#: settings that reach the accuracies in the README within a few minutes on 2 cores
DEFAULTS = {
    "lenet5": dict(epochs=10, batch_size=128, lr=2e-3),
    "mlp": dict(epochs=10, batch_size=128, lr=1e-3),
    "mnist_cnn5": dict(epochs=10, batch_size=64, lr=4e-3),
    "dpe_softmax": dict(epochs=10, batch_size=128, lr=1e-3),
    "fashion_vgg": dict(epochs=5, batch_size=128, lr=2e-3),
}
#: the data sets this script trains on
TRAINABLE_DATA = ("mnist", "fashion-mnist")


def noise_aware_path(name: str, device: str) -> Path:
    """Where the noise-aware weights of workload ``name`` for ``device`` (a techlib name) are kept."""
    return workloads.WEIGHTS_DIR / "noise_aware" / f"{name}__{Path(device).stem}.npz"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--workload", required=True, help="lenet5, mlp, mnist_cnn5, fashion_vgg (any workload on MNIST or Fashion-MNIST)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, help="train on the first N images only (quick trials)")
    ap.add_argument("--out", help="weight file (default workloads/weights/<name>.npz)")
    ap.add_argument("--noise-aware", metavar="DEVICE",
                    help="noise-aware training: inject DEVICE's programming error (in weight units, on the "
                         "--noise-preset architecture's mapping) into the weights of every step; default output "
                         "workloads/weights/noise_aware/<name>__<device>.npz")
    ap.add_argument("--noise-preset", default="yao2020", help="architecture preset whose mapping carries the error")
    ap.add_argument("--noise-scale", type=float, default=1.0, help="multiplies the injected standard deviation")
    ap.add_argument("--from-shipped", action="store_true",
                    help="start from the shipped weights (workloads/weights/<name>.npz) instead of a fresh "
                         "initialisation: fine-tuning, e.g. noise-aware fine-tuning of a trained network")
    a = ap.parse_args(argv)
    try:
        wl = workloads.get(a.workload)
        if wl.dataset not in TRAINABLE_DATA:
            raise ArchsimError(f"workload {wl.name} is for data set '{wl.dataset}'; this script trains networks "
                               f"on {', '.join(TRAINABLE_DATA)}")
        d = DEFAULTS.get(wl.name, dict(epochs=5, batch_size=128, lr=1e-3))
        cfg = train.TrainConfig(
            epochs=a.epochs or d["epochs"], batch_size=a.batch_size or d["batch_size"], lr=a.lr or d["lr"],
            optimizer=a.optimizer, weight_decay=a.weight_decay, seed=a.seed)
        xtr, ytr = data.for_workload(wl, "train", limit=a.limit)
        xva, yva = data.for_workload(wl, "valid")
        xte, yte = data.for_workload(wl, "test")
        print(f"{wl.name}: {wl.total_weights} weights, train {len(ytr)}, valid {len(yva)}, test {len(yte)}; {cfg}")
        t0 = time.perf_counter()
        noise, noise_meta = None, {}
        if a.noise_aware:
            from archsim.model import presets
            from archsim.mapping.layout import map_workload
            from archsim.sim.noise_aware import programming_noise
            arch = presets.load(a.noise_preset).architecture.replace(device=a.noise_aware, mesh="auto", tiles="auto")
            noise = programming_noise(wl, map_workload(wl, arch), scale=a.noise_scale)
            noise_meta = {"noise_aware.device": a.noise_aware, "noise_aware.preset": a.noise_preset,
                          "noise_aware.scale": float(a.noise_scale)}
        init = None
        if a.from_shipped:
            init = {k: v for k, v in weights.load_weights(workloads.weights_path(wl.name)).items()
                    if not k.startswith("meta.")}
            noise_meta["init"] = f"fine-tuned from {workloads.weights_path(wl.name).name}"
        params, hist = train.fit(wl, xtr, ytr, cfg, x_val=xva, y_val=yva, weight_noise=noise, params=init)
        secs = time.perf_counter() - t0
        trained = weights.attach_weights(wl, params)
        acc = forward.accuracy(trained, xte, yte)
        print(f"test accuracy {acc:.4f}  (training {secs:.0f} s)")
        out = Path(a.out) if a.out else workloads.weights_path(wl.name)
        if a.noise_aware and not a.out:
            out = noise_aware_path(wl.name, a.noise_aware)
        prep = {"lenet5": "28x28 zero-padded by 2 to 32x32", "mlp": "28x28 flattened row-major to 784"}
        meta = dict(workload=wl.name, dataset=wl.dataset, train_split="train" if not a.limit else f"train[:{a.limit}]",
                    input="pixel / 255 in [0, 1]; " + prep.get(wl.name, "28x28 as is"),
                    test_accuracy=float(acc), valid_accuracy=float(hist[-1]["val_accuracy"]),
                    train_seconds=float(round(secs, 1)), final_loss=float(hist[-1]["loss"]),
                    numpy=np.__version__, python=platform.python_version(), cpus=os.cpu_count() or 0,
                    **train.config_meta(cfg), **noise_meta)
        train.save_weights(out, params, meta)
        print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    except ArchsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

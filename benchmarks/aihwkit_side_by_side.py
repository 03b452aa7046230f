"""Side by side with IBM aihwkit: the same network, data, device parameters and update on both simulators.

    /path/to/aihwkit-venv/bin/python benchmarks/aihwkit_side_by_side.py [--images 4000] [--test 2000]
        [--epochs 2] [--trials 4] [--devices constant,soft_bounds] [--out reports/aihwkit_side_by_side.md]

Runs with the python of a venv where aihwkit is installed (it is not one of archsim's dependencies; the
venv needs archsim's core dependencies too) and imports archsim from this repository.  Without aihwkit it
exits with one line (status 2).

What is the same on both sides:

- network: ``rpu_mlp``, Gokmen and Vlasov's 784-256-128-10 sigmoid chain with biases, the biases held
  in the analog tiles (aihwkit ``mapping.digital_bias = False``, no tile splitting), the same initial
  weights (archsim's ``init_params`` of the seed, programmed into both);
- data: the first ``--images`` MNIST training images and the first ``--test`` test images (archsim's data
  cache), the same sample order every epoch (archsim's ``default_rng(seed).permutation``);
- loss: softmax cross-entropy summed over the batch (aihwkit ``reduction="sum"``), so the error of a
  sample is ``p - onehot`` on both sides and ``lr`` is per sample;
- devices: :func:`archsim.sim.training.aihwkit_params.device_params` maps each ``UpdateModel`` one to one;
- update: stochastic pulse trains of length ``BL`` (aihwkit ``StochasticCompressed``, ``desired_bl = BL``,
  no BL management, probabilities not discretized), probabilities ``sqrt(lr / (BL dw_min)) |x|``, with
  update management (``C_x / C_d = sqrt(max|d| / max|x|)`` per sample) on both;
- reads: ideal on both (archsim ``converters=False``; aihwkit ``forward.is_perfect`` and
  ``backward.is_perfect``): the comparison is of the update, where the two simulators' device models meet.

Trials differ in the device-to-device draws and every pulse/noise stream (archsim: the trial index;
aihwkit: ``construction_seed`` and ``torch.manual_seed``).  The result table gives the final test accuracy
per trial, mean and sample standard deviation, and whether the two means agree within their trial spread
(``|mean_a - mean_b| <= 2 sqrt(s_a^2/n_a + s_b^2/n_b)``, a two-sample 95% band).

``--time-epoch N --devices NAME`` (used by ``benchmarks/bench_train.py``) trains one epoch of aihwkit on N
images of one device and prints its wall and CPU seconds (the epoch) and CPU seconds of the trial (the
epoch and its test) as JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: the devices compared: aihwkit's ConstantStepDevice defaults (Gokmen and Vlasov's 30% cycle-to-cycle and
#: device-to-device spreads, dw_min 0.001 on |w| <= 0.6) and a soft-bounds device of the same step
DEVICES = {
    "noiseless": dict(law="constant", states=1200),      # Gokmen and Vlasov's baseline device (timing only)
    "constant": dict(law="constant", states=1200, c2c=0.3, dw_d2d=0.3, asymmetry_d2d=0.01, bound_d2d=0.3),
    "soft_bounds": dict(law="soft_bounds", states=1200, c2c=0.3, dw_d2d=0.3, asymmetry_d2d=0.01),
}
GAIN = 0.6          # weight of a device at its nominal upper bound (aihwkit's w_max default)
LR, BL, BATCH, SEED = 0.01, 10, 10, 0


def update_model(name):
    from archsim.model.update_laws import UpdateModel
    return UpdateModel(**DEVICES[name]).with_()


def load(images, test):
    from archsim.io.data import load_dataset
    x, y = load_dataset("mnist", "train", limit=images)
    xt, yt = load_dataset("mnist", "test", limit=test)
    f = np.float32
    return x.reshape(len(x), -1).astype(f), y.astype(np.int64), xt.reshape(len(xt), -1).astype(f), yt.astype(np.int64)


def initial_weights():
    """archsim's initial weights of the network: [(W (out, in), bias (out,))] per layer."""
    import workloads
    from archsim.sim.train import init_params
    wl = workloads.get("rpu_mlp")
    p = init_params(wl, SEED, dtype=np.float64)
    return [(p[f"{l.name}.weight"], p[f"{l.name}.bias"]) for l in wl.weighted_layers()]


# --------------------------------------------------------------------------- archsim
def archsim_trial(name, data, epochs, trial, use_numba=True):
    import workloads
    from archsim.sim.training import AnalogTrainConfig, fit
    cfg = AnalogTrainConfig(algorithm="sgd", epochs=epochs, batch_size=BATCH, lr=LR, bl=BL, trains="stochastic",
                            update_management=True, weight_gain=GAIN, converters=False, read_noise=False, seed=SEED,
                            use_numba=use_numba)
    c0 = time.process_time()
    r = fit(workloads.get("rpu_mlp"), "ideal", data, cfg, trial=trial, update_model=update_model(name))
    return dict(accuracy=[h["test_accuracy"] for h in r.history], seconds=[h["seconds"] for h in r.history],
                epoch_cpu=[h["cpu_seconds"] for h in r.history], cpu=time.process_time() - c0)


# --------------------------------------------------------------------------- aihwkit
def aihwkit_model(name, trial):
    import torch
    from aihwkit.nn import AnalogLinear, AnalogSequential
    from aihwkit.simulator.configs import SingleRPUConfig, devices
    from aihwkit.simulator.parameters.enums import PulseType
    from archsim.sim.training.aihwkit_params import device_params
    cls, kw = device_params(update_model(name), GAIN, seed=trial + 1)
    cfg = SingleRPUConfig(device=getattr(devices, cls)(**kw))
    cfg.forward.is_perfect = True
    cfg.backward.is_perfect = True
    cfg.update.pulse_type = PulseType.STOCHASTIC_COMPRESSED
    cfg.update.desired_bl = BL
    cfg.update.fixed_bl = True
    cfg.update.update_bl_management = False
    cfg.update.update_management = True
    cfg.update.res = -1                       # probabilities not discretized (archsim's are continuous)
    cfg.mapping.digital_bias = False          # biases in the tiles, as archsim's bias row
    cfg.mapping.max_input_size = 0
    cfg.mapping.max_output_size = 0
    torch.manual_seed(1000 + trial)
    layers = []
    for W, b in initial_weights():      # sigmoid after each hidden layer; the last layer's logits go to the loss
        if layers:
            layers.append(torch.nn.Sigmoid())
        lin = AnalogLinear(W.shape[1], W.shape[0], bias=True, rpu_config=cfg)
        lin.set_weights(torch.tensor(W, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
        layers.append(lin)
    return AnalogSequential(*layers)


def aihwkit_trial(name, data, epochs, trial):
    import torch
    from aihwkit.optim import AnalogSGD
    torch.set_num_threads(1)
    x, y, xt, yt = (torch.from_numpy(np.ascontiguousarray(v)) for v in data)
    m = aihwkit_model(name, trial)
    opt = AnalogSGD(m.parameters(), lr=LR)
    opt.regroup_param_groups(m)
    loss = torch.nn.CrossEntropyLoss(reduction="sum")
    order = np.random.default_rng(SEED)
    acc, secs, ecpu = [], [], []
    c0 = time.process_time()
    for _ in range(epochs):
        perm = torch.from_numpy(order.permutation(len(x)))
        t0, e0 = time.perf_counter(), time.process_time()
        m.train()
        for s in range(0, len(x), BATCH):
            idx = perm[s:s + BATCH]
            opt.zero_grad()
            loss(m(x[idx]), y[idx]).backward()
            opt.step()
        secs.append(time.perf_counter() - t0)
        ecpu.append(time.process_time() - e0)
        m.eval()
        with torch.no_grad():
            acc.append(float((m(xt).argmax(1) == yt).double().mean()))
    return dict(accuracy=acc, seconds=secs, epoch_cpu=ecpu, cpu=time.process_time() - c0)


# --------------------------------------------------------------------------- comparison
def stats(v):
    v = np.asarray(v, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def agree(a, b):
    (ma, sa), (mb, sb) = stats(a), stats(b)
    band = 2.0 * math.sqrt(sa ** 2 / len(a) + sb ** 2 / len(b))
    return abs(ma - mb), band, abs(ma - mb) <= band


def report(rows, args, load):
    lines = ["# archsim and IBM aihwkit side by side", "",
             f"Generated by `benchmarks/aihwkit_side_by_side.py --images {args.images} --test {args.test} "
             f"--epochs {args.epochs} --trials {args.trials} --devices {args.devices}` with aihwkit "
             f"{rows[0]['aihwkit_version']} (CPU tile, torch {rows[0]['torch_version']}).", "",
             f"Network 784-256-128-10 sigmoid (`rpu_mlp`), biases in the tiles, the same initial weights; "
             f"the first {args.images} MNIST training images, {args.epochs} epochs in the same order, batch "
             f"{BATCH}, lr {LR} per sample (loss summed over the batch), stochastic pulse trains BL {BL} with "
             f"update management, ideal reads on both sides; tested on the first {args.test} test images.  "
             f"Device parameters mapped one to one by `archsim/sim/training/aihwkit_params.py`.  "
             f"Agreement: |difference of means| <= 2 sqrt(s_a^2/n_a + s_b^2/n_b).", "",
             "| device | archsim accuracy (mean ± s.d.) | aihwkit accuracy (mean ± s.d.) | difference | band | "
             "agree | archsim trials | aihwkit trials |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a, k = r["archsim"], r["aihwkit"]
        d, band, ok = agree(a, k)
        (ma, sa), (mk, sk) = stats(a), stats(k)
        lines.append(f"| {r['device']} | {100 * ma:.2f} ± {100 * sa:.2f} | {100 * mk:.2f} ± {100 * sk:.2f} | "
                     f"{100 * d:.2f} | {100 * band:.2f} | {'yes' if ok else 'no'} | "
                     f"{', '.join(f'{100 * v:.2f}' for v in a)} | {', '.join(f'{100 * v:.2f}' for v in k)} |")
    lines += ["", "Device parameters (archsim `UpdateModel` -> aihwkit):", ""]
    from archsim.sim.training.aihwkit_params import device_params
    for r in rows:
        cls, kw = device_params(update_model(r["device"]), GAIN, seed=1)
        shown = {k: v for k, v in kw.items() if k in ("dw_min", "up_down", "dw_min_std", "dw_min_dtod",
                                                       "up_down_dtod", "w_max", "w_min", "w_max_dtod", "w_min_dtod",
                                                       "mult_noise")}
        lines.append(f"- {r['device']}: {DEVICES[r['device']]} -> `{cls}` {shown}")
    lines += ["", "Epoch seconds (wall, mean over trials and epochs; the machine was shared, load average "
              f"{load[0]:.1f} at the start and {load[1]:.1f} at the end: compare within a row only):", "",
              "| device | archsim s/epoch | aihwkit s/epoch | archsim CPU s/trial | aihwkit CPU s/trial |",
              "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['device']} | {np.mean(r['archsim_s']):.2f} | {np.mean(r['aihwkit_s']):.2f} | "
                     f"{np.mean(r['archsim_cpu']):.2f} | {np.mean(r['aihwkit_cpu']):.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=4000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--devices", default="constant,soft_bounds")
    p.add_argument("--out", default=str(ROOT / "reports" / "aihwkit_side_by_side.md"))
    p.add_argument("--time-epoch", type=int, default=0, help="time one aihwkit epoch on N images; print JSON")
    a = p.parse_args(argv)
    try:
        import aihwkit
        import torch
    except ImportError as e:
        print(f"aihwkit side by side: aihwkit is not importable here ({e}); run with the python of a venv "
              "that has it")
        return 2
    if a.time_epoch:
        data = load(a.time_epoch, 500)
        r = aihwkit_trial(a.devices.split(",")[0], data, 1, 0)
        print(json.dumps({"seconds": r["seconds"][0], "epoch_cpu": r["epoch_cpu"][0], "cpu": r["cpu"],
                          "accuracy": r["accuracy"][0]}))
        return 0
    names = [n.strip() for n in a.devices.split(",") if n.strip()]
    bad = [n for n in names if n not in DEVICES]
    if bad:
        print(f"aihwkit side by side: --devices {','.join(bad)} unknown; allowed {', '.join(DEVICES)}")
        return 2
    import os
    load0 = os.getloadavg()[0]
    data = load(a.images, a.test)
    rows = []
    for name in names:
        row = dict(device=name, archsim=[], aihwkit=[], archsim_s=[], aihwkit_s=[], archsim_cpu=[], aihwkit_cpu=[],
                   aihwkit_version=aihwkit.__version__, torch_version=torch.__version__)
        for t in range(a.trials):            # interleaved: both see the same load
            ra = archsim_trial(name, data, a.epochs, t)
            rk = aihwkit_trial(name, data, a.epochs, t)
            row["archsim"].append(ra["accuracy"][-1])
            row["aihwkit"].append(rk["accuracy"][-1])
            row["archsim_s"] += ra["seconds"]
            row["aihwkit_s"] += rk["seconds"]
            row["archsim_cpu"].append(ra["cpu"])
            row["aihwkit_cpu"].append(rk["cpu"])
            print(f"{name} trial {t}: archsim {ra['accuracy']} ({sum(ra['seconds']):.1f} s), "
                  f"aihwkit {rk['accuracy']} ({sum(rk['seconds']):.1f} s)", flush=True)
        rows.append(row)
    text = report(rows, a, (load0, os.getloadavg()[0]))
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

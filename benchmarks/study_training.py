"""Training on the chip: the runs behind reports/training.md, and the report itself.

    python benchmarks/study_training.py                 # run what is missing, then write the report
    python benchmarks/study_training.py --part gv       # only the Gokmen-Vlasov sweeps (or --part dev)
    python benchmarks/study_training.py --report-only   # rewrite the report from the stored runs
    python benchmarks/study_training.py --fresh         # rerun everything

Runs are stored one by one in reports/training_runs_<part>.json (resumable: an interrupted study continues
where it stopped; the two parts may run at once, in two processes).  (a) Marinella et al.'s (Sandia 2022) training conclusions per device; (b) the device-requirement sweeps of Gokmen
and Vlasov, Front. Neurosci. 10:333 (2016) on their 784-256-128-10 sigmoid network; (c) energy and
time per training epoch per device from archsim.cost.training.  Budget: this machine is a loaded
2-core box, so every run trains on a subset (N_TRAIN images, EPOCHS epochs) and tests on N_TEST images;
the report says so beside every number.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import workloads  # noqa: E402
from archsim.io.data import load_dataset  # noqa: E402
from archsim.model.device import load_device  # noqa: E402
from archsim.model.update_laws import UpdateModel  # noqa: E402
from archsim.sim.training import AnalogTrainConfig, fit  # noqa: E402

PARTS = ("gv", "dev")


def runs_file(part: str) -> Path:
    return ROOT / "reports" / f"training_runs_{part}.json"



REPORT = ROOT / "reports" / "training.md"
N_TRAIN, EPOCHS, N_TEST = 12000, 2, 2000
DEV_EPOCHS = 3
BASE_TRIALS = 3
#: Gokmen and Vlasov 2016's training settings: one sample per update, lr 0.01, BL 10, |w| <= 0.6
PAPER = dict(lr=0.01, bl=10, batch_size=1, update_management=False, weight_gain=0.6)
#: their RPU baseline device: dw_min = 0.001 on |w| <= 0.6 (1200 steps), constant step
BASE = UpdateModel("constant", states=1200, file="Gokmen-Vlasov baseline")
SWEEPS = {
    "states": [100, 300, 600, 2400, 4800],
    "asymmetry": [0.01, 0.02, 0.05, 0.1],
    "c2c": [0.3, 1.0, 3.0],
    "dw_d2d": [0.3, 1.0, 2.0],
}
DEVICES = ("ideal", "ecram", "sonos", "reram", "pcm")
ALGOS = {"ecram": ("mixed", "tiki-taka", "carry"), "reram": ("mixed", "tiki-taka", "carry")}
DEVICE_TRIALS = 2


def data():
    xtr, ytr = load_dataset("mnist", "train")
    xte, yte = load_dataset("mnist", "test")
    return xtr[:N_TRAIN], ytr[:N_TRAIN], xte[:N_TEST], yte[:N_TEST]


def plan(part: str):
    """(name, kwargs of fit, config) of every run of a part."""
    return plan_gv() if part == "gv" else plan_dev()


def plan_gv():
    runs = []
    runs.append(("float", dict(device=None), AnalogTrainConfig(algorithm="float", epochs=EPOCHS, **PAPER)))
    for t in range(BASE_TRIALS):     # the ideal-device criterion is tight: average its pulse noise over trials
        runs.append(("gv/base" + (f"/{t}" if t else ""), dict(device="ideal", update_model=BASE, trial=t),
                     AnalogTrainConfig(epochs=EPOCHS, converters=False, **PAPER)))
    for key, values in SWEEPS.items():
        for v in values:
            m = BASE.with_(**{key: float(v)})
            cfg = dict(PAPER)
            if key == "states":
                # finer steps need longer trains: BL dw_min held at least the baseline's so a pulse probability
                # never clips at 1 (C <= 1); clipped trains would degrade the update, not the device
                cfg["bl"] = min(64, max(PAPER["bl"], round(PAPER["bl"] * float(v) / 1200)))
            runs.append((f"gv/{key}={v}", dict(device="ideal", update_model=m),
                         AnalogTrainConfig(epochs=EPOCHS, converters=False, **cfg)))
    return runs


def plan_dev():
    """Devices on the chip (converters on), batch of 10 samples (the learning rate stays per sample)."""
    dev_cfg = dict(PAPER, batch_size=10)
    runs = [("float/b10", dict(device=None), AnalogTrainConfig(algorithm="float", epochs=DEV_EPOCHS, **dev_cfg))]
    # trial 0 of everything first, so an interrupted study still covers every device and algorithm
    for d in DEVICES:
        runs.append((f"dev/{d}/sgd/0", dict(device=d, trial=0), AnalogTrainConfig(epochs=DEV_EPOCHS, **dev_cfg)))
    for d, algos in ALGOS.items():
        for a in algos:
            runs.append((f"dev/{d}/{a}/0", dict(device=d, trial=0),
                         AnalogTrainConfig(algorithm=a, epochs=DEV_EPOCHS, **dev_cfg)))
    for t in range(1, DEVICE_TRIALS):
        for d in DEVICES:
            runs.append((f"dev/{d}/sgd/{t}", dict(device=d, trial=t), AnalogTrainConfig(epochs=DEV_EPOCHS, **dev_cfg)))
    return runs


def record(res, seconds):
    return dict(device=res.device, config=asdict(res.config), history=res.history, layers=res.layers,
                extra=res.extra, wall_seconds=seconds)


def load_runs(part: str) -> dict:
    f = runs_file(part)
    return json.loads(f.read_text()) if f.exists() else {}


def run_part(part: str, fresh: bool):
    store = {} if fresh else load_runs(part)
    wl = workloads.get("rpu_mlp")
    d = data()
    for name, kw, cfg in plan(part):
        if name in store:
            continue
        t0 = time.perf_counter()
        kw = dict(kw)
        dev = kw.pop("device")
        res = fit(wl, dev, d, cfg, **kw)
        store[name] = record(res, time.perf_counter() - t0)
        runs_file(part).write_text(json.dumps(store, indent=1, sort_keys=True))
        print(f"{name}: accuracy {[round(h['test_accuracy'], 4) for h in res.history]} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return store


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--part", choices=PARTS, help="run one part only (default both, one after the other)")
    a = p.parse_args(argv)
    if not a.report_only:
        for part in ([a.part] if a.part else PARTS):
            run_part(part, a.fresh)
        if a.part:
            return
    store = {**load_runs("gv"), **load_runs("dev")}
    from training_report import write_report
    write_report(store, REPORT, dict(n_train=N_TRAIN, epochs=EPOCHS, dev_epochs=DEV_EPOCHS, n_test=N_TEST,
                                     sweeps=SWEEPS, paper=PAPER, devices=DEVICES, algos=ALGOS, trials=DEVICE_TRIALS))
    print(f"wrote {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

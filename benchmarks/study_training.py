"""Training on the chip: the runs behind reports/training.md, and the report itself.

    python benchmarks/study_training.py                 # run what is missing, then write the report
    python benchmarks/study_training.py --part gvt      # one part only (see PARTS), e.g. one process a part
    python benchmarks/study_training.py --report-only   # rewrite the report from the stored runs
    python benchmarks/study_training.py --fresh         # rerun everything

Runs are stored one by one in reports/training_runs_<part>.json (resumable: an interrupted study continues
where it stopped; the parts may run at once, one process each).  (a) Marinella et al.'s (Sandia 2022)
training conclusions per device (part dev: a 12,000-image subset, N_TRAIN, for DEV_EPOCHS epochs, tested on
N_TEST images); (b) the device-requirement sweeps of Gokmen and Vlasov, Front. Neurosci. 10:333 (2016) on
their 784-256-128-10 sigmoid network, all 60,000 training images per epoch, all 10,000 test images: parts
gv, gva, gvc, gvx (one epoch per point), gvs2, gva2, gvt, gvd, gvn (two epochs, trials), gv5a to gv5f (five
epochs, one or two points per sweep), gv10 (ten epochs: the states sweep and the bounds spread), gv30 (the
paper's 30 epochs: baseline, float, the states sweep, cycle-to-cycle noise), gv30s (the same at the falling
learning rate 0.01 / 0.005 / 0.0025 of IBM aihwkit's example), gv10b1 (ten epochs of the states sweep one
sample per read, as the paper trains); an epoch costs about 7 to 15 s of one core, 3 to 190 s
of wall time on the shared 2-core machine under a load of 6 to 20;
(c) energy and time per training epoch per device from
archsim.cost.training.  The report says each budget beside its numbers.
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

PARTS = ("gv", "gva", "gvc", "gvx", "gvs2", "gva2", "gvt", "gvd", "gvn", "gv5a", "gv5b", "gv5c", "gv5d", "gv5e",
         "gv5f", "gv10", "gv30", "gv30s", "gv10b1", "dev")


def runs_file(part: str) -> Path:
    return ROOT / "reports" / f"training_runs_{part}.json"



REPORT = ROOT / "reports" / "training.md"
#: budget of part (a) (devices on the chip): a subset, several epochs
N_TRAIN, EPOCHS, N_TEST = 12000, 2, 2000
DEV_EPOCHS = 3
#: budget of part (b) (Gokmen-Vlasov sweeps): the full MNIST training set, one epoch per sweep point (two for the
#: float reference and the baseline device, whose first epoch is the sweeps' reference), the full test set
GV_TRAIN, GV_EPOCHS, GV_BASE_EPOCHS, GV_TEST, GV_BATCH = 60000, 1, 2, 10000, 10
BASE_TRIALS = 2
#: Gokmen and Vlasov 2016's training settings: one sample per update, lr 0.01, BL 10, |w| <= 0.6
PAPER = dict(lr=0.01, bl=10, batch_size=1, update_management=False, weight_gain=0.6)
#: their RPU baseline device: dw_min = 0.001 on |w| <= 0.6 (1200 steps), constant step
BASE = UpdateModel("constant", states=1200, file="Gokmen-Vlasov baseline")
#: one parameter of BASE changed per run; the two parts run as two processes (one core each)
SWEEPS = {
    "states": [150, 300, 600],
    "asymmetry": [0.005, 0.01, 0.02, 0.05],
    "c2c": [0.3, 1.0, 3.0],
    "dw_d2d": [0.3, 1.0],
    "bound_d2d": [0.3, 0.6],
}
GV_PARTS = {"gv": ("states",), "gva": ("asymmetry",), "gvc": ("c2c",), "gvx": ("dw_d2d", "bound_d2d"),
            "gvs2": (), "gva2": (), "gvt": (), "gvd": (), "gvn": (),
            "gv5a": (), "gv5b": (), "gv5c": (), "gv5d": (), "gv5e": (), "gv5f": (), "gv10": (), "gv30": (), "gv30s": (),
            "gv10b1": ()}
#: sweeps also run for GV_BASE_EPOCHS epochs (parts gvs2, gva2), to see a threshold move with training
SWEEPS_LONG = {"states": [150, 300, 600], "asymmetry": [0.005, 0.01, 0.02, 0.05]}
LONG_PARTS = {"gvs2": ("states",), "gva2": ("asymmetry",)}
#: the two-epoch study with trials (parts gvt, gvd, gvn): (sweep key, values, trials per value); trial 0 of
#: states and asymmetry is parts gvs2 and gva2.  gvt adds a third baseline trial, trials and the point 900 to
#: the states and asymmetry sweeps; gvd the device-to-device sweeps over ranges wide enough to leave the
#: baseline; gvn the cycle-to-cycle noise as the paper defines it (a Gaussian step, which may reverse a pulse)
SWEEPS_E2 = {
    "gvt": [("states", [300, 600], (1,)), ("states", [900], (0, 1)), ("asymmetry", [0.005, 0.01], (1,))],
    "gvd": [("dw_d2d", [1.0, 3.0], (0,)), ("bound_d2d", [0.6, 1.0, 2.0], (0,))],
    "gvn": [("c2c", [0.5, 1.0, 2.0, 4.0], (0,))],
}
E2_MODEL = {"gvn": dict(c2c_signed=True)}
#: the five-epoch study (parts gv5a, gv5b; runs gv5/...): float, the baseline device and one or two points of
#: each sweep near where two epochs put its threshold, to see the thresholds move toward the paper's budget
GV5_EPOCHS = 5
SWEEPS_E5 = {
    "gv5a": [("base", None, (0, 1)), ("states", 600, (0,)), ("c2c", 1.0, (0,)), ("asymmetry", 0.01, (0,)),
             ("states", 300, (0,))],
    "gv5b": [("float", None, (0,)), ("asymmetry", 0.005, (0,)), ("bound_d2d", 1.0, (0,)), ("c2c", 2.0, (0,))],
    "gv5d": [("dw_d2d", 3.0, (0,))],
    "gv5e": [("asymmetry", 0.005, (1,))],
    "gv5f": [("asymmetry", 0.02, (0,))],
    "gv5c": [("states", 600, (1,)), ("asymmetry", 0.01, (1,)), ("c2c", 1.0, (1,))],
}
#: the ten-epoch study (part gv10; runs gv10/...): the states sweep, whose threshold rises with training, and
#: then the bounds spread, in the order they are run (an interrupted part still holds the first points whole)
GV10_EPOCHS = 10
SWEEPS_E10 = [("base", None, (0,)), ("states", 600, (0,)), ("states", 300, (0,)), ("base", None, (1,)),
              ("states", 900, (0,)), ("float", None, (0,)), ("bound_d2d", 1.0, (0,)), ("bound_d2d", 0.6, (0,)),
              ("states", 600, (1,)), ("states", 900, (1,)), ("states", 300, (1,)), ("base", None, (2,)),
              ("bound_d2d", 2.0, (0,))]
#: the paper's budget (part gv30; runs gv30/...): float, the baseline and the states sweep (two trials where time
#: allowed), at the constant learning rate of the shorter studies
GV30_EPOCHS = 30
SWEEPS_E30 = [("base", None, (0,)), ("states", 600, (0,)), ("float", None, (0,)), ("states", 900, (0,)),
              ("states", 300, (0,)), ("base", None, (1,)), ("states", 600, (1,)),
              # added beside part gv30s, to find the constant rate's threshold below 300 states
              ("states", 150, (0,)), ("states", 75, (0,)), ("states", 150, (1,)), ("base", None, (2,)),
              ("states", 150, (2,)), ("states", 300, (1,)),
              # the cycle-to-cycle noise at the constant rate, beside gv30s's
              ("c2c", 2.0, (0,)), ("c2c", 3.0, (0,)), ("c2c", 1.0, (0,))]
#: the paper's budget with a falling learning rate (part gv30s; runs gv30s/...): 0.01 for epochs 1 to 10, 0.005
#: for 11 to 20, 0.0025 for 21 to 30, as IBM aihwkit's MNIST example built on the paper (examples/
#: 03_mnist_training.py) states; the points that decide the states threshold first (baseline, 300 states, float),
#: then the points around them and the cycle-to-cycle noise of the same variance (c2c = 2: the noise of 240 states)
GV30S_SCHEDULE = ((11, 0.005), (21, 0.0025))
SWEEPS_E30S = [("base", None, (0,)), ("states", 300, (0,)), ("float", None, (0,)), ("states", 150, (0,)),
               ("states", 600, (0,)), ("c2c", 2.0, (0,)), ("base", None, (1,)), ("states", 300, (1,)),
               ("c2c", 1.0, (0,)), ("states", 75, (0,)), ("states", 150, (1,)), ("base", None, (2,)),
               ("c2c", 3.0, (0,)), ("states", 600, (1,)), ("states", 150, (2,)), ("states", 75, (1,)),
               ("states", 300, (2,))]
#: the paper's one sample per read (part gv10b1; runs gv10b1/...): ten epochs at batch 1, so every forward and
#: backward read sees the weights the previous sample's update left (the other parts read 10 samples together,
#: each still one rank-1 pulse update); the points that decide the ten-epoch states threshold
SWEEPS_E10B1 = [("base", None, (0,)), ("states", 300, (0,)), ("float", None, (0,)), ("states", 150, (0,)),
                ("base", None, (1,)), ("states", 300, (1,)), ("states", 600, (0,))]
#: part -> batch size of a longer study that does not read GV_BATCH samples together
LONG_BATCH = {"gv10b1": 1}
#: part -> (points, run-name head, epochs[, learning-rate schedule]) of the longer studies
LONG_STUDIES = {**{p: (pts, "gv5", GV5_EPOCHS) for p, pts in SWEEPS_E5.items()},
                "gv10": (SWEEPS_E10, "gv10", GV10_EPOCHS), "gv30": (SWEEPS_E30, "gv30", GV30_EPOCHS),
                "gv30s": (SWEEPS_E30S, "gv30s", GV30_EPOCHS, GV30S_SCHEDULE),
                "gv10b1": (SWEEPS_E10B1, "gv10b1", GV10_EPOCHS)}
DEVICES = ("ideal", "ecram", "sonos", "reram", "pcm")
ALGOS = {"ecram": ("mixed", "tiki-taka", "carry"), "reram": ("mixed", "tiki-taka", "carry")}
DEVICE_TRIALS = 2


def data(part: str = "dev"):
    xtr, ytr = load_dataset("mnist", "train")
    xte, yte = load_dataset("mnist", "test")
    if part in GV_PARTS:
        return xtr[:GV_TRAIN], ytr[:GV_TRAIN], xte[:GV_TEST], yte[:GV_TEST]
    return xtr[:N_TRAIN], ytr[:N_TRAIN], xte[:N_TEST], yte[:N_TEST]


def plan(part: str):
    """(name, kwargs of fit, config) of every run of a part."""
    return plan_gv(part) if part in GV_PARTS else plan_dev()


def gv_config(**changes) -> AnalogTrainConfig:
    """Part (b)'s settings: the paper's (lr 0.01 per sample, BL 10, no update management, |w| <= 0.6), exact
    reads, batches of GV_BATCH samples read together (each sample still one rank-1 pulse update)."""
    cfg = dict(PAPER, batch_size=GV_BATCH, epochs=GV_EPOCHS, converters=False)
    cfg.update(changes)
    return AnalogTrainConfig(**cfg)


def plan_gv(part: str = "gv"):
    runs = []
    if part == "gv":
        runs.append(("float", dict(device=None), gv_config(algorithm="float", epochs=GV_BASE_EPOCHS)))
        for t in range(BASE_TRIALS):     # trials differ only in the pulse trains' random bits
            runs.append(("gv/base" + (f"/{t}" if t else ""), dict(device="ideal", update_model=BASE, trial=t),
                         gv_config(epochs=GV_BASE_EPOCHS)))
    for key in GV_PARTS[part]:
        for v in SWEEPS[key]:
            m = BASE.with_(**{key: float(v)})
            # fewer states: larger steps, so C = sqrt(lr / (BL dw)) only falls (no pulse probability reaches 1)
            runs.append((f"gv/{key}={v}", dict(device="ideal", update_model=m), gv_config()))
    if part == "gvt":   # a third trial of the baseline device
        runs.append((f"gv/base/{BASE_TRIALS}", dict(device="ideal", update_model=BASE, trial=BASE_TRIALS),
                     gv_config(epochs=GV_BASE_EPOCHS)))
    for key, values, trials in SWEEPS_E2.get(part, ()):
        for t in trials:
            for v in values:
                m = BASE.with_(**{key: float(v)}, **E2_MODEL.get(part, {}))
                runs.append((f"gv{GV_BASE_EPOCHS}/{key}={v}" + (f"/{t}" if t else ""),
                             dict(device="ideal", update_model=m, trial=t), gv_config(epochs=GV_BASE_EPOCHS)))
    points, head, n_ep, *sched = LONG_STUDIES.get(part, ((), "", 0))
    long = dict(epochs=n_ep, lr_schedule=sched[0] if sched else ())
    if part in LONG_BATCH:
        long["batch_size"] = LONG_BATCH[part]
    for key, v, trials in points:
        for t in trials:
            sfx = f"/{t}" if t else ""
            if key == "float":
                runs.append((f"{head}/float", dict(device=None), gv_config(algorithm="float", **long)))
            elif key == "base":
                runs.append((f"{head}/base{sfx}", dict(device="ideal", update_model=BASE, trial=t),
                             gv_config(**long)))
            else:
                m = BASE.with_(**{key: float(v)}, **(dict(c2c_signed=True) if key == "c2c" else {}))
                runs.append((f"{head}/{key}={v}{sfx}", dict(device="ideal", update_model=m, trial=t),
                             gv_config(**long)))
    for key in LONG_PARTS.get(part, ()):
        for v in SWEEPS_LONG[key]:
            m = BASE.with_(**{key: float(v)})
            runs.append((f"gv{GV_BASE_EPOCHS}/{key}={v}", dict(device="ideal", update_model=m),
                         gv_config(epochs=GV_BASE_EPOCHS)))
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
    d = data(part)
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
    store = {k: v for part in PARTS for k, v in load_runs(part).items()}
    from training_report import write_report
    write_report(store, REPORT, dict(n_train=N_TRAIN, epochs=EPOCHS, dev_epochs=DEV_EPOCHS, n_test=N_TEST,
                                     sweeps=SWEEPS, sweeps_long=SWEEPS_LONG, paper=PAPER, devices=DEVICES, algos=ALGOS, trials=DEVICE_TRIALS,
                                     gv_train=GV_TRAIN, gv_epochs=GV_EPOCHS, gv_base_epochs=GV_BASE_EPOCHS,
                                     gv_test=GV_TEST, gv_batch=GV_BATCH, base_trials=BASE_TRIALS))
    print(f"wrote {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

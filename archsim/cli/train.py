"""The train command: ``archsim train``, a network trained on the arrays of one or more devices.

Test accuracy per epoch (mean and 95% interval over ``--trials``), pulses per device, and the energy and
time of a training epoch from the circuit model (:mod:`archsim.cost.training`); several devices are
ranked by accuracy, energy and time together.  ``--plot`` draws accuracy against epochs (matplotlib).
"""
from __future__ import annotations

import math

from archsim.io import techlib
from archsim.cli.args import _arch_from_args, _devices, _network, _out_stem, finite_float, int_at_least, \
    nonnegative_int, out_dir, positive_int, trials_int
from archsim.cost.training import epoch_totals
from archsim.io.data import load_dataset
from archsim.model.errors import ArchsimError
from archsim.report import tables as report
from archsim.report.training import accuracy_frame, plot_accuracy, summary_table
from archsim.sim.training import ALGORITHMS, AnalogTrainConfig, run_trials
from archsim.sim.training.network import dense_chain
from archsim.sim.training.trainer import TRAINS, resolve_device

DATASETS = ("mnist", "fashion-mnist")
#: flag bounds: epochs, samples per read batch, and the learning rate per sample
MAX_EPOCHS, MAX_BATCH, MAX_LR = 10_000, 65_536, 10.0
epochs_int = int_at_least(1, MAX_EPOCHS, count=True)
batch_int = int_at_least(1, MAX_BATCH, count=True)
SCHEDULE_ALLOWED = (f"EPOCH:LR pairs separated by commas, epochs whole numbers from 2 to {MAX_EPOCHS:,} (and at "
                    f"most --epochs) and rising, each LR a finite number above 0 and at most {MAX_LR:g}, e.g. "
                    f"11:0.005,21:0.0025")


def lr_schedule(text: str) -> tuple:
    """argparse ``type=`` of ``--lr-schedule``: ``EPOCH:LR[,EPOCH:LR...]`` -> ((epoch, lr), ...); whether the
    epochs fit ``--epochs`` is checked once both are known (:func:`cmd_train`)."""
    import argparse
    steps, last = [], 1
    for item in str(text).split(","):
        e, sep, r = item.strip().partition(":")
        try:
            epoch, rate = int(e, 10), float(r)
        except ValueError:
            epoch, rate = None, math.nan
        if not sep or epoch is None or not last < epoch <= MAX_EPOCHS or not (math.isfinite(rate) and
                                                                               0 < rate <= MAX_LR):
            raise argparse.ArgumentTypeError(f"{item.strip()!r}: allowed {SCHEDULE_ALLOWED}")
        steps.append((epoch, rate))
        last = epoch
    return tuple(steps)


#: bounded where parsed (epochs and rates; the rate's bounds as the numeric flags state theirs)
lr_schedule.allowed, lr_schedule.bounded = SCHEDULE_ALLOWED, True
lr_schedule.lo, lr_schedule.hi, lr_schedule.lo_open = 0.0, MAX_LR, True


#: ``compare --task training`` (circuit cost model): one epoch on this many training images per device
COMPARE_TRAIN_IMAGES = 5000


def training_data(workload, dataset: str | None, train_samples: int | None, test_samples: int | None):
    """(x_train, y_train, x_test, y_test) of the workload's data set (or ``dataset``)."""
    name = dataset or workload.dataset
    if name not in DATASETS:
        raise ArchsimError(f"--dataset {name!r}: training data sets are {', '.join(DATASETS)} "
                           f"(workload {workload.name} names {workload.dataset!r})")
    xtr, ytr = load_dataset(name, "train", limit=train_samples)
    xte, yte = load_dataset(name, "test", limit=test_samples)
    return xtr, ytr, xte, yte


def _bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="img", unit_scale=True)


def train_devices(net, devices, data, cfg, trials, arch, progress: bool = True):
    """Train every device; (rows of the summary table, TrialSummary per device)."""
    if cfg.algorithm not in CLI_ALGORITHMS:        # refused before the training, not by the pricing after it
        raise ArchsimError(f"train: algorithm {cfg.algorithm!r} trains no device, so no epoch to price; allowed "
                           f"{', '.join(CLI_ALGORITHMS)}")
    rows, sums = [], []
    for d in devices:
        bar = _bar(trials * cfg.epochs * len(data[0]), progress, f"{d} ({cfg.algorithm})")
        s = run_trials(net, d, data, cfg, trials, arch=arch.replace(device=d),
                       progress=None if bar is None else bar.update)
        if bar is not None:
            bar.close()
        cost = [epoch_totals(r, arch.replace(device=d)) for r in s.results]
        rows.append(dict(device=d, algorithm=cfg.algorithm, accuracy=s.final, ci95=s.halfwidth[-1],
                         pulses_per_device=s.pulses_per_device, pulses_max=s.pulses_max,
                         endurance=s.results[0].extra["endurance"],
                         energy_epoch_J=sum(c["energy_epoch_J"] for c in cost) / len(cost),
                         time_epoch_s=sum(c["time_epoch_s"] for c in cost) / len(cost),
                         update_share=sum(c["update_share"] for c in cost) / len(cost)))
        sums.append(s)
    return rows, sums


def _print_table(table, acc):
    wide = acc.pivot_table(index="epoch", columns="device", values="accuracy", sort=False)
    print("test accuracy per epoch (mean over trials):")
    print(wide.to_string(float_format=lambda v: f"{v:.4f}"))
    print("\nper device, ranked (Pareto front of accuracy, energy and time first, then accuracy; accuracy after "
          "the last epoch +- 95% half-width; energy and time of one epoch, circuit model):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def compare_training(args, arch, devices, net) -> int:
    """``archsim compare --task training`` with the circuit cost model: train each device (one epoch on
    COMPARE_TRAIN_IMAGES images, ``--trials``, ``--seed``), test on ``--samples`` images, rank."""
    for d in devices:
        resolve_device(d)
    cfg = AnalogTrainConfig(seed=args.seed)
    data = training_data(net, None, COMPARE_TRAIN_IMAGES, args.samples)
    rows, sums = train_devices(net, devices, data, cfg, args.trials, arch, not args.no_progress)
    print(f"{net.name}: {', '.join(devices)} (circuit cost model, training: plain SGD, 1 epoch of {len(data[0])} "
          f"images, {args.trials} trials, seed {args.seed}; test accuracy on {len(data[3])} images; "
          f"archsim train sets epochs, algorithm and more)")
    table = summary_table(rows)
    _print_table(table, accuracy_frame(sums))
    if args.out:
        stem = _out_stem("compare_training", net.name)
        files = report.write_tables(args.out, stem, table, f"{net.name}: training per device", [])
        print("wrote " + ", ".join(map(str, files)))
    return 0


def _schedule_text(cfg) -> str:
    return "".join(f", {r:g} from epoch {e}" for e, r in cfg.lr_schedule)


def cmd_train(args) -> int:
    arch = _arch_from_args(args)
    devices = _devices(args.device)
    for d in devices:
        resolve_device(d)                         # a device without an update section fails before any work
    net, _ = _network(args)
    dense_chain(net)                              # a network the trainer cannot handle fails before the data load
    late = [e for e, _ in args.lr_schedule if e > args.epochs]
    if late:
        raise ArchsimError(f"--lr-schedule: epoch {late[0]} is beyond --epochs {args.epochs}; allowed schedule "
                           f"epochs from 2 to {args.epochs}")
    cfg = AnalogTrainConfig(algorithm=args.algorithm, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            bl=args.bl, trains=args.trains, seed=args.seed, lr_schedule=args.lr_schedule)
    stem = _out_stem("train", net.name)
    if args.out:
        report.table_paths(args.out, stem)
    if args.plot:                                 # --plot's needs fail before the training, not after it
        _plot_needs(args)
    data = training_data(net, args.dataset, args.train_samples, args.test_samples)
    rows, sums = train_devices(net, devices, data, cfg, args.trials, arch, not args.no_progress)
    print(f"{net.name} trained on {', '.join(devices)}: {args.algorithm}, {args.epochs} epochs of {len(data[0])} "
          f"images, batch {args.batch_size}, lr {args.lr:g}{_schedule_text(cfg)}, BL {args.bl} ({args.trains} "
          f"trains), {args.trials} trials, seed {args.seed}; test accuracy on {len(data[3])} images")
    acc = accuracy_frame(sums)
    table = summary_table(rows)
    _print_table(table, acc)
    if args.out:
        files = report.write_tables(args.out, stem, table, f"{net.name}: training per device", [])
        files += report.write_tables(args.out, stem + "_epochs", acc, f"{net.name}: accuracy per epoch", [])
        print("wrote " + ", ".join(map(str, files)))
    if args.plot:
        from pathlib import Path
        p = plot_accuracy(acc, Path(args.out) / f"{stem}_accuracy.png", f"{net.name}, {args.algorithm}")
        print(f"wrote {p}")
    return 0


def _plot_needs(args) -> None:
    from archsim.report.plots import matplotlib_available
    if not matplotlib_available():
        raise ArchsimError("--plot needs matplotlib (pip install archsim[plots])")
    if not args.out:
        raise ArchsimError("--plot needs --out DIR (the folder the plot is written to)")


#: ``--algorithm`` choices: every trainer but the float reference, which trains no device and so has no epoch to
#: price (archsim.cost.training refuses it); it stays an algorithm of the API (AnalogTrainConfig)
CLI_ALGORITHMS = tuple(a for a in ALGORITHMS if a != "float")


def add_train(sub) -> None:
    sp = sub.add_parser("train", help="train a network on the arrays (device update laws, pulses)")
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--workload", "-w", help="built-in workload: a chain of dense layers (mlp, rpu_mlp)")
    g.add_argument("--model", "-m", metavar="FILE.onnx", help="your own dense network as ONNX")
    sp.add_argument("--input-shape", metavar="C,H,W", help=argparse_hidden())
    names = [d for d in techlib.device_names()]
    sp.add_argument("--device", "-d", default="ecram",
                    help="device or comma-separated devices with an 'update' section (default ecram; "
                         f"registry: {', '.join(names)})")
    sp.add_argument("--algorithm", "-a", choices=list(CLI_ALGORITHMS), default="sgd")
    sp.add_argument("--epochs", type=epochs_int, default=1, help="passes over the training images (default 1)")
    sp.add_argument("--trials", type=trials_int, default=1, help="independent device draws (default 1)")
    sp.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    sp.add_argument("--lr", type=finite_float(0.0, MAX_LR, lo_open=True), default=0.01,
                    help="learning rate per sample (default 0.01)")
    sp.add_argument("--lr-schedule", type=lr_schedule, default=(), metavar="EPOCH:LR,...",
                    help="step changes of the learning rate: from each EPOCH (counted from 1) on, that LR "
                         "(default none: --lr throughout)")
    sp.add_argument("--bl", type=int_at_least(1, 64), default=31, help="pulse-train length in bits (default 31)")
    sp.add_argument("--batch-size", type=batch_int, default=10, help="samples read together (default 10)")
    sp.add_argument("--trains", choices=TRAINS, default="stochastic")
    sp.add_argument("--dataset", choices=DATASETS, help="data set (default: the workload's)")
    sp.add_argument("--train-samples", type=positive_int, help="first N training images (default all)")
    sp.add_argument("--test-samples", type=positive_int, help="first N test images (default all)")
    sp.add_argument("--arch", help="architecture YAML file (converters: input_bits, adc_bits, rows)")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one architecture key")
    sp.add_argument("--out", type=out_dir, help="folder for Markdown and CSV tables (and --plot)")
    sp.add_argument("--plot", action="store_true", help="accuracy against epochs per device (needs --out, matplotlib)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar (tqdm)")
    sp.set_defaults(func=cmd_train)


def argparse_hidden():
    import argparse
    return argparse.SUPPRESS


COMMANDS = {"train": add_train}

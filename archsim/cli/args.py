"""What the commands share: reading their arguments into architectures, networks, data and settings.

Every helper turns command-line text into the objects the flow takes (an :class:`Architecture` from
``--arch`` / ``--preset`` / ``--set``, a network from ``--workload`` or ``--model``, a time from ``--time``)
and fails with one :class:`ArchsimError` line naming the flag and what is allowed.  The ``add_*``
functions add the arguments several commands take, so each command group's module stays its own.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import NamedTuple



from archsim.cost.price import Estimate, evaluate
from archsim.mapping.layout import map_workload
from archsim.model import arch as _arch
from archsim.model import presets
from archsim.io import load
from archsim.io.files import join_stem, safe_stem
from archsim.model.errors import ArchsimError, ParameterError, brief
from archsim.report import tables as report


# ---------------------------------------------------------------------------------------------------------------------
# argparse types: every number is checked where it is parsed (0 is a value, never "not given")

class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line ``archsim: error: ...`` on stderr, exit status 2
    (argparse's own would print the usage block first).  A flag's bad value reads as the rest of archsim's
    messages do: ``--samples 0: allowed a whole number of 1 or more``."""

    def error(self, message: str):
        import re
        import sys
        text = " ".join(str(message).split())
        m = re.fullmatch(r"argument (-[^\s/:]+)(?:/\S+)?: (.*)", text)
        if m:
            flag, rest = m.groups()
            head = rest.split(":", 1)[0]
            text = f"{flag} {rest}" if ":" in rest and head and " " not in head else f"{flag}: {rest}"
        command = self.prog.split()[-1] if " " in self.prog else ""
        sys.stderr.write(f"archsim: error: {command + ': ' if command else ''}{text}\n")
        raise SystemExit(2)


def _shown(text) -> str:
    """A flag's value as a message shows it: as typed, quoted when empty or holding spaces or colons."""
    t = str(text)
    return t if t and not any(c.isspace() or c == ":" for c in t) and len(t) <= 40 else repr(t[:40])


def _int_text(text: str, allowed: str) -> int:
    try:
        v = int(str(text).strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)}: not a whole number; allowed {allowed}") from None
    return v


def int_at_least(lo: int, hi: int | None = None, *, count: bool = False) -> "callable":
    """argparse ``type=``: a whole number ``>= lo`` (and ``<= hi`` when given); ``.allowed`` says which
    (``--help`` shows it: :func:`show_bounds`).  ``count``: worded ``of lo or more, at most hi`` (a count
    whose upper bound is a limit of the tool) rather than ``from lo to hi`` (a range)."""
    if hi is None:
        allowed = f"a whole number of {lo} or more"
    elif count:
        allowed = f"a whole number of {lo} or more, at most {hi:,}"
    else:
        allowed = f"a whole number from {lo} to {hi}"

    def parse(text: str) -> int:
        v = _int_text(text, allowed)
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{_shown(text)}: allowed {allowed}")
        return v
    parse.__name__ = "int"      # argparse names the type in its messages
    parse.allowed, parse.lo, parse.hi, parse.lo_open = allowed, lo, hi, False
    parse.bounded = hi is not None
    return parse


#: upper bounds of the counting flags: each sized so the largest value still fits the machine archsim is
#: meant for (a run of hours, a few GiB), and is checked again against the data where that is smaller
MAX_TRIALS = 10_000              # programmed chips per design
MAX_SAMPLES = 1_000_000          # images scored (a data set's split is smaller: the split's size is used)
MAX_SEED = 2 ** 32 - 1           # numpy SeedSequence entropy of one 32-bit word
MAX_WORKERS = 1024               # local worker processes
MAX_ROWS_SHOWN = 1_000_000       # table rows printed

#: argparse ``type=``: a whole number of 1 or more, bounded (samples, trials, workers, top)
positive_int = int_at_least(1, MAX_SAMPLES, count=True)
#: argparse ``type=``: a seed, 0 to 2^32 - 1
nonnegative_int = int_at_least(0, MAX_SEED, count=True)
#: argparse ``type=``: chips to simulate
trials_int = int_at_least(1, MAX_TRIALS, count=True)
#: argparse ``type=``: local worker processes
workers_int = int_at_least(1, MAX_WORKERS, count=True)


def arch_int(name: str):
    """argparse ``type=``: a whole number in the range the architecture key ``name`` allows."""
    k = _arch.KEY_BY_NAME[name]
    return int_at_least(int(k.lo), None if k.hi is None else int(k.hi))


def finite_float(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False):
    """argparse ``type=``: a finite number within ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    parts = []
    if lo is not None:
        parts.append(f"{'above' if lo_open else 'at least'} {lo:g}")
    if hi is not None:
        parts.append(f"at most {hi:g}")
    allowed = "a finite number" + (" " + " and ".join(parts) if parts else "")

    def parse(text: str) -> float:
        try:
            v = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(text)}: not a number; allowed {allowed}") from None
        if not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or \
                (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"{_shown(text)}: allowed {allowed}")
        return v
    parse.__name__ = "float"
    parse.allowed, parse.lo, parse.hi, parse.lo_open = allowed, lo, hi, lo_open
    parse.bounded = lo is not None and hi is not None
    return parse


def show_bounds(parser: argparse.ArgumentParser) -> None:
    """Append each numeric flag's bound (its type's ``.allowed``) to its ``--help`` text, in every subcommand."""
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    for p in parsers:
        for action in p._actions:
            allowed = getattr(action.type, "allowed", None)
            if allowed and action.help is not argparse.SUPPRESS and allowed not in (action.help or ""):
                action.help = (action.help or "").rstrip() + f" [allowed {allowed}]"


def out_dir(text: str) -> str:
    """argparse ``type=``: an output folder that exists or can be made, and can be written.

    Checked before any work (nothing is created here; :func:`archsim.io.files.resolve_out_folder`): the
    path, if it exists, must be a folder one can write into; else its nearest existing parent must be.  A
    symbolic link on the way is resolved (the real folder is used); a dangling one is refused."""
    from archsim.io.files import resolve_out_folder
    try:
        return str(resolve_out_folder(text, "out"))
    except ParameterError as exc:     # argparse puts the flag in front itself
        msg = exc.worded({"out": "--out"})
        raise argparse.ArgumentTypeError(msg[len("--out "):] if msg.startswith("--out ") else msg) from None


# ---------------------------------------------------------------------------------------------------------------------
# arguments several commands take

def add_network(sp) -> None:
    g = sp.add_mutually_exclusive_group(required=True)
    g.add_argument("--workload", "-w", help="built-in workload name (archsim list)")
    g.add_argument("--model", "-m", metavar="FILE.onnx",
                   help="your own network as an ONNX file, with its weights (pip install archsim[onnx])")
    sp.add_argument("--input-shape", metavar="C,H,W",
                    help="per-image input shape of a --model whose input has dynamic axes")


def add_common(sp) -> None:
    add_network(sp)
    sp.add_argument("--arch", help="architecture YAML file")
    sp.add_argument("--preset", help=f"a published architecture (archsim list): {', '.join(presets.names())}")
    sp.add_argument("--cost-model", choices=("circuit", "lut"), help="override the architecture's cost_model")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one architecture key (repeatable)")
    sp.add_argument("--task", choices=("inference", "training"), default="inference")
    sp.add_argument("--out", type=out_dir, help="folder for Markdown and CSV tables and report.html")


def add_activity_args(sp) -> None:
    sp.add_argument("--activity", choices=("default", "data"), default="default",
                    help="default: the assumed input bit density and conductance of techlib/circuits/activity.yaml; "
                         "data: measured per layer through the network's forward pass (needs weights)")
    sp.add_argument("--activity-samples", type=int_at_least(1, MAX_CALIBRATION, count=True), default=256, metavar="N",
                    help="calibration inputs --activity data measures on (default 256, from the TRAIN split)")
    sp.add_argument("--data", metavar="FILE.npz",
                    help="with --activity data: measure on these inputs (x, y as for the accuracy command) instead "
                         "of the network's own train images")


def add_sim_args(sp, trials: int, samples: int) -> None:
    sp.add_argument("--trials", type=trials_int, default=trials, help=f"programmed chips to simulate (default {trials})")
    sp.add_argument("--samples", type=positive_int, default=samples, help=f"test images (default {samples})")
    sp.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (0 or more; default 0)")
    sp.add_argument("--time", type=time_s, help="time after programming for drift, e.g. 1d, 3600 (s), 1y "
                    "[allowed 0 s to 100 y]")
    sp.add_argument("--no-read-noise", action="store_true", help="switch read noise off")
    sp.add_argument("--no-ir-drop", action="store_true",
                    help="ideal wires even where the architecture sets r_wire_ohm, r_in_ohm, r_out_ohm")
    sp.add_argument("--calibration", metavar="N|FILE.npz", default=None, type=calibration_text,
                    help="what sets the chip's input and ADC ranges, never scored: N images (default "
                         f"{CALIBRATION_IMAGES}) from the data set's TRAIN split, or held out from the start of "
                         "--data; or a .npz file (x, y as for --data; its labels are not used)")
    add_no_progress(sp, "no progress bar (images over all trials; needs tqdm)")


def add_no_progress(sp, text: str = "no progress bar (bars need tqdm: pip install archsim[progress])") -> None:
    """``--no-progress``: every command takes it, those that show no bar too (scripts can pass it anywhere)."""
    sp.add_argument("--no-progress", action="store_true", help=text)


# ---------------------------------------------------------------------------------------------------------------------
# arguments to objects

#: how the command line names the parameters of the library's loaders (archsim.io.load) in its errors
FLAGS = {"arch": "--arch", "preset": "--preset", "overrides": "--set", "devices": "--devices",
         "input_shape": "--input-shape", "model": "--model FILE.onnx", "workload": "--workload",
         "layers": "--hybrid", "input_hw": "--sim-input", "check": "--no-simulate",
         "check.samples": "--sim-samples", "check.trials": "--sim-trials", "check.input_hw": "--sim-input",
         "check.min_accuracy": "--min-accuracy", "check.max_accuracy_drop": "--max-accuracy-drop",
         "check.min_agreement": "--min-agreement", "check.min_snr_db": "--min-snr-db"}


def _overrides(items: list[str] | None) -> dict:
    return load.overrides(items)


def _arch_from_args(args) -> _arch.Architecture:
    changes = load.overrides(args.set)
    if getattr(args, "cost_model", None):
        changes["cost_model"] = args.cost_model
    return load.architecture(args.arch or None, preset=getattr(args, "preset", None) or None, overrides=changes)


def _devices(text: str) -> list[str]:
    return load.devices(text)


TIME_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31557600.0}


def _parse_time(text) -> float:
    """Seconds from ``--time`` text (a number with an optional unit s, m, h, d, w, y); finite, 0 or more."""
    import re
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        v = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([smhdwy]?)\s*", str(text))
        if not m:
            raise ArchsimError(f"--time '{text}': write a number of 0 or more with an optional unit s, m, h, d, w "
                               f"or y (e.g. 1d, 3600)")
        v = float(m.group(1)) * TIME_UNITS[m.group(2) or "s"]
    from archsim.sim.tilesim.config import MAX_TIME_S
    if not math.isfinite(v) or v < 0:
        raise ArchsimError(f"--time '{text}': {v:g} s is not allowed; allowed a finite time of 0 s or more")
    if v > MAX_TIME_S:
        raise ArchsimError(f"--time '{text}': {v:g} s is not allowed; allowed 0 s to {MAX_TIME_S:g} s (100 y)")
    return v


def time_s(text: str) -> float:
    """argparse ``type=`` for ``--time``: seconds (see :func:`_parse_time`)."""
    try:
        return _parse_time(text)
    except ArchsimError as e:
        raise argparse.ArgumentTypeError(f"{_shown(text)}: {str(e).split(': ', 1)[-1]}") from None


def _network(args):
    """``(workload, builtin)`` from ``--workload NAME`` or ``--model FILE.onnx``."""
    model = getattr(args, "model", None)
    return load.network(Path(model) if model else args.workload, input_shape=getattr(args, "input_shape", None))


def _floats(text: str | None, flag: str, positive: bool = False):
    """``--mean`` / ``--std`` text: one finite number or one per channel (``positive``: each above 0)."""
    if text is None:
        return None
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        vals = []
    if not vals:
        raise ArchsimError(f"{flag} '{text}': write a number or one number per channel, comma-separated")
    if not all(math.isfinite(v) for v in vals):
        raise ArchsimError(f"{flag} '{text}': allowed finite numbers only (no nan or inf)")
    if positive and min(vals) <= 0:
        raise ArchsimError(f"{flag} '{text}': allowed numbers above 0 only")
    return vals[0] if len(vals) == 1 else vals


#: calibration images when ``--calibration`` is not given
CALIBRATION_IMAGES = 128
#: the most calibration images ``--calibration N`` may ask for (also bounded by the training split's size and,
#: for synthetic inputs, by :data:`archsim.io.data.MAX_DATA_BYTES`)
MAX_CALIBRATION = 100_000


def calibration_text(text: str) -> str:
    """argparse ``type=`` for ``--calibration``: ``N`` (1 to :data:`MAX_CALIBRATION`) or a ``.npz`` path."""
    try:
        _calibration_arg(text)
    except ArchsimError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(" ", 1)[1] if str(exc).startswith("--calibration ")
                                         else str(exc)) from None
    return text


calibration_text.allowed = f"N from 1 to {MAX_CALIBRATION:,} (at most the training split's size) or a .npz file"
calibration_text.lo, calibration_text.hi, calibration_text.lo_open, calibration_text.bounded = 1, MAX_CALIBRATION, False, True


class AccuracyInputs(NamedTuple):
    wl: object                 # the workload with weights
    x: object                  # the scored images
    y: object                  # their labels (None: fidelity)
    own: str                   # what weights
    x_cal: object              # the calibration batch (never scored)
    calibration: str           # where it came from


def _calibration_arg(text: str | None):
    """``--calibration``: ``(N, None)`` for a number of images, ``(None, path)`` for a file."""
    if text is None:
        return CALIBRATION_IMAGES, None
    t = str(text).strip()
    if t.isdigit():
        n = int(t)
        if not 1 <= n <= MAX_CALIBRATION:
            raise ArchsimError(f"--calibration {t}: allowed a whole number from 1 to {MAX_CALIBRATION:,}, or a .npz "
                               f"file")
        return n, None
    if not t.lower().endswith(".npz"):
        raise ArchsimError(f"--calibration {brief(t)}: allowed a whole number of images or a .npz file (x, as for --data)")
    return None, t


def _accuracy_inputs(wl, builtin: bool, samples: int, seed: int, data: str | None = None, normalize: str = "0-1",
                     mean=None, std=None, calibration: str | None = None) -> AccuracyInputs:
    """The weighted network, its scored data and its calibration batch (:class:`AccuracyInputs`).

    Weights: a network's own (an ONNX model's, or the shipped trained ones of a built-in); data: ``--data``,
    else the real test set of its data set; without labelled data, fidelity on synthetic inputs; without
    weights, random ones.  Calibration (``--calibration``) never touches the scored images: a ``.npz`` file's
    x; else N images (default :data:`CALIBRATION_IMAGES`) from the data set's training split, held out from
    the start of ``--data`` (those are not scored; by default at most half of a small file), or separate
    synthetic inputs."""
    import workloads as W
    from archsim.io import data as D
    from archsim.sim.accuracy import synthetic_inputs
    from archsim.model.weights import random_weights
    n_cal, cal_file = _calibration_arg(calibration)
    if wl.has_weights:
        weighted, own = wl, "its own weights"
    elif builtin and W.weights_path(wl.name).exists():
        weighted, own = W.with_weights(wl), "trained weights"
    else:
        weighted, own = None, ""
    if cal_file:
        target = weighted if weighted is not None else wl
        x_cal, _ = D.load_npz(cal_file, workload=target, normalize=normalize, mean=mean, std=std)
        if len(x_cal) < 1:
            raise ArchsimError(f"--calibration {cal_file}: no images")
        cal_what = f"{len(x_cal)} images of {cal_file}"
    if data:
        if weighted is None:
            what = f"workload {wl.name} has no trained weights" if builtin else \
                f"model {wl.name} carries no weight values (exported structure only)"
            raise ArchsimError(f"--data {data}: {what} to measure accuracy with")
        x, y = D.load_npz(data, workload=weighted, normalize=normalize, mean=mean, std=std)
        if cal_file:
            return AccuracyInputs(weighted, x[:samples], y[:samples], own, x_cal, cal_what)
        if calibration is None:      # the default on a small file: half of it at most, the rest scored
            n_cal = max(1, min(n_cal, len(x) // 2))
        if len(x) <= n_cal:
            raise ArchsimError(f"--data {data}: {len(x)} images, and the first {n_cal} are held out for calibration; "
                               f"give --calibration FILE.npz or a smaller --calibration N")
        return AccuracyInputs(weighted, x[n_cal:n_cal + samples], y[n_cal:n_cal + samples], own, x[:n_cal],
                              f"the first {n_cal} images of {data}, held out (not scored)")
    if weighted is not None and wl.dataset in D.DATASETS:
        have = D.split_size(wl.dataset, "train")
        if not cal_file and have is not None and n_cal > have:     # before any image is loaded
            raise ArchsimError(f"--calibration {n_cal}: the {wl.dataset} training split has {have:,} images; allowed "
                               f"1 to {have:,} (or a .npz file)")
        if not cal_file:
            D.check_batch(n_cal, wl.input_layer.out_shape, f"--calibration {n_cal}")
        x, y = D.for_workload(weighted, "test", limit=samples)
        if not cal_file:
            x_cal, cal_what = load.training_calibration(weighted, n_cal)
        return AccuracyInputs(weighted, x, y, own, x_cal, cal_what)
    D.check_batch(samples, wl.input_layer.out_shape, f"--samples {samples}")   # synthetic inputs, before making them
    if weighted is None:
        weighted, own = random_weights(wl, seed=seed), "random weights"
    if not cal_file:
        D.check_batch(n_cal, wl.input_layer.out_shape, f"--calibration {n_cal}")
        x_cal = synthetic_inputs(weighted, n_cal, seed=[seed, 1])    # a stream of its own: not the scored inputs
        cal_what = f"{n_cal} separate synthetic inputs"
    return AccuracyInputs(weighted, synthetic_inputs(weighted, samples, seed=seed), None, own, x_cal, cal_what)


def _sim_config(args):
    from archsim.sim.tilesim import SimConfig
    return SimConfig(time_s=_parse_time(args.time) if args.time is not None else 0.0, read_noise=not args.no_read_noise,
                     ir_drop=not args.no_ir_drop,
                     parallel=False)  # serial kernels: parallel pays only with OMP_WAIT_POLICY=PASSIVE (see bench_tilesim)


def _accuracy_row(inp: AccuracyInputs, a, args):
    from archsim.sim.accuracy import simulate
    return simulate(map_workload(inp.wl, a), inp.x, inp.y, x_cal=inp.x_cal, calibration=inp.calibration,
                    trials=args.trials, seed=args.seed, cfg=_sim_config(args),
                    progress=not getattr(args, "no_progress", False))


def _estimate(wl, a: _arch.Architecture, task: str) -> Estimate:
    """Map and price one network on one architecture (the flow's two steps)."""
    return evaluate(map_workload(wl, a), task=task)


def _calibration(wl, args, builtin: bool = True):
    """``(workload, x, what)`` for ``--activity``: the network with its weights and the batch to measure on
    (``x`` None for ``--activity default``)."""
    from archsim.sim.activity import calibration_inputs, with_weights
    if args.activity != "data":
        if args.data:
            raise ArchsimError(f"--data {args.data}: applies with --activity data only")
        return wl, None, ""
    wl = with_weights(wl, shipped=builtin)
    x, what = calibration_inputs(wl, args.activity_samples, args.data)
    return wl, x, what


def _priced(wl, a: _arch.Architecture, task: str, x=None, what: str = ""):
    """``(Estimate, Activity)``: one network priced with the default activity, or with the activity
    measured on the batch ``x`` when one is given."""
    from archsim.cost.events import default_activity
    from archsim.sim.activity import measure_activity
    m = map_workload(wl, a)
    act = default_activity(a.circuits) if x is None else measure_activity(m, x, f"measured on {what}")
    return evaluate(m, task=task, activity=act), act


def _activity_text(est: Estimate, act, markdown: bool = False) -> str:
    """What activity priced ``est``: its source and, per layer, input bit density and conductance fraction."""
    from archsim.sim.activity import activity_table
    head = f"activity: {act.source}"
    if act.bit_planes is None:
        return (head + f"; input bit density {act.input_bit_density}, conductance fraction "
                f"{act.mean_conductance_fraction} in every layer")
    t = activity_table(est.mapping, act)
    return head + "\n\n" + (report.to_markdown(t) if markdown else report.to_text(t))


def _device_stem(device: str) -> str:
    """The part of an output file name that names a device: a path's stem or the name, made safe."""
    text = str(device)
    return safe_stem(Path(text).stem if text.lower().endswith((".yaml", ".yml")) else text, "device")


def _out_stem(command: str, *parts: str) -> str:
    """An output file stem ``command_part_part`` from user text (names, paths), every part made safe; a long one
    is shortened with a stable hash suffix (:func:`archsim.io.files.join_stem`), never refused."""
    return join_stem(command, *parts)


def _figure_notes(df, devices, markdown: bool = False) -> str:
    """What is printed under a table of estimates: what a row counts (an inference or a training step), a
    chip larger than one lithography field, and how far energy and area can be trusted
    (:mod:`archsim.report.notes`, :mod:`archsim.report.trust`)."""
    from archsim.report import notes, trust
    lines = [t for t in (notes.task_note(notes.task_of(df)), notes.reticle_rows(df)) if t]
    return ("\n\n" if markdown else "\n").join(lines + [trust.statement_text(devices, markdown)])


def _notes(devices, arch) -> str:
    from archsim.report import notes
    return (f"Architecture: {arch.source}; " + ", ".join(f"{k}={v}" for k, v in arch.as_dict().items() if k != "device")
            + "\n\n" + notes.leakage(arch) + "\n\n" + report.assumptions_markdown(devices, arch.node_nm))

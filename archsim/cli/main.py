"""Command line: ``archsim list | estimate | compare | accuracy | export | validate`` (and sweeps).

``--workload NAME`` (a built-in) or ``--model FILE.onnx`` (your own network,
``pip install archsim[onnx]``) names the network wherever one is taken.

Bad input prints one line ``archsim: error: ...`` on stderr and exits with 2.
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd
import yaml

import techlib
import workloads

from archsim.model import arch as _arch
from archsim.model import presets
from archsim.report import tables as report
from archsim.api import estimate
from archsim.cost.price import ENERGY_PARTS
from archsim.model.errors import ArchsimError


def _overrides(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ArchsimError(f"--set '{item}': write key=value; allowed keys: {', '.join(_arch.KEY_BY_NAME)}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError:
            raise ArchsimError(f"--set '{item}': value is not a plain YAML scalar or list") from None
    return out


def _arch_from_args(args) -> _arch.Architecture:
    if args.arch and getattr(args, "preset", None):
        raise ArchsimError("--arch and --preset both given; choose one (use --set to change a preset's keys)")
    if getattr(args, "preset", None):
        a = presets.load(args.preset).architecture
    else:
        a = _arch.load(args.arch) if args.arch else _arch.Architecture()
    changes = _overrides(args.set)
    if getattr(args, "cost_model", None):
        changes["cost_model"] = args.cost_model
    for k in changes:
        if k not in _arch.KEY_BY_NAME:
            raise ArchsimError(f"--set: unknown key '{k}'; allowed keys: {', '.join(_arch.KEY_BY_NAME)}")
    return a.replace(**changes) if changes else a


def _devices(text: str) -> list[str]:
    names = [d.strip() for d in text.split(",") if d.strip()]
    if not names:
        raise ArchsimError(f"--devices '{text}': give a comma-separated list; choose from: {', '.join(techlib.device_names())}")
    for d in names:
        techlib.device(d)  # unknown names fail here, before any work
    return names


TIME_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31557600.0}


def _parse_time(text: str) -> float:
    import re
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([smhdwy]?)\s*", str(text))
    if not m:
        raise ArchsimError(f"--time '{text}': write a number with an optional unit s, m, h, d, w or y (e.g. 1d, 3600)")
    return float(m.group(1)) * TIME_UNITS[m.group(2) or "s"]


def _shape(text: str | None):
    if not text:
        return None
    try:
        dims = tuple(int(v) for v in str(text).replace("x", ",").split(",") if v.strip())
    except ValueError:
        dims = ()
    if len(dims) not in (1, 3) or min(dims) < 1:
        raise ArchsimError(f"--input-shape '{text}': write C,H,W or F (per image, no batch axis), e.g. 1,28,28")
    return dims


def _network(args):
    """``(workload, builtin)`` from ``--workload NAME`` or ``--model FILE.onnx``."""
    model = getattr(args, "model", None)
    if model:
        from archsim.io.onnx import load_onnx
        return load_onnx(model, input_shape=_shape(getattr(args, "input_shape", None))), False
    if getattr(args, "input_shape", None):
        raise ArchsimError("--input-shape applies to --model FILE.onnx, not to a built-in --workload")
    return workloads.get(args.workload), True


def _floats(text: str | None, flag: str):
    if text is None:
        return None
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        vals = []
    if not vals:
        raise ArchsimError(f"{flag} '{text}': write a number or one number per channel, comma-separated")
    return vals[0] if len(vals) == 1 else vals


def _accuracy_inputs(wl, builtin: bool, samples: int, seed: int, data: str | None = None, normalize: str = "0-1",
                     mean=None, std=None):
    """``(workload with weights, x, y, what_weights)``: a network's own weights (an ONNX model's, or
    the shipped trained ones of a built-in) and its data (``--data``, else the real test set of its
    data set); without labelled data, fidelity on synthetic inputs; without weights, random ones."""
    import workloads as W
    from archsim.io import data as D
    from archsim.sim.accuracy import synthetic_inputs
    from archsim.model.weights import random_weights
    if wl.has_weights:
        weighted, own = wl, "its own weights"
    elif builtin and W.weights_path(wl.name).exists():
        weighted, own = W.with_weights(wl), "trained weights"
    else:
        weighted, own = None, ""
    if data:
        if weighted is None:
            what = f"workload {wl.name} has no trained weights" if builtin else \
                f"model {wl.name} carries no weight values (exported structure only)"
            raise ArchsimError(f"--data {data}: {what} to measure accuracy with")
        x, y = D.load_npz(data, workload=weighted, normalize=normalize, mean=mean, std=std)
        return weighted, x[:samples], y[:samples], own
    if weighted is not None and wl.dataset in D.DATASETS:
        x, y = D.for_workload(weighted, "test", limit=samples)
        return weighted, x, y, own
    if weighted is not None:
        return weighted, synthetic_inputs(weighted, samples, seed=seed), None, own
    wl = random_weights(wl, seed=seed)
    return wl, synthetic_inputs(wl, samples, seed=seed), None, "random weights"


def _sim_config(args):
    from archsim.sim.tilesim import SimConfig
    return SimConfig(time_s=_parse_time(args.time) if args.time else 0.0, read_noise=not args.no_read_noise,
                     ir_drop=not args.no_ir_drop,
                     parallel=False)  # serial kernels: parallel pays only with OMP_WAIT_POLICY=PASSIVE (see bench_tilesim)


def _accuracy_row(wl, x, y, a, args):
    from archsim.sim.accuracy import simulate
    r = simulate(wl, a, x, y, trials=args.trials, seed=args.seed, cfg=_sim_config(args),
                 progress=not getattr(args, "no_progress", False))
    return r


def cmd_accuracy(args) -> int:
    a = _arch_from_args(args)
    if args.device:
        a = a.replace(device=args.device)
    if args.adc_bits:
        a = a.replace(adc_bits=args.adc_bits)
    net, builtin = _network(args)
    wl, x, y, own = _accuracy_inputs(net, builtin, args.samples, args.seed, args.data, args.normalize,
                                     _floats(args.mean, "--mean"), _floats(args.std, "--std"))
    r = _accuracy_row(wl, x, y, a, args)
    s = r.summary()
    label = "accuracy (top-1 on the test set)" if r.metric == "accuracy" else \
        f"fidelity (top-1 agreement with the exact digital network, {own}, synthetic inputs)"
    print(f"{wl.name} on {a.device}: {label}, {r.samples} samples, {len(r.per_trial)} trials, seed {r.seed}\n")
    print(report.to_text(pd.DataFrame([s])))
    print()
    print(report.to_text(r.per_layer))
    if args.out:
        files = report.write_tables(args.out, f"accuracy_{wl.name}_{a.device}", pd.DataFrame([s]),
                                    f"{wl.name} on {a.device}: {r.metric}", _notes([a.device], a))
        print("wrote " + ", ".join(map(str, files)))
    return 0


def cmd_list(args) -> int:
    if args.keys:
        print(report.to_text(pd.DataFrame(_arch.keys_table())))
        return 0
    wl = pd.DataFrame(workloads.describe())
    wl["weights"] = wl["weights"].map(lambda v: f"{v:,}")
    wl["macs"] = wl["macs"].map(lambda v: f"{v:,}")
    print("Workloads\n")
    print(report.to_text(wl[["name", "dataset", "weights", "macs", "description"]]))
    rows = []
    for d in techlib.device_names():
        r = techlib.device(d)
        rows.append(dict(name=d, kind=r.field("kind", "analog"), levels=int(r["conductance.levels"]),
                         lut="yes" if r.has("lut.vmm.energy_per_op") else "no",
                         assumed_values=len(r.assumptions()), description=r.field("description", "")))
    print("\nDevices\n")
    print(report.to_text(pd.DataFrame(rows)))
    rows = [dict(name=n, description=presets.load(n).description) for n in presets.names()]
    print("\nPresets (--preset NAME)\n")
    print(report.to_text(pd.DataFrame(rows)))
    print("\nArchitecture keys: archsim list --keys")
    return 0


def cmd_validate(args) -> int:
    from archsim.explore import validate
    files = validate.write_report(args.out, accuracy=not args.no_accuracy)
    df = pd.read_csv(files[1]) if args.verbose else None
    print("wrote " + ", ".join(map(str, files)))
    if df is not None:
        print(report.to_text(df[["source", "figure", "unit", "published", "archsim", "ratio"]]))
    return 0


def _notes(devices, arch) -> str:
    return (f"Architecture: {arch.source}; " + ", ".join(f"{k}={v}" for k, v in arch.as_dict().items() if k != "device")
            + "\n\n" + report.assumptions_markdown(devices))


def cmd_estimate(args) -> int:
    a = _arch_from_args(args)
    if args.device:
        a = a.replace(device=args.device)
    est = estimate(_network(args)[0], arch=a, task=args.task)
    s = est.summary
    print(f"{s['workload']} on {s['device']} ({s['cost_model']} cost model, {args.task}), "
          f"{s['tiles']} tiles ({s['mesh']} mesh), {s['arrays']} arrays of {a.rows}x{a.cols}, "
          f"{s['bits_per_cell']} bits/cell\n")
    disp = report.display_frame(est.totals())
    print(report.to_text(disp))
    if args.layers:
        cols = ["layer", "macs", "arrays", "replication", "tiles", "energy_J", "stage_latency_s", "utilization"]
        print()
        print(report.to_text(est.layers[cols]))
    parts = {k: s[f"energy_{k}_J"] for k in ENERGY_PARTS}
    total = sum(parts.values())
    print("\nenergy split: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in parts.items()))
    print(report.OPS_NOTE)
    if args.out:
        stem = f"estimate_{s['workload']}_{s['device']}"
        files = report.write_tables(args.out, stem, est.totals(), f"{s['workload']} on {s['device']}",
                                    _notes([a.device], a), display=disp)
        files += report.write_tables(args.out, stem + "_layers", est.layers, f"{s['workload']} on {s['device']}: layers",
                                     _notes([a.device], a))
        print("wrote " + ", ".join(map(str, files)))
    return 0


def cmd_compare(args) -> int:
    a = _arch_from_args(args)
    devices = _devices(args.devices)
    net, builtin = _network(args)
    df = report.summary_frame(estimate(net, d, a, task=args.task).summary for d in devices)
    name = df["workload"].iloc[0]
    own = "random weights"
    if args.accuracy:
        wl, x, y, own = _accuracy_inputs(net, builtin, args.samples, args.seed)
        accs = [_accuracy_row(wl, x, y, a.replace(device=d), args) for d in devices]
        metric = accs[0].metric
        df[metric] = [r.mean for r in accs]
        df[f"{metric}_std"] = [r.std for r in accs]
    print(f"{name}: {', '.join(devices)} ({a.cost_model} cost model, {args.task}; arrays {a.rows}x{a.cols}, "
          f"{a.weight_bits}-bit weights, {a.input_bits}-bit inputs, {a.adc_bits}-bit ADC)\n")
    disp = report.display_frame(df, extra=[c for c in ("accuracy", "accuracy_std", "fidelity", "fidelity_std") if c in df])
    print(report.to_text(disp))
    print("\n" + report.OPS_NOTE)
    if "fidelity" in df:
        print(f"fidelity: top-1 agreement with the exact digital network ({own}, synthetic inputs), not accuracy")
    if args.out:
        files = report.write_tables(args.out, f"compare_{name}", df, f"Device comparison on {name}",
                                    _notes(devices, a), display=disp)
        print("wrote " + ", ".join(map(str, files)))
    return 0


def cmd_export(args) -> int:
    from archsim.io.onnx import EXPORT_OPSET, save_onnx
    import workloads as W
    wl, builtin = _network(args)
    note = ""
    if args.weights == "auto" and builtin and W.weights_path(wl.name).exists():
        wl = W.with_weights(wl)
        note = f"trained weights from {W.weights_path(wl.name).name}"
    elif args.weights == "auto":
        note = "its own weights" if wl.has_weights else f"random He-normal weights (seed {args.seed})"
    else:
        note = {"random": f"random He-normal weights (seed {args.seed})", "zeros": "zero weights",
                "none": "no weight values (structure only: weights are graph inputs)"}[args.weights]
    path = save_onnx(wl, args.out, weights=args.weights, seed=args.seed)
    print(f"wrote {path}: {wl.name}, {len(wl.layers()) - 1} layers ({len(wl.weighted_layers())} weighted, "
          f"{wl.total_weights:,} weights, {wl.total_macs:,} MACs), {note}, opset {EXPORT_OPSET}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archsim", description="Energy, latency, area (and accuracy) of neural networks "
                                "on analog in-memory-computing accelerators.")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("list", help="workloads, devices and architecture keys")
    sp.add_argument("--keys", action="store_true", help="list architecture keys with defaults and allowed values")
    sp.set_defaults(func=cmd_list)

    def network(sp):
        g = sp.add_mutually_exclusive_group(required=True)
        g.add_argument("--workload", "-w", help="built-in workload name (archsim list)")
        g.add_argument("--model", "-m", metavar="FILE.onnx",
                       help="your own network as an ONNX file, with its weights (pip install archsim[onnx])")
        sp.add_argument("--input-shape", metavar="C,H,W",
                        help="per-image input shape of a --model whose input has dynamic axes")

    def common(sp):
        network(sp)
        sp.add_argument("--arch", help="architecture YAML file")
        sp.add_argument("--preset", help="a published architecture (archsim list): isaac, sonos_sandia, yao2020, ibm_pcm, dpe")
        sp.add_argument("--cost-model", choices=("circuit", "lut"), help="override the architecture's cost_model")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one architecture key (repeatable)")
        sp.add_argument("--task", choices=("inference", "training"), default="inference")
        sp.add_argument("--out", help="folder for Markdown and CSV tables")

    def sim_args(sp, trials, samples):
        sp.add_argument("--trials", type=int, default=trials, help=f"programmed chips to simulate (default {trials})")
        sp.add_argument("--samples", type=int, default=samples, help=f"test images (default {samples})")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--time", help="time after programming for drift, e.g. 1d, 3600 (s), 1y")
        sp.add_argument("--no-read-noise", action="store_true", help="switch read noise off")
        sp.add_argument("--no-ir-drop", action="store_true",
                        help="ideal wires even where the architecture sets r_wire_ohm, r_in_ohm, r_out_ohm")
        sp.add_argument("--no-progress", action="store_true", help="no progress bar")

    sp = sub.add_parser("estimate", help="energy, latency, area, TOPS/W, TOPS/mm2 of one design")
    common(sp)
    sp.add_argument("--device", "-d", help="device name or .yaml (overrides the architecture's)")
    sp.add_argument("--layers", action="store_true", help="also print the per-layer table")
    sp.set_defaults(func=cmd_estimate)

    sp = sub.add_parser("compare", help="one table across devices")
    common(sp)
    sp.add_argument("--devices", "-D", default="reram,sonos,ecram,sram,pcm",
                    help="comma-separated device names (default: reram,sonos,ecram,sram,pcm)")
    sp.add_argument("--accuracy", action="store_true", help="add an accuracy (or fidelity) column by Monte Carlo")
    sim_args(sp, trials=3, samples=500)
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("accuracy", help="network accuracy (or fidelity) by Monte Carlo over programmed chips")
    common(sp)
    sp.add_argument("--device", "-d", help="device name or .yaml (overrides the architecture's)")
    sp.add_argument("--adc-bits", type=int, help="override the architecture's adc_bits")
    sp.add_argument("--data", help=".npz with x (n,C,H,W), (n,H,W) or (n,F) and y (n,) labels (your own test set; see README)")
    sp.add_argument("--normalize", choices=("0-1", "none", "standard"), default="0-1",
                    help="--data pixels: 0-1 divides uint8 by 255 (floats kept, default); none keeps values; "
                         "standard computes (x - mean) / std")
    sp.add_argument("--mean", help="for --normalize standard: a number or one per channel (comma-separated), "
                                   "in the units of the file")
    sp.add_argument("--std", help="for --normalize standard: a number or one per channel (comma-separated)")
    sim_args(sp, trials=10, samples=10000)
    sp.set_defaults(func=cmd_accuracy)

    sp = sub.add_parser("export", help="write a network as an ONNX file (pip install archsim[onnx])")
    network(sp)
    sp.add_argument("--out", "-o", required=True, metavar="FILE.onnx", help="where to write the ONNX model")
    sp.add_argument("--weights", choices=("auto", "random", "zeros", "none"), default="auto",
                    help="auto: trained or the model's own weights, else random He-normal (default); none: "
                         "structure only, weights as graph inputs without values")
    sp.add_argument("--seed", type=int, default=0, help="seed of random weights")
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("validate", help="regenerate the validation report against published figures")
    sp.add_argument("--out", default="reports", help="folder for validation.md and validation.csv (default: reports)")
    sp.add_argument("--verbose", "-v", action="store_true", help="also print the table")
    sp.add_argument("--no-accuracy", action="store_true", help="skip the accuracy claims (Monte Carlo, about a minute)")
    sp.set_defaults(func=cmd_validate)

    try:  # sweeps, sizing and benchmark tables live in their own module
        from archsim.cli import explore as cli_sweep
    except ImportError:
        cli_sweep = None
    if cli_sweep is not None:
        cli_sweep.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ArchsimError as exc:
        print(f"archsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

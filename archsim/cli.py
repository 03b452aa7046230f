"""Command line: ``archsim list | estimate | compare``.

Bad input prints one line ``archsim: error: ...`` on stderr and exits with 2.
"""
from __future__ import annotations

import argparse
import sys

import pandas as pd
import yaml

import techlib
import workloads

from . import arch as _arch
from . import presets, report
from .api import estimate
from .cost import ENERGY_PARTS
from .errors import ArchsimError


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
    from . import validate
    files = validate.write_report(args.out)
    df = validate.validation_frame() if args.verbose else None
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
    est = estimate(args.workload, arch=a, task=args.task)
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
    df = report.summary_frame(estimate(args.workload, d, a, task=args.task).summary for d in devices)
    name = df["workload"].iloc[0]
    print(f"{name}: {', '.join(devices)} ({a.cost_model} cost model, {args.task}; arrays {a.rows}x{a.cols}, "
          f"{a.weight_bits}-bit weights, {a.input_bits}-bit inputs, {a.adc_bits}-bit ADC)\n")
    disp = report.display_frame(df)
    print(report.to_text(disp))
    print("\n" + report.OPS_NOTE)
    if args.out:
        files = report.write_tables(args.out, f"compare_{name}", df, f"Device comparison on {name}",
                                    _notes(devices, a), display=disp)
        print("wrote " + ", ".join(map(str, files)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archsim", description="Energy, latency, area (and accuracy) of neural networks "
                                "on analog in-memory-computing accelerators.")
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("list", help="workloads, devices and architecture keys")
    sp.add_argument("--keys", action="store_true", help="list architecture keys with defaults and allowed values")
    sp.set_defaults(func=cmd_list)

    def common(sp):
        sp.add_argument("--workload", "-w", required=True, help="built-in workload name (archsim list)")
        sp.add_argument("--arch", help="architecture YAML file")
        sp.add_argument("--preset", help="a published architecture (archsim list): isaac, sonos_sandia, yao2020, ibm_pcm, dpe")
        sp.add_argument("--cost-model", choices=("circuit", "lut"), help="override the architecture's cost_model")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one architecture key (repeatable)")
        sp.add_argument("--task", choices=("inference", "training"), default="inference")
        sp.add_argument("--out", help="folder for Markdown and CSV tables")

    sp = sub.add_parser("estimate", help="energy, latency, area, TOPS/W, TOPS/mm2 of one design")
    common(sp)
    sp.add_argument("--device", "-d", help="device name or .yaml (overrides the architecture's)")
    sp.add_argument("--layers", action="store_true", help="also print the per-layer table")
    sp.set_defaults(func=cmd_estimate)

    sp = sub.add_parser("compare", help="one table across devices")
    common(sp)
    sp.add_argument("--devices", "-D", default=",".join(techlib.device_names()),
                    help="comma-separated device names (default: all)")
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("validate", help="regenerate the validation report against published figures")
    sp.add_argument("--out", default="reports", help="folder for validation.md and validation.csv (default: reports)")
    sp.add_argument("--verbose", "-v", action="store_true", help="also print the table")
    sp.set_defaults(func=cmd_validate)

    try:  # sweeps, sizing and benchmark tables live in their own module
        from . import cli_sweep
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

"""The accuracy command: ``archsim accuracy``, a network's accuracy (or fidelity) by Monte Carlo.

The network (``--workload`` or ``--model``) is programmed onto ``--trials`` simulated chips of the
architecture and run on its test set (``--data``, else the real test set of its data set); without
labelled data, fidelity to the exact digital network on synthetic inputs.  Bad input raises
:class:`ArchsimError` (one line, exit 2).
"""
from __future__ import annotations

import pandas as pd

from archsim.cli.args import _accuracy_inputs, _accuracy_row, _arch_from_args, _device_stem, _floats, _network, \
    _notes, _out_stem, add_common, add_sim_args, arch_int
from archsim.model.device import load_device
from archsim.report import tables as report


def cmd_accuracy(args) -> int:
    a = _arch_from_args(args)
    if args.device:
        a = a.replace(device=args.device)
    if args.adc_bits is not None:      # 0 is a value (refused by its type), never "not given"
        a = a.replace(adc_bits=args.adc_bits)
    net, builtin = _network(args)
    load_device(a.device)   # a bad device file fails here, before data are read
    # output names are built and checked before the simulation: a bad --out fails in a second, not after it
    stem = _out_stem("accuracy", net.name, _device_stem(a.device))
    if args.out:
        report.table_paths(args.out, stem)
    wl, x, y, own = _accuracy_inputs(net, builtin, args.samples, args.seed, args.data, args.normalize,
                                     _floats(args.mean, "--mean"), _floats(args.std, "--std", positive=True))
    r = _accuracy_row(wl, x, y, a, args)
    s = r.summary()
    label = "accuracy (top-1 on the test set)" if r.metric == "accuracy" else \
        f"fidelity (top-1 agreement with the exact digital network, {own}, synthetic inputs)"
    print(f"{wl.name} on {a.device}: {label}, {r.samples} samples, {len(r.per_trial)} trials, seed {r.seed}\n")
    print(report.to_text(pd.DataFrame([s])))
    print()
    print(report.to_text(r.per_layer))
    if args.out:
        files = report.write_tables(args.out, stem, pd.DataFrame([s]),
                                    f"{wl.name} on {a.device}: {r.metric}", _notes([a.device], a))
        print("wrote " + ", ".join(map(str, files)))
    return 0


def add_accuracy(sub) -> None:
    sp = sub.add_parser("accuracy", help="network accuracy (or fidelity) by Monte Carlo over programmed chips")
    add_common(sp)
    sp.add_argument("--device", "-d", help="device name or .yaml (overrides the architecture's)")
    sp.add_argument("--adc-bits", type=arch_int("adc_bits"),
                    help="override the architecture's adc_bits (4 to 10, the range the architecture allows)")
    sp.add_argument("--data", help=".npz with x (n,C,H,W), (n,H,W) or (n,F) and y (n,) labels (your own test set; see README)")
    sp.add_argument("--normalize", choices=("0-1", "none", "standard"), default="0-1",
                    help="--data pixels: 0-1 divides uint8 by 255 (floats kept, default); none keeps values; "
                         "standard computes (x - mean) / std")
    sp.add_argument("--mean", help="for --normalize standard: a number or one per channel (comma-separated), "
                                   "in the units of the file")
    sp.add_argument("--std", help="for --normalize standard: a number or one per channel (comma-separated)")
    add_sim_args(sp, trials=10, samples=10000)
    sp.set_defaults(func=cmd_accuracy)


#: command -> the function adding it to ``archsim``'s subcommands
COMMANDS = {"accuracy": add_accuracy}

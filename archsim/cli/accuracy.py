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
from archsim.sim.accuracy import format_ci
from archsim.report import tables as report


#: defaults sized so that ``archsim accuracy --workload lenet5 --device sonos`` finishes in under a minute on
#: a 2-core machine (README); the printed 95% interval says what that precision buys
TRIALS, SAMPLES = 5, 5000


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
    inp = _accuracy_inputs(net, builtin, args.samples, args.seed, args.data, args.normalize,
                           _floats(args.mean, "--mean"), _floats(args.std, "--std", positive=True), args.calibration)
    wl, own = inp.wl, inp.own
    if args.ideal:
        return _ideal(inp, a, args, stem)
    r = _accuracy_row(inp, a, args)
    s = r.summary()
    label = "accuracy (top-1 on the test set)" if r.metric == "accuracy" else \
        f"fidelity (top-1 agreement with the exact digital network, {own}, synthetic inputs)"
    lo, hi = r.ci95
    print(f"{wl.name} on {a.device}: {label}, {r.samples} samples, {len(r.per_trial)} trials, seed {r.seed}")
    print(f"calibration: {r.calibration}")
    print(f"{r.metric}: {format_ci(r.mean, lo, hi, 4)} (95% interval {lo:.4f} to {hi:.4f}: chip-to-chip "
          f"variation over {len(r.per_trial)} trial(s) and image sampling error over {r.samples} images; "
          f"std over trials {r.std:.2g})\n")
    print(report.to_text(pd.DataFrame([s])))
    print()
    print(report.to_text(r.per_layer))
    if args.out:
        notes = (f"Calibration: {r.calibration} (never scored).\n\n95% interval: {CI_NOTE}\n\n"
                 + _notes([a.device], a))
        files = report.write_tables(args.out, stem, pd.DataFrame([s]), f"{wl.name} on {a.device}: {r.metric}", notes)
        print("wrote " + ", ".join(map(str, files)))
    return 0


#: how the printed interval is made (also in the --out notes and the README)
CI_NOTE = ("mean -+ sqrt((t_0.975,T-1 * s / sqrt(T))^2 + (1.96 * sqrt(p(1-p)/n))^2), T trials with standard "
           "deviation s, n images, p the mean; the chip term is absent for T = 1")


def _ideal(inp, a, args, stem) -> int:
    """``--ideal``: the float network and the quantized-digital reference, no Monte Carlo."""
    from archsim.mapping.layout import map_workload
    from archsim.sim.accuracy import ideal_references
    ref = ideal_references(map_workload(inp.wl, a), inp.x, inp.y, inp.x_cal, calibration=inp.calibration)
    metric = ref["metric"]
    what = "top-1 on the test set" if metric == "accuracy" else \
        f"top-1 agreement with the exact digital network, {inp.own}, synthetic inputs"
    print(f"{inp.wl.name}: error-free references ({metric}, {what}), {ref['samples']} samples")
    print(f"calibration (input ranges of the quantized reference): {ref['calibration']}\n")
    rows = pd.DataFrame([
        {"reference": "float", metric: ref["float"], "what": "exact digital forward pass (float32)"},
        {"reference": "quantized", metric: ref["quantized"],
         "what": f"{a.input_bits}-bit inputs, {a.weight_bits}-bit weights, ideal ADC, no analog error"}])
    print(report.to_text(rows))
    if args.out:
        files = report.write_tables(args.out, stem + "_ideal", rows, f"{inp.wl.name}: error-free references",
                                    f"Calibration: {ref['calibration']}.\n\n" + _notes([a.device], a))
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
    sp.add_argument("--ideal", action="store_true",
                    help="print the float network's accuracy and a quantized-digital reference (the architecture's "
                         "input and weight bits, no analog error) without the Monte Carlo")
    add_sim_args(sp, trials=TRIALS, samples=SAMPLES)
    sp.set_defaults(func=cmd_accuracy)


#: command -> the function adding it to ``archsim``'s subcommands
COMMANDS = {"accuracy": add_accuracy}

"""The accuracy command: ``archsim accuracy``, a network's accuracy (or fidelity) by Monte Carlo.

The network (``--workload`` or ``--model``) is programmed onto ``--trials`` simulated chips of the
architecture and run on its test set (``--data``, else the real test set of its data set); without
labelled data, fidelity to the exact digital network on synthetic inputs.  Bad input raises
:class:`ArchsimError` (one line, exit 2).
"""
from __future__ import annotations

import pandas as pd

from archsim.cli import outputs
from archsim.cli.args import _accuracy_inputs, _accuracy_row, _arch_from_args, _device_stem, _floats, _network, \
    _notes, _out_stem, _sim_config, add_common, add_sim_args, arch_int, finite_float
from archsim.mapping import admissible
from archsim.model.errors import ArchsimError
from archsim.io import load
from archsim.sim.accuracy import format_ci
from archsim.report import tables as report
from archsim.report.notes import ir_drop, read_time


#: defaults sized so that ``archsim accuracy --workload lenet5 --device sonos`` finishes in under a minute on
#: a 2-core machine (README); the printed 95% interval says what that precision buys
TRIALS, SAMPLES = 5, 5000


def _normalize_applies(args) -> None:
    """``--normalize``, ``--mean`` and ``--std`` act on the user's own images only (``--data``, a ``--calibration``
    .npz file), and ``--mean``/``--std`` under ``--normalize standard`` only: refused where they would be ignored."""
    given = [f for f, v in (("--mean", args.mean), ("--std", args.std)) if v is not None]
    if given and args.normalize != "standard":
        raise ArchsimError(f"{given[0]}: applies with --normalize standard only (else it would be ignored)")
    own = args.data or str(args.calibration or "").strip().lower().endswith(".npz")
    if (given or args.normalize != "0-1") and not own:
        flag = given[0] if given else f"--normalize {args.normalize}"
        raise ArchsimError(f"{flag}: applies to your own images only (--data, or --calibration FILE.npz); the "
                           f"built-in data sets are read as their weights were trained, so it would be ignored")


def cmd_accuracy(args) -> int:
    a = _arch_from_args(args)
    if args.device:
        a = a.replace(device=args.device)
    if args.adc_bits is not None:      # 0 is a value (refused by its type), never "not given"
        a = a.replace(adc_bits=args.adc_bits)
    net, builtin = _network(args)
    load.device(a.device)   # a bad device file fails here, before data are read
    admissible.check(a, net)   # and a design the simulator cannot compute (or whose buffers cannot hold its work)
    # output names are built and checked before the simulation: a bad --out fails in a second, not after it
    stem = _out_stem("accuracy", net.name, _device_stem(a.device))
    if args.out:   # the tables this run will write: "_ideal" and "_hybrid" runs write their own
        report.table_paths(args.out, stem + ("_ideal" if args.ideal else "_hybrid" if args.hybrid else ""))
    outputs.check_plot(args)
    if args.plot and (args.ideal or args.hybrid):
        raise ArchsimError(f"--plot: draws the Monte Carlo's per-layer error and accuracy; not with "
                           f"{'--ideal' if args.ideal else '--hybrid'}")
    if args.train_fraction is not None and not args.hybrid:
        raise ArchsimError(f"--train-fraction {args.train_fraction:g}: applies with --hybrid only")
    if args.hybrid is not None and not args.hybrid.strip(" ,"):   # '' would silently run the plain Monte Carlo
        raise ArchsimError(f"--hybrid {args.hybrid!r}: allowed layer names (comma-separated) or 'last'")
    if args.hybrid and args.ideal:
        raise ArchsimError("--hybrid and --ideal both given; choose one")
    if args.hybrid:
        _hybrid_allowed(net, builtin)
    if args.hybrid and args.data:
        raise ArchsimError(f"--data {args.data}: --hybrid draws its tuning images from a built-in data set's "
                           f"training split; leave out --data")
    mean, std = _floats(args.mean, "--mean"), _floats(args.std, "--std", positive=True)
    _normalize_applies(args)
    inp = _accuracy_inputs(net, builtin, args.samples, args.seed, args.data, args.normalize, mean, std,
                           args.calibration)
    wl, own = inp.wl, inp.own
    if args.ideal:
        return _ideal(inp, a, args, stem)
    if args.hybrid:
        return _hybrid(inp, a, args, stem)
    r = _accuracy_row(inp, a, args)
    cfg = _sim_config(args)
    s = {**r.summary(), "read_time_s": cfg.time_s,
         "drift": "no drift law" if load.device(a.device).drift is None else "drift law applied"}
    ir = ir_drop(a, cfg.ir_drop)
    if ir:
        p = a.parasitics
        s.update(ir_drop=cfg.ir_drop, r_wire_ohm=p.r_wire, r_in_ohm=p.r_in, r_out_ohm=p.r_out)
    label = "accuracy (top-1 on the test set)" if r.metric == "accuracy" else \
        f"fidelity (top-1 agreement with the exact digital network, {own}, synthetic inputs)"
    lo, hi = r.ci95
    print(f"{wl.name} on {a.device}: {label}, {r.samples} samples, {len(r.per_trial)} trials, seed {r.seed}")
    print(f"calibration: {r.calibration}")
    print(read_time(a.device, cfg.time_s))
    if ir:
        print(ir)
    print(f"{r.metric}: {format_ci(r.mean, lo, hi, 4)} (95% interval {lo:.4f} to {hi:.4f}: chip-to-chip "
          f"variation over {len(r.per_trial)} trial(s) and image sampling error over {r.samples} images; "
          f"std over trials {r.std:.2g})\n")
    print(report.to_text(pd.DataFrame([s])))
    print()
    print(report.to_text(r.per_layer))
    if args.out:
        notes = (f"Calibration: {r.calibration} (never scored).\n\n{read_time(a.device, cfg.time_s)}.\n\n"
                 + (f"{ir}.\n\n" if ir else "") + f"95% interval: {CI_NOTE}\n\n" + _notes([a.device], a))
        files = report.write_tables(args.out, stem, pd.DataFrame([s]), f"{wl.name} on {a.device}: {r.metric}", notes)
        print("wrote " + ", ".join(map(str, files)))
    from archsim.report.figures import accuracy_pictures
    outputs.print_written(outputs.finish(
        args, f"{wl.name} on {a.device}: {r.metric}",
        [outputs.html.Table(r.metric, pd.DataFrame([s])), outputs.html.Table("Relative output error per layer", r.per_layer)],
        lambda: accuracy_pictures(s, r.per_trial, r.per_layer, stem), devices=[a.device],
        notes=f"Calibration: {r.calibration} (never scored).\n\n95% interval: {CI_NOTE}\n\n" + _notes([a.device], a),
        summary=[f"{r.metric}: {format_ci(r.mean, lo, hi, 4)} (95% interval {lo:.4f} to {hi:.4f}), "
                 f"{len(r.per_trial)} chip(s) x {r.samples} images, seed {r.seed}"]))
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
    outputs.print_written(outputs.finish(
        args, f"{inp.wl.name}: error-free references", [outputs.html.Table("References", rows)], None,
        notes=f"Calibration: {ref['calibration']}.\n\n" + _notes([a.device], a), devices=[a.device]))
    return 0


def _hybrid(inp, a, args, stem) -> int:
    """``--hybrid LAYERS``: transfer, hybrid training of those layers, drift (Yao et al., Nature 2020), per programmed chip."""
    from archsim.io import data as D
    from archsim.mapping.layout import map_workload
    from archsim.sim.hybrid import TRAIN_FRACTION, hybrid_train
    wl = inp.wl
    x_train, y_train = D.for_workload(wl, "train")
    frac = TRAIN_FRACTION if args.train_fraction is None else args.train_fraction
    cfg = _sim_config(args)
    log = None if args.no_progress else (lambda line: print("  " + line, flush=True))
    r = hybrid_train(map_workload(wl, a), inp.x, inp.y, x_train, y_train, layers=args.hybrid, train_fraction=frac,
                     x_cal=inp.x_cal, calibration=inp.calibration, trials=args.trials, seed=args.seed, cfg=cfg, log=log)
    t = r.frame()
    print(f"{wl.name} on {a.device}: hybrid training of {', '.join(r.layers)} on {r.train_images} training images "
          f"({100 * r.train_fraction:g}% of the {wl.dataset} training split, drawn per chip), {r.samples} test "
          f"images, {r.trials} chip{'s' if r.trials > 1 else ''}, seed {r.seed}")
    print(f"calibration: {r.calibration}; float network {r.reference:.4f}\n")
    what = {"transfer": "after transfer (programmed, calibrated)",
            "hybrid": f"after hybrid training ({', '.join(r.layers)} retrained in software and reprogrammed)",
            "drift": f"{r.time_s:g} s after programming" + (
                "" if load.device(a.device).drift is not None else
                f" ({a.device} has no drift law: the same cells, read again)")}
    for row in t.itertuples():
        print(f"{row.stage:8s} {format_ci(row.accuracy_mean, row.ci95_low, row.ci95_high, 4)}  "
              f"(95% interval {row.ci95_low:.4f} to {row.ci95_high:.4f}) {what[row.stage]}")
    e = r.tuning_energy_J
    energy = f"{e * 1e9:.3g} nJ per chip" if e == e else "not priced"
    print(f"\ntuning: {r.cells_written.mean():.0f} of {r.cells_total} cells change level (mean per chip); "
          f"energy {energy} ({r.energy_source})")
    print("95% interval: " + CI_NOTE)
    if args.out:
        t = t.assign(workload=wl.name, device=a.device, layers=",".join(r.layers), train_images=r.train_images,
                     cells_written=float(r.cells_written.mean()), cells_total=r.cells_total,
                     tuning_energy_J=e)
        notes = (f"Hybrid training (Yao et al., Nature 2020): {r.energy_source}. Calibration: {r.calibration} (never scored).\n\n"
                 f"95% interval: {CI_NOTE}\n\n" + _notes([a.device], a))
        files = report.write_tables(args.out, stem + "_hybrid", t, f"{wl.name} on {a.device}: hybrid training", notes)
        print("wrote " + ", ".join(map(str, files)))
        outputs.print_written(outputs.finish(args, f"{wl.name} on {a.device}: hybrid training",
                                             [outputs.html.Table("Accuracy per stage", t)], None, notes=notes,
                                             devices=[a.device]))
    return 0


def _hybrid_allowed(net, builtin: bool) -> None:
    """Hybrid training tunes on a data set's training split: a built-in network with shipped weights."""
    import workloads
    from archsim.io import data as D
    if not (builtin and workloads.weights_path(net.name).exists() and net.dataset in D.DATASETS):
        raise ArchsimError(f"--hybrid: {'workload' if builtin else 'model'} {net.name} has no trained weights and "
                           f"training split to tune on; allowed: a built-in workload with shipped weights "
                           f"({', '.join(workloads.trained())})")


def add_accuracy(sub) -> None:
    sp = sub.add_parser("accuracy", help="network accuracy (or fidelity) by Monte Carlo over programmed chips")
    add_common(sp)
    sp.add_argument("--device", "-d", help="device name or .yaml (overrides the architecture's)")
    sp.add_argument("--adc-bits", type=arch_int("adc_bits"),
                    help="override the architecture's adc_bits (1 to 10, the range the architecture allows; 1 bit needs adc_type flash)")
    sp.add_argument("--data", help=".npz with x (n,C,H,W), (n,H,W) or (n,F) and y (n,) labels (your own test set; see README)")
    sp.add_argument("--normalize", choices=("0-1", "none", "standard"), default="0-1",
                    help="--data pixels: 0-1 divides by the file's declared full scale (an array 'max'), else "
                         "uint8 by 255 (floats kept; other integer types refused: their range is ambiguous; "
                         "default); none keeps values; standard computes (x - mean) / std")
    sp.add_argument("--mean", help="for --normalize standard: a number or one per channel (comma-separated), "
                                   "in the units of the file")
    sp.add_argument("--std", help="for --normalize standard: a number or one per channel (comma-separated)")
    sp.add_argument("--ideal", action="store_true",
                    help="print the float network's accuracy and a quantized-digital reference (the architecture's "
                         "input and weight bits, no analog error) without the Monte Carlo")
    sp.add_argument("--hybrid", metavar="LAYERS",
                    help="hybrid training (Yao et al., Nature 2020): retrain these layers (names, comma-separated, or 'last') in "
                         "software on each programmed chip's own outputs and reprogram them; prints accuracy after "
                         "transfer, after tuning and (with --time) after drift")
    sp.add_argument("--train-fraction", type=finite_float(0.0, 1.0, lo_open=True), metavar="F",
                    help="with --hybrid: share of the training split used for tuning (default 0.03)")
    add_sim_args(sp, trials=TRIALS, samples=SAMPLES)
    outputs.add_plot(sp)
    sp.set_defaults(func=cmd_accuracy)


#: command -> the function adding it to ``archsim``'s subcommands
COMMANDS = {"accuracy": add_accuracy}

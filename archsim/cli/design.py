"""Commands on one design: ``archsim list | estimate | compare | export``.

``list`` shows what can be chosen (workloads, devices, presets, architecture keys); ``estimate`` maps and
prices one network on one architecture; ``compare`` does it across devices (with an accuracy column by
Monte Carlo on request); ``export`` writes a network as an ONNX file.  Each command returns an exit code;
bad input raises :class:`ArchsimError` (one line, exit 2).
"""
from __future__ import annotations

import pandas as pd

from archsim.io import techlib
import workloads

from archsim.cli.args import _accuracy_inputs, _accuracy_row, _activity_text, _arch_from_args, _calibration, \
    _devices, _figure_notes, _network, _notes, _out_stem, _priced, _sim_config, add_activity_args, add_common, \
    add_network, add_no_progress, add_sim_args, finite_float, nonnegative_int, workers_int
from archsim.cli import outputs
from archsim.cost.price import ENERGY_PARTS
from archsim.explore.best import dominant, dominant_text, periphery_note
from archsim.io.progress import track
from archsim.mapping import admissible
from archsim.report.notes import leakage as leakage_note
from archsim.model import arch as _arch
from archsim.model import presets
from archsim.io import load
from archsim.model.arch import CostModel
from archsim.model.errors import ArchsimError, ParameterError
from archsim.report import tables as report
from archsim.report.notes import ir_drop, read_time_devices
from archsim.sim.stats import versus_baseline


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
                         stress="yes" if techlib.stress_flag(r) else "no",
                         assumed_values=len(r.assumptions()), description=r.field("description", "")))
    print("\nDevices\n")
    print(report.to_text(pd.DataFrame(rows)))
    print("stress = yes: a stated stress case, not a measured device (loads by name; archsim bench leaves it out)")
    rows = [dict(name=n, description=presets.load(n).description) for n in presets.names()]
    print("\nPresets (--preset NAME)\n")
    print(report.to_text(pd.DataFrame(rows)))
    print("\nArchitecture keys: archsim list --keys")
    return 0


def cmd_estimate(args) -> int:
    a = _arch_from_args(args)
    if args.device:
        a = a.replace(device=args.device)
    net, builtin = _network(args)
    admissible.check(a, net)       # what the simulator cannot compute is not priced either: refused before any work
    stem = _out_stem("estimate", net.name, load.device(a.device).name)   # names checked before any work
    outputs.check_plot(args)
    if args.out:
        report.table_paths(args.out, stem)
        report.table_paths(args.out, stem + "_layers")
    wl, x, what = _calibration(net, args, builtin)
    est, act = _priced(wl, a, args.task, x, what)
    s = est.summary
    print(f"{s['workload']} on {s['device']} ({s['cost_model']} cost model, {args.task}), "
          f"{s['tiles']} tiles ({s['mesh']} mesh), {s['arrays']} arrays of {a.rows}x{a.cols}, "
          f"{s['bits_per_cell']} bits/cell")
    print(_activity_text(est, act) + "\n")
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
    print(_figure_notes(est.totals(), [a.device]))
    print(leakage_note(a))
    for q in report.node_flags([a.device], a.node_nm):
        print(f"flagged: {q.file} key '{q.key}': {q.assumption}")
    if args.out:
        notes = (_activity_text(est, act, markdown=True) + "\n\n" + _figure_notes(est.totals(), [a.device], True)
                 + "\n\n" + _notes([a.device], a))
        files = report.write_tables(args.out, stem, est.totals(), f"{s['workload']} on {s['device']}",
                                    notes, display=disp)
        files += report.write_tables(args.out, stem + "_layers", est.layers, f"{s['workload']} on {s['device']}: layers",
                                     notes)
        print("wrote " + ", ".join(map(str, files)))
    from archsim.report.figures import estimate_pictures
    layer_cols = ["layer", "kind", "macs", "arrays", "replication", "tiles", "energy_J", "area_mm2", "stage_latency_s",
                  "utilization"]
    outputs.print_written(outputs.finish(
        args, f"{s['workload']} on {s['device']}",
        [outputs.html.Table("Chip totals", disp), outputs.html.Table("Per layer (SI units)", est.layers[layer_cols])],
        lambda: estimate_pictures(s, est.layers, stem),
        notes=(_activity_text(est, act, markdown=True) + "\n\n" + _notes([a.device], a)), devices=[a.device],
        summary=["energy split: " + ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in parts.items()),
                 report.OPS_NOTE], node_nm=a.node_nm))
    return 0


def cmd_compare(args) -> int:
    a = _arch_from_args(args)
    devices = _devices(args.devices)
    if args.best:
        return _compare_best(args, a, devices)
    given = [f for f, v in (("--objective", args.objective), ("--min-accuracy", args.min_accuracy),
                            ("--max-accuracy-drop", args.max_accuracy_drop), ("--min-agreement", args.min_agreement),
                            ("--no-simulate", args.no_simulate), ("--min-fps", args.min_fps),
                            ("--max-area-mm2", args.max_area_mm2), ("--max-energy-uj", args.max_energy_uj),
                            ("--rows", args.rows), ("--adc-bits", args.adc_bits), ("--cols-per-adc", args.cols_per_adc),
                            ("--encodings", args.encodings), ("--workers", args.workers)) if v not in (None, False)]
    if given:
        raise ArchsimError(f"{given[0]}: applies with --best only (each device sized to its own design)")
    idle = [f for f, v in (("--trials", args.trials), ("--samples", args.samples), ("--time", args.time),
                           ("--calibration", args.calibration), ("--no-read-noise", args.no_read_noise),
                           ("--no-ir-drop", args.no_ir_drop)) if v not in (None, False)]
    args.samples = COMPARE_SAMPLES if args.samples is None else args.samples
    args.trials = COMPARE_TRIALS if args.trials is None else args.trials
    net, builtin = _network(args)
    training = args.task == "training" and a.cost_model != CostModel.LUT
    idle = [f for f in idle if not (training and f in ("--trials", "--samples"))]   # training reads these two
    if idle and not args.accuracy:   # nothing is simulated: the flag would be ignored
        raise ArchsimError(f"{idle[0]}: applies with --accuracy only"
                           + (" (--task training reads --trials and --samples)" if training else ""))
    if training:
        from archsim.cli.train import compare_training      # train on each device, rank by accuracy, energy, time
        return compare_training(args, a, devices, net)
    for d in devices:
        admissible.check(a.replace(device=d), net)
    stem = _out_stem("compare", net.name)
    if args.out:
        report.table_paths(args.out, stem)
    outputs.check_plot(args)
    if args.baseline is not None and not args.accuracy:
        raise ArchsimError(f"--baseline {args.baseline}: applies with --accuracy only")
    if args.baseline is not None and args.baseline not in devices:
        raise ArchsimError(f"--baseline {args.baseline}: not among the compared devices; allowed: {', '.join(devices)}")
    wl, x, what = _calibration(net, args, builtin)
    priced = [_priced(wl, a.replace(device=d), args.task, x, what)
              for d in track(devices, "devices", "device", not args.no_progress)]
    df = report.summary_frame(est.summary for est, _ in priced)
    df["activity"] = [act.source for _, act in priced]
    name = df["workload"].iloc[0]
    own = "random weights"
    if args.accuracy:
        inp = _accuracy_inputs(net, builtin, args.samples, args.seed, calibration=args.calibration)
        own = inp.own
        accs = [_accuracy_row(inp, a.replace(device=d), args) for d in devices]
        metric = accs[0].metric
        df[metric] = [r.mean for r in accs]
        df[f"{metric}_std"] = [r.std for r in accs]
        df[f"{metric}_ci95_low"] = [r.ci95[0] for r in accs]
        df[f"{metric}_ci95_high"] = [r.ci95[1] for r in accs]
        base, diffs = versus_baseline(accs, args.baseline)
        df["baseline"] = base
        df[f"{metric}_diff"] = [p.diff for p in diffs]
        df[f"{metric}_diff_ci95_low"] = [p.low for p in diffs]
        df[f"{metric}_diff_ci95_high"] = [p.high for p in diffs]
        df["separated"] = [p.separated for p in diffs]
        df["read_time_s"] = _sim_config(args).time_s
    print(f"{name}: {', '.join(devices)} ({a.cost_model} cost model, {args.task}; arrays {a.rows}x{a.cols}, "
          f"{a.weight_bits}-bit weights, {a.input_bits}-bit inputs, {a.adc_bits}-bit ADC)")
    act_text = _compare_activity(priced, devices)
    print(act_text + "\n")
    df["dominant_share"] = [dominant(r)[1] for _, r in df.iterrows()]
    disp = report.display_frame(df, extra=[c for c in ("accuracy", "accuracy_std", "fidelity", "fidelity_std") if c in df])
    disp[report.SUMMARY_COLUMNS["dominant"][0]] = [dominant_text(r) for _, r in df.iterrows()]   # with its share
    if args.accuracy:
        from archsim.sim.accuracy import format_ci
        disp[f"{metric} (95% interval)"] = [format_ci(r.mean, *r.ci95) for r in accs]
        disp[f"{metric} - {base} (paired 95%)"] = [
            "baseline" if r.device == base else f"{p.diff:+.3f} ± {p.halfwidth:.3f}" for r, p in zip(accs, diffs)]
        disp["separated"] = ["" if r.device == base else ("yes" if p.separated else "no") for r, p in zip(accs, diffs)]
    print(report.to_text(disp))
    note = periphery_note(df, a)
    print("\n" + note)
    print(report.OPS_NOTE)
    print(_figure_notes(df, devices))
    if args.accuracy:
        print(read_time_devices(devices, _sim_config(args).time_s))
        if ir_drop(a, not args.no_ir_drop):
            print(ir_drop(a, not args.no_ir_drop))
        print(f"{metric}: {accs[0].samples} images x {args.trials} chips per device; calibration: "
              f"{accs[0].calibration} (never scored); 95% interval: chip-to-chip (t over trials) and image "
              f"sampling (binomial) error combined")
        print(f"paired: {metric} minus {base}'s on the same images, 95% interval {PAIRED_NOTE}; separated: the "
              f"interval excludes 0")
    if "fidelity" in df:
        print(f"fidelity: top-1 agreement with the exact digital network ({own}, synthetic inputs), not accuracy")
    if args.out:
        cal = (f"Accuracy calibration: {accs[0].calibration} (never scored).\n\nPaired difference to {base} "
               f"(same images): 95% interval {PAIRED_NOTE}; separated: the interval excludes 0.\n\n") \
            if args.accuracy else ""
        files = report.write_tables(args.out, stem, df, f"Device comparison on {name}",
                                    cal + note + "\n\n" + _compare_activity(priced, devices, markdown=True) + "\n\n"
                                    + _figure_notes(df, devices, True) + "\n\n" + _notes(devices, a),
                                    display=disp)
        print("wrote " + ", ".join(map(str, files)))
    from archsim.report.figures import compare_pictures
    outputs.print_written(outputs.finish(
        args, f"Device comparison on {name}", [outputs.html.Table("One row per device", disp)],
        lambda: compare_pictures(df, stem), notes=(cal if args.out else "") + _compare_activity(priced, devices, markdown=True)
        + "\n\n" + _notes(devices, a), devices=devices, summary=[report.OPS_NOTE]))
    return 0


def _compare_best(args, a, devices) -> int:
    """``compare --best``: each device sized to its own design under one floor and one set of constraints."""
    from archsim.cli.explore import _int_list
    from archsim.explore import best, fidelity, sizing
    from archsim.explore.objectives import Constraints
    if args.model:
        raise ArchsimError(f"--model {args.model}: --best sizes a built-in workload (-w NAME); a network file is not "
                           f"searched")
    wrong = [f for f, v in (("--accuracy", args.accuracy), ("--baseline", args.baseline), ("--time", args.time),
                            ("--no-read-noise", args.no_read_noise), ("--calibration", args.calibration),
                            ("--task training", args.task == "training"),
                            ("--activity data", args.activity != "default")) if v not in (None, False)]
    if wrong:
        raise ArchsimError(f"{wrong[0]}: does not apply with --best (each design is checked against the floor by "
                           f"the sizing check's own simulation); drop one of them")
    cons = Constraints(min_accuracy=args.min_accuracy, min_fps=args.min_fps, max_area_mm2=args.max_area_mm2,
                       max_energy_uj=args.max_energy_uj)
    if args.no_simulate:
        if (args.min_accuracy is not None or args.max_accuracy_drop is not None or args.min_agreement is not None
                or args.min_snr_db is not None):
            raise ArchsimError("--no-simulate: accuracy is not simulated, so the floor options have nothing to act on")
        check = None
    else:
        check = fidelity.CheckSpec(
            samples=args.samples, trials=args.trials, seed=args.seed,
            max_accuracy_drop=fidelity.DEFAULT_ACCURACY_DROP if args.max_accuracy_drop is None else args.max_accuracy_drop,
            min_agreement=fidelity.DEFAULT_MIN_AGREEMENT if args.min_agreement is None else args.min_agreement,
            method="auto", min_snr_db=args.min_snr_db)
        proxy = fidelity.uses_layer_proxy(args.workload, check)
        wrong = [f for f, v in (("--min-agreement", args.min_agreement), ("--min-accuracy", args.min_accuracy),
                                ("--max-accuracy-drop", args.max_accuracy_drop)) if v is not None] if proxy else \
            (["--min-snr-db"] if args.min_snr_db is not None else [])
        if wrong:
            raise ArchsimError(f"{wrong[0]}: does not apply to {args.workload}, whose floor is "
                               + ("the layer proxy's output SNR (--min-snr-db)" if proxy else
                                  "simulated on the whole network (--min-accuracy, --max-accuracy-drop, --min-agreement)"))
    sp = best.BEST_SPACE
    space = sizing.SearchSpace(
        rows=tuple(_int_list(args.rows, "--rows")) if args.rows is not None else sp.rows, bits_per_cell=None,
        adc_bits=tuple(_int_list(args.adc_bits, "--adc-bits")) if args.adc_bits is not None else sp.adc_bits,
        cols_per_adc=tuple(_int_list(args.cols_per_adc, "--cols-per-adc")) if args.cols_per_adc is not None
        else sp.cols_per_adc, budgets=sp.budgets, encodings=_encodings(args.encodings) or sp.encodings)
    name = workloads.get(args.workload).name
    stem = _out_stem("compare_best", name)
    if args.out:
        report.table_paths(args.out, stem)
    cmp = best.best_designs(name, devices, a, constraints=cons, space=space, objective=args.objective or "energy",
                            check=check, workers=args.workers, progress=not args.no_progress)
    print(best.format_best(cmp))
    print(report.OPS_NOTE)
    if args.out:
        files = report.write_tables(args.out, stem, cmp.table, f"Devices at their own designs on {cmp.workload}",
                                    "\n\n".join(cmp.notes), display=best.display(cmp))
        print("wrote " + ", ".join(map(str, files)))
    return 0 if all(r.recommended is not None for r in cmp.results) else 1


def _encodings(text: str | None) -> tuple | None:
    """``--encodings a,b``: names of :data:`archsim.explore.sizing.ENCODINGS` (None where not given)."""
    from archsim.explore.sizing import ENCODINGS
    if text is None:
        return None
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in ENCODINGS] or ([] if names else [text])
    if bad:
        raise ArchsimError(f"--encodings {bad[0][:40]!r}: allowed a comma-separated list of {', '.join(ENCODINGS)}")
    return names


#: how the paired interval of ``compare --accuracy`` is made (:mod:`archsim.sim.stats`)
PAIRED_NOTE = ("D -+ sqrt((t_0.975,nu * sqrt(s_A^2/T_A + s_B^2/T_B))^2 + (1.96 * sqrt(var_i(c_A,i - c_B,i) / n))^2), "
               "nu the Welch-Satterthwaite dof, c_X,i image i's correctness averaged over X's chips")


def _compare_activity(priced, devices, markdown: bool = False) -> str:
    """The activity of a comparison: one source line; measured, per layer the input bit density (the same
    on every device) and the conductance fraction on each device (its cells hold different slices)."""
    est, act = priced[0]
    if act.bit_planes is None:
        return _activity_text(est, act, markdown)
    from archsim.sim.activity import activity_table
    t = activity_table(est.mapping, act).drop(columns="conductance_fraction")
    for d, (e, ac) in zip(devices, priced):
        t[f"conductance_fraction_{d}"] = activity_table(e.mapping, ac)["conductance_fraction"].to_numpy()
    return f"activity: {act.source}\n\n" + (report.to_markdown(t) if markdown else report.to_text(t))


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
    try:
        path = save_onnx(wl, args.out, weights=args.weights, seed=args.seed)
    except ParameterError as exc:       # save_onnx's file is this command's --out
        raise ArchsimError(exc.worded({"path": "--out"})) from None
    print(f"wrote {path}: {wl.name}, {len(wl.layers()) - 1} layers ({len(wl.weighted_layers())} weighted, "
          f"{wl.total_weights:,} weights, {wl.total_macs:,} MACs), {note}, opset {EXPORT_OPSET}")
    return 0


def add_list(sub) -> None:
    sp = sub.add_parser("list", help="workloads, devices and architecture keys")
    sp.add_argument("--keys", action="store_true", help="list architecture keys with defaults and allowed values")
    add_no_progress(sp)
    sp.set_defaults(func=cmd_list)


def add_estimate(sub) -> None:
    sp = sub.add_parser("estimate", help="energy, latency, area, TOPS/W, TOPS/mm2 of one design")
    add_common(sp)
    sp.add_argument("--device", "-d", help="device name or .yaml (overrides the architecture's)")
    sp.add_argument("--layers", action="store_true", help="also print the per-layer table")
    add_activity_args(sp)
    add_no_progress(sp)
    outputs.add_plot(sp)
    sp.set_defaults(func=cmd_estimate)


#: ``compare --accuracy`` per device: sized so the README's comparisons finish in about a minute on a 2-core
#: machine (the printed 95% interval says what that precision buys).  Five chips rather than three at half
#: the images: the chip term's t factor falls from 4.30 to 2.78, and it is the chip term that keeps devices
#: apart in the paired comparison (the image term largely cancels there); on Fashion-MNIST 5 x 500
#: separates ReRAM and PCM from SRAM where 3 x 1000 separated none, for fewer simulated images
COMPARE_TRIALS, COMPARE_SAMPLES = 5, 500


def add_compare(sub) -> None:
    sp = sub.add_parser("compare", help="one table across devices")
    add_common(sp)
    every = ",".join(techlib.real_device_names())   # a device added as a file joins the default comparison
    sp.add_argument("--devices", "-D", default=every,
                    help=f"comma-separated device names (default: every device in techlib/devices: {every})")
    sp.add_argument("--accuracy", action="store_true", help="add an accuracy (or fidelity) column by Monte Carlo")
    sp.add_argument("--baseline", metavar="DEVICE",
                    help="with --accuracy: the device every other is compared with, paired on the same images "
                         "(default: the first exact device, e.g. sram, else the one with the highest mean)")
    add_sim_args(sp, trials=COMPARE_TRIALS, samples=COMPARE_SAMPLES)
    sp.set_defaults(trials=None, samples=None)   # resolved in cmd_compare: --best has the sizing check's defaults
    add_activity_args(sp)
    outputs.add_plot(sp)
    g = sp.add_argument_group("--best: each device at its own design (array size, bits per cell, ADC bits, "
                              "columns per ADC) under one accuracy or fidelity floor")
    g.add_argument("--best", action="store_true",
                   help="size each device's own design (rows 128,256,512; bits per cell 1 to what the device holds "
                        "reliably; ADC bits 4,6,8; columns per ADC 1,8,32; signed-weight encodings) at the same "
                        "floor and constraints, "
                        "simulated, and compare those designs; --samples/--trials then set the check (default "
                        "500 test images x 1 chip; fidelity: seeded inputs from a compute budget)")
    g.add_argument("--objective", choices=("energy", "area", "fps"), help="what each device's design optimizes "
                   "(default energy)")
    g.add_argument("--min-accuracy", type=finite_float(0.0, 1.0), help="accuracy floor (networks with weights)")
    g.add_argument("--max-accuracy-drop", type=finite_float(0.0, 1.0),
                   help="default floor: the float network's accuracy minus this (default 0.01)")
    g.add_argument("--min-agreement", type=finite_float(0.0, 1.0),
                   help="fidelity floor for networks without weights: top-1 agreement (default 0.5)")
    g.add_argument("--min-snr-db", type=finite_float(-100.0, 200.0),
                   help="floor of ImageNet networks without weights (resnet50, vgg16, ...), checked by the layer "
                        "proxy at full size: output SNR in dB, -20 log10 of the root sum of squares of the layers' "
                        "simulated relative errors (default 20, or 3 dB under the exact INT8 digital chip where that is "
                        "within 3 dB of 20: the analog errors may add at most the digital rounding's error power)")
    g.add_argument("--no-simulate", action="store_true", help="no floor check (the report says so)")
    g.add_argument("--min-fps", type=finite_float(0.0, 1e15), help="least inferences per second")
    g.add_argument("--max-area-mm2", type=finite_float(0.0, 1e6, lo_open=True), help="largest chip area in mm2")
    g.add_argument("--max-energy-uj", type=finite_float(0.0, 1e12, lo_open=True), help="most energy per inference in uJ")
    g.add_argument("--rows", help="array sizes rows=cols to try (default 128,256,512)")
    g.add_argument("--adc-bits", help="ADC resolutions to try (default 4,6,8)")
    g.add_argument("--cols-per-adc", help="columns per ADC to try (default 1,8,32)")
    g.add_argument("--encodings", help="signed weights to try on analog devices (default all: differential, "
                   "differential/analog, pairs, pairs/analog: one differential pair or two closed-loop pairs of "
                   "varying significance, subtracted after conversion or as currents before it)")
    g.add_argument("--workers", "-j", type=workers_int, help="local worker processes for the search")
    sp.set_defaults(func=cmd_compare)


def add_export(sub) -> None:
    sp = sub.add_parser("export", help="write a network as an ONNX file (pip install archsim[onnx])")
    add_network(sp)
    sp.add_argument("--out", "-o", required=True, metavar="FILE.onnx", help="where to write the ONNX model")
    sp.add_argument("--weights", choices=("auto", "random", "zeros", "none"), default="auto",
                    help="auto: trained or the model's own weights, else random He-normal (default); none: "
                         "structure only, weights as graph inputs without values")
    sp.add_argument("--seed", type=nonnegative_int, default=0, help="seed of random weights")
    add_no_progress(sp)
    sp.set_defaults(func=cmd_export)


#: command -> the function adding it to ``archsim``'s subcommands
COMMANDS = {"list": add_list, "estimate": add_estimate, "compare": add_compare, "export": add_export}

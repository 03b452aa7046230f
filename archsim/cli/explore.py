"""Commands over many designs: ``archsim validate | sweep | size | bench``.

``validate`` regenerates the report against published figures; ``sweep`` evaluates a sweep file into a
resumable store and one table; ``size`` searches array sizes for a workload (Pareto front and a
recommended design); ``bench`` regenerates the benchmark report.  Each command returns an exit code; bad
input raises :class:`ArchsimError` (one line, exit 2).
"""
from __future__ import annotations

import sys

import pandas as pd

from archsim.cli import outputs
from archsim.cli.args import MAX_ROWS_SHOWN, MAX_SAMPLES, _arch_from_args, add_no_progress, finite_float, \
    int_at_least, nonnegative_int, out_dir, trials_int, workers_int
from archsim.model.errors import ArchsimError
from archsim.report import tables as report
from archsim.report import trust


#: the largest tile-budget multiple ``size --budgets`` takes (the mesh must also stay within the tile budget)
MAX_BUDGET = 1024


def _key_range(name: str) -> str:
    from archsim.model.arch import KEY_BY_NAME
    k = KEY_BY_NAME[name]
    return f"{k.lo:g} to {k.hi:g}"


def _int_list(text: str, flag: str) -> list[int]:
    try:
        vals = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ArchsimError(f"{flag} {str(text)[:40]!r}: give comma-separated whole numbers, e.g. 64,128,256") from None
    if not vals:
        raise ArchsimError(f"{flag} {str(text)[:40]!r}: give at least one value")
    if len(vals) > 64:
        raise ArchsimError(f"{flag} '{text[:40]}...': {len(vals)} values; allowed at most 64")
    return vals


def cmd_validate(args) -> int:
    from archsim.explore import validate
    from archsim.report.explore_figures import validate_pictures
    outputs.check_plot(args)
    files = validate.write_report(args.out, accuracy=not args.no_accuracy, progress=not args.no_progress)
    df = pd.read_csv(files[1])
    print("wrote " + ", ".join(map(str, files)))
    if args.verbose:
        print(report.to_text(df[["source", "figure", "unit", "published", "archsim", "ratio"]]))
    cols = ["source", "figure", "role", "unit", "published", "archsim", "ratio", "workload"]
    outputs.print_written(outputs.finish(
        args, "Validation against published figures", [outputs.html.Table("Every figure", df[cols])],
        lambda: validate_pictures(df), validation=df,
        summary=["For each figure: the published number, archsim's and their ratio (archsim / published). "
                 "predicted: the model was not built from the source; consistency: composed back from the "
                 "source's own component figures; calibrated: a constant was fitted to it.", report.OPS_NOTE]))
    return 0


def cmd_sweep(args) -> int:
    from archsim.explore.executors import default_workers, make_executor
    from archsim.explore.run import resolve_formats, run_sweep
    from archsim.explore.spec import load_sweep
    if args.workers is not None and args.workers < 1:
        raise ArchsimError(f"--workers {args.workers}: allowed 1 or more")
    outputs.check_plot(args)
    s = load_sweep(args.file)
    resolve_formats(args.format)  # --format parquet without pyarrow fails before any output
    if args.scheduler:
        make_executor(args.workers, args.scheduler)  # without the Dask extra: fail now
    dup = f", {s.duplicates} duplicate points dropped" if s.duplicates else ""
    where = f"Dask cluster {args.scheduler}" if args.scheduler else (
        f"{args.workers if args.workers is not None else default_workers()} local worker(s)")
    print(f"sweep {s.name}: {len(s)} points{dup}; {where}")
    run = run_sweep(s, out=args.out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                    formats=args.format, progress=not args.no_progress)
    print(run.counts_text())
    if run.note:
        print(run.note)
    print("wrote " + ", ".join(map(str, run.files)) + f"; store {run.store}")
    from archsim.report.explore_figures import sweep_pictures
    x, y = args.plot if args.plot else (None, None)
    outputs.print_written(outputs.finish(
        args, f"Sweep {s.name}", [outputs.html.Table(f"{len(run.table)} points", _sweep_shown(run.table))],
        (lambda: sweep_pictures(run.table, x, y, f"sweep_{s.name}", f"sweep {s.name}")) if args.plot else None,
        summary=[run.counts_text()] + ([run.note] if run.note else []), out=run.store.parent,
        devices=[d for d in dict.fromkeys(run.table.get("device", [])) if isinstance(d, str)]))
    if run.failed:
        # exit 1, not 0: the sweep ran and its table is written, but some points have no figures; not 2, which
        # means input refused before any work (a bad flag, file or device)
        print(run.failures_text(), file=sys.stderr)
        return 1
    return 0


#: the result columns a sweep's report.html shows beside the keys that vary
SWEEP_SHOWN = ("energy_per_inference_J", "latency_s", "inferences_per_s", "area_mm2", "tops_per_W", "tops_per_mm2",
               "dominant", "error")


def _sweep_shown(t: pd.DataFrame) -> pd.DataFrame:
    """The columns of a sweep's table worth a reader's eye: workload, device, the keys that vary, results."""
    vary = [c for c in t.columns if c not in SWEEP_SHOWN and c not in ("key",) and t[c].astype(str).nunique() > 1]
    cols = list(dict.fromkeys([c for c in ("workload", "device") if c in t] + vary[:8] +
                              [c for c in SWEEP_SHOWN if c in t]))
    return t[cols]


def cmd_size(args) -> int:
    from archsim.explore import fidelity, sizing, sizing_report
    if args.workers is not None and args.workers < 1:
        raise ArchsimError(f"--workers {args.workers}: allowed 1 or more")
    outputs.check_plot(args)
    base = _arch_from_args(args)
    if args.device:
        base = base.replace(device=args.device)
    from archsim.mapping import admissible
    admissible.check(base)          # the rules over the architecture alone; the network's per design point
    cons = sizing.Constraints(min_accuracy=args.min_accuracy, min_fps=args.min_fps, max_area_mm2=args.max_area_mm2,
                              max_energy_uj=args.max_energy_uj)
    check = None
    if args.no_simulate:
        given = [f for f, v in (("--accuracy", args.accuracy), ("--max-accuracy-drop", args.max_accuracy_drop),
                                ("--min-agreement", args.min_agreement), ("--sim-samples", args.sim_samples),
                                ("--sim-trials", args.sim_trials), ("--sim-input", args.sim_input),
                                ("--min-accuracy", args.min_accuracy)) if v not in (None, False)]
        if given or args.objective == "accuracy":
            raise ArchsimError(f"--no-simulate: accuracy is not simulated, so {(given or ['--objective accuracy'])[0]} "
                               f"has nothing to act on; drop one of them")
    else:
        check = fidelity.CheckSpec(
            samples=args.sim_samples, trials=args.sim_trials, seed=args.seed, input_hw=args.sim_input,
            max_accuracy_drop=fidelity.DEFAULT_ACCURACY_DROP if args.max_accuracy_drop is None else args.max_accuracy_drop,
            min_agreement=fidelity.DEFAULT_MIN_AGREEMENT if args.min_agreement is None else args.min_agreement,
            every_design=args.accuracy)
    space = sizing.SearchSpace(
        rows=tuple(_int_list(args.rows, "--rows")) if args.rows is not None else sizing.SearchSpace.rows,
        bits_per_cell=tuple(_int_list(args.bits_per_cell, "--bits-per-cell")) if args.bits_per_cell is not None else None,
        adc_bits=tuple(_int_list(args.adc_bits, "--adc-bits")) if args.adc_bits is not None else sizing.SearchSpace.adc_bits,
        cols_per_adc=tuple(_int_list(args.cols_per_adc, "--cols-per-adc")) if args.cols_per_adc is not None else sizing.SearchSpace.cols_per_adc,
        budgets=tuple(_int_list(args.budgets, "--budgets")) if args.budgets is not None else sizing.SearchSpace.budgets,
    )
    bad = [m for m in space.budgets if not 1 <= m <= MAX_BUDGET]
    if bad:
        raise ArchsimError(f"--budgets {bad[0]}: allowed whole multiples from 1 to {MAX_BUDGET}")
    if args.per_layer:
        return _size_per_layer(args, base, cons, space, check)
    if args.out:   # output names checked before the search
        report.table_paths(args.out, sizing_report.result_stem(args.workload, base.device))
    res = sizing.size(args.workload, base, constraints=cons, space=space, objective=args.objective,
                      workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress, check=check)
    print(sizing_report.format_result(res, top=args.top))
    if args.out:
        files = sizing_report.write_result(res, args.out)
        print("wrote " + ", ".join(map(str, files)))
    print(report.OPS_NOTE)
    print(trust.statement_text([base.device]))
    from archsim.report.explore_figures import size_pictures
    data = res.check.data if res.check is not None else None
    metric = data.column if data is not None else ("accuracy" if res.accuracy_available else None)
    title = f"Sizing {res.workload} on {res.device}"
    stem = sizing_report.result_stem(res.workload, res.device)
    outputs.print_written(outputs.finish(
        args, title, [outputs.html.Table("Pareto front", sizing_report.front_display(res))],
        lambda: size_pictures(res.table, stem, title, metric, data.floor if data else None,
                              data.reference if data else None),
        notes="\n\n".join([res.space_text, res.message] + res.binding + res.notes), devices=[base.device],
        summary=[res.message]))
    return 0 if res.recommended is not None else 1


def _size_per_layer(args, base, cons, space, check) -> int:
    from archsim.explore import per_layer, sizing_report
    if args.objective != "energy":
        raise ArchsimError(f"--per-layer: searches least energy at the floor; --objective {args.objective} is not "
                           f"allowed with it (allowed: energy)")
    if args.accuracy:
        raise ArchsimError("--accuracy: does not apply with --per-layer (the per-layer search simulates its own "
                           "options); drop one of them")
    if args.out:
        report.table_paths(args.out, sizing_report.result_stem(args.workload, base.device) + "_per_layer")
    res = per_layer.size_per_layer(args.workload, base, constraints=cons, space=space, check=check,
                                   workers=args.workers, progress=not args.no_progress)
    print(per_layer.format_per_layer(res))
    if args.out:
        files = per_layer.write_per_layer(res, args.out)
        print("wrote " + ", ".join(map(str, files)))
    print(report.OPS_NOTE)
    return 0 if res.config is not None else 1


def cmd_bench(args) -> int:
    from archsim.explore.bench import write_bench_report
    if args.workers is not None and args.workers < 1:
        raise ArchsimError(f"--workers {args.workers}: allowed 1 or more")
    from archsim.explore.bench import bench_devices, bench_display, published_display
    outputs.check_plot(args)
    res = write_bench_report(args.out, workers=args.workers, plots=not args.no_plots, accuracy=not args.no_accuracy,
                             progress=not args.no_progress)
    print(res.summary_text())
    print("wrote " + ", ".join(map(str, res.files)))
    for n in res.notes:
        print(n)
    print(trust.statement_text(sorted(set(res.table["device"].dropna()))))
    ok = res.table[res.table["error"].isna()]
    outputs.print_written(outputs.finish(
        args, "Benchmark: built-in workloads on every device, beside published accelerators",
        [outputs.html.Table("archsim estimates (default architecture)", bench_display(ok)),
         outputs.html.Table("Published accelerators", published_display(res.published))],
        (lambda: res.pictures) if res.pictures else None, notes="\n\n".join(res.notes),
        devices=bench_devices(), summary=[res.summary_text(), report.OPS_NOTE]))
    return 0


def add_validate(sub) -> None:
    sp = sub.add_parser("validate", help="regenerate the validation report against published figures")
    sp.add_argument("--out", type=out_dir, default="reports", help="folder for validation.md and validation.csv (default: reports)")
    sp.add_argument("--verbose", "-v", action="store_true", help="also print the table")
    sp.add_argument("--no-accuracy", action="store_true", help="skip the accuracy claims (Monte Carlo, about a minute)")
    add_no_progress(sp)
    outputs.add_plot(sp)
    sp.set_defaults(func=cmd_validate)


def add_sweep(sub) -> None:
    sp = sub.add_parser("sweep", help="design-space sweep from a YAML file (resumable; local pool or Dask)",
                               description="Evaluate every point of a sweep file into a result store and one tidy "
                                           "table (CSV, and Parquet when pyarrow is installed). Exit status 0: "
                                           "every point computed; 1: the table is written but some points failed "
                                           "(stderr: how many, and the first error of each distinct cause); 2: "
                                           "input refused before any work.")
    sp.add_argument("file", help="sweep YAML file (workloads, devices, base, grid, points)")
    sp.add_argument("--out", type=out_dir, help="output folder: results.sqlite, NAME.csv, NAME.parquet (default: sweep_NAME)")
    sp.add_argument("--workers", "-j", type=workers_int, help="local worker processes (default: the CPU count; 1 = in-process)")
    sp.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a Dask distributed cluster (needs dask[distributed])")
    sp.add_argument("--resume", action="store_true", help="continue a sweep whose store exists: compute only missing points")
    sp.add_argument("--format", default="auto", help="csv, parquet or both (comma-separated); auto = CSV, plus Parquet if pyarrow is installed")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    sp.add_argument("--plot", nargs=2, metavar=("X", "Y"),
                    help="draw column Y against column X of the results (e.g. area_mm2 energy_per_inference_J) as "
                         "a PNG in the output folder (needs matplotlib)")
    sp.set_defaults(func=cmd_sweep)


def add_size(sub) -> None:
    sp = sub.add_parser("size", help="size tile arrays for a workload: Pareto front and a recommended design",
                               description="Search array size, bits per cell, ADC bits, columns per ADC and tile budget; "
                                           "simulate every design of the Pareto front (energy, area, throughput): "
                                           "accuracy for networks with trained weights, fidelity to the float "
                                           "network for the others; print the front and a recommended design above "
                                           "the floor, and say which constraint binds or why nothing fits.")
    sp.add_argument("--workload", "-w", required=True, help="built-in workload name (archsim list)")
    sp.add_argument("--device", "-d", help="device name or .yaml (overrides the architecture's)")
    sp.add_argument("--arch", help="architecture YAML file for the keys not searched")
    sp.add_argument("--preset", help="a published architecture for the keys not searched")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="fix one architecture key (repeatable)")
    sp.add_argument("--cost-model", choices=("circuit", "lut"), help="override the architecture's cost_model")
    sp.add_argument("--min-accuracy", type=finite_float(0.0, 1.0),
                    help="accuracy floor, a fraction 0 to 1, for networks with trained weights (default: the float "
                         "network's accuracy on the same images minus --max-accuracy-drop)")
    sp.add_argument("--max-accuracy-drop", type=finite_float(0.0, 1.0),
                    help="default accuracy floor: at most this much below the float network, a fraction (default 0.01: "
                         "one point)")
    sp.add_argument("--min-agreement", type=finite_float(0.0, 1.0),
                    help="fidelity floor for networks without trained weights: top-1 agreement with the float network "
                         "on seeded weights and inputs (default 0.5)")
    sp.add_argument("--no-simulate", action="store_true",
                    help="do not simulate accuracy or fidelity (the report says accuracy was not checked)")
    sp.add_argument("--accuracy", action="store_true",
                    help="simulate every feasible design, not only the front (accuracy joins the objectives; slow)")
    sp.add_argument("--sim-samples", type=int_at_least(1, MAX_SAMPLES, count=True),
                    help="images per simulated design (default: 500 test images; 8 seeded inputs for fidelity)")
    sp.add_argument("--sim-trials", type=trials_int, help="programmed chips per simulated design (default 1)")
    sp.add_argument("--sim-input", type=int_at_least(1, 4096, count=True), metavar="PIXELS",
                    help="fidelity only: simulate at PIXELS x PIXELS inputs (default: 32 for inputs above 64, "
                         "every weighted layer keeping its rows and columns; give the full size to simulate it)")
    sp.add_argument("--seed", type=nonnegative_int, default=0,
                    help="seed of the simulated chips and of the seeded weights and inputs (default 0)")
    sp.add_argument("--min-fps", type=finite_float(0.0, 1e15), help="least inferences per second")
    sp.add_argument("--max-area-mm2", type=finite_float(0.0, 1e6, lo_open=True), help="largest chip area in mm2")
    sp.add_argument("--max-energy-uj", type=finite_float(0.0, 1e12, lo_open=True),
                    help="most energy per inference in uJ")
    sp.add_argument("--objective", choices=sizing_objectives(), default="energy",
                    help="what the recommended design optimizes among the feasible ones (default: energy)")
    sp.add_argument("--rows", help="array sizes rows=cols to try (default 64,128,256,512,1024) [allowed each "
                    f"{_key_range('rows')}]")
    sp.add_argument("--bits-per-cell", help="bits per cell to try (default 1 to what the device holds) [allowed each "
                    "1 to what the device holds]")
    sp.add_argument("--adc-bits", help=f"ADC resolutions to try (default 4,6,8,10) [allowed each {_key_range('adc_bits')}]")
    sp.add_argument("--cols-per-adc", help="columns per ADC to try (default 1,4,16,64) [allowed each "
                    f"{_key_range('cols_per_adc')}, and at most the largest --rows]")
    sp.add_argument("--budgets", help="tile budgets as multiples of the minimal tile count (default 1,2,4) [allowed "
                    f"each 1 to {MAX_BUDGET}]")
    sp.add_argument("--per-layer", action="store_true",
                    help="after the uniform search, give each layer its own ADC bits, bits per cell and replication "
                         "(layer sensitivity simulated one layer at a time, the combination checked by simulation) "
                         "and report the energy saved over the best uniform design at the same floor")
    sp.add_argument("--workers", "-j", type=workers_int, help="local worker processes (default: the CPU count)")
    sp.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a Dask distributed cluster")
    sp.add_argument("--top", type=int_at_least(1, MAX_ROWS_SHOWN, count=True), default=25, help="Pareto rows to print, 1 or more (all go to --out)")
    sp.add_argument("--out", type=out_dir, help="folder for size_WORKLOAD_DEVICE.md / .csv (every design searched)")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    outputs.add_plot(sp)
    sp.set_defaults(func=cmd_size)


def add_bench(sub) -> None:
    sp = sub.add_parser("bench", help="regenerate the benchmark report (every workload x device, published accelerators)",
                               description="Every built-in workload on every device (default architecture), beside the "
                                           "published accelerators of Table II of Marinella et al., IEEE JETCAS 2018: Markdown, CSV and plots.")
    sp.add_argument("--out", type=out_dir, default="reports/bench", help="output folder (default: reports/bench)")
    sp.add_argument("--workers", "-j", type=workers_int, help="local worker processes (default: the CPU count)")
    sp.add_argument("--no-plots", action="store_true", help="tables only (plots need matplotlib)")
    sp.add_argument("--no-accuracy", action="store_true",
                    help="skip the accuracy column (Monte Carlo on the networks with trained weights, about 2 minutes)")
    add_no_progress(sp)
    sp.set_defaults(func=cmd_bench)


def sizing_objectives() -> tuple[str, ...]:
    from archsim.explore.sizing import OBJECTIVES
    return tuple(OBJECTIVES)


#: command -> the function adding it to ``archsim``'s subcommands
COMMANDS = {"validate": add_validate, "sweep": add_sweep, "size": add_size, "bench": add_bench}

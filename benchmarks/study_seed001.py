"""Seed 001 studies: mappings of a matrix onto crossbars with IR drop, one array and a whole network.

Settings of seed 001 section VI: r_w = 1 ohm, R_in = R_out = 100 ohm, 2 kohm .. 3 Mohm cells of 8 bits,
inputs up to 0.2 V, v_cal = v_max / 2.

* matrix study (default): maximum output error, error under v_cal and conductance utilization of each
  mapping on one crossbar, over crossbar size and wire resistance, then the same 64 x 64 crossbar with one
  setting changed (R_in / R_out, a series resistance in every cell); writes reports/seed001_mapping.md.
* ``--network``: the 784-500-300-10 MLP (archsim's shipped weights) on MNIST over 128 x 128 arrays,
  software vs the linear, DPE and Representable Matrices mappings (ideal converters, as the paper's
  "infinity" point); writes reports/seed001_mlp.md.

Slow: the matrix study takes several minutes (RM on 128 x 128 about a minute a point), the network study
10 to 20 minutes on 2 quiet cores; run by hand, not in CI.  ``--render`` rewrites a page from its CSVs.
    python benchmarks/study_seed001.py [--points 64:1:100:0,...] [--out reports]
    python benchmarks/study_seed001.py --network [--samples 10000] [--workers 2] [--methods linear,dpe]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsim.sim import crossbar as cb  # noqa: E402
from archsim.report import tables as report  # noqa: E402
from archsim.sim import rmap  # noqa: E402

V_MAX = 0.2


MATRIX_METHODS = ("linear", "dpe_plain", "dpe", "dpe_at_rm_alpha", "rm")


def run_point(n, r_w, r_io=100.0, r_series=0.0, seed=0):
    """One crossbar of seed 001's settings (``r_io`` = R_in = R_out; ``r_series`` in series with every cell,
    an access transistor's on-resistance: the ideal conductor's range is 1 / (3 Mohm + r_s) .. 1 / (2 kohm +
    r_s)): every mapping's maximum output error, its error under v_cal itself, its conductance utilization,
    and RM's error split."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(0, 1, (n, n))
    cells = rmap.CellRange(1 / (3e6 + r_series), 1 / (2e3 + r_series), 8)
    par = cb.Parasitics(r_w, r_io, r_io)
    v_cal = np.full(n, V_MAX / 2)
    t0 = time.perf_counter()
    rm = rmap.representable(W, par, cells, v_cal)
    t_rm = time.perf_counter() - t0
    out = dict(linear=rmap.linear(W, par, cells), dpe_plain=rmap.dpe(W, par, cells, v_cal, fallback=False),
               dpe=rmap.dpe(W, par, cells, v_cal), dpe_at_rm_alpha=rmap.dpe(W, par, cells, v_cal, alpha=rm.alpha),
               rm=rm)
    full = cells.g_max / W.max()
    row = dict(size=n, r_wire_ohm=r_w, r_io_ohm=r_io, r_series_ohm=r_series, rm_seconds=t_rm, rm_alpha_over_full=rm.alpha / full,
               dpe_alpha_over_full=out["dpe"].alpha / full)
    for name, m in out.items():
        row[f"{name}_max_err"] = rmap.max_output_error(W, m, V_MAX)
        row[f"{name}_vcal_err"] = float(np.abs((W - m.w_r) @ v_cal).max() / np.abs(W @ v_cal).max())
        row[f"{name}_util_mean"] = m.utilization
        row[f"{name}_util_max"] = m.utilization_max
    row["rm_value_err"] = rm.value_error
    row["rm_precision_err"] = rm.precision_error
    for name in ("dpe_plain", "dpe", "dpe_at_rm_alpha"):
        row[f"{name}_over_rm"] = row[f"{name}_max_err"] / row["rm_max_err"]
    return row


#: RM search settings of the network study (fewer descent steps than the matrix study's defaults, so that
#: 86 arrays map in minutes; the matrix study shows what the full settings add)
NETWORK_RM = dict(scan=5, quick_iters=2, gd_iters=8, refine=1)
PAPER_MLP = {"software": 0.984, "rm": 0.983, "dpe": 0.963}


NETWORK_METHODS = ("linear", "dpe_plain", "dpe", "dpe_at_rm_alpha", "rm")


def network_study(samples: int, workers: int, out: Path, rows: int = 128, methods=NETWORK_METHODS,
                  carry: Path | None = None) -> pd.DataFrame:
    """The MLP over crossbars for ``methods``; rows of other mappings can be carried from an earlier run's CSV
    (``carry``: its code path unchanged), marked in the column ``run``."""
    import workloads
    from archsim.io import data
    from archsim.sim import forward

    wl = workloads.get("mlp", weights=True)
    x, y = data.for_workload(wl, "test", limit=samples)
    cells = rmap.CellRange(1 / 3e6, 1 / 2e3, 8)
    par = cb.Parasitics(1.0, 100.0, 100.0)
    realized = {k: {} for k in methods}
    per_layer = []
    t_all = time.perf_counter()
    for lay in wl.weighted_layers():
        t0 = time.perf_counter()
        Wr, util = rmap.realize_layer(lay.weights, rows, rows, par, cells, V_MAX / 2, methods=methods,
                                      rm_kw=NETWORK_RM, workers=workers, utilization=True)
        dt = time.perf_counter() - t0
        row = dict(layer=lay.name, shape=f"{lay.K}x{lay.N}", seconds=dt)
        for k in methods:
            realized[k][lay.name] = Wr[k]
            row[f"{k}_rel_err"] = float(np.linalg.norm(Wr[k] - lay.weights) / np.linalg.norm(lay.weights))
        for k in methods:
            row[f"{k}_util_mean"], row[f"{k}_util_max"] = util[k]
        per_layer.append(row)
        print(report.to_text(pd.DataFrame([row])), flush=True)

    def acc(mats=None):
        hook = None
        if mats is not None:
            def hook(layer, cols, group):
                return cols @ mats[layer.name].T.astype(cols.dtype)
        return forward.accuracy(wl, x, y, matmul=hook)

    rows_out = [dict(mapping="software", accuracy=acc(), paper=PAPER_MLP["software"], run="this")]
    old = pd.read_csv(carry).set_index("mapping") if carry else None
    for k in NETWORK_METHODS:
        if k in methods:
            rows_out.append(dict(mapping=k, accuracy=acc(realized[k]), paper=PAPER_MLP.get(k, float("nan")), run="this"))
        elif old is not None and k in old.index:
            rows_out.append(dict(mapping=k, accuracy=float(old.loc[k, "accuracy"]),
                                 paper=PAPER_MLP.get(k, float("nan")), run="earlier"))
    df = pd.DataFrame(rows_out)
    df["images"] = len(y)
    df["minutes"] = (time.perf_counter() - t_all) / 60
    df["workers"] = workers
    layers = pd.DataFrame(per_layer)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "seed001_mlp.csv", index=False)
    layers.to_csv(out / "seed001_mlp_layers.csv", index=False)
    write_network_report(df, layers, out)
    print(report.to_text(df))
    return df


def write_network_report(df: pd.DataFrame, layers: pd.DataFrame, out) -> None:
    out = Path(out)
    methods = [m for m in NETWORK_METHODS if f"{m}_rel_err" in layers]
    err_cols = ["layer", "shape", "seconds"] + [f"{k}_rel_err" for k in methods]
    util_cols = ["layer"] + [f"{k}_util_{s}" for k in methods for s in ("mean", "max")]
    acc = df.set_index("mapping")["accuracy"]
    text = [
        "# Seed 001: the 784-500-300-10 MLP on MNIST over 128 x 128 crossbars with IR drop", "",
        f"Generated by `python benchmarks/study_seed001.py --network` ({df['minutes'].iloc[0]:.1f} min, "
        f"{int(df['workers'].iloc[0])} workers, mapping "
        f"{', '.join(m for m in df[df['run'] == 'this'].mapping if m != 'software')}; `--render` rewrites this "
        "page from the CSVs). MNIST test images: "
        f"{int(df['images'].iloc[0])}. Weights: archsim's shipped `mlp` (trained by `scripts/train_weights.py`). "
        "Each layer is split into W+ and W- (a differential pair of arrays, the difference taken after each "
        "array's gain 1/alpha), cut into 128 x 128 blocks, each on its own crossbar: r_w = 1 ohm, R_in = R_out "
        "= 100 ohm, 2 kohm to 3 Mohm cells with 8 bits, v_cal = 0.1 V on the used rows. Converters ideal (the "
        "paper's 'infinity' point); biases and ReLU digital.", "",
        report.to_markdown(df[["mapping", "accuracy", "paper", "run"]]), "",
        "`run`: `this` = computed by this run; `earlier` = carried from the run before [5]'s fallback was added, "
        "whose code paths for these mappings the fallback does not touch (`dpe_plain` was that run's `dpe`; "
        "`dpe_at_rm_alpha` there had no fallback; at RM's scale factor it fires only where a cell would need more "
        "than g_max, which the matrix study never sees). `--methods` chooses what a run recomputes.", "",
        "Per layer: relative Frobenius error of the realized matrix, and mapping time.", "",
        report.to_markdown(layers[err_cols]), "",
        "Per layer: conductance utilization (g - g_min) / (g_max - g_min) over the cells holding weights, mean "
        "and largest.", "",
        report.to_markdown(layers[util_cols]), "",
        f"RM settings: {NETWORK_RM} (fewer steps than the matrix study's defaults).", "",
        "Mappings: `linear` (full conductance range, no compensation); `dpe` (seed 001's reference [5] as seed "
        "001 section III-B describes it: full-range ideal conductances, every cell solved so that its current "
        "under v_cal is the ideal one, and, where that needs more than g_max, the ideal currents updated so that "
        "the largest cell sits at g_max); `dpe_plain` (the same calibration without that fallback: cells pin at "
        "g_max, the earlier archsim baseline); `dpe_at_rm_alpha` (the calibration started at the scale factor "
        "RM chose); `rm` (Representable Matrices).", "",
        "What archsim finds against the paper:", "",
        f"- Software: archsim's own weights ({acc['software']:.1%}) against the paper's 98.4%. The network is "
        "the same, but the trained weights are not.",
        f"- Representable Matrices: {acc['rm']:.1%} against the paper's 98.3%: reproduced.",
        f"- DPE with [5]'s fallback: {acc['dpe']:.1%} against the paper's 96.3%. Without the fallback "
        f"(`dpe_plain`) it is {acc['dpe_plain']:.1%}. With R_in = R_out = 100 ohm a row of kilo-ohm cells "
        "draws so much current that the driver and sense resistors take most of the voltage, the full-range "
        "calibration asks for conductances above g_max, and the pinned cells leave a large error. The missing "
        "fallback is what separated archsim's earlier 45.1% from the paper's 96.3%.",
        "- With the fallback, archsim's DPE now sits about two points above the paper's. Its fc1 and fc2 are "
        "realized with 11-13% relative error (RM's 8%; fc3 2.6% against RM's 2.0%), a gap "
        "far smaller than the 4x-9x of the matrix study. The trained weights are heavy-tailed, so the cells use a few percent of the "
        "range on average (table above), and the IR drop that DPE cannot undo away from v_cal stays small. "
        "What the paper had and archsim does not model: the nonlinear TaOx I-V and access transistor (a "
        "calibration on v_cal is exact only at v_cal, and a nonlinear cell drifts from it at other inputs), "
        "SPICE on state variables, and the paper's own weights. The paper also scores 1,000 images (a 95% "
        "interval of about +-1.2 points at 96%). archsim cannot say which of these costs the paper's DPE its "
        "two points, so this row is named as not reproduced.",
        "- The linear mapping without any compensation loses a few points. Its IR-drop error is mostly a gain "
        "per row and column, and argmax partly forgives that.",
        "- The paper solves state variables of a nonlinear device in SPICE on 1,000 images; archsim uses "
        "linear cells on the whole test set, and shorter RM searches than the matrix study (settings above).",
    ]
    (out / "seed001_mlp.md").write_text("\n".join(text) + "\n")
    print("wrote", out / "seed001_mlp.md")


#: (size, r_wire, R_in = R_out, series resistance): seed 001's settings over sizes and wires, then the same
#: 64 x 64 crossbar with one setting changed (the load of R_in / R_out, a series resistance in every cell)
PAPER_POINTS = [(n, rw, 100.0, 0.0) for n in (64, 128) for rw in (0.0, 1.0, 2.5)] + [(32, 1.0, 100.0, 0.0)]
SETTING_POINTS = [(64, 1.0, 10.0, 0.0), (64, 1.0, 1.0, 0.0), (64, 1.0, 100.0, 2e3), (64, 1.0, 100.0, 8e3)]
PAPER_RATIO = (4.0, 9.0)
PAPER_UTIL = {32: 0.64, 64: 0.60, 128: 0.48}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", default="",
                    help="size:r_wire:r_io:r_series,... (default: seed 001's settings and the setting runs)")
    ap.add_argument("--out", default="reports")
    ap.add_argument("--network", action="store_true", help="the MLP network study instead of the matrix study")
    ap.add_argument("--samples", type=int, default=10000, help="MNIST test images (network study)")
    ap.add_argument("--workers", type=int, default=2, help="processes mapping arrays (network study)")
    ap.add_argument("--render", action="store_true", help="rewrite the report from its CSVs (no solving)")
    ap.add_argument("--methods", default=",".join(NETWORK_METHODS), help="mappings the network study computes")
    ap.add_argument("--carry", default="", help="CSV of an earlier network run whose other mappings are kept")
    a = ap.parse_args(argv)
    if a.network and a.render:
        write_network_report(pd.read_csv(Path(a.out) / "seed001_mlp.csv"),
                             pd.read_csv(Path(a.out) / "seed001_mlp_layers.csv"), a.out)
        return
    if a.network:
        network_study(a.samples, a.workers, Path(a.out), methods=tuple(a.methods.split(",")),
                      carry=Path(a.carry) if a.carry else None)
        return
    if a.render:
        write_matrix_report(pd.read_csv(Path(a.out) / "seed001_mapping.csv"), a.out)
        return
    points = ([tuple(float(v) for v in p.split(":")) for p in a.points.split(",")] if a.points
              else PAPER_POINTS + SETTING_POINTS)
    rows = []
    Path(a.out).mkdir(parents=True, exist_ok=True)
    for n, rw, rio, rs in points:
        rows.append(run_point(int(n), rw, rio, rs))
        print(report.to_text(pd.DataFrame(rows[-1:])), flush=True)
        pd.DataFrame(rows).to_csv(Path(a.out) / "seed001_mapping.csv", index=False)   # kept point by point
    write_matrix_report(pd.DataFrame(rows), a.out)


def write_matrix_report(df: pd.DataFrame, out) -> None:
    paper = df[(df.r_io_ohm == 100.0) & (df.r_series_ohm == 0.0)].sort_values(["size", "r_wire_ohm"])
    setting = df[(df["size"] == 64) & (df.r_wire_ohm == 1.0)]
    key = ["size", "r_wire_ohm"]
    err = key + [f"{k}_max_err" for k in MATRIX_METHODS] + ["dpe_plain_over_rm", "dpe_over_rm",
                                                            "dpe_at_rm_alpha_over_rm", "rm_seconds"]
    vcal = key + [f"{k}_vcal_err" for k in MATRIX_METHODS]
    util = key + [f"{k}_util_{s}" for k in MATRIX_METHODS for s in ("mean", "max")] + ["dpe_alpha_over_full",
                                                                                       "rm_alpha_over_full"]
    split = key + ["rm_value_err", "rm_precision_err"]
    sett = ["r_io_ohm", "r_series_ohm", "dpe_max_err", "rm_max_err", "dpe_over_rm", "dpe_util_mean",
            "rm_util_mean", "rm_util_max", "dpe_plain_over_rm"]
    lo, hi = paper.dpe_over_rm.min(), paper.dpe_over_rm.max()
    plo, phi = paper.dpe_plain_over_rm.min(), paper.dpe_plain_over_rm.max()
    util_by_size = paper[paper.r_wire_ohm == 1.0].set_index("size")["rm_util_max"]
    util_cells = " / ".join(f"{util_by_size[n]:.0%}" for n in sorted(util_by_size.index))
    util_paper = " / ".join(f"{PAPER_UTIL[n]:.0%}" for n in sorted(util_by_size.index) if n in PAPER_UTIL)
    sizes = "/".join(str(n) for n in sorted(util_by_size.index))
    text = [
        "# Seed 001: mapping a matrix onto a crossbar with IR drop", "",
        "Generated by `python benchmarks/study_seed001.py` (`--render` rewrites this page from the CSV). Target: a "
        "dense random matrix, uniform in [0, 1]; seed 001's settings: R_in = R_out = 100 ohm, cells 2 kohm to 3 "
        "Mohm with 8 bits, inputs uniform in [0, 0.2 V], v_cal = 0.1 V on every row; error = max |W v - W_r v| "
        "over 200 random inputs, relative to max |W v| (the paper's 'maximum output error').", "",
        "| quantity | seed 001 | archsim |", "|---|---:|---:|",
        f"| max error, DPE [5] over RM, at seed 001's settings | 4x - 9x | {lo:.1f}x - {hi:.1f}x |",
        f"| the same without [5]'s fallback (archsim's earlier baseline) | - | {plo:.0f}x - {phi:.0f}x |",
        f"| RM's largest conductance, share of the range ({sizes}, r_w = 1 ohm) | {util_paper} | {util_cells} |",
        "",
        "Maximum output error of each mapping at seed 001's settings, over crossbar size and wire resistance "
        "(r_w = 0: ideal wires, R_in and R_out still drop voltage), and the ratios to RM:", "",
        report.to_markdown(paper[err]), "",
        "Calibration: error under v_cal itself, max |(W - W_r) v_cal| / max |W v_cal|. [5]'s calibration (with its "
        "fallback) and RM's both reproduce W v_cal up to the 8-bit conductance step and the g_min floor, with "
        "and without wire resistance; without the fallback the cells pinned at g_max leave most of the error:", "",
        report.to_markdown(paper[vcal]), "",
        "Conductance utilization (g - g_min) / (g_max - g_min) of each mapping, mean and largest over the "
        "cells, and the scale factor as a share of full range (alpha max(W) / g_max):", "",
        report.to_markdown(paper[util]), "",
        "RM's error split: value-range error ||W - W_r(unquantized g)||_F^2 and precision error (what "
        "quantizing g to 8 bits adds):", "",
        report.to_markdown(paper[split]), "",
        "## What separates archsim from the paper, shown by changing one setting", "",
        "The same 64 x 64 crossbar at r_w = 1 ohm, with R_in = R_out lowered from seed 001's 100 ohm, or with a "
        "series resistance r_s in every cell (an access transistor's on-resistance; the ideal conductor's range "
        "becomes 1/(3 Mohm + r_s) .. 1/(2 kohm + r_s)). r_s is not a figure of seed 001: it is swept to show the "
        "effect, and marked here as an assumption.", "",
        report.to_markdown(setting[sett]), "",
        "Mappings: `linear` (full conductance range, no compensation); `dpe` (seed 001's reference [5] as seed "
        "001 section III-B describes it: W linearly mapped to the full range, every cell solved so that its "
        "current under v_cal is its ideal current, and where that needs more than g_max the ideal currents "
        "updated so that the largest cell sits at g_max); `dpe_plain` (the same calibration without that "
        "fallback, archsim's earlier baseline); `dpe_at_rm_alpha` (the calibration started at the scale "
        "factor RM chose); `rm` (Representable Matrices: alpha search, exact-gradient tuning, row "
        "calibration).", "",
    ] + matrix_discussion(paper, setting)
    (Path(out) / "seed001_mapping.md").write_text("\n".join(text) + "\n")
    print("wrote", Path(out) / "seed001_mapping.md")


def matrix_discussion(paper: pd.DataFrame, setting: pd.DataFrame) -> list[str]:
    base = setting[(setting.r_io_ohm == 100.0) & (setting.r_series_ohm == 0.0)].iloc[0]
    ser = setting[setting.r_series_ohm > 0].sort_values("r_series_ohm")
    light = setting[(setting.r_io_ohm < 100.0) & (setting.r_series_ohm == 0.0)].sort_values("r_io_ohm")
    u = paper.rm_util_max
    lines = [
        "What archsim finds:", "",
        f"- [5]'s fallback is what separated archsim's earlier {paper.dpe_plain_over_rm.min():.0f}x-"
        f"{paper.dpe_plain_over_rm.max():.0f}x from the paper's 4x-9x. Without it, at seed 001's settings, the "
        "full-range calibration asks for conductances above g_max: a row of kilo-ohm cells draws so much current "
        "that R_in, R_out and the wires take most of the voltage, and the pinned cells keep most of the error. "
        "With the fallback, DPE lowers its ideal currents until the largest cell just reaches g_max, and the "
        f"ratio to RM falls to {paper.dpe_over_rm.min():.1f}x-{paper.dpe_over_rm.max():.1f}x.",
        "- Calibration now also runs with ideal wires (r_w = 0 rows). R_in and R_out still drop voltage there, "
        "so skipping calibration was wrong; [5] and RM both reproduce W v_cal there too.",
        f"- Conductance utilization differs. At seed 001's settings, RM's largest cell uses {u.min():.0%}-"
        f"{u.max():.0%} of the range in archsim, where the paper reports about half (64/60/48% for 32/64/128). "
        "The setting behind this is the resistance in series with each cell. Seed 001 replaces memristor and "
        "access transistor by one ideal conductor whose g_max is 'the conservatively estimated' conductance of "
        "the pair, below the memristor's 1/2 kohm by an amount the paper does not give. archsim had put the "
        "memristor's own range there.",
    ]
    for _, r in ser.iterrows():
        lines.append(f"  - With r_s = {r.r_series_ohm / 1e3:g} kohm in series (64 x 64, r_w = 1 ohm), RM's "
                     f"largest cell uses {r.rm_util_max:.0%} of the range and DPE's error is {r.dpe_over_rm:.1f}x "
                     f"RM's (without r_s: {base.rm_util_max:.0%} and {base.dpe_over_rm:.1f}x).")
    for _, r in light.iterrows():
        lines.append(f"  - With R_in = R_out = {r.r_io_ohm:g} ohm instead of 100: {r.rm_util_max:.0%} and "
                     f"{r.dpe_over_rm:.1f}x.")
    lines += [
        "  So the load that each cell's conductance sees sets both the utilization and the DPE/RM ratio. About "
        "8 kohm in series (a transistor's on-resistance, assumed) brings archsim to the paper's 60% at 64 x 64, "
        "with the ratio still inside 4x-9x.",
        "- The paper solves state variables of a nonlinear device and transistor in SPICE. archsim uses ideal "
        "linear cells, so only the ratios and the utilization, not the absolute errors, are set beside the "
        "paper's.",
    ]
    return lines


if __name__ == "__main__":
    main()

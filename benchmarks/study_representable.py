"""Zhang et al. (ASP-DAC 2020) studies: mappings of a matrix onto crossbars with IR drop, one array and a whole network.

Settings of Zhang et al. (ASP-DAC 2020) section VI: r_w = 1 ohm, R_in = R_out = 100 ohm, 2 kohm .. 3 Mohm cells of 8 bits,
inputs up to 0.2 V, v_cal = v_max / 2.

* matrix study (default): maximum output error, error under v_cal and conductance utilization of each
  mapping on one crossbar, over crossbar size and wire resistance, then the same 64 x 64 crossbar with one
  setting changed (R_in / R_out, a series resistance in every cell); writes reports/representable_mapping.md.
* ``--network``: the 784-500-300-10 MLP (archsim's shipped weights) on MNIST over 128 x 128 arrays,
  software vs the linear, DPE and Representable Matrices mappings (ideal converters, as the paper's
  "infinity" point), per setting: a differential pair or one cell per weight (the paper's), and a series
  resistance r_s in every cell (an access transistor); writes reports/representable_mlp.md.

Slow: the matrix study takes several minutes (RM on 128 x 128 about a minute a point), the network study
10 to 20 minutes on 2 quiet cores; run by hand, not in CI.  ``--render`` rewrites a page from its CSVs.
    python benchmarks/study_representable.py [--points 64:1:100:0,...] [--out reports]
    python benchmarks/study_representable.py --network [--samples 10000] [--workers 2] [--methods linear,dpe]
        [--cells-per-weight 1|2] [--r-series 2000]
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
from archsim.model.errors import ArchsimError  # noqa: E402

V_MAX = 0.2


MATRIX_METHODS = ("linear", "dpe_plain", "dpe", "dpe_at_rm_alpha", "rm")


def run_point(n, r_w, r_io=100.0, r_series=0.0, seed=0):
    """One crossbar of Zhang et al.'s settings (``r_io`` = R_in = R_out; ``r_series`` in series with every cell,
    an access transistor's on-resistance: the ideal conductor's range is 1 / (3 Mohm + r_s) .. 1 / (2 kohm +
    r_s)): every mapping's maximum output error, its error under v_cal itself, its conductance utilization,
    and RM's error split."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(0, 1, (n, n))
    cells = series_cells(r_series)
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


def series_cells(r_series: float) -> rmap.CellRange:
    """Zhang et al.'s 2 kohm .. 3 Mohm, 8-bit cell with ``r_series`` (ohm) in series: the ideal conductor of Zhang et al. (ASP-DAC 2020)
    section V-A, whose range is 1 / (3 Mohm + r_s) .. 1 / (2 kohm + r_s) (r_s an access transistor's
    on-resistance; not a figure of Zhang et al. (ASP-DAC 2020), an assumption swept by these studies)."""
    try:
        return rmap.CellRange.in_series(2e3, 3e6, 8, r_series)
    except ArchsimError as e:
        raise SystemExit(f"study_representable: --r-series: {e}") from None


#: what tells the network study's runs apart in its CSVs
RUN_KEYS = ("cells_per_weight", "r_series_ohm")


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    """A CSV written before the key columns existed holds the run with pairs of cells and r_s = 0."""
    df = df.copy()
    for k, default in zip(RUN_KEYS, (2, 0.0)):
        if k not in df:
            df.insert(0, k, default)
    return df


def _merge(path: Path, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` in place of the rows of ``path`` that have its run keys (cells per weight, series resistance)."""
    if not path.exists():
        return new
    old = _keyed(pd.read_csv(path))
    same = old.set_index(list(RUN_KEYS)).index.isin(new.set_index(list(RUN_KEYS)).index.unique())
    return (pd.concat([old[~same], new], ignore_index=True)
            .sort_values(list(RUN_KEYS), ascending=[False, True], kind="stable").reset_index(drop=True))


def network_study(samples: int, workers: int, out: Path, rows: int = 128, methods=NETWORK_METHODS,
                  carry: Path | None = None, r_series: float = 0.0, pairs: bool = True) -> pd.DataFrame:
    """The MLP over crossbars for ``methods``, every cell with ``r_series`` in series; rows of other mappings
    can be carried from an earlier run's CSV (``carry``: its code path unchanged), marked in the column
    ``run``.  ``pairs=False``: one cell per weight and a digital offset instead of a differential pair
    (:func:`archsim.sim.rmap.realize_layer`).  The CSVs in ``out`` keep the runs of other settings."""
    import workloads
    from archsim.io import data
    from archsim.sim import forward

    wl = workloads.get("mlp", weights=True)
    x, y = data.for_workload(wl, "test", limit=samples)
    cells = series_cells(r_series)
    par = cb.Parasitics(1.0, 100.0, 100.0)
    realized = {k: {} for k in methods}
    per_layer = []
    t_all = time.perf_counter()
    for lay in wl.weighted_layers():
        t0 = time.perf_counter()
        Wr, util = rmap.realize_layer(lay.weights, rows, rows, par, cells, V_MAX / 2, methods=methods,
                                      rm_kw=NETWORK_RM, workers=workers, utilization=True, pairs=pairs)
        dt = time.perf_counter() - t0
        row = dict(cells_per_weight=2 if pairs else 1, r_series_ohm=r_series, layer=lay.name, shape=f"{lay.K}x{lay.N}", seconds=dt)
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
    old = None
    if carry:
        old = _keyed(pd.read_csv(carry))
        old = old[(old.r_series_ohm == r_series) & (old.cells_per_weight == (2 if pairs else 1))].set_index("mapping")
    for k in NETWORK_METHODS:
        if k in methods:
            rows_out.append(dict(mapping=k, accuracy=acc(realized[k]), paper=PAPER_MLP.get(k, float("nan")), run="this"))
        elif old is not None and k in old.index:
            rows_out.append(dict(mapping=k, accuracy=float(old.loc[k, "accuracy"]),
                                 paper=PAPER_MLP.get(k, float("nan")), run="earlier"))
    df = pd.DataFrame(rows_out)
    df.insert(0, "r_series_ohm", r_series)
    df.insert(0, "cells_per_weight", 2 if pairs else 1)
    df["images"] = len(y)
    df["minutes"] = (time.perf_counter() - t_all) / 60
    df["workers"] = workers
    layers = pd.DataFrame(per_layer)
    out.mkdir(parents=True, exist_ok=True)
    print(report.to_text(df))
    df = _merge(out / "representable_mlp.csv", df)
    layers = _merge(out / "representable_mlp_layers.csv", layers)
    df.to_csv(out / "representable_mlp.csv", index=False)
    layers.to_csv(out / "representable_mlp_layers.csv", index=False)
    write_network_report(df, layers, out)
    return df


#: Zhang et al. (ASP-DAC 2020) section VI-B: the MLP is scored on "one thousand randomly selected input images", "with one
#: memristor per weight"
PAPER_IMAGES = 1000
PAPER_CELLS_PER_WEIGHT = 1


def setting_name(cells_per_weight: int, r_series: float) -> str:
    kind = "pair of cells" if int(cells_per_weight) == 2 else "one cell"
    return f"{kind}, r_s = {r_series / 1e3:g} kohm"


def half_width(p: float, n: int) -> float:
    """95% half-width of an accuracy ``p`` scored on ``n`` images (binomial, one chip: the mappings are
    deterministic)."""
    from archsim.sim.accuracy import ci95_halfwidth
    return ci95_halfwidth([p], int(n))


def subset_at_or_below(p: float, n: int, target: float, k: int = PAPER_IMAGES) -> float:
    """How often ``k`` images drawn at random (without replacement) from the ``n`` that archsim scored at
    accuracy ``p`` score at most ``target``: the hypergeometric distribution of the number right, exact."""
    from scipy.stats import hypergeom
    return float(hypergeom.cdf(int(np.floor(target * k + 1e-9)), int(n), int(round(p * n)), k))


def network_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run setting: every mapping's accuracy, DPE and RM with their 95% half-widths, DPE - RM, and
    DPE and RM set beside the paper's figures and their intervals on its 1,000 images."""
    df = _keyed(df)
    rows = []
    for (cpw, rs), g in df.groupby(["cells_per_weight", "r_series_ohm"], sort=False):
        acc = g.set_index("mapping")["accuracy"]
        n = int(g["images"].iloc[0])
        row = dict(cells_per_weight=int(cpw), r_series_ohm=float(rs), images=n)
        for k in ("software",) + NETWORK_METHODS:
            row[k] = float(acc.get(k, float("nan")))
        for k in ("dpe", "rm"):
            row[f"{k}_ci95"] = half_width(row[k], n) if np.isfinite(row[k]) else float("nan")
            paper = PAPER_MLP[k]
            row[f"{k}_in_paper_ci"] = bool(abs(row[k] - paper) <= half_width(paper, PAPER_IMAGES))
        row["dpe_minus_rm_points"] = 100 * (row["dpe"] - row["rm"])
        row["p_1000_dpe_at_or_below_paper"] = subset_at_or_below(row["dpe"], n, PAPER_MLP["dpe"])
        row["minutes"] = float(g["minutes"].iloc[0])
        row["workers"] = int(g["workers"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["cells_per_weight", "r_series_ohm"], ascending=[False, True],
                                          kind="stable").reset_index(drop=True)


def write_network_report(df: pd.DataFrame, layers: pd.DataFrame, out) -> None:
    out = Path(out)
    df, layers = _keyed(df), _keyed(layers)
    summ = network_summary(df)
    keys = list(RUN_KEYS)
    methods = [m for m in NETWORK_METHODS if f"{m}_rel_err" in layers]
    err_cols = keys + ["layer", "shape", "seconds"] + [f"{k}_rel_err" for k in methods]
    util_cols = keys + ["layer"] + [f"{k}_util_{s}" for k in methods for s in ("mean", "max")]
    paper_row = dict(source="Zhang et al. (ASP-DAC 2020) Fig. 9(a)", cells_per_weight=PAPER_CELLS_PER_WEIGHT, r_series_ohm=float("nan"),
                     images=PAPER_IMAGES, **{k: PAPER_MLP.get(k, float("nan")) for k in ("software",) + NETWORK_METHODS})
    acc_tab = pd.concat([pd.DataFrame([paper_row]), summ.assign(source="archsim")[list(paper_row)]], ignore_index=True)
    vs_cols = keys + ["images", "dpe", "dpe_ci95", "rm", "rm_ci95", "dpe_minus_rm_points", "dpe_in_paper_ci",
                      "rm_in_paper_ci", "p_1000_dpe_at_or_below_paper"]
    vs = summ[vs_cols].copy()
    for c in ("dpe_in_paper_ci", "rm_in_paper_ci"):
        vs[c] = vs[c].map({True: "yes", False: "no"})
    runs = summ[keys + ["minutes", "workers"]]
    earlier = (df["run"] == "earlier").any()
    text = [
        "# Zhang et al. (ASP-DAC 2020): the 784-500-300-10 MLP on MNIST over 128 x 128 crossbars with IR drop", "",
        "Generated by `python benchmarks/study_representable.py --network [--r-series OHM] [--cells-per-weight 1|2]`, "
        "one run per setting (`--render` rewrites this page from the CSVs). Weights: archsim's shipped `mlp` "
        "(trained by `scripts/train_weights.py`). Each layer is cut into 128 x 128 blocks, each on its own "
        "crossbar: r_w = 1 ohm, R_in = R_out = 100 ohm, 2 kohm to 3 Mohm cells with 8 bits, v_cal = 0.1 V on the "
        "used rows. Converters ideal (the paper's 'infinity' point); biases and ReLU digital. Two settings are "
        "changed run by run:", "",
        "- `cells_per_weight`: 2 = a differential pair (W+ and W- on two arrays, the difference taken after each "
        "array's gain 1/alpha); 1 = one cell per weight, as Zhang et al. (ASP-DAC 2020) section VI-B states ('with one memristor per "
        "weight'): the arrays hold W - min(W) (one offset per layer) and the offset min(W) sum(x) is taken off "
        "digitally and exactly. How the paper handles signs with one memristor is not stated; the offset is "
        "archsim's assumption.",
        "- `r_series_ohm`: a resistance r_s in series with every cell (the access transistor of the paper's Fig. "
        "2(a)): the ideal conductor of Zhang et al. (ASP-DAC 2020) section V-A then ranges over 1/(3 Mohm + r_s) .. 1/(2 kohm + r_s). "
        "The paper gives no value; r_s is an assumption, swept.", "",
        "Accuracy on the MNIST test images (the paper's row: its Fig. 9(a) at infinite converter precision, "
        f"{PAPER_IMAGES:,} images):", "",
        report.to_markdown(acc_tab), "",
        "DPE and RM against the paper. `*_ci95`: the 95% half-width of archsim's accuracy from its number of "
        f"images (binomial). `*_in_paper_ci`: archsim's figure lies inside the 95% interval of the paper's on its "
        f"{PAPER_IMAGES:,} images (+-{half_width(PAPER_MLP['dpe'], PAPER_IMAGES):.2%} at 96.3%, "
        f"+-{half_width(PAPER_MLP['rm'], PAPER_IMAGES):.2%} at 98.3%). `p_1000_dpe_at_or_below_paper`: how often "
        f"{PAPER_IMAGES:,} images drawn at random from archsim's scored images give DPE 96.3% or less (exact, "
        "hypergeometric): whether the paper's sample size alone could explain its figure. The paper's DPE - RM "
        f"is {100 * (PAPER_MLP['dpe'] - PAPER_MLP['rm']):+.1f} points.", "",
        report.to_markdown(vs), "",
    ]
    if earlier:
        text += ["Some rows were carried from an earlier run whose code path for those mappings is unchanged "
                 "(`run` = `earlier` in the CSV); `--methods` chooses what a run recomputes.", ""]
    text += [
        "Per layer: relative Frobenius error of the realized matrix, and mapping time.", "",
        report.to_markdown(layers[err_cols]), "",
        "Per layer: conductance utilization (g - g_min) / (g_max - g_min) over the cells holding weights, mean "
        "and largest.", "",
        report.to_markdown(layers[util_cols]), "",
        "Runs (minutes of mapping and scoring, worker processes):", "",
        report.to_markdown(runs), "",
        f"RM settings: {NETWORK_RM} (fewer steps than the matrix study's defaults).", "",
        "Mappings: `linear` (full conductance range, no compensation); `dpe` (Zhang et al.'s reference [5] as seed "
        "001 section III-B describes it: full-range ideal conductances, every cell solved so that its current "
        "under v_cal is the ideal one, and, where that needs more than g_max, the ideal currents updated so that "
        "the largest cell sits at g_max); `dpe_plain` (the same calibration without that fallback: cells pin at "
        "g_max, the earlier archsim baseline); `dpe_at_rm_alpha` (the calibration started at the scale factor "
        "RM chose); `rm` (Representable Matrices).", "",
    ] + network_discussion(summ, layers)
    (out / "representable_mlp.md").write_text("\n".join(text) + "\n")
    print("wrote", out / "representable_mlp.md")


def _layer_mean(layers: pd.DataFrame, cpw: int, rs: float, col: str) -> float:
    sel = layers[(layers.cells_per_weight == cpw) & (layers.r_series_ohm == rs)]
    return float(sel[col].mean()) if len(sel) else float("nan")


def network_discussion(summ: pd.DataFrame, layers: pd.DataFrame) -> list[str]:
    """What the runs show against the paper; every number from the CSVs, every claim checked on them."""
    base = summ[(summ.cells_per_weight == 2) & (summ.r_series_ohm == 0)].iloc[0]
    sep = summ[summ.dpe_in_paper_ci & summ.rm_in_paper_ci]
    pairs, one = summ[summ.cells_per_weight == 2], summ[summ.cells_per_weight == 1]
    paper_gap = 100 * (PAPER_MLP["dpe"] - PAPER_MLP["rm"])
    lines = ["What archsim finds against the paper:", "",
             f"- Software: archsim's own weights ({base.software:.1%}) against the paper's 98.4%. The network is "
             "the same, but the trained weights are not."]
    for _, r in summ.iterrows():
        lines.append(
            f"- {setting_name(r.cells_per_weight, r.r_series_ohm)}: DPE {r.dpe:.2%} +- {r.dpe_ci95:.2%} "
            f"(paper 96.3%), RM {r.rm:.2%} +- {r.rm_ci95:.2%} (paper 98.3%), DPE - RM {r.dpe_minus_rm_points:+.2f} "
            f"points (paper {paper_gap:+.1f}); linear {r.linear:.2%}; a {PAPER_IMAGES:,}-image sample gives DPE <= "
            f"96.3% with probability {r.p_1000_dpe_at_or_below_paper:.2g}.")
    if len(sep):
        names = "; ".join(setting_name(r.cells_per_weight, r.r_series_ohm) for _, r in sep.iterrows())
        lines.append(f"- Settings that reproduce both rows (DPE inside the paper's interval at 96.3% and RM inside "
                     f"its interval at 98.3%): {names}.")
    else:
        lines.append("- None of the settings run puts DPE inside the paper's interval at 96.3% with RM inside "
                     "its interval at 98.3%.")
    worst_pair = pairs.dpe_minus_rm_points.abs().max()
    if len(pairs) > 1 and worst_pair < abs(paper_gap) / 2:
        rs = ", ".join(f"{v / 1e3:g}" for v in pairs.r_series_ohm)
        inside = ", inside their 95% intervals" if worst_pair < 100 * pairs.dpe_ci95.min() else ""
        lines.append(
            f"- The access transistor alone does not separate DPE from RM. With a pair of cells per weight "
            f"(r_s = {rs} kohm) DPE and RM differ by at most {worst_pair:.2f} points{inside}. A "
            "series resistance lowers every cell's current against R_in, R_out and the wires, so all mappings move "
            f"toward software (linear from {pairs.linear.min():.1%} to {pairs.linear.max():.1%}); it does not move "
            "DPE toward 96.3%. A pair's arrays hold trained, heavy-tailed weights: most cells sit near g_min (mean "
            f"utilization of the linear mapping {_layer_mean(layers, 2, 0.0, 'linear_util_mean'):.0%}), the rows "
            "draw little current, and the IR drop that DPE cannot undo away from v_cal stays small.")
    o0 = one.sort_values("r_series_ohm").iloc[0] if len(one) else None
    same = pairs[pairs.r_series_ohm == o0.r_series_ohm] if o0 is not None else pairs.iloc[:0]
    if (o0 is not None and len(same) and o0.dpe_minus_rm_points < paper_gap / 2
            and abs(same.dpe_minus_rm_points.iloc[0]) < abs(paper_gap) / 2):
        lines.append(
            "- One cell per weight, the paper's stated setting, is what separates them. The arrays then hold W - "
            "min(W): every cell is mid-range (mean utilization of the linear mapping "
            f"{_layer_mean(layers, 1, o0.r_series_ohm, 'linear_util_mean'):.0%} against "
            f"{_layer_mean(layers, 2, 0.0, 'linear_util_mean'):.0%} for a pair), each row draws several times the "
            "current, and the uncompensated linear mapping falls to chance "
            f"({one.linear.max():.1%}). DPE's calibration is exact only under v_cal (every row at 0.1 V); its "
            f"per-layer error (mean of the three) is {_layer_mean(layers, 1, o0.r_series_ohm, 'dpe_rel_err'):.2f} of ||W|| against RM's "
            f"{_layer_mean(layers, 1, o0.r_series_ohm, 'rm_rel_err'):.2f} at r_s = {o0.r_series_ohm / 1e3:g} kohm "
            "(table above), and the gap in accuracy follows: "
            + "; ".join(f"r_s = {r.r_series_ohm / 1e3:g} kohm: DPE {r.dpe:.1%}, RM {r.rm:.1%}"
                        for _, r in one.sort_values("r_series_ohm").iterrows()) + ".")
        lo = one[one.dpe < PAPER_MLP["dpe"]].r_series_ohm
        hi = one[one.dpe > PAPER_MLP["dpe"]].r_series_ohm
        if len(lo) and len(hi) and lo.max() < hi.min():
            rm_ok = ", while RM stays inside its interval at 98.3%" if one.rm_in_paper_ci.all() else ""
            lines.append(
                f"- With one cell per weight the paper's 96.3% lies between r_s = {lo.max() / 1e3:g} kohm "
                f"(DPE below it) and r_s = {hi.min() / 1e3:g} kohm (DPE above it){rm_ok}. The paper gives no "
                "transistor resistance, so r_s is an assumption: the run shows the setting that separates DPE from "
                "RM (one memristor per weight) and that an access transistor of a few kohm puts DPE at the paper's "
                "figure; the value of r_s is not fitted, and the paper's own weights would move it.")
    lines += [
        f"- Sampling: archsim scores {int(base.images):,} images, the paper {PAPER_IMAGES:,}. With a pair of cells, "
        f"a {PAPER_IMAGES:,}-image sample of archsim's test set gives DPE <= 96.3% with probability at most "
        f"{pairs.p_1000_dpe_at_or_below_paper.max():.1g} (table above): the paper's sample size alone does not "
        "explain its figure.",
        "- Not modelled: the nonlinear TaOx I-V and the access transistor's own I-V (Zhang et al. (ASP-DAC 2020) Fig. 2(a); archsim "
        "has linear cells and a linear r_s), SPICE on state variables, the paper's weights, and how the paper "
        "handles signs with one memristor per weight (archsim: one offset per layer, taken off digitally). RM "
        "runs shorter searches than the matrix study (settings above).",
    ]
    return lines


#: (size, r_wire, R_in = R_out, series resistance): Zhang et al.'s settings over sizes and wires, then the same
#: 64 x 64 crossbar with one setting changed (the load of R_in / R_out, a series resistance in every cell)
PAPER_POINTS = [(n, rw, 100.0, 0.0) for n in (64, 128) for rw in (0.0, 1.0, 2.5)] + [(32, 1.0, 100.0, 0.0)]
SETTING_POINTS = [(64, 1.0, 10.0, 0.0), (64, 1.0, 1.0, 0.0), (64, 1.0, 100.0, 2e3), (64, 1.0, 100.0, 8e3)]
PAPER_RATIO = (4.0, 9.0)
PAPER_UTIL = {32: 0.64, 64: 0.60, 128: 0.48}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", default="",
                    help="size:r_wire:r_io:r_series,... (default: Zhang et al.'s settings and the setting runs)")
    ap.add_argument("--out", default="reports")
    ap.add_argument("--network", action="store_true", help="the MLP network study instead of the matrix study")
    ap.add_argument("--samples", type=int, default=10000, help="MNIST test images (network study)")
    ap.add_argument("--workers", type=int, default=2, help="processes mapping arrays (network study)")
    ap.add_argument("--render", action="store_true", help="rewrite the report from its CSVs (no solving)")
    ap.add_argument("--methods", default=",".join(NETWORK_METHODS), help="mappings the network study computes")
    ap.add_argument("--carry", default="", help="CSV of an earlier network run whose other mappings are kept")
    ap.add_argument("--r-series", type=float, default=0.0,
                    help="network study: ohm in series with every cell (an access transistor; cells 1/(3M + r_s) .. "
                         "1/(2k + r_s)); the run replaces that setting's rows of the CSVs and keeps the others")
    ap.add_argument("--cells-per-weight", type=int, default=2, choices=(1, 2),
                    help="network study: 2 = a differential pair per weight; 1 = one cell per weight holding W - "
                         "min(W), the offset taken off digitally")
    a = ap.parse_args(argv)
    if a.network and a.render:
        write_network_report(pd.read_csv(Path(a.out) / "representable_mlp.csv"),
                             pd.read_csv(Path(a.out) / "representable_mlp_layers.csv"), a.out)
        return
    if a.network:
        network_study(a.samples, a.workers, Path(a.out), methods=tuple(a.methods.split(",")),
                      carry=Path(a.carry) if a.carry else None, r_series=a.r_series,
                      pairs=a.cells_per_weight == 2)
        return
    if a.render:
        write_matrix_report(pd.read_csv(Path(a.out) / "representable_mapping.csv"), a.out)
        return
    points = ([tuple(float(v) for v in p.split(":")) for p in a.points.split(",")] if a.points
              else PAPER_POINTS + SETTING_POINTS)
    rows = []
    Path(a.out).mkdir(parents=True, exist_ok=True)
    for n, rw, rio, rs in points:
        rows.append(run_point(int(n), rw, rio, rs))
        print(report.to_text(pd.DataFrame(rows[-1:])), flush=True)
        pd.DataFrame(rows).to_csv(Path(a.out) / "representable_mapping.csv", index=False)   # kept point by point
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
        "# Zhang et al. (ASP-DAC 2020): mapping a matrix onto a crossbar with IR drop", "",
        "Generated by `python benchmarks/study_representable.py` (`--render` rewrites this page from the CSV). Target: a "
        "dense random matrix, uniform in [0, 1]; Zhang et al.'s settings: R_in = R_out = 100 ohm, cells 2 kohm to 3 "
        "Mohm with 8 bits, inputs uniform in [0, 0.2 V], v_cal = 0.1 V on every row; error = max |W v - W_r v| "
        "over 200 random inputs, relative to max |W v| (the paper's 'maximum output error').", "",
        "| quantity | Zhang et al. (ASP-DAC 2020) | archsim |", "|---|---:|---:|",
        f"| max error, DPE [5] over RM, at Zhang et al.'s settings | 4x - 9x | {lo:.1f}x - {hi:.1f}x |",
        f"| the same without [5]'s fallback (archsim's earlier baseline) | - | {plo:.0f}x - {phi:.0f}x |",
        f"| RM's largest conductance, share of the range ({sizes}, r_w = 1 ohm) | {util_paper} | {util_cells} |",
        "",
        "Maximum output error of each mapping at Zhang et al.'s settings, over crossbar size and wire resistance "
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
        "The same 64 x 64 crossbar at r_w = 1 ohm, with R_in = R_out lowered from Zhang et al.'s 100 ohm, or with a "
        "series resistance r_s in every cell (an access transistor's on-resistance; the ideal conductor's range "
        "becomes 1/(3 Mohm + r_s) .. 1/(2 kohm + r_s)). r_s is not a figure of Zhang et al. (ASP-DAC 2020): it is swept to show the "
        "effect, and marked here as an assumption.", "",
        report.to_markdown(setting[sett]), "",
        "Mappings: `linear` (full conductance range, no compensation); `dpe` (Zhang et al.'s reference [5] as seed "
        "001 section III-B describes it: W linearly mapped to the full range, every cell solved so that its "
        "current under v_cal is its ideal current, and where that needs more than g_max the ideal currents "
        "updated so that the largest cell sits at g_max); `dpe_plain` (the same calibration without that "
        "fallback, archsim's earlier baseline); `dpe_at_rm_alpha` (the calibration started at the scale "
        "factor RM chose); `rm` (Representable Matrices: alpha search, exact-gradient tuning, row "
        "calibration).", "",
    ] + matrix_discussion(paper, setting)
    (Path(out) / "representable_mapping.md").write_text("\n".join(text) + "\n")
    print("wrote", Path(out) / "representable_mapping.md")


def matrix_discussion(paper: pd.DataFrame, setting: pd.DataFrame) -> list[str]:
    base = setting[(setting.r_io_ohm == 100.0) & (setting.r_series_ohm == 0.0)].iloc[0]
    ser = setting[setting.r_series_ohm > 0].sort_values("r_series_ohm")
    light = setting[(setting.r_io_ohm < 100.0) & (setting.r_series_ohm == 0.0)].sort_values("r_io_ohm")
    u = paper.rm_util_max
    lines = [
        "What archsim finds:", "",
        f"- [5]'s fallback is what separated archsim's earlier {paper.dpe_plain_over_rm.min():.0f}x-"
        f"{paper.dpe_plain_over_rm.max():.0f}x from the paper's 4x-9x. Without it, at Zhang et al.'s settings, the "
        "full-range calibration asks for conductances above g_max: a row of kilo-ohm cells draws so much current "
        "that R_in, R_out and the wires take most of the voltage, and the pinned cells keep most of the error. "
        "With the fallback, DPE lowers its ideal currents until the largest cell just reaches g_max, and the "
        f"ratio to RM falls to {paper.dpe_over_rm.min():.1f}x-{paper.dpe_over_rm.max():.1f}x.",
        "- Calibration now also runs with ideal wires (r_w = 0 rows). R_in and R_out still drop voltage there, "
        "so skipping calibration was wrong; [5] and RM both reproduce W v_cal there too.",
        f"- Conductance utilization differs. At Zhang et al.'s settings, RM's largest cell uses {u.min():.0%}-"
        f"{u.max():.0%} of the range in archsim, where the paper reports about half (64/60/48% for 32/64/128). "
        "The setting behind this is the resistance in series with each cell. Zhang et al. (ASP-DAC 2020) replaces memristor and "
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

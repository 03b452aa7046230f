"""Seed 001 studies: mappings of a matrix onto crossbars with IR drop, one array and a whole network.

Settings of seed 001 section VI: r_w = 1 ohm, R_in = R_out = 100 ohm, 2 kohm .. 3 Mohm cells of 8 bits,
inputs up to 0.2 V, v_cal = v_max / 2.

* matrix study (default): maximum output error of each mapping on one crossbar, swept over wire
  resistance and crossbar size; writes reports/seed001_mapping.md.
* ``--network``: the 784-500-300-10 MLP (archsim's shipped weights) on MNIST over 128 x 128 arrays,
  software vs the linear, DPE and Representable Matrices mappings (ideal converters, as the paper's
  "infinity" point); writes reports/seed001_mlp.md.

Slow (minutes; the network study about 10 to 20 minutes on 2 cores): run by hand, not in CI.
    python benchmarks/study_seed001.py [--sizes 64,128] [--wires 0.5,1,2.5] [--out reports]
    python benchmarks/study_seed001.py --network [--samples 10000] [--workers 2]
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


def run_point(n, r_w, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.uniform(0, 1, (n, n))
    cells = rmap.CellRange(1 / 3e6, 1 / 2e3, 8)
    par = cb.Parasitics(r_w, 100.0, 100.0)
    v_cal = np.full(n, V_MAX / 2)
    t0 = time.perf_counter()
    rm = rmap.representable(W, par, cells, v_cal)
    t_rm = time.perf_counter() - t0
    out = {}
    for name, m in (("linear", rmap.linear(W, par, cells)), ("dpe", rmap.dpe(W, par, cells, v_cal)),
                    ("dpe_at_rm_alpha", rmap.dpe(W, par, cells, v_cal, alpha=rm.alpha)), ("rm", rm)):
        out[name] = m
    row = dict(size=n, r_wire_ohm=r_w, rm_seconds=t_rm, rm_alpha_over_full=rm.alpha * W.max() / cells.g_max)
    for name, m in out.items():
        row[f"{name}_max_err"] = rmap.max_output_error(W, m, V_MAX)
        row[f"{name}_util"] = m.utilization
    row["rm_value_err"] = rm.value_error
    row["rm_precision_err"] = rm.precision_error
    row["dpe_over_rm"] = row["dpe_max_err"] / row["rm_max_err"]
    row["dpe_at_rm_alpha_over_rm"] = row["dpe_at_rm_alpha_max_err"] / row["rm_max_err"]
    return row


#: RM search settings of the network study (fewer descent steps than the matrix study's defaults, so that
#: 86 arrays map in minutes; the matrix study shows what the full settings add)
NETWORK_RM = dict(scan=5, quick_iters=2, gd_iters=8, refine=1)
PAPER_MLP = {"software": 0.984, "rm": 0.983, "dpe": 0.963}
MLP_DISCUSSION = [
    "What archsim finds against the paper:", "",
    "- Software: archsim's own weights (98.3%) against the paper's 98.4%. The network is the same, but the "
    "trained weights are not.",
    "- Representable Matrices keep the network at software accuracy, as the paper reports (98.3%).",
    "- The DPE baseline, as archsim reads seed 001's reference [5], collapses far below the paper's 96.3%. "
    "That reading uses the full conductance range, with every cell retuned on v_cal. With R_in = R_out = "
    "100 ohm, a row of kilo-ohm cells draws so much current that the driver and sense resistors take most of "
    "the voltage. A full-range mapping then cannot be retuned, because its cells pin at g_max. The paper does "
    "not state which conductance range its [5] baseline used.",
    "- Run at the scale factor RM chose, the same DPE calibration reaches RM's accuracy. At these settings, "
    "then, the choice of alpha carries RM's advantage, more than the tuning does.",
    "- The linear mapping without any compensation loses a few points. Its IR-drop error is mostly a gain "
    "per row and column, and argmax partly forgives that.",
    "- The paper solves state variables of a nonlinear device in SPICE on 1,000 images; archsim uses "
    "linear cells on the whole test set. This archsim study uses shorter RM searches than the matrix study "
    "(see the settings above).",
]


def network_study(samples: int, workers: int, out: Path, rows: int = 128) -> pd.DataFrame:
    import workloads
    from archsim.io import data
    from archsim.sim import forward

    wl = workloads.get("mlp", weights=True)
    x, y = data.for_workload(wl, "test", limit=samples)
    cells = rmap.CellRange(1 / 3e6, 1 / 2e3, 8)
    par = cb.Parasitics(1.0, 100.0, 100.0)
    methods = ("linear", "dpe", "dpe_at_rm_alpha", "rm")
    realized = {k: {} for k in methods}
    per_layer = []
    t_all = time.perf_counter()
    for lay in wl.weighted_layers():
        t0 = time.perf_counter()
        Wr = rmap.realize_layer(lay.weights, rows, rows, par, cells, V_MAX / 2, methods=methods,
                                rm_kw=NETWORK_RM, workers=workers)
        dt = time.perf_counter() - t0
        row = dict(layer=lay.name, shape=f"{lay.K}x{lay.N}", seconds=dt)
        for k in methods:
            realized[k][lay.name] = Wr[k]
            row[f"{k}_rel_err"] = float(np.linalg.norm(Wr[k] - lay.weights) / np.linalg.norm(lay.weights))
        per_layer.append(row)
        print(report.to_text(pd.DataFrame([row])), flush=True)

    def acc(mats=None):
        hook = None
        if mats is not None:
            def hook(layer, cols, group):
                return cols @ mats[layer.name].T.astype(cols.dtype)
        return forward.accuracy(wl, x, y, matmul=hook)

    rows_out = [dict(mapping="software", accuracy=acc(), paper=PAPER_MLP["software"])]
    for k in methods:
        rows_out.append(dict(mapping=k, accuracy=acc(realized[k]), paper=PAPER_MLP.get(k, float("nan"))))
    df = pd.DataFrame(rows_out)
    layers = pd.DataFrame(per_layer)
    total = time.perf_counter() - t_all
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "seed001_mlp.csv", index=False)
    text = [
        "# Seed 001: the 784-500-300-10 MLP on MNIST over 128 x 128 crossbars with IR drop", "",
        f"Generated by `python benchmarks/study_seed001.py --network` ({total / 60:.1f} min, {workers} workers). "
        f"MNIST test images: {len(y)}. Weights: archsim's shipped `mlp` (trained by `scripts/train_weights.py`). "
        "Each layer is split into W+ and W- (a differential pair of arrays, the difference taken after each "
        "array's gain 1/alpha), cut into 128 x 128 blocks, each on its own crossbar: r_w = 1 ohm, R_in = R_out "
        "= 100 ohm, 2 kohm to 3 Mohm cells with 8 bits, v_cal = 0.1 V on the used rows. Converters ideal (the "
        "paper's 'infinity' point); biases and ReLU digital.", "",
        report.to_markdown(df), "",
        "Per layer: relative Frobenius error of the realized matrix, and mapping time.", "",
        report.to_markdown(layers), "",
        f"RM settings: {NETWORK_RM} (fewer steps than the matrix study's defaults).", "",
        "Mappings: `linear` (full conductance range, no compensation), `dpe` (seed 001's reference [5] as "
        "archsim reads it: full-range conductances, each cell retuned so that its current under v_cal is the "
        "ideal one), `dpe_at_rm_alpha` (the same calibration at the scale factor RM chose), `rm` "
        "(Representable Matrices).", "",
    ] + MLP_DISCUSSION
    (out / "seed001_mlp.md").write_text("\n".join(text) + "\n")
    print(report.to_text(df))
    print("wrote", out / "seed001_mlp.md")
    return df


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,128")
    ap.add_argument("--wires", default="0.5,1,2.5")
    ap.add_argument("--out", default="reports")
    ap.add_argument("--network", action="store_true", help="the MLP network study instead of the matrix study")
    ap.add_argument("--samples", type=int, default=10000, help="MNIST test images (network study)")
    ap.add_argument("--workers", type=int, default=2, help="processes mapping arrays (network study)")
    ap.add_argument("--render", action="store_true", help="rewrite seed001_mapping.md from its CSV (no solving)")
    a = ap.parse_args(argv)
    if a.network:
        network_study(a.samples, a.workers, Path(a.out))
        return
    if a.render:
        write_matrix_report(pd.read_csv(Path(a.out) / "seed001_mapping.csv"), a.out)
        return
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        for r in [float(x) for x in a.wires.split(",")]:
            rows.append(run_point(n, r))
            print(report.to_text(pd.DataFrame(rows[-1:])), flush=True)
    df = pd.DataFrame(rows)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    df.to_csv(Path(a.out) / "seed001_mapping.csv", index=False)
    write_matrix_report(df, a.out)


def write_matrix_report(df: pd.DataFrame, out) -> None:
    cols = ["size", "r_wire_ohm", "linear_max_err", "dpe_max_err", "dpe_at_rm_alpha_max_err", "rm_max_err",
            "dpe_over_rm", "dpe_at_rm_alpha_over_rm", "rm_alpha_over_full", "rm_seconds"]
    split = ["size", "r_wire_ohm", "linear_util", "dpe_util", "dpe_at_rm_alpha_util", "rm_util", "rm_value_err",
             "rm_precision_err"]
    text = [
        "# Seed 001: mapping a matrix onto a crossbar with IR drop", "",
        "Generated by `python benchmarks/study_seed001.py`. Target: a dense random matrix, uniform in [0, 1]; "
        "R_in = R_out = 100 ohm; cells 2 kohm to 3 Mohm with 8 bits; inputs uniform in [0, 0.2 V]; v_cal = 0.1 V; "
        "error = max |W v - W_r v| over 200 random inputs, relative to max |W v|.", "",
        report.to_markdown(df[cols]), "",
        "Conductance-range utilization (mean (g - g_min) / (g_max - g_min)) of each mapping, and RM's error split: "
        "value-range error ||W - W_r(unquantized g)||_F^2 and precision error (what quantizing g to 8 bits adds):", "",
        report.to_markdown(df[split]), "",
        "Mappings: `linear` (full conductance range, no compensation), `dpe` (seed 001's reference [5]: "
        "full-range ideal conductances, each cell retuned so its current under v_cal is the ideal one), "
        "`dpe_at_rm_alpha` (the same calibration at the scale factor the RM search chose), `rm` (Representable "
        "Matrices: alpha search, exact-gradient tuning, row calibration).", "",
        "What archsim finds against the paper's claim of 4x-9x smaller maximum error than the DPE mapping: "
        "with these settings a full-range mapping puts so much current through R_in, R_out and the wires that "
        "the DPE calibration cannot compensate (cells pinned at g_max), so `dpe_over_rm` is far above 9x; the "
        "fairer `dpe_at_rm_alpha_over_rm` isolates the tuning itself. The paper evaluates state variables with "
        "a non-linear device and access-transistor model in SPICE and does not say how its DPE baseline chose "
        "its conductance range; archsim uses ideal linear cells, so the ratios are not expected to match.",
    ]
    (Path(out) / "seed001_mapping.md").write_text("\n".join(text) + "\n")
    print("wrote", Path(out) / "seed001_mapping.md")


if __name__ == "__main__":
    main()

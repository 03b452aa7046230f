"""The benchmark report (``archsim bench``): tables and plots.

Every built-in workload on every device (the default architecture, device swapped), with energy per
inference, latency, inferences/s, TOPS/W, TOPS/mm2, area and an accuracy column (not simulated yet),
beside the published accelerators of seed 002's TABLE II (``techlib/published/accelerators.yaml``) as
labelled published rows.  Writes ``bench.md``, ``bench.csv`` and, with matplotlib installed, PNG plots:
the energy breakdown per component and a TOPS/W versus TOPS/mm2 scatter with its Pareto front.
Plots use matplotlib's object API (``Figure`` + Agg canvas): no pyplot, no global backend switch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import techlib
import workloads as _workloads

from archsim.model import arch as _arch
from archsim.report import tables as report
from archsim.explore.points import config_from_arch
from archsim.explore.run import results_table, run_points
from archsim.cost.price import ENERGY_PARTS
from archsim.model.errors import ArchsimError
from archsim.report.pareto import pareto_mask

ACCURACY_NOTE = "MNIST test images, 1 programmed chip; '-' where no trained weights"

BENCH_COLUMNS = {  # summary column -> (title, scale)
    "energy_per_inference_J": ("energy/inference (uJ)", 1e6),
    "latency_s": ("latency (us)", 1e6),
    "inferences_per_s": ("inferences/s", 1.0),
    "tops_per_W": ("TOPS/W", 1.0),
    "tops_per_mm2": ("TOPS/mm2", 1.0),
    "area_mm2": ("area (mm2)", 1.0),
    "accuracy": (f"accuracy ({ACCURACY_NOTE})", 1.0),
}


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------------------------------------------------
# tables

def published_accelerators() -> pd.DataFrame:
    """Seed 002's TABLE II as one row per accelerator (numbers as published, TOPS as published)."""
    rec = techlib.published("accelerators")
    names = []
    for k in rec.fields:
        if k.endswith(".label"):
            names.append(k[: -len(".label")])
    rows = []
    for n in names:
        f = lambda key, d=None: rec.field(f"{n}.{key}", d)  # noqa: E731
        q = lambda key: rec.get(f"{n}.{key}", float("nan"))  # noqa: E731
        src = [rec.q(f"{n}.{k}").source for k in ("efficiency_TOPS_per_W", "efficiency_peak_TOPS_per_W")
               if rec.has(f"{n}.{k}")]
        rows.append(dict(
            kind="published", accelerator=f("label"), type=f("kind"), workload=f("workload"),
            measured=bool(f("measured")), process_nm=q("process"),
            clock_Hz=q("clock"), precision=f"{f('activation_resolution')} act. / {f('weight_resolution')} weights",
            tops=q("throughput_TOPS"), tops_peak=q("throughput_peak_TOPS"),
            tops_per_W=q("efficiency_TOPS_per_W"), tops_per_W_peak=q("efficiency_peak_TOPS_per_W"),
            tops_per_mm2=q("density_TOPS_per_mm2"), tops_per_mm2_peak=q("density_peak_TOPS_per_mm2"),
            reference=f("reference"), source=(src[0].split(",")[0] + ", TABLE II") if src else rec.field("table"),
            note="; ".join(x for x in (f("area_note"), f("precision_note"), f("circuit_note")) if x),
        ))
    return pd.DataFrame(rows)


def bench_configs(arch: _arch.Architecture | None = None) -> list[dict]:
    a = arch or _arch.Architecture()
    return [config_from_arch(w, a.replace(device=d)) for w in _workloads.names() for d in techlib.device_names()]


def bench_table(workers: int | None = None, arch: _arch.Architecture | None = None,
                accuracy: bool = False) -> pd.DataFrame:
    """Every workload x device: the sweep table (configuration, error, summary) plus an accuracy column.

    ``accuracy=True`` simulates the accuracy of the networks with trained weights (archsim.accuracy's
    sizing settings: a few hundred test images, one programmed chip per design); others stay NaN."""
    configs = bench_configs(arch)
    results = run_points(configs, workers=workers)
    df = results_table(configs, results)
    df.insert(0, "kind", "archsim")
    df["accuracy"] = np.nan
    if accuracy:
        from archsim.sim.accuracy import sizing_accuracy
        for i, cfg in enumerate(configs):
            if not (isinstance(df["error"].iloc[i], str) and df["error"].iloc[i]):
                acc = sizing_accuracy(dict(cfg))
                df.loc[df.index[i], "accuracy"] = np.nan if acc is None else acc
    df["accuracy_note"] = ACCURACY_NOTE if accuracy else "not simulated (--no-accuracy)"
    return df


def bench_display(df: pd.DataFrame) -> pd.DataFrame:
    out = {"workload": df["workload"], "device": df["device"]}
    for k, (title, scale) in BENCH_COLUMNS.items():
        out[title] = df[k].astype(float) * scale if scale != 1.0 else df[k].astype(float)
    return pd.DataFrame(out)


def published_display(pub: pd.DataFrame) -> pd.DataFrame:
    def both(a, b):
        out = []
        for x, y in zip(a, b):
            parts = ([] if math.isnan(x) else [report._fmt(float(x))]) + ([] if math.isnan(y) else
                                                                         [f"{report._fmt(float(y))} peak"])
            out.append(", ".join(parts) or "-")
        return out
    return pd.DataFrame({
        "accelerator": pub["accelerator"], "type": pub["type"],
        "process (nm)": [f"{x:.0f}" for x in pub["process_nm"]],
        "precision": pub["precision"], "workload": pub["workload"],
        "measured": ["measured" if m else "simulated" for m in pub["measured"]],
        "TOPS": both(pub["tops"], pub["tops_peak"]),
        "TOPS/W": both(pub["tops_per_W"], pub["tops_per_W_peak"]),
        "TOPS/mm2": both(pub["tops_per_mm2"], pub["tops_per_mm2_peak"]),
        "reference": pub["reference"],
    })


# ---------------------------------------------------------------------------------------------------------------------
# plots (matplotlib, optional)

def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path, metadata={"Software": None})
    return path


def plot_energy_breakdown(df: pd.DataFrame, path: Path) -> Path:
    """Stacked bars: each component's share of the energy per inference (one panel per workload, one bar per
    device), the total written above each bar (totals span orders of magnitude across devices)."""
    ok = df[df["error"].isna()]
    wls = list(dict.fromkeys(ok["workload"]))
    ncol = 3
    nrow = max(1, math.ceil(len(wls) / ncol))
    fig = _figure(4.4 * ncol, 3.1 * nrow + 0.7)
    colors = _palette(len(ENERGY_PARTS))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax, w in zip(axes.flat, wls):
        sub = ok[ok["workload"] == w]
        x = np.arange(len(sub))
        parts = np.array([sub[f"energy_{p}_J"].to_numpy(dtype=float) for p in ENERGY_PARTS])
        total = parts.sum(axis=0)
        share = 100.0 * parts / np.where(total > 0, total, 1.0)
        bottom = np.zeros(len(sub))
        for part, c, v in zip(ENERGY_PARTS, colors, share):
            ax.bar(x, v, bottom=bottom, color=c, label=part, width=0.75)
            bottom += v
        for xi, t in zip(x, total):
            ax.text(xi, 101, report._fmt(float(t * 1e6)), ha="center", va="bottom", fontsize=6, rotation=90)
        ax.set_ylim(0, 135)
        ax.set_yticks([0, 25, 50, 75, 100])
        ax.set_title(f"{w} (uJ/inference above bars)", fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels(sub["device"], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("% of energy", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(wls):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(ENERGY_PARTS), fontsize=8, frameon=False)
    fig.suptitle("Energy per inference by component (default architecture, circuit cost model)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    return _save(fig, path)


def pareto_front_2d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the points no other point beats on both x and y (both maximized)."""
    return pareto_mask(np.column_stack([x, y]), ["max", "max"])


def plot_efficiency_scatter(df: pd.DataFrame, pub: pd.DataFrame, path: Path) -> Path:
    """TOPS/W versus TOPS/mm2 (log-log): archsim points by device, published accelerators labelled,
    and the Pareto front of all of them."""
    ok = df[df["error"].isna()]
    fig = _figure(10.0, 6.0)
    ax = fig.subplots()
    devices = list(dict.fromkeys(ok["device"]))
    wls = list(dict.fromkeys(ok["workload"]))
    markers = "o^svD<>ph*X"
    colors = _palette(len(devices))
    for d, c in zip(devices, colors):
        sub = ok[ok["device"] == d]
        for w, m in zip(wls, markers):
            s = sub[sub["workload"] == w]
            ax.scatter(s["tops_per_mm2"], s["tops_per_W"], color=c, marker=m, s=22, alpha=0.85,
                       label=d if w == wls[0] else None)
    for w, m in zip(wls, markers):
        ax.scatter([], [], color="grey", marker=m, s=22, label=w)
    px, py, plab = [], [], []
    for _, r in pub.iterrows():
        # the measured pair where both are published, else the peak pair (never a measured with a peak figure,
        # unless that is all there is)
        dens, eff, peak = r["tops_per_mm2"], r["tops_per_W"], False
        if math.isnan(dens) or math.isnan(eff):
            dens = r["tops_per_mm2_peak"] if not math.isnan(r["tops_per_mm2_peak"]) else r["tops_per_mm2"]
            eff = r["tops_per_W_peak"] if not math.isnan(r["tops_per_W_peak"]) else r["tops_per_W"]
            peak = True
        if math.isnan(dens) or math.isnan(eff):
            continue
        px.append(dens)
        py.append(eff)
        plab.append(r["accelerator"] + (" (peak)" if peak else ""))
    ax.scatter(px, py, color="black", marker="*", s=110, label="published (seed 002 TABLE II)", zorder=3)
    for x, y, t in zip(px, py, plab):
        ax.annotate(t, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7)
    allx = np.concatenate([ok["tops_per_mm2"].to_numpy(dtype=float), np.array(px, dtype=float)])
    ally = np.concatenate([ok["tops_per_W"].to_numpy(dtype=float), np.array(py, dtype=float)])
    front = pareto_front_2d(allx, ally)
    order = np.argsort(allx[front])
    ax.plot(allx[front][order], ally[front][order], color="red", lw=1.0, ls="--", label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("TOPS/mm2")
    ax.set_ylabel("TOPS/W")
    ax.set_title("Efficiency vs density (archsim: 2 operations per MAC; published: as in TABLE II)", fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def _palette(n: int):
    from matplotlib import colormaps
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


# ---------------------------------------------------------------------------------------------------------------------
# the report

@dataclass
class BenchResult:
    table: pd.DataFrame
    published: pd.DataFrame
    files: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def summary_text(self) -> str:
        t = self.table
        ok = int(t["error"].isna().sum())
        return (f"benchmark: {len(t)} workload x device estimates ({ok} ok), {len(self.published)} published "
                f"accelerators")


def write_bench_report(out: str | Path = "reports/bench", workers: int | None = None, plots: bool = True,
                       arch: _arch.Architecture | None = None, accuracy: bool = False) -> BenchResult:
    out = Path(out)
    a = arch or _arch.Architecture()
    df = bench_table(workers, a, accuracy=accuracy)
    pub = published_accelerators()
    res = BenchResult(df, pub)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchsimError(f"--out {out}: cannot create ({exc.strerror})") from None

    combined = pd.concat([df, pub], ignore_index=True, sort=False)
    cols = ["kind", "workload", "device", "accelerator"] + [c for c in combined.columns
                                                            if c not in ("kind", "workload", "device", "accelerator")]
    combined = combined[cols]
    csv = out / "bench.csv"
    try:
        combined.to_csv(csv, index=False)
    except OSError as exc:
        raise ArchsimError(f"--out {out}: cannot write there ({exc.strerror})") from None
    res.files.append(csv)

    images = []
    if plots:
        if matplotlib_available():
            images.append(("Energy per inference by component", plot_energy_breakdown(df, out / "energy_breakdown.png")))
            images.append(("TOPS/W versus TOPS/mm2, with published accelerators",
                           plot_efficiency_scatter(df, pub, out / "efficiency_pareto.png")))
            res.files += [p for _, p in images]
        else:
            res.notes.append("plots skipped: matplotlib is not installed (pip install matplotlib)")
    else:
        res.notes.append("plots skipped (--no-plots)")
    accuracy_plot = ("Accuracy versus ADC bits: not plotted yet (archsim size --accuracy and archsim accuracy "
                     "--adc-bits give the numbers). Accuracy column: " + ACCURACY_NOTE + "; networks without "
                     "trained weights get fidelity from archsim accuracy, not here.")
    res.notes.append(accuracy_plot)

    rec = techlib.published("accelerators")
    failed = df[df["error"].notna()]
    arch_txt = ", ".join(f"{k}={v}" for k, v in a.as_dict().items() if k != "device")
    lines = [
        "# Benchmark: built-in workloads on every device, beside published accelerators",
        "",
        f"Generated by `archsim bench`. {report.OPS_NOTE}",
        "",
        f"Every built-in workload ({', '.join(_workloads.names())}) on every device "
        f"({', '.join(techlib.device_names())}), default architecture with the device swapped: {arch_txt}.",
        "",
        "## archsim estimates",
        "",
        report.to_markdown(bench_display(df[df["error"].isna()])),
        "",
        f"Accuracy: {ACCURACY_NOTE} (the column is NaN until the Monte Carlo simulator lands).",
    ]
    if len(failed):
        lines += ["", "Estimates that could not be made:", ""]
        lines += [f"- {r.workload} on {r.device}: {r.error}" for r in failed.itertuples()]
    lines += [
        "",
        "## Published accelerators (seed 002, TABLE II)",
        "",
        report.to_markdown(published_display(pub)),
        "",
        f"Source: {rec.field('table')}; numbers as published (`techlib/published/accelerators.yaml`).",
        "",
        f"Operations: {' '.join(str(rec.field('ops_convention')).split())}",
        "",
        f"{' '.join(str(rec.field('measured_note')).split())}",
        "",
        "## Plots",
        "",
    ]
    for title, p in images:
        lines += [f"![{title}]({p.name})", ""]
    for n in [n for n in res.notes if not n.startswith("Accuracy versus")] + [accuracy_plot]:
        lines += [n, ""]
    lines += [report.assumptions_markdown(techlib.device_names()), ""]
    md = out / "bench.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    res.files.insert(0, md)
    return res

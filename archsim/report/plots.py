"""Plots of the benchmark report: functions that take DataFrames and a path, draw, and return the path.

``plot_energy_breakdown`` (each component's share of the energy per inference),
``plot_efficiency_scatter`` (TOPS/W versus TOPS/mm2 with published accelerators and the Pareto front) and
``plot_accuracy_vs_adc_bits`` (Monte Carlo accuracy with its 95% interval per ADC resolution).  The first
two draw tables made by :mod:`archsim.explore.bench`, the third the table of
``benchmarks/study_adc_bits.py``.  Plots use matplotlib's object API
(``Figure`` + Agg canvas): no pyplot, no global backend switch; matplotlib is optional
(:func:`matplotlib_available`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from archsim.cost.price import ENERGY_PARTS
from archsim.report import tables as report
from archsim.report.pareto import pareto_mask


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------------------------------------------------
# plots (matplotlib, optional)

def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    """Write the figure through :func:`archsim.io.files.atomic_write` (a regular file or absent: no link,
    folder, FIFO or device), in the format the suffix names."""
    from archsim.io.files import atomic_write
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower() or "png"
    meta = {"Software": None} if fmt == "png" else None
    atomic_write(p, lambda f: fig.savefig(f, format=fmt, metadata=meta))
    return p


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
    ax.scatter(px, py, color="black", marker="*", s=110, label="published (Marinella et al., IEEE JETCAS 2018, Table II)", zorder=3)
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


def plot_accuracy_vs_adc_bits(df: pd.DataFrame, path: Path) -> Path:
    """Accuracy versus ADC bits, one panel per workload, one line per device, each point the mean over chips
    with its 95% interval as an error bar; the float network's accuracy as a dashed line.

    ``df``: one row per (workload, device, adc_bits) with columns ``accuracy``, ``ci95_low``, ``ci95_high``
    and ``float_accuracy``."""
    wls = list(dict.fromkeys(df["workload"]))
    devices = list(dict.fromkeys(df["device"]))
    fig = _figure(4.6 * len(wls), 3.6)
    axes = fig.subplots(1, len(wls), squeeze=False)[0]
    colors = _palette(len(devices))
    bits_all = sorted(set(int(b) for b in df["adc_bits"]))
    for ax, w in zip(axes, wls):
        sub = df[df["workload"] == w]
        n = len(devices)
        for k, (d, c) in enumerate(zip(devices, colors)):
            s = sub[sub["device"] == d].sort_values("adc_bits")
            if s.empty:
                continue
            # devices side by side at each bit count (0.06 bit apart) so overlapping error bars stay readable
            x = s["adc_bits"].to_numpy(dtype=float) + 0.06 * (k - (n - 1) / 2)
            m = s["accuracy"].to_numpy(dtype=float)
            err = np.vstack([m - s["ci95_low"].to_numpy(dtype=float), s["ci95_high"].to_numpy(dtype=float) - m])
            ax.errorbar(x, m, yerr=err, color=c, marker="o", ms=3.5, lw=1.2, capsize=2.5, label=d)
        ref = float(sub["float_accuracy"].iloc[0])
        ax.axhline(ref, color="black", ls="--", lw=0.9, label=f"float network ({ref:.3f})")
        ax.set_xticks(bits_all)
        ax.set_xlabel("ADC bits")
        ax.set_ylabel("top-1 accuracy")
        ax.set_title(w, fontsize=9)
        ax.grid(True, alpha=0.25)
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    fig.suptitle("Accuracy versus ADC resolution (mean over chips, 95% interval)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(fig, path)


def _palette(n: int):
    from matplotlib import colormaps
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]

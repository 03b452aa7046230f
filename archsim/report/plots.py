"""Figures of the benchmark report (``archsim bench``) and of the ADC-bits study.

``energy_breakdown_picture``: energy per inference of every workload on every device (a heat map with
the values written in, log colour scale) and, for one network, each device's energy by component
(absolute, stacked).  ``efficiency_picture``: TOPS/W versus TOPS/mm2 in two panels that never mix kinds
of figure: (a) whole-network figures (archsim's estimates, published measured chips) and (b) peak
figures (archsim's peak composition per device, published peak figures); one colour per device, one
marker per workload, published chips in black.  ``plot_accuracy_vs_adc_bits``: the study of
``benchmarks/study_adc_bits.py``.  All drawn in the paper style of :mod:`archsim.report.style`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from archsim.report.figures import ENERGY, component_parts, fmt, stacked_bars
from archsim.report.pareto import pareto_mask
from archsim.report.style import (DOUBLE_IN, Picture, device_colors, figure, label_points, legend_below,
                                  matplotlib_available, plain_log_ticks, render)

__all__ = ["matplotlib_available", "energy_breakdown_picture", "efficiency_picture", "plot_accuracy_vs_adc_bits",
           "pareto_front_2d"]

#: the network whose energy the benchmark breaks down by component (README's first command)
BREAKDOWN_WORKLOAD = "resnet50"
#: markers of the workloads, in the benchmark's workload order
MARKERS = "osv^D<>phP*Xd"


def pareto_front_2d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of the points no other point beats on both x and y (both maximized)."""
    return pareto_mask(np.column_stack([x, y]), ["max", "max"])


# ---------------------------------------------------------------------------------------------------------------------
# energy breakdown

def _heatmap(ax, ok: pd.DataFrame, cbar_fig) -> None:
    from matplotlib.colors import LogNorm
    wls = list(dict.fromkeys(ok["workload"]))
    devs = list(dict.fromkeys(ok["device"]))
    grid = ok.pivot_table(index="workload", columns="device", values="energy_per_inference_J",
                          aggfunc="first").reindex(index=wls, columns=devs) * 1e6
    v = grid.to_numpy(dtype=float)
    finite = v[np.isfinite(v) & (v > 0)]
    norm = LogNorm(vmin=finite.min(), vmax=finite.max()) if len(finite) else None
    im = ax.imshow(np.ma.masked_invalid(v), aspect="auto", cmap="viridis", norm=norm)
    mid = math.sqrt(finite.min() * finite.max()) if len(finite) else 0
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            if np.isfinite(v[i, j]):
                ax.text(j, i, fmt(v[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if v[i, j] < mid else "black")
    ax.set_xticks(range(len(devs)))
    ax.set_xticklabels(devs, rotation=35, ha="right")
    ax.set_yticks(range(len(wls)))
    ax.set_yticklabels(wls)
    ax.set_title("(a) energy per inference (µJ), default architecture", loc="left")
    for s in ax.spines.values():
        s.set_visible(False)
    cb = cbar_fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    cb.set_label("µJ per inference (log scale)")


def _energy_breakdown(df: pd.DataFrame, workload: str):
    ok = df[df["error"].isna()]
    nw = ok["workload"].nunique()
    sub = ok[ok["workload"] == workload]
    h_top, h_bot = 0.9 + 0.26 * nw, 0.9 + 0.22 * len(sub)
    h = h_top + h_bot + 0.5
    fig = figure(DOUBLE_IN, h)
    gs = fig.add_gridspec(2, 1, height_ratios=[h_top, h_bot])
    ax_h = fig.add_subplot(gs[0])
    _heatmap(ax_h, ok, fig)
    ax_b = fig.add_subplot(gs[1])
    if len(sub):
        stacked_bars(ax_b, sub["device"], component_parts(sub, "energy", ENERGY, 1e6, "J"), "energy per inference (µJ)",
                     f"(b) {workload}: energy per inference by component")
    legend_below(fig, (ax_b,), h)
    return fig


def energy_breakdown_picture(df: pd.DataFrame, name: str = "energy_breakdown.png") -> Picture:
    """Energy per inference of every workload x device, and one network's energy by component per device."""
    wl = BREAKDOWN_WORKLOAD if (df["workload"] == BREAKDOWN_WORKLOAD).any() else str(df["workload"].iloc[-1])
    return render(name, f"(a) Energy per inference of every built-in workload on every device (default "
                  f"architecture, µJ); (b) {wl}'s energy by component per device", _energy_breakdown, df, wl)


# ---------------------------------------------------------------------------------------------------------------------
# efficiency: whole network beside whole network, peak beside peak

def _published_pairs(pub: pd.DataFrame, peak: bool) -> pd.DataFrame:
    """Published chips with both TOPS/W and TOPS/mm2 of one kind: measured whole-network figures, or peak."""
    e, d = ("tops_per_W_peak", "tops_per_mm2_peak") if peak else ("tops_per_W", "tops_per_mm2")
    t = pub[pub[e].notna() & pub[d].notna()]
    return pd.DataFrame({"name": t["accelerator"], "precision": t["precision"], "tops_per_W": t[e],
                         "tops_per_mm2": t[d]})


def _published(ax, pairs: pd.DataFrame) -> None:
    if len(pairs):
        ax.scatter(pairs["tops_per_mm2"], pairs["tops_per_W"], color="black", marker="*", s=70, zorder=4,
                   label="published chip")
        for r in pairs.itertuples():
            ax.annotate(f"{r.name}\n({r.precision.split(' / ')[0]})", (r.tops_per_mm2, r.tops_per_W),
                        textcoords="offset points", xytext=(5, -2), va="top")


def _efficiency(df: pd.DataFrame, pub: pd.DataFrame, peaks: pd.DataFrame):
    ok = df[df["error"].isna()]
    devices = list(dict.fromkeys(list(ok["device"]) + list(peaks["device"])))
    colors = device_colors(devices)
    wls = list(dict.fromkeys(ok["workload"]))
    h = 5.0
    fig = figure(DOUBLE_IN, h)
    ax_w, ax_p = fig.subplots(1, 2)
    for w, m in zip(wls, MARKERS * 3):
        s = ok[ok["workload"] == w]
        ax_w.scatter(s["tops_per_mm2"], s["tops_per_W"], c=[colors[d] for d in s["device"]], marker=m, s=16,
                     alpha=0.9, linewidths=0)
    _published(ax_w, _published_pairs(pub, peak=False))
    ax_w.set_title("(a) whole network: archsim estimates,\npublished measurements", loc="left")
    for d in devices:
        p = peaks[peaks["device"] == d]
        if len(p):
            ax_p.scatter(p["tops_per_mm2"], p["tops_per_W"], color=colors[d], marker="o", s=24)
    _published(ax_p, _published_pairs(pub, peak=True))
    ax_p.set_title("(b) peak (every array busy): archsim per device,\npublished peak figures", loc="left")
    for ax in (ax_w, ax_p):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.margins(0.15)
        plain_log_ticks(ax)
        ax.set_xlabel("throughput density (TOPS/mm²)")
        ax.set_ylabel("energy efficiency (TOPS/W)")
        ax.grid(True, which="major")
    if len(peaks):
        label_points(ax_p, list(peaks["tops_per_mm2"]), list(peaks["tops_per_W"]), list(peaks["device"]), close=0.06,
                     shared_only=True)
    # legends: colour = device, marker = workload (grey), star = published
    from matplotlib.lines import Line2D
    dev_h = [Line2D([], [], ls="", marker="o", color=colors[d], label=d) for d in devices]
    wl_h = [Line2D([], [], ls="", marker=m, color="#777777", label=w) for w, m in zip(wls, MARKERS * 3)]
    pub_h = [Line2D([], [], ls="", marker="*", color="black", ms=9, label="published chip")]
    wl_rows = math.ceil((len(wl_h) + 1) / 7)
    dev_rows = math.ceil(len(dev_h) / 6)
    wl_h_in = 0.25 + 0.2 * wl_rows
    fig.legend(handles=wl_h + pub_h, loc="lower center", ncol=7, frameon=False, bbox_to_anchor=(0.5, 0.0),
               title="workload (marker, panel a)", handletextpad=0.2, columnspacing=0.9)
    fig.legend(handles=dev_h, loc="lower center", ncol=6, frameon=False, bbox_to_anchor=(0.5, wl_h_in / h),
               title="device (colour, both panels)", handletextpad=0.2, columnspacing=0.9)
    fig.tight_layout(rect=(0, (wl_h_in + 0.3 + 0.2 * dev_rows) / h, 1, 1))
    return fig


def efficiency_picture(df: pd.DataFrame, pub: pd.DataFrame, peaks: pd.DataFrame,
                       name: str = "efficiency_pareto.png") -> Picture:
    """TOPS/W versus TOPS/mm2: whole-network figures in one panel, peak figures in the other (``peaks``: one
    row per device with ``tops_per_W`` and ``tops_per_mm2`` of archsim's peak composition)."""
    return render(name, "Energy efficiency versus throughput density: (a) whole-network figures (archsim's "
                  "estimates per workload and device, published measured chips), (b) peak figures (archsim's "
                  "composition with every array busy, published peak figures); 2 operations per MAC",
                  _efficiency, df, pub, peaks)


# ---------------------------------------------------------------------------------------------------------------------
# the ADC-bits study

def _accuracy_vs_adc_bits(df: pd.DataFrame):
    wls = list(dict.fromkeys(df["workload"]))
    devices = list(dict.fromkeys(df["device"]))
    h = 2.9
    fig = figure(DOUBLE_IN, h)
    axes = fig.subplots(1, len(wls), squeeze=False)[0]
    colors = device_colors(devices)
    bits_all = sorted(set(int(b) for b in df["adc_bits"]))
    for ax, w in zip(axes, wls):
        sub = df[df["workload"] == w]
        n = len(devices)
        for k, d in enumerate(devices):
            s = sub[sub["device"] == d].sort_values("adc_bits")
            if s.empty:
                continue
            # devices side by side at each bit count (0.06 bit apart) so overlapping error bars stay readable
            x = s["adc_bits"].to_numpy(dtype=float) + 0.06 * (k - (n - 1) / 2)
            m = s["accuracy"].to_numpy(dtype=float)
            err = np.vstack([m - s["ci95_low"].to_numpy(dtype=float), s["ci95_high"].to_numpy(dtype=float) - m])
            ax.errorbar(x, m, yerr=err, color=colors[d], marker="o", ms=3, lw=1.0, capsize=2, label=d)
        ref = float(sub["float_accuracy"].iloc[0])
        ax.axhline(ref, color="black", ls="--", lw=0.8, label="float network")
        ax.set_xticks(bits_all)
        ax.set_xlabel("ADC resolution (bits)")
        ax.set_ylabel("top-1 accuracy (fraction)")
        ax.set_title(f"{w} (float network {ref:.3f})", loc="left")
        ax.grid(True)
    legend_below(fig, axes, h)
    return fig


def plot_accuracy_vs_adc_bits(df: pd.DataFrame, path: Path) -> Path:
    """Accuracy versus ADC bits, one panel per workload, one line per device, each point the mean over chips
    with its 95% interval as an error bar; the float network's accuracy as a dashed line.

    ``df``: one row per (workload, device, adc_bits) with columns ``accuracy``, ``ci95_low``, ``ci95_high``
    and ``float_accuracy``."""
    path = Path(path)
    pic = render(path.name, "Accuracy versus ADC resolution (mean over chips, 95% interval)",
                 _accuracy_vs_adc_bits, df)
    return pic.write(path.parent)

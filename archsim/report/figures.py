"""Figures of the commands on one design: ``estimate``, ``compare`` and ``accuracy``.

Each ``*_pictures`` function takes the command's result tables and returns a list of
:class:`~archsim.report.style.Picture` (PNG bytes, file name, caption), drawn in the paper style of
:mod:`archsim.report.style` (3.5 or 7 in wide, 8 pt text, units on every axis).  Bars are absolute
(uJ, mm2), stacked by component in a fixed colour per component, with each bar's total written at its end:
a reader sees both what dominates and how far apart the designs are.  No physics here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from archsim.cost.price import AREA_PARTS
from archsim.cost.table import ENERGY_PARTS
from archsim.report.style import (COMPONENT_COLORS, COMPONENT_LABELS, DOUBLE_IN, SINGLE_IN, Picture, components,
                                  device_colors, figure, label_points, legend_below,
                                  plain_log_ticks, render)

#: energy and area components in the order :mod:`archsim.cost.price` reports them (the component table's parts)
ENERGY = ENERGY_PARTS
AREA = AREA_PARTS
#: at most this many bars in a per-layer figure; the rest are summed into one "other" bar
MAX_LAYERS = 30


def fmt(v: float) -> str:
    """A bar's total, short: 3 significant digits, no exponent between 0.001 and 1e5."""
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e5 or a < 1e-3:
        return f"{v:.2e}"
    return f"{v:.3g}" if a < 1000 else f"{v:,.0f}"


def stacked_bars(ax, labels, parts: dict, unit: str, title: str) -> None:
    """Horizontal bars, one per label (top to bottom), stacked by component (absolute values in ``unit``),
    each total written at the bar's end."""
    y = np.arange(len(labels))[::-1]
    left = np.zeros(len(labels))
    for p in components(parts, parts):
        v = np.asarray(parts[p], dtype=float)
        ax.barh(y, v, left=left, color=COMPONENT_COLORS[p], label=COMPONENT_LABELS[p], height=0.7)
        left += v
    top = float(left.max()) if len(left) else 1.0
    for yi, t in zip(y, left):
        ax.text(t + 0.01 * top, yi, fmt(t), va="center", ha="left")
    ax.set_xlim(0, top * 1.22 if top > 0 else 1)
    ax.set_yticks(y)
    ax.set_yticklabels([str(s) for s in labels])
    ax.set_xlabel(unit)
    ax.set_title(title, loc="left")
    ax.grid(True, axis="x")
    ax.set_axisbelow(True)


def component_parts(df: pd.DataFrame, kind: str, names, scale: float, unit_suffix: str) -> dict:
    return {p: df[f"{kind}_{p}_{unit_suffix}"].to_numpy(dtype=float) * scale for p in names
            if f"{kind}_{p}_{unit_suffix}" in df}


# ---------------------------------------------------------------------------------------------------------------------
# estimate

def _by_component(s: dict, title: str):
    fig = figure(DOUBLE_IN, 2.3)
    ax_e, ax_a = fig.subplots(1, 2)
    energy = {p: [s.get(f"energy_{p}_J", 0.0) * 1e6] for p in ENERGY}
    area = {p: [s.get(f"area_{p}_mm2", 0.0)] for p in AREA}
    _component_bars(ax_e, energy, "energy per inference (µJ)", "(a) energy by component", "µJ")
    _component_bars(ax_a, area, "area (mm²)", "(b) area by component", "mm²")
    fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _component_bars(ax, parts: dict, unit: str, title: str, short: str) -> None:
    """One bar per component, its value and share written beside it."""
    names = [p for p in parts if parts[p][0] > 0]
    v = np.array([parts[p][0] for p in names])
    total = v.sum()
    y = np.arange(len(names))[::-1]
    ax.barh(y, v, color=[COMPONENT_COLORS[p] for p in names], height=0.7)
    for yi, x in zip(y, v):
        ax.text(x + 0.01 * v.max(), yi, f"{fmt(x)} ({100 * x / total:.0f}%)", va="center")
    ax.set_yticks(y)
    ax.set_yticklabels([COMPONENT_LABELS[p] for p in names])
    ax.set_xlim(0, v.max() * 1.45)
    ax.set_xlabel(unit)
    ax.set_title(title + f", total {fmt(total)} {short}", loc="left")
    ax.grid(True, axis="x")
    ax.set_axisbelow(True)


def _top_layers(layers: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The layers in network order; past :data:`MAX_LAYERS`, the largest by energy, and a note on the
    rest (their bars would dwarf the others, so they are summed in words, not drawn)."""
    if len(layers) <= MAX_LAYERS:
        return layers, ""
    keep = layers.nlargest(MAX_LAYERS, "energy_J").index
    rest = layers.drop(index=keep)
    share = 100 * rest["energy_J"].sum() / layers["energy_J"].sum()
    return layers.loc[sorted(keep)], (f"; the {MAX_LAYERS} largest of {len(layers)} layers shown, the other "
                                      f"{len(rest)} hold {share:.0f}% of the energy")


def _energy_area_bars(df: pd.DataFrame, label: str, row_in: float, title: str, per: str):
    """Two panels side by side, one bar per row of ``df`` (named by column ``label``, ``row_in`` inches each):
    (a) energy per inference and (b) area, each stacked by component."""
    h = 1.2 + row_in * len(df)
    fig = figure(DOUBLE_IN, h)
    ax_e, ax_a = fig.subplots(1, 2, sharey=True)
    stacked_bars(ax_e, df[label], component_parts(df, "energy", ENERGY, 1e6, "J"), "energy per inference (µJ)",
                 f"(a) energy {per}")
    stacked_bars(ax_a, df[label], component_parts(df, "area", AREA, 1.0, "mm2"), "area (mm²)", f"(b) area {per}")
    ax_a.tick_params(axis="y", left=False)
    fig.suptitle(title, x=0.01, ha="left")
    legend_below(fig, (ax_e, ax_a), h)
    return fig


def _per_layer(layers: pd.DataFrame, title: str):
    t, note = _top_layers(layers)
    return _energy_area_bars(t, "layer", 0.17, title + note, "per layer")


def estimate_pictures(summary: dict, layers: pd.DataFrame, stem: str) -> list[Picture]:
    """``estimate``: energy and area by component, and per layer."""
    what = f"{summary['workload']} on {summary['device']}"
    return [render(f"{stem}_components.png", f"{what}: energy per inference and area by component",
                   _by_component, summary, what),
            render(f"{stem}_layers.png", f"{what}: energy per inference and area per layer, by component",
                   _per_layer, layers, what)]


# ---------------------------------------------------------------------------------------------------------------------
# compare

def _compare_bars(df: pd.DataFrame, title: str):
    return _energy_area_bars(df, "device", 0.25, title, "by component")


def _efficiency(df: pd.DataFrame, title: str):
    fig = figure(SINGLE_IN, 2.6)
    ax = fig.subplots()
    colors = device_colors(df["device"])
    for r in df.itertuples():
        ax.scatter(r.tops_per_mm2, r.tops_per_W, color=colors[r.device], s=28, zorder=3)
    label_points(ax, list(df["tops_per_mm2"]), list(df["tops_per_W"]), list(df["device"]))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.margins(0.25)
    plain_log_ticks(ax)
    ax.set_xlabel("throughput density (TOPS/mm²)")
    ax.set_ylabel("energy efficiency (TOPS/W)")
    ax.set_title(title, loc="left")
    ax.grid(True, which="major")
    return fig


def _interval_dots(ax, labels, mean, lo, hi, colors, xlabel: str, reference: float | None = None,
                   ref_label: str = "") -> None:
    """One dot per label with its 95% interval as a horizontal bar; an optional reference line."""
    y = np.arange(len(labels))[::-1]
    mean, lo, hi = (np.asarray(v, dtype=float) for v in (mean, lo, hi))
    for yi, m, a, b, c in zip(y, mean, lo, hi, colors):
        ax.errorbar([m], [yi], xerr=[[m - a], [b - m]], fmt="o", color=c, ms=4, capsize=3)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="black", ls="--", lw=0.8, label=ref_label)
        ax.legend(loc="lower left", frameon=False)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel(xlabel)
    ax.grid(True, axis="x")


def _compare_accuracy(df: pd.DataFrame, metric: str, title: str):
    fig = figure(SINGLE_IN, 0.8 + 0.28 * len(df))
    ax = fig.subplots()
    colors = device_colors(df["device"])
    _interval_dots(ax, list(df["device"]), df[metric], df[f"{metric}_ci95_low"], df[f"{metric}_ci95_high"],
                   [colors[d] for d in df["device"]], f"top-1 {metric} (fraction, 95% interval)")
    ax.set_title(title, loc="left")
    return fig


def compare_pictures(df: pd.DataFrame, stem: str) -> list[Picture]:
    """``compare``: energy and area per device by component, TOPS/W versus TOPS/mm2, and accuracy (or
    fidelity) with its 95% interval when the table has it."""
    name = str(df["workload"].iloc[0])
    out = [render(f"{stem}_components.png", f"{name}: energy per inference and area per device, by component",
                  _compare_bars, df, f"{name}, one row per device"),
           render(f"{stem}_efficiency.png", f"{name}: energy efficiency versus throughput density per device",
                  _efficiency, df, name)]
    metric = next((m for m in ("accuracy", "fidelity") if f"{m}_ci95_low" in df), None)
    if metric is not None:
        out.append(render(f"{stem}_{metric}.png", f"{name}: {metric} per device, mean over chips with its 95% "
                          f"interval", _compare_accuracy, df, metric, f"{name}: {metric}"))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# accuracy

def _accuracy(summary: dict, per_trial, per_layer: pd.DataFrame, title: str):
    metric = summary["metric"]
    h = max(2.3, 1.1 + 0.17 * min(len(per_layer), MAX_LAYERS))
    fig = figure(DOUBLE_IN, h)
    ax_l, ax_a = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
    t = per_layer if len(per_layer) <= MAX_LAYERS else per_layer.nlargest(MAX_LAYERS, "relative_error")
    y = np.arange(len(t))[::-1]
    ax_l.barh(y, 100 * t["relative_error"].to_numpy(dtype=float), color=COMPONENT_COLORS["array"], height=0.7)
    ax_l.set_yticks(y)
    ax_l.set_yticklabels(t["layer"])
    ax_l.set_xlabel("relative output error (%), mean over chips")
    ax_l.set_title("(a) error per weighted layer" + (f" (largest {MAX_LAYERS})" if len(t) < len(per_layer) else ""),
                   loc="left")
    ax_l.grid(True, axis="x")
    ax_l.set_axisbelow(True)
    pt = np.asarray(per_trial, dtype=float)
    m, lo, hi = summary[f"{metric}_mean"], summary["ci95_low"], summary["ci95_high"]
    ax_a.scatter(pt, np.full(len(pt), 1.0) + np.linspace(-0.15, 0.15, len(pt)), color="#999999", s=10,
                 label="each chip", zorder=2)
    ax_a.errorbar([m], [0.0], xerr=[[m - lo], [hi - m]], fmt="o", color="#D55E00", ms=5, capsize=4,
                  label="mean, 95% interval")
    ref = summary.get("digital_reference")
    if metric == "accuracy" and ref is not None and np.isfinite(ref):
        ax_a.axvline(ref, color="black", ls="--", lw=0.8, label=f"exact digital ({ref:.3f})")
    ax_a.set_yticks([0, 1])
    ax_a.set_yticklabels(["mean", "chips"])
    ax_a.set_ylim(-0.7, 2.2)
    ax_a.set_xlabel(f"top-1 {metric} (fraction)")
    ax_a.set_title(f"(b) {metric}, {len(pt)} chip(s) x {summary['samples']} images", loc="left")
    ax_a.grid(True, axis="x")
    fig.suptitle(title, x=0.01, ha="left")
    legend_below(fig, (ax_a,), h, ncol=3)
    return fig


def accuracy_pictures(summary: dict, per_trial, per_layer: pd.DataFrame, stem: str) -> list[Picture]:
    """``accuracy``: the relative error of each weighted layer and the accuracy (or fidelity) of each chip,
    with the mean and its 95% interval."""
    what = f"{summary['workload']} on {summary['device']}"
    return [render(f"{stem}.png", f"{what}: per-layer output error and {summary['metric']} with its 95% interval",
                   _accuracy, summary, per_trial, per_layer, what)]

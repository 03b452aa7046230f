"""Figures of the commands over many designs: ``size``, ``sweep`` and ``validate``.

Like :mod:`archsim.report.figures`: each ``*_pictures`` function takes plain tables and values and returns
:class:`~archsim.report.style.Picture` objects in the paper style of :mod:`archsim.report.style`.
No physics here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from archsim.model.errors import ArchsimError
from archsim.report.style import (DOUBLE_IN, SINGLE_IN, Picture, axis_label, device_colors, figure, legend_below,
                                  plain_log_ticks, render, unit_scale)

#: a positive axis spanning more than this ratio is drawn on a log scale
LOG_SPAN = 30.0
#: what each design of a sizing search is drawn as: (label, colour, marker, size)
SIZE_LOOK = {
    "searched": ("other design searched", "#BBBBBB", "o", 6),
    "feasible": ("meets the constraints", "#56B4E9", "o", 10),
    "below": ("below the floor (simulated)", "#D55E00", "x", 16),
    "front": ("Pareto front", "#0072B2", "o", 18),
    "recommended": ("recommended", "black", "*", 90),
}


def _log_if_wide(ax, axis: str, values) -> None:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) and v.min() > 0 and v.max() / v.min() > LOG_SPAN:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        plain_log_ticks(ax, axis)


# ---------------------------------------------------------------------------------------------------------------------
# size

def _groups(t: pd.DataFrame) -> dict:
    ok = t["error"].isna() if "error" in t else pd.Series(True, index=t.index)
    below = (t["floor"] == "below floor") if "floor" in t else pd.Series(False, index=t.index)
    return {"searched": ok & ~t["feasible"] & ~below, "below": ok & below,
            "feasible": t["feasible"] & ~t["pareto"], "front": t["pareto"] & ~t["recommended"],
            "recommended": t["recommended"]}


def _size(t: pd.DataFrame, metric_col: str | None, floor: float | None, reference: float | None, title: str):
    h = 3.4
    fig = figure(DOUBLE_IN, h)
    ax_f, ax_a = fig.subplots(1, 2)
    e = t["energy_per_inference_J"] * 1e6
    for key, mask in _groups(t).items():
        label, color, marker, size = SIZE_LOOK[key]
        if mask.any():
            ax_f.scatter(t.loc[mask, "area_mm2"], e[mask], color=color, marker=marker, s=size, label=label,
                         zorder=3 if key in ("front", "recommended") else 2, linewidths=1.0)
    _log_if_wide(ax_f, "x", t["area_mm2"])
    _log_if_wide(ax_f, "y", e)
    ax_f.set_xlabel("area (mm²)")
    ax_f.set_ylabel("energy per inference (µJ)")
    ax_f.set_title("(a) designs searched: energy and area", loc="left")
    ax_f.grid(True, which="major")
    sim = t[t[metric_col].notna()] if metric_col and metric_col in t else t.iloc[:0]
    if len(sim):
        es = sim["energy_per_inference_J"] * 1e6
        m = sim[metric_col].to_numpy(dtype=float)
        lo = sim.get(f"{metric_col}_ci95_low", sim[metric_col]).to_numpy(dtype=float)
        hi = sim.get(f"{metric_col}_ci95_high", sim[metric_col]).to_numpy(dtype=float)
        below = (sim["floor"] == "below floor").to_numpy() if "floor" in sim else np.zeros(len(sim), bool)
        for mask, key in ((~below, "front"), (below, "below")):
            if mask.any():
                _, color, marker, _ = SIZE_LOOK[key]
                ax_a.errorbar(es[mask], m[mask], yerr=[m[mask] - lo[mask], hi[mask] - m[mask]], fmt=marker,
                              color=color, ms=3.5, capsize=2, lw=0.8, label=SIZE_LOOK[key][0].replace(
                                  "Pareto front", "simulated, at or above the floor"))
        rec = sim[sim["recommended"]]
        if len(rec):
            ax_a.scatter(rec["energy_per_inference_J"] * 1e6, rec[metric_col], color="black", marker="*", s=90,
                         zorder=4, label="recommended")
        if floor is not None:
            ax_a.axhline(floor, color="#D55E00", ls="--", lw=0.9, label=f"floor ({floor:.3f})")
        if reference is not None and metric_col == "accuracy":
            ax_a.axhline(reference, color="black", ls=":", lw=0.9, label=f"float network ({reference:.3f})")
        _log_if_wide(ax_a, "x", es)
        what = "accuracy" if metric_col == "accuracy" else "agreement with the float network"
        ax_a.set_ylabel(f"top-1 {what} (fraction)")
        ax_a.set_title("(b) simulated designs, mean and 95% interval", loc="left")
    else:
        fps = t["inferences_per_s"]
        ok = _groups(t)
        for key in ("searched", "feasible", "front", "recommended"):
            label, color, marker, size = SIZE_LOOK[key]
            if ok[key].any():
                ax_a.scatter(e[ok[key]], fps[ok[key]], color=color, marker=marker, s=size, label=label)
        _log_if_wide(ax_a, "x", e)
        _log_if_wide(ax_a, "y", fps)
        ax_a.set_ylabel("throughput (inferences/s)")
        ax_a.set_title("(b) energy and throughput (accuracy not simulated)", loc="left")
    ax_a.set_xlabel("energy per inference (µJ)")
    ax_a.grid(True, which="major")
    fig.suptitle(title, x=0.01, ha="left")
    legend_below(fig, (ax_f, ax_a), h, ncol=4, rows=2)
    return fig


def size_pictures(table: pd.DataFrame, stem: str, title: str, metric_col: str | None = None,
                  floor: float | None = None, reference: float | None = None) -> list[Picture]:
    """``size``: every design searched (energy versus area) with the feasible ones, the Pareto front and the
    recommended design; and the simulated designs' accuracy (or agreement) against the floor."""
    return [render(f"{stem}.png", f"{title}: the designs searched, the Pareto front, the floor and the "
                   f"recommended design", _size, table, metric_col, floor, reference, title)]


# ---------------------------------------------------------------------------------------------------------------------
# sweep

def numeric_columns(df: pd.DataFrame) -> list[str]:
    """The columns of a results table that can go on an axis: numbers with at least one finite value."""
    out = []
    for c in df.columns:
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) and \
                np.isfinite(df[c].to_numpy(dtype=float)).any():
            out.append(c)
    return out


def check_columns(df: pd.DataFrame, x: str, y: str, flag: str = "--plot") -> None:
    """One line naming the column when ``x`` or ``y`` is not a numeric column of ``df``."""
    allowed = numeric_columns(df)
    for c in (x, y):
        if c not in allowed:
            raise ArchsimError(f"{flag} {x} {y}: column {c!r} is not a numeric column of the results; allowed: "
                               f"{', '.join(allowed)}")


def _sweep(df: pd.DataFrame, x: str, y: str, title: str):
    fig = figure(SINGLE_IN, 2.8)
    ax = fig.subplots()
    ok = df[df["error"].isna()] if "error" in df else df
    devices = list(dict.fromkeys(ok["device"])) if "device" in ok else [None]
    wls = list(dict.fromkeys(ok["workload"])) if "workload" in ok else [None]
    colors = device_colors([d for d in devices if d is not None])
    markers = "os^vD<>ph*Xd"
    (fx, xlabel), (fy, ylabel) = unit_scale(x, ok[x]), unit_scale(y, ok[y])
    for d in devices:
        for w, mk in zip(wls, markers * 4):
            s = ok
            if d is not None:
                s = s[s["device"] == d]
            if w is not None:
                s = s[s["workload"] == w]
            if len(s):
                ax.scatter(s[x] / fx, s[y] / fy, color=colors.get(d, "#0072B2"), marker=mk, s=14, alpha=0.9,
                           label=" / ".join(str(v) for v in (d, w if len(wls) > 1 else None) if v is not None))
    _log_if_wide(ax, "x", ok[x])
    _log_if_wide(ax, "y", ok[y])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    ax.grid(True, which="major")
    if len(devices) * len(wls) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, handletextpad=0.2)
    return fig


def sweep_pictures(df: pd.DataFrame, x: str, y: str, stem: str, title: str) -> list[Picture]:
    """``sweep --plot X Y``: column ``y`` against column ``x`` of the results, one colour per device and one
    marker per workload; log axes where the values span more than :data:`LOG_SPAN`."""
    check_columns(df, x, y)
    return [render(f"{stem}_{x}_vs_{y}.png", f"{title}: {axis_label(y)} versus {axis_label(x)}, every point of the "
                   "sweep", _sweep, df, x, y, title)]


# ---------------------------------------------------------------------------------------------------------------------
# validate

ROLE_LOOK = {"predicted": ("#0072B2", "o"), "consistency": ("#999999", "s"), "calibrated": ("#E69F00", "D")}


def _validate(df: pd.DataFrame, title: str):
    t = df[df["ratio"].notna() & (df["ratio"] > 0) & (df["source"] != "layer counts")].reset_index(drop=True)
    fig = figure(DOUBLE_IN, 0.9 + 0.16 * len(t))
    ax = fig.subplots()
    y = np.arange(len(t))[::-1]
    ax.axvspan(0.5, 2.0, color="#EEEEEE", zorder=0, label="within a factor of 2")
    ax.axvline(1.0, color="black", lw=0.8)
    for role, (color, marker) in ROLE_LOOK.items():
        m = (t["role"] == role).to_numpy()
        if m.any():
            ax.scatter(t.loc[m, "ratio"], y[m], color=color, marker=marker, s=16, label=role, zorder=3)
    ax.set_xscale("log")
    plain_log_ticks(ax, "x")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{s}: {f}" for s, f in zip(t["source"], t["figure"])])
    ax.set_xlabel("archsim / published (ratio, log scale)")
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", frameon=False)
    ax.grid(True, axis="x", which="major")
    fig.tight_layout()
    return fig


def validate_pictures(df: pd.DataFrame, stem: str = "validation") -> list[Picture]:
    """``validate``: each published figure's ratio archsim / published, by role (predicted, consistency,
    calibrated); layer counts (exact by construction) left out."""
    return [render(f"{stem}.png", "archsim against published figures: ratio per figure (1 = agreement)",
                   _validate, df, "archsim / published, per figure")]

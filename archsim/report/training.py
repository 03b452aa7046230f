"""Training results as tables and a plot: accuracy per epoch per device, pulses, energy and time of an
epoch, and a ranking of devices by accuracy, energy and time together (Pareto front first)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from archsim.report.pareto import pareto_mask


def summary_table(rows: list[dict]) -> pd.DataFrame:
    """One row per (device, algorithm): final accuracy with its 95% half-width, pulses per device,
    energy and time per epoch; ranked: devices on the Pareto front of (accuracy up, energy down,
    time down) first, then by accuracy."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    cols = [c for c in ("accuracy", "energy_epoch_J", "time_epoch_s") if c in df]
    if len(cols) == 3 and df[cols].notna().all().all():
        pts = np.column_stack([df["accuracy"], df["energy_epoch_J"], df["time_epoch_s"]])
        df["pareto"] = pareto_mask(pts, ("max", "min", "min"))
        df = df.sort_values(["pareto", "accuracy"], ascending=[False, False]).reset_index(drop=True)
        df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df


def accuracy_frame(summaries) -> pd.DataFrame:
    """Long table: device, algorithm, epoch, mean test accuracy, 95% half-width."""
    rows = []
    for s in summaries:
        for e, m, h in zip(s.epochs, s.mean, s.halfwidth):
            rows.append(dict(device=s.device, algorithm=s.algorithm, epoch=e, accuracy=m, ci95=h))
    return pd.DataFrame(rows)


def plot_accuracy(frame: pd.DataFrame, path: Path, title: str = "") -> Path:
    """Test accuracy against epochs, one line per device (and algorithm), the 95% interval shaded."""
    from archsim.report.style import figure
    fig = figure(6.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for (dev, alg), g in frame.groupby(["device", "algorithm"], sort=False):
        label = dev if frame["algorithm"].nunique() == 1 else f"{dev} ({alg})"
        ax.plot(g["epoch"], g["accuracy"], marker="o", label=label)
        lo, hi = (g["accuracy"] - g["ci95"]).clip(0, 1), (g["accuracy"] + g["ci95"]).clip(0, 1)
        ax.fill_between(g["epoch"], lo, hi, alpha=0.2)
    ax.set_xticks(sorted(frame["epoch"].unique()))
    ax.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (95% interval shaded, cut to 0..1)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    from archsim.io.files import atomic_write
    path = Path(path)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, metadata={"Software": None}))
    return path


def sweep_threshold(points, ref_error: float, margin: float, worse_up: bool):
    """Where a one-parameter sweep first leaves a reference: ``(value, how)``.

    ``points``: (swept value, test error) pairs including the reference device's own value; walking them in
    the worse direction (increasing values when ``worse_up``, else decreasing), the threshold is the first
    value whose error exceeds ``ref_error + margin``, interpolated from the last value under it: in
    ``log(value)``, or linearly when that value is 0.  ``(None, why)`` when no point passes; when the first
    point already passes, that point (``how`` says so)."""
    pts = sorted(points, key=lambda p: p[0], reverse=not worse_up)
    lim = ref_error + margin
    prev = None
    for v, e in pts:
        if e > lim:
            if prev is None:
                return float(v), "at or before the first swept value"
            v0, e0 = prev
            f = (lim - e0) / (e - e0)
            if v0 == 0:
                return float(f * v), "interpolated"
            return float(np.exp(np.log(v0) + f * (np.log(v) - np.log(v0)))), "interpolated"
        prev = (v, e)
    return None, "not reached in the swept range"


def spec_verdict(threshold, edge, spec: float, worse_up: bool, factor: float = 2.0) -> str:
    """A sweep's threshold judged against a published *specification*: a value the paper found sufficient,
    so the paper's own threshold lies at or beyond it (at or above ``spec`` when larger values are worse, at
    or below it when smaller ones are).  The reproduction is consistent unless archsim's threshold is stricter
    than the spec by more than ``factor`` (below ``spec / factor``, or above ``spec * factor`` for a sweep
    whose smaller values are worse); passing the spec the other way is consistent, not a failure.

    ``threshold`` is None when the sweep never left the band; it then lies beyond ``edge``, the last swept
    value, and the verdict holds only when that edge already settles it.  Returns ``'consistent'``,
    ``'stricter than the spec'`` or ``'undecided'``."""
    if spec <= 0 or factor < 1:
        raise ValueError(f"spec_verdict: spec must be > 0 and factor >= 1, got {spec}, {factor}")
    limit = spec / factor if worse_up else spec * factor
    if threshold is None:
        # beyond the edge: above it (worse up) or below it (worse down)
        settled = edge >= limit if worse_up else edge <= limit
        return "consistent" if settled else "undecided"
    ok = threshold >= limit if worse_up else threshold <= limit
    return "consistent" if ok else "stricter than the spec"

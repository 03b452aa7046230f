"""The sizing report: the Pareto front and the designs below the floor as text, and the tables to files.

:func:`format_result` is what ``archsim size`` prints; :func:`write_result` writes every design searched
(configuration, metrics, the checked figure and its interval, feasible, pareto, recommended) as
``size_<workload>_<device>.md`` / ``.csv``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from archsim.explore.objectives import OBJECTIVES, num
from archsim.explore.sizing import SizingResult, _col
from archsim.io.files import join_stem
from archsim.report import tables as report

FRONT_COLUMNS = {
    "rows": ("rows=cols", None), "bits_per_cell": ("bits/cell", None), "adc_bits": ("ADC bits", None),
    "cols_per_adc": ("cols/ADC", None), "mesh": ("mesh", None), "budget": ("budget", None),
    "energy_per_inference_J": ("energy/inference (uJ)", 1e6), "area_mm2": ("area (mm2)", 1.0),
    "inferences_per_s": ("inferences/s", 1.0), "latency_s": ("latency (us)", 1e6), "tops_per_W": ("TOPS/W", 1.0),
    "tops_per_mm2": ("TOPS/mm2", 1.0),
}


def front_display(res: SizingResult, top: int | None = None, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """The front (or ``rows``) as printed: design, metrics and, where simulated, the checked figure with
    its 95% interval (and the relative logit error for fidelity)."""
    from archsim.sim.accuracy import format_ci
    f = res.front if rows is None else rows
    if top is not None:
        f = f.head(top)
    out = {"": ["*" if r else "" for r in f["recommended"]]}
    for k, (title, scale) in FRONT_COLUMNS.items():
        col = f[k]
        if scale not in (None, 1.0):
            col = col.astype(float) * scale
        out[title] = col.to_numpy()
    for c in ("accuracy", "agreement"):
        if c not in f or not (res.check is not None or res.accuracy_available):
            continue
        if f"{c}_ci95_low" in f:
            out[f"{c} (95%)"] = [format_ci(v, lo, hi) if np.isfinite(v) else "not simulated" for v, lo, hi in
                                 zip(f[c], f[f"{c}_ci95_low"], f[f"{c}_ci95_high"])]
        else:
            out[c] = f[c].to_numpy()
    if "logit_error" in f and "agreement" in f:
        out["logit error"] = [f"{v:.3g}" if np.isfinite(v) else "" for v in f["logit_error"]]
    return pd.DataFrame(out)


def below_floor(res: SizingResult) -> pd.DataFrame:
    """The designs simulated and found below the floor, best first on the objective."""
    t = res.table
    if "floor" not in t:
        return t.iloc[:0]
    col, sense, _ = OBJECTIVES[res.objective]
    col = _col(res.objective, t)
    return t[t["floor"] == "below floor"].sort_values(col, ascending=sense == "min")


def format_result(res: SizingResult, top: int = 25) -> str:
    lines = [res.space_text + (f"; {res.failed} could not be built" if res.failed else "")]
    if res.failed:
        errs = res.table["error"].dropna().map(lambda e: re.sub(r"^point [0-9a-f]{12}: ", "", e))
        for e, n in errs.value_counts().head(3).items():
            lines.append(f"  {n} x {e}")
    if res.constraints:
        cons = ", ".join(f"{c.flag} {num(v)}" for c, v in res.constraints)
        n = int(res.table["feasible"].sum()) if res.check is None else None
        lines.append(f"constraints: {cons}" + (f": {n} designs meet them" if n is not None else ""))
    if res.check is not None:
        d = res.check.data
        lines.append(f"{d.metric} floor: {d.floor_text}: of the {res.check.candidates} designs meeting the constraints, "
                     f"{res.check.scored} simulated, {res.check.below} below the floor")
    front = res.front
    if len(front):
        objs = ", ".join(OBJECTIVES[o][2] for o in res.objectives)
        shown = f", the first {top} by {res.objective} shown" if len(front) > top else ""
        lines += ["", f"Pareto front of the feasible designs ({objs}): {len(front)} designs{shown}", "",
                  report.to_text(front_display(res, top))]
    bad = below_floor(res)
    if len(bad):
        shown = f", the first {min(top, 10)} by {res.objective} shown" if len(bad) > min(top, 10) else ""
        lines += ["", f"Below the {res.check.data.metric} floor (never recommended): {len(bad)} designs{shown}", "",
                  report.to_text(front_display(res, min(top, 10), rows=bad))]
    lines += ["", res.message]
    lines += res.binding
    lines += res.notes
    return "\n".join(lines)


def result_stem(workload: str, device: str) -> str:
    """The stem of the sizing tables: ``size_<workload>_<device>``, both made safe for a file name (a long one
    shortened with a stable hash suffix: :func:`archsim.io.files.join_stem`)."""
    dev = str(device)
    return join_stem("size", workload, Path(dev).stem if dev.lower().endswith(('.yaml', '.yml')) else dev)


def write_result(res: SizingResult, out: str | Path) -> list[Path]:
    stem = result_stem(res.workload, res.device)
    notes = "\n\n".join([res.space_text, res.message] + res.binding + res.notes)
    return report.write_tables(out, stem, res.table, f"Sizing {res.workload} on {res.device}: Pareto front",
                               notes, display=front_display(res))

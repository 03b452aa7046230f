"""Readable tables: terminal text, Markdown and CSV.  No physics here."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from archsim.cost.components import outside_nodes_note
from archsim.io import techlib

from archsim.io.files import atomic_write, check_target, is_safe_name
from archsim.model.errors import ParameterError, brief

OPS_NOTE = "TOPS count 2 operations (multiply and add) per MAC."

#: summary key -> (column title, scale factor)
SUMMARY_COLUMNS = {
    "device": ("device", None),
    "cost_model": ("cost model", None),
    "energy_per_inference_J": ("energy/inference (uJ)", 1e6),
    "latency_s": ("latency (us)", 1e6),
    "inferences_per_s": ("inferences/s", 1.0),
    "area_mm2": ("area (mm2)", 1.0),
    "tops": ("TOPS", 1.0),
    "tops_per_W": ("TOPS/W", 1.0),
    "tops_per_mm2": ("TOPS/mm2", 1.0),
    "tiles": ("tiles", None),
    "utilization": ("utilization", 1.0),
    "dominant": ("dominant energy", None),
    "period_bound": ("period bound", None),
}


def summary_frame(summaries: Iterable[dict]) -> pd.DataFrame:
    """Tidy table of chip totals, one row per estimate, SI units named in the columns."""
    return pd.DataFrame(list(summaries))


def display_frame(df: pd.DataFrame, extra: Iterable[str] = ()) -> pd.DataFrame:
    """The readable subset of a summary frame, in display units.  Rows of ``--task training`` are per
    training step: their columns say so (``energy/step``, ``steps/s``; :data:`archsim.report.notes.TASK_TITLES`)."""
    from archsim.report.notes import TASK_TITLES, task_of
    titles = TASK_TITLES[task_of(df)]
    out = {}
    for key, (title, scale) in SUMMARY_COLUMNS.items():
        if key in df:
            out[titles.get(title, title)] = df[key] * scale if scale not in (None, 1.0) else df[key]
    for key in extra:
        if key in df:
            out[key] = df[key]
    return pd.DataFrame(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1e5 or a < 1e-3:
            return f"{v:.3e}"
        if a >= 100:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(v)


def to_text(df: pd.DataFrame) -> str:
    cells = [[str(c) for c in df.columns]] + [[_fmt(v) for v in row] for row in df.itertuples(index=False)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(df.columns))]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    lines = []
    for j, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if numeric[i] else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_markdown(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---:" if pd.api.types.is_numeric_dtype(df[c]) else "---" for c in df.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep] + body)


def assumptions(devices: Iterable[str], node_nm=None) -> list[techlib.Quantity]:
    """Assumed (not sourced) quantities the given devices and the circuit library rest on; with ``node_nm``, first
    a flag for each device whose file lists the nodes it is demonstrated at (``nodes``) and not this one."""
    recs = [techlib.device(d) for d in devices] + [techlib.circuit(n) for n in techlib.circuit_names()]
    return node_flags(devices, node_nm) + [q for r in recs for q in r.assumptions()]


def node_flags(devices: Iterable[str], node_nm) -> list[techlib.Quantity]:
    """One flag per device whose file lists the nodes it is demonstrated at (``nodes``) and not ``node_nm``."""
    if node_nm is None:
        return []
    devs = [techlib.device(d) for d in devices]
    return [techlib.Quantity(node_nm, "nm", "", note, "nodes", r.file)
            for r in devs for note in [outside_nodes_note(r, node_nm)] if note]


def assumptions_markdown(devices: Iterable[str], node_nm=None) -> str:
    lines = ["Assumed values (no published source; see the techlib files):", ""]
    for q in assumptions(devices, node_nm):
        lines.append(f"- `{q.file}` `{q.key}`: {q.assumption}")
    return "\n".join(lines)


def table_paths(out_dir: str | Path, stem: str) -> list[Path]:
    """``[stem.csv, stem.md]`` under ``out_dir``, checked before any work: the stem must be a plain file
    name (what :func:`archsim.io.files.safe_stem` and :func:`~archsim.io.files.join_stem` return: no slash,
    no leading dot) so nothing is ever written outside ``--out``, ``out_dir`` must not be an existing file,
    and each file must be a regular file or absent (:func:`archsim.io.files.check_target`: no link, folder,
    FIFO or device)."""
    out = Path(out_dir)
    if not stem or not is_safe_name(stem + ".csv"):
        raise ParameterError(f"{{param}} {brief(str(out_dir))[1:-1]}: output name {brief(stem)} is not allowed; allowed "
                             f"letters, digits, '.', '_' and '-' (not starting with '.'), so files stay inside {{param}}", "out", "out")
    paths = [out / f"{stem}.csv", out / f"{stem}.md"]
    if any(p.parent != out for p in paths):   # cannot happen for a safe stem; kept as the rule itself
        raise ParameterError(f"{{param}} {out_dir}: output name {brief(stem)} would leave the folder", "out")
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{{param}} {out_dir}: is a file; allowed a folder (created if missing)", "out")
    for p in paths:
        check_target(p)
    return paths


def write_tables(out_dir: str | Path, stem: str, df: pd.DataFrame, title: str, notes: str = "",
                 display: pd.DataFrame | None = None) -> list[Path]:
    """Write ``stem.csv`` (full tidy table, SI units) and ``stem.md`` (readable table and notes).

    ``stem`` must be a plain file name (build it with :func:`archsim.io.files.safe_stem`); any other
    is refused (one line) before anything is written."""
    csv, md = table_paths(out_dir, stem)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(csv, df.to_csv(index=False))
        shown = display if display is not None else df
        atomic_write(md, f"# {title}\n\n{to_markdown(shown)}\n\n{OPS_NOTE}\n\n{notes}\n")
    except OSError as exc:
        raise ParameterError(f"{{param}} {out_dir}: cannot write there ({exc.strerror})", "out") from None
    return [csv, md]

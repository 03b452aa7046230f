"""What every command with ``--out`` or ``--plot`` writes beside its tables: figures and ``report.html``.

``--plot`` (``estimate``, ``compare``, ``accuracy``, ``size``; ``sweep --plot X Y``) writes the command's
figures as PNG files into ``--out``, or into the current folder without it; it needs matplotlib (the
``plots`` extra) and says so in one line before any work (:func:`check_plot`).  ``--out`` always writes
``report.html`` too (:func:`finish`): tables, figures (when matplotlib is installed, embedded), notes,
assumptions and the validation ratios that bound the figures' trust; without Jinja2 (the ``report`` extra)
it says that the page was skipped and writes the rest.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from archsim.report import html
from archsim.report import tables as report
from archsim.report.style import matplotlib_available, require_matplotlib

#: where the Markdown notes' list of assumed values starts: the page shows those in its own section
_ASSUMED = "Assumed values (no published source"


def add_plot(sp) -> None:
    sp.add_argument("--plot", action="store_true",
                    help="write the figures as PNG (into --out, else the current folder; needs matplotlib)")


def check_plot(args) -> None:
    """Before any work: ``--plot`` without matplotlib fails in one line (exit 2), and so does a
    ``report.html`` in ``--out`` that may not be written (a link, folder, FIFO or device:
    :func:`archsim.io.files.check_target`)."""
    if getattr(args, "plot", None):
        require_matplotlib("--plot")
    out = getattr(args, "out", None)
    if out and html.jinja_available():
        from archsim.io.files import check_target
        check_target(Path(out) / html.REPORT_NAME, "--out")


def command_line(args) -> str:
    argv = getattr(args, "argv", None)
    return "archsim " + shlex.join(argv) if argv is not None else ""


def validation_table() -> pd.DataFrame:
    """``archsim validate``'s table without the Monte Carlo claims (a second or two): the ratios that bound
    the figures' trust."""
    from archsim.explore.validate import validation_frame
    return validation_frame(accuracy=False)


def finish(args, title: str, tables: Iterable[html.Table], draw: Callable[[], list] | None, notes: str = "",
           devices: Iterable[str] = (), summary: Iterable[str] = (), validation: pd.DataFrame | None = None,
           out: str | Path | None = None, node_nm=None) -> list[Path]:
    """Draw the figures (``draw()``: a list of Pictures) where wanted, write them for ``--plot`` and write
    ``report.html`` for ``--out``; return the paths written (printed by the caller).  ``node_nm``: the design's
    node, so a device used outside the nodes it is demonstrated at is flagged among the assumptions."""
    out = out if out is not None else getattr(args, "out", None)
    wants_plot = bool(getattr(args, "plot", None))
    pictures, files = [], []
    if draw is not None and (wants_plot or out) and matplotlib_available():
        pictures = list(draw())
    if wants_plot:
        files += [p.write(out if out else ".") for p in pictures]
    if out:
        if not html.jinja_available():
            print("report.html not written: it needs Jinja2 (pip install 'archsim[report]')")
            return files
        note = "" if pictures or draw is None else \
            "No figures: they need matplotlib (pip install 'archsim[plots]')."
        page = html.Page(title=title, command=command_line(args), summary=tuple(summary), tables=tuple(tables),
                         pictures=tuple(pictures), picture_note=note, notes=str(notes).split(_ASSUMED)[0].strip(),
                         assumptions=tuple(report.assumptions(devices, node_nm)),
                         validation=validation if validation is not None else validation_table())
        files.append(html.write_html(out, page))
    return files


def print_written(files) -> None:
    if files:
        print("wrote " + ", ".join(map(str, files)))

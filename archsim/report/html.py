"""``report.html``: one self-contained page per command run with ``--out``.

The page holds the command's tables, its figures (PNG embedded as base64 ``data:`` URIs, so the file
stands alone: no other file, no network), its notes, the assumed (unsourced) techlib values it rests on,
and how far its figures can be trusted: the ratios archsim / published of ``archsim validate`` summarised
per kind of figure (:func:`trust_frame`).  It is rendered from the Jinja2 template
``archsim/report/templates/report.html.j2`` with autoescaping on: every piece of user text (a device's
name, a layer name, a file path) is HTML-escaped.  Jinja2 is optional (the ``report`` extra):
:func:`jinja_available`.
"""
from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from archsim.io.files import atomic_write
from archsim.model.errors import ArchsimError, ParameterError
from archsim.report.style import Picture
from archsim.report.tables import _fmt

#: the page's file name inside ``--out``
REPORT_NAME = "report.html"
#: rows of one table shown on the page; the CSV beside it holds them all
MAX_ROWS = 200


@dataclass(frozen=True)
class Table:
    """A table of the page: ``title``, the frame shown (display units) and a note under it."""
    title: str
    frame: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class Page:
    """Everything one report shows; :func:`render_html` turns it into HTML."""
    title: str
    command: str = ""                       # the command line that made it
    summary: tuple = ()                     # lines under the title
    tables: tuple = ()                      # Table objects
    pictures: tuple = ()                    # Picture objects
    picture_note: str = ""                  # why there are no figures (matplotlib missing)
    notes: str = ""                         # the notes of the Markdown report (paragraphs, Markdown tables)
    assumptions: tuple = ()                 # techlib Quantity objects with an ``assumption``
    validation: pd.DataFrame | None = field(default=None)   # archsim validate's table (validation_frame)


def jinja_available() -> bool:
    try:
        import jinja2  # noqa: F401
        return True
    except ImportError:
        return False


def _rows(df: pd.DataFrame, limit: int = MAX_ROWS) -> dict:
    num = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    rows = [[(_fmt(v), n) for v, n in zip(r, num)] for r in df.head(limit).itertuples(index=False)]
    return {"columns": [str(c) for c in df.columns], "rows": rows}


def _png_width(png: bytes) -> int:
    """The PNG's width in pixels (its IHDR chunk), halved: the PNGs are drawn at 200 dpi, shown at ~100."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("not a PNG")
    return max(1, struct.unpack(">I", png[16:20])[0] // 2)


def _blocks(notes: str) -> list[dict]:
    """Notes as paragraphs; a block that is a Markdown table or holds aligned text stays preformatted."""
    out = []
    for b in [b.strip("\n") for b in str(notes).split("\n\n")]:
        if not b.strip():
            continue
        pre = b.lstrip().startswith("|") or "  " in b.strip()
        out.append({"text": b if pre else " ".join(b.split()), "pre": pre})
    return out


# ---------------------------------------------------------------------------------------------------------------------
# trust: the validation ratios per kind of figure

#: kind of figure -> the words in a validation figure's name that mark it (first match wins)
KINDS = (("energy efficiency and energy", ("ops_per_w", "energy")),
         ("area and throughput density", ("mm2", "area")),
         ("throughput", ("ops_per_s",)))


def figure_kind(name: str) -> str | None:
    n = str(name).lower()
    for kind, words in KINDS:
        if any(w in n for w in words):
            return kind
    return None


def trust_frame(validation: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From ``archsim validate``'s table: per kind of figure, how many *predicted* published figures (the
    model not built from their source) archsim was checked against and the range of its ratios archsim /
    published; and those rows themselves."""
    v = validation[(validation["role"] == "predicted") & validation["ratio"].notna()].copy()
    v["kind"] = [figure_kind(f) for f in v["figure"]]
    v = v[v["kind"].notna()]
    rows = []
    for kind, _ in KINDS:
        g = v[v["kind"] == kind]
        if len(g):
            rows.append({"kind of figure": kind, "published figures": len(g),
                         "lowest ratio": float(g["ratio"].min()), "highest ratio": float(g["ratio"].max()),
                         "sources": ", ".join(dict.fromkeys(g["source"]))})
    detail = v[["source", "figure", "unit", "published", "archsim", "ratio", "workload"]]
    return pd.DataFrame(rows), detail.reset_index(drop=True)


TRUST_INTRO = ("archsim's energy, efficiency, area and throughput figures were checked against published chips "
               "whose numbers the model was not built from (archsim validate, role 'predicted'). Per kind of "
               "figure, the range of the ratio archsim / published: read a figure on this page as trustworthy "
               "to about that range, and the comparison of designs within one run as tighter (they share every "
               "modelling choice).")


# ---------------------------------------------------------------------------------------------------------------------
# rendering

def render_html(page: Page) -> str:
    """The page as one HTML string (Jinja2, autoescaped)."""
    try:
        import jinja2
    except ImportError:
        raise ArchsimError("report.html: needs Jinja2; pip install 'archsim[report]'") from None
    from archsim.version import __version__
    env = jinja2.Environment(loader=jinja2.PackageLoader("archsim.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    pictures = [{"data": base64.b64encode(p.png).decode("ascii"), "caption": p.caption, "width": _png_width(p.png)}
                for p in page.pictures]
    tables = []
    for t in page.tables:
        d = _rows(t.frame)
        note = t.note
        if len(t.frame) > MAX_ROWS:
            note = (note + " " if note else "") + f"First {MAX_ROWS} of {len(t.frame)} rows; the CSV holds them all."
        tables.append({"title": t.title, "note": note, **d})
    trust = detail = None
    intro = "No validation data given: see archsim validate."
    if page.validation is not None and len(page.validation):
        summ, det = trust_frame(page.validation)
        if len(summ):
            trust, detail, intro = _rows(summ), _rows(det), TRUST_INTRO
    assumptions = [{"file": q.file, "key": q.key, "text": q.assumption} for q in page.assumptions]
    return env.get_template("report.html.j2").render(
        title=page.title, version=__version__, command=page.command, summary=list(page.summary),
        pictures=pictures, picture_note=page.picture_note, tables=tables, notes=_blocks(page.notes),
        trust=trust, trust_detail=detail, trust_intro=intro, assumptions=assumptions)


def write_html(out_dir: str | Path, page: Page) -> Path:
    """Write ``report.html`` into ``out_dir`` (whole or not at all) and return its path."""
    out = Path(out_dir)
    text = render_html(page)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return atomic_write(out / REPORT_NAME, text)
    except OSError as exc:
        raise ParameterError(f"{{param}} {out_dir}: cannot write {REPORT_NAME} there ({exc.strerror})",
                             "out") from None


__all__ = ["Page", "Picture", "Table", "REPORT_NAME", "jinja_available", "render_html", "write_html", "trust_frame"]

"""How archsim's figures look: sized for a paper, one colour per device and per component, PNG bytes out.

Every figure is drawn inside :func:`render`, which sets the fonts (8 pt text, 9 pt titles: readable at
print size), draws with matplotlib's object API (``Figure`` + Agg canvas, no pyplot, no global backend
switch) and returns the PNG as bytes; :class:`Picture` carries it with its file name and caption, so the
same picture can be written beside the tables and embedded in ``report.html``.  Widths are a paper's
columns: :data:`SINGLE_IN` (3.5 in) and :data:`DOUBLE_IN` (7 in).  Colours are fixed per device (its place
in techlib's device list) and per energy/area component, so a device keeps its colour in every figure.
matplotlib is optional (the ``plots`` extra): :func:`matplotlib_available`, :func:`require_matplotlib`.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from archsim.io import techlib

from archsim.io.files import atomic_write
from archsim.model.errors import ArchsimError, ParameterError

#: a single paper column and the full text width, in inches
SINGLE_IN, DOUBLE_IN = 3.5, 7.0
#: resolution of the PNGs (print quality at the widths above)
DPI = 200
#: text sizes in points: nothing smaller than 8 pt
FONT_PT, TITLE_PT = 8, 9

_RC = {
    "font.size": FONT_PT, "axes.titlesize": TITLE_PT, "axes.labelsize": FONT_PT, "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT, "legend.fontsize": FONT_PT, "figure.titlesize": TITLE_PT,
    "legend.title_fontsize": FONT_PT, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": False, "grid.alpha": 0.3, "grid.linewidth": 0.5, "lines.linewidth": 1.2,
    "savefig.bbox": "tight", "savefig.pad_inches": 0.03, "figure.dpi": 100,
}

#: energy and area components, one colour each (Okabe-Ito, readable for colour-blind readers)
COMPONENT_COLORS = {
    "array": "#0072B2", "adc": "#D55E00", "dac": "#E69F00", "digital": "#009E73", "buffer": "#CC79A7",
    "noc": "#56B4E9", "leakage": "#999999", "io": "#F0E442", "adder_tree": "#882255",
}
#: how each component reads in a legend
COMPONENT_LABELS = {"array": "arrays", "adc": "ADC", "dac": "DAC / drivers", "digital": "digital",
                    "buffer": "buffers", "noc": "network", "leakage": "leakage", "io": "I/O",
                    "adder_tree": "adder trees"}


@dataclass(frozen=True)
class Picture:
    """One drawn figure: ``name`` (the PNG's file name), ``caption`` (what it shows) and the PNG bytes."""
    name: str
    caption: str
    png: bytes

    def write(self, out_dir: str | Path) -> Path:
        """Write the PNG into ``out_dir`` (whole or not at all) and return its path."""
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            return atomic_write(out / self.name, self.png)
        except OSError as exc:
            raise ParameterError(f"{{param}} {out_dir}: cannot write {self.name} there ({exc.strerror})", "out") from None


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def require_matplotlib(flag: str = "--plot") -> None:
    """One line (exit 2) when matplotlib, the ``plots`` extra, is missing."""
    if not matplotlib_available():
        raise ArchsimError(f"{flag}: figures need matplotlib; pip install 'archsim[plots]'")


def figure(width: float = SINGLE_IN, height: float = 2.4):
    """A matplotlib Figure of ``width`` x ``height`` inches on an Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def render(name: str, caption: str, draw: Callable, *args, **kwargs) -> Picture:
    """Call ``draw(*args, **kwargs) -> Figure`` with the paper style in force and return its PNG."""
    import matplotlib
    with matplotlib.rc_context(_RC):
        fig = draw(*args, **kwargs)
        f = io.BytesIO()      # in memory: Picture.write puts it on disk through io/files.py
        fig.savefig(f, format="png", dpi=DPI, metadata={"Software": None})
    return Picture(name, caption, f.getvalue())


def device_colors(devices) -> dict:
    """A colour per device, fixed by its place in techlib's device list (so it is the same in every
    figure); devices not in techlib (a user's YAML) take the colours after those."""
    from matplotlib import colormaps
    cmap = colormaps["tab20"]
    known = list(techlib.device_names())
    out, extra = {}, len(known)
    for d in devices:
        if d in out:
            continue
        if d in known:
            i = known.index(d)
        else:
            i, extra = extra, extra + 1
        out[d] = cmap((2 * i) % 20 + (2 * i // 20) % 2)   # the darker shade of each pair first
    return out


def components(parts, values_by_part: dict) -> list[str]:
    """The components of ``parts`` that are not zero everywhere (a legend lists only those drawn)."""
    import numpy as np
    return [p for p in parts if np.any(np.asarray(values_by_part[p], dtype=float) != 0)]


#: columns whose whole name is a unit
EXACT = {"tops_per_W": "TOPS/W", "tops_per_mm2": "TOPS/mm²", "tops": "TOPS"}
#: unit suffixes of archsim's column names and how an axis label writes them (longest first)
UNITS = (("_per_inference_J", " per inference (J)"), ("_J", " (J)"), ("_mm2", " (mm²)"),
         ("_per_s", " per second (1/s)"), ("_s", " (s)"), ("_W", " (W)"), ("_Hz", " (Hz)"), ("_ohm", " (Ω)"),
         ("_kB", " (kB)"), ("_nm", " (nm)"))


def axis_label(column: str) -> str:
    """A column name as an axis label with its unit: ``energy_per_inference_J`` -> ``energy per inference
    (J)``; ``tops_per_W`` -> ``TOPS/W``; a column without a unit suffix reads as it is, underscores as
    spaces."""
    if column in EXACT:
        return EXACT[column]
    for suffix, text in UNITS:
        if column.endswith(suffix) and len(column) > len(suffix):
            return column[: -len(suffix)].replace("_", " ") + text
    return column.replace("_", " ")


#: SI prefixes an axis may take for a small quantity (J, s, W), largest first
PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))


def unit_scale(column: str, values) -> tuple[float, str]:
    """A readable unit for ``column``'s ``values``: a column in J, s or W whose largest value is below 1
    takes the prefix that brings it to 1..1000 (``energy_per_inference_J`` at 4e-7: divide by 1e-6, label
    "energy per inference (µJ)"); returns the divisor and the axis label."""
    import numpy as np
    v = np.asarray(values, dtype=float)
    label = axis_label(column)
    unit = next((u for u in ("J", "s", "W") if column.endswith("_" + u) and not column.endswith("_per_s")), None)
    finite = np.abs(v[np.isfinite(v)])
    if unit is None or not len(finite) or finite.max() >= 1 or finite.max() == 0:
        return 1.0, label
    factor, prefix = next(((f, p) for f, p in PREFIXES if finite.max() >= f), PREFIXES[-1])
    return factor, label.replace(f"({unit})", f"({prefix}{unit})")


def plain_log_ticks(ax, which: str = "xy") -> None:
    """Log axes labelled with plain numbers (0.1, 2, 300), minor ticks labelled only where a decade
    holds no major tick."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def plain(v, _pos=None) -> str:
        return f"{v:g}"
    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_formatter(FuncFormatter(plain))
        lo, hi = (ax.get_xlim() if name == "x" else ax.get_ylim())
        if lo > 0 and hi / lo < 10:   # less than a decade: label 2, 3, 5 x 10^k too
            axis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
            axis.set_minor_formatter(FuncFormatter(plain))
        else:                          # the decades are labelled; minor ticks stay unlabelled
            axis.set_minor_formatter(NullFormatter())


def label_points(ax, xs, ys, names, close: float = 0.03, shared_only: bool = False) -> None:
    """Name each point beside it; points within ``close`` of a decade of each other on both log axes
    share one label ("sonos, ecram").  Each label takes the first of four places around its point (right
    above, right below, left above, left below) where it overlaps no text already on the axes.
    ``shared_only``: name only the points that share a place (the rest are told apart by a colour legend)."""
    import numpy as np
    lx, ly = np.log10(np.asarray(xs, dtype=float)), np.log10(np.asarray(ys, dtype=float))
    groups: list[list[int]] = []
    for i in range(len(lx)):
        for g in groups:
            if abs(lx[g[0]] - lx[i]) < close and abs(ly[g[0]] - ly[i]) < close:
                g.append(i)
                break
        else:
            groups.append([i])
    renderer = ax.figure.canvas.get_renderer()
    placed = [t.get_window_extent(renderer) for t in ax.texts]
    places = (((4, 3), "left", "bottom"), ((4, -3), "left", "top"), ((-4, 3), "right", "bottom"),
              ((-4, -3), "right", "top"))
    for g in groups:
        if shared_only and len(g) < 2:
            continue
        text = ", ".join(str(names[i]) for i in g)
        for k, (off, ha, va) in enumerate(places):
            t = ax.annotate(text, (xs[g[0]], ys[g[0]]), textcoords="offset points", xytext=off, ha=ha, va=va)
            box = t.get_window_extent(renderer)
            if k == len(places) - 1 or not any(box.overlaps(b) for b in placed):
                placed.append(box)
                break
            t.remove()


def legend_below(fig, axes, height_in: float, ncol: int = 8, rows: int = 1) -> None:
    """One legend of the components drawn in any of ``axes``, in a row under the panels; then lay out."""
    seen = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(len(seen), ncol), frameon=False,
               handlelength=1.0, columnspacing=1.0)
    fig.tight_layout(rect=(0, (0.1 + 0.2 * rows) / height_in, 1, 1))

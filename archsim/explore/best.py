"""Devices compared at their own designs (``archsim compare --best``), and what dominates a comparison.

``archsim compare`` prices every device on one architecture: the same arrays, ADC, DAC, buffers and
network.  Where that shared periphery dominates the energy (an 8-bit SAR ADC is most of it on every analog
device under the defaults) the comparison measures the periphery as much as the devices;
:func:`dominant` names, per row, the energy part with the largest share and :func:`periphery_note` says
under the table whether the devices share one periphery and how much of the energy it takes.

:func:`best_designs` instead sizes each device's own design with :func:`archsim.explore.sizing.size`:
array size, bits per cell (1 to what the device file supports reliably, ``conductance.bits_per_cell_max``),
ADC bits and columns per ADC, under the same constraints and the same floor for every device: accuracy
for a network with trained weights (its float accuracy on the same test images minus the allowed drop),
fidelity (top-1 agreement with the float network on seeded weights and inputs) for the others
(:mod:`archsim.explore.fidelity`), and for ImageNet networks without weights the output SNR predicted at
full size by the layer proxy (:mod:`archsim.explore.layer_proxy`).  Each device's search simulates its designs in order of the objective
until the first meets the floor (``sizing.size(..., first=True)``: the ordered check, with screening and
programmed arrays shared across designs), so the design it reports was simulated and met the floor and no
better design was left unchecked; a device where no design does says so.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from archsim.cost.events import ENERGY_PARTS
from archsim.explore import fidelity as _fid
from archsim.explore import sizing
from archsim.explore.objectives import Constraints, num
from archsim.model import arch as _arch
from archsim.model.device import load_device

#: the search space of ``compare --best`` (smaller than ``archsim size``'s, so five devices finish in
#: minutes): array sizes, ADC bits and columns per ADC around the published designs (ISAAC and
#: NeuroSim 128 x 128, Sandia's SONOS 1024 x 1024 is reached by ``--rows``); bits per cell: 1 to what
#: each device holds reliably; the minimal tile count (throughput is a constraint, not searched); signed weights
#: on one differential pair or on two closed-loop pairs of varying significance, each pair subtracted after its
#: arrays' conversions or as currents before one (:data:`archsim.explore.sizing.ENCODINGS`: what published
#: chips do; on ResNet-50 the closed loop removes the programming error that dominates open-loop ReRAM and
#: PCM cells, and the analog subtraction halves the conversions and their error, docs/explore.md)
BEST_SPACE = sizing.SearchSpace(rows=(128, 256, 512), bits_per_cell=None, adc_bits=(4, 6, 8),
                                cols_per_adc=(1, 8, 32), budgets=(1,), encodings=tuple(sizing.ENCODINGS))
#: architecture keys of the periphery every device shares in a plain comparison
PERIPHERY_KEYS = ("rows", "cols", "adc_bits", "adc_type", "cols_per_adc", "dac_bits", "input_bits", "node_nm",
                  "circuits")


def dominant(row) -> tuple[str, float]:
    """``(part, share)``: the energy part with the largest share of a summary row (``energy_<part>_J``
    columns) and that share, 0 to 1 (a digital SRAM's ``adc`` part is its adder trees)."""
    e = {k: float(row[f"energy_{k}_J"]) for k in ENERGY_PARTS if f"energy_{k}_J" in row}
    total = sum(e.values())
    top = max(e, key=e.get)
    name = "adder trees" if top == "adc" and str(row.get("dominant", "")) == "adder trees" else top
    return name, (e[top] / total if total > 0 else float("nan"))


def dominant_text(row) -> str:
    """``"adc 82%"``: the dominant part and its share of the energy per inference."""
    name, share = dominant(row)
    return f"{name} {100 * share:.0f}%"


def periphery_note(df: pd.DataFrame, a: _arch.Architecture) -> str:
    """The line under a plain comparison: the devices share one periphery (``a``'s), and how much of the
    energy its dominant part takes on each kind of device."""
    parts = [dominant(r) for _, r in df.iterrows()]
    analog = [(d, p, s) for d, (p, s) in zip(df["device"], parts) if not load_device(d).digital]
    from archsim.cost.components import prices_for
    shared = (f"{a.rows}x{a.cols} arrays, {a.adc_bits}-bit ADC ({prices_for(a, load_device(a.device)).adc_type}), {a.cols_per_adc} columns per ADC, "
              f"{a.dac_bits}-bit DAC x {a.input_pulses} pulses, buffers and network at {a.node_nm} nm")
    text = f"periphery: SHARED by every device ({shared}); only the cells and their bits per cell differ"
    same = {p for _, p, _ in analog}
    if analog and len(same) == 1 and next(iter(same)) not in ("array",):
        lo, hi = min(s for *_, s in analog), max(s for *_, s in analog)
        text += (f".\nThe {next(iter(same))} is {100 * lo:.0f}-{100 * hi:.0f}% of the energy on every analog device: "
                 f"this table measures that periphery as much as the devices; `compare --best` sizes each "
                 f"device's own design (array size, bits per cell, ADC bits, columns per ADC, signed-weight "
                 f"encoding) at one accuracy floor")
    return text


@dataclass
class BestComparison:
    """Every device at its own design: one :class:`~archsim.explore.sizing.SizingResult` per device and
    the comparison table (one row per device: the chosen design, its figures and what dominates)."""

    workload: str
    devices: list[str]
    results: list[sizing.SizingResult]
    table: pd.DataFrame
    metric: str | None            # "accuracy", "fidelity" or None (not simulated)
    floor_text: str
    notes: list[str] = field(default_factory=list)


def best_designs(workload: str, devices: list[str], base: _arch.Architecture | None = None,
                 constraints: Constraints = Constraints(), space: sizing.SearchSpace = BEST_SPACE,
                 objective: str = "energy", check: _fid.CheckSpec | None = _fid.CheckSpec(),
                 workers: int | None = None, progress: bool = False) -> BestComparison:
    """Size each device's own design under the same constraints and floor (:func:`sizing.size`) and
    compare the designs chosen; the keys ``space`` does not search stay ``base``'s for every device."""
    base = base or _arch.Architecture()
    results = []
    for d in devices:
        sp = space
        if load_device(d).digital:   # adder trees, no converter: ADC bits and columns per ADC change nothing
            sp = dataclasses.replace(space, adc_bits=(base.adc_bits,), cols_per_adc=(min(base.cols_per_adc,
                                                                                         min(space.rows)),),
                                     encodings=None)
        results.append(sizing.size(workload, base.replace(device=d), constraints=constraints, space=sp,
                                   objective=objective, workers=workers, progress=progress, check=check,
                                   first=True))
    rows = [_row(d, r) for d, r in zip(devices, results)]
    table = pd.DataFrame(rows)
    run = next((r.check for r in results if r.check is not None), None)
    metric = run.data.metric if run is not None else None
    floor_text = run.data.floor_text if run is not None else "accuracy NOT CHECKED (--no-simulate)"
    notes = [f"searched: {r.space_text}" for r in results] + [
             "same constraints for every device: "
             + (", ".join(f"{c.flag} {num(v)}" for c, v in results[0].constraints) or "none"),
             f"same floor for every device: {floor_text}" + (f"; {run.data.source}" if run is not None else ""),
             "periphery: OWN per device (each row's design), every key not searched as in the architecture given"]
    if run is not None:
        notes.append("each device's designs meeting the constraints were simulated in order of the objective until "
                     "the first met the floor: " + "; ".join(
                         f"{d} {r.check.simulations} simulated ({r.check.below} below the floor"
                         + (f", {r.check.screened} screened out by a kinder design clearly below it" if r.check.screened
                            else "") + (f", {r.check.too_large} too large to simulate" if r.check.too_large else "")
                         + f", {r.check.seconds:.0f} s)" for d, r in zip(devices, results) if r.check is not None))
    if metric == "output SNR":
        notes += _sources_notes(devices, results)
    return BestComparison(str(results[0].workload), list(devices), results, table, metric, floor_text,
                          [n for n in notes if n])


def design_arch(row) -> _arch.Architecture:
    """What the simulator reads of a design row of a search table: its keys with a ``simulator`` step (numpy
    scalars as plain values); the others (mesh, tiles, columns per ADC, ...) at their defaults."""
    def plain(v):
        return v.item() if isinstance(v, np.generic) else v
    keep = [k for k in _arch.KEY_BY_NAME if k in row and k != "layer_overrides" and k not in _fid.NOT_SIMULATED_KEYS]
    return _arch.Architecture(**{k: plain(row[k]) for k in keep})


def _sources_notes(devices, results) -> list[str]:
    """For the layer proxy: where each analog device's reported design (chosen, or the best measured where
    none met the floor) takes its error, :func:`archsim.explore.layer_proxy.error_sources`."""
    from archsim.explore import layer_proxy as P
    lines = []
    for d, r in zip(devices, results):
        if r.check is None or load_device(d).digital:
            continue
        t = r.table
        if r.recommended is not None:
            row, what = r.recommended, "chosen"
        else:
            done = t[t["floor"] == "below floor"] if "snr_db" in t else t.iloc[:0]
            if done.empty:
                continue
            row, what = done.loc[done["snr_db"].astype(float).idxmax()], "best measured"
        shares = P.error_sources(r.check.data.proxy, design_arch(row), r.check.data.sim)
        n, total = row.get("layers_measured"), len(r.check.data.proxy.test)
        snr = "" if r.recommended is not None else (
            f", {float(row['snr_db']):.1f} dB" + (f" at most (stopped early after {int(n)} of {total} layers)"
                                                  if n is not None and np.isfinite(n) and int(n) < total else ""))
        lines.append(f"{d} ({what}: {_design_text(row)}{snr}): {P.sources_text(shares)}")
    if lines:
        lines.insert(0, f"where the error comes from (share of the error power of {P.SOURCE_LAYERS} layers spread "
                        f"through the network removed by switching each source off alone; weight grid: what is "
                        f"left with all off):")
    return lines


def _row(device: str, r: sizing.SizingResult) -> dict:
    out = {"device": device}
    rec = r.recommended
    if rec is None:
        out.update(design="no design meets the floor and constraints", why=r.message)
        return out
    out.update(rows=int(rec["rows"]), bits_per_cell=int(rec["bits_per_cell"]), adc_bits=int(rec["adc_bits"]),
               cols_per_adc=int(rec["cols_per_adc"]), encoding=sizing.encoding_name(rec), mesh=rec["mesh"],
               energy_per_inference_J=float(rec["energy_per_inference_J"]), area_mm2=float(rec["area_mm2"]),
               inferences_per_s=float(rec["inferences_per_s"]), tops_per_W=float(rec["tops_per_W"]),
               tops_per_mm2=float(rec["tops_per_mm2"]))
    for c in ("accuracy", "agreement", "snr_db"):
        v = rec.get(c)
        if v is not None and np.isfinite(v):
            out[c] = float(v)
            for s in ("ci95_low", "ci95_high"):
                if f"{c}_{s}" in rec:
                    out[f"{c}_{s}"] = float(rec[f"{c}_{s}"])
    part, share = dominant(rec)
    out["dominant"], out["dominant_share"] = part, share
    out["floor"] = rec.get("floor", "not simulated")
    for k in ENERGY_PARTS:
        out[f"energy_{k}_J"] = float(rec[f"energy_{k}_J"])
    return out


def display(cmp: BestComparison) -> pd.DataFrame:
    """The comparison as printed: device, chosen design, figures, checked figure, dominant part."""
    from archsim.sim.accuracy import format_ci
    t = cmp.table
    out = {"device": t["device"]}
    if "rows" not in t:
        out["design"] = t.get("design")
        return pd.DataFrame(out)
    ok = t["rows"].notna()

    def col(c, f):
        return [f(v) if k else "-" for v, k in zip(t[c], ok)] if c in t else ["-"] * len(t)

    out["design"] = [_design_text(r) if k else "no design meets the floor" for (_, r), k in zip(t.iterrows(), ok)]
    out["energy/inference (uJ)"] = col("energy_per_inference_J", lambda v: float(v) * 1e6)
    out["area (mm2)"] = col("area_mm2", float)
    out["inferences/s"] = col("inferences_per_s", float)
    out["TOPS/W"] = col("tops_per_W", float)
    for c, label, digits in (("accuracy", "accuracy", 3), ("agreement", "agreement", 3),
                             ("snr_db", "output SNR dB", 1)):
        if c in t:
            out[f"{label} (95%)"] = [format_ci(r[c], r[f"{c}_ci95_low"], r[f"{c}_ci95_high"], digits)
                                     if k and np.isfinite(r[c]) else "-" for (_, r), k in zip(t.iterrows(), ok)]
    out["dominant"] = [f"{r['dominant']} {100 * r['dominant_share']:.0f}%" if k else "-"
                       for (_, r), k in zip(t.iterrows(), ok)]
    return pd.DataFrame(out)


def _design_text(r) -> str:
    digital = load_device(r["device"]).digital
    conv = "adder trees (no ADC)" if digital else f"{int(r['adc_bits'])}-bit ADC, {int(r['cols_per_adc'])} cols/ADC"
    enc = r.get("encoding")
    if not isinstance(enc, str):
        enc = sizing.encoding_of(r)
    enc = "" if digital or enc == "differential" else f", {enc}"
    return f"{int(r['rows'])}x{int(r['rows'])}, {int(r['bits_per_cell'])} b/cell{enc}, {conv}"


def format_best(cmp: BestComparison) -> str:
    from archsim.report import tables as report
    lines = [f"{cmp.workload}: each device at its own design ({', '.join(cmp.devices)})", "",
             report.to_text(display(cmp)), ""]
    for d, r in zip(cmp.devices, cmp.results):
        if r.recommended is None:
            # the floor is stated once, on the "same floor for every device" line below
            lines.append(f"{d}: " + r.message.replace(f" ({cmp.floor_text})", " (below)", 1))
    lines += cmp.notes
    return "\n".join(lines)

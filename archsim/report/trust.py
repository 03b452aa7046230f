"""How far an energy or area figure can be trusted: archsim against published chips of the same device kind.

``archsim validate`` (:mod:`archsim.explore.validate`) sets each preset's published figures beside archsim's
own.  The *predicted* ones (the preset's components were not built from that source) test the model; this
module takes those that measure energy or area, groups them by the kind of the preset's device (``analog``:
ReRAM, SONOS, PCM, TaOx, ...; ``digital``: SRAM compute-in-memory; ``charge``: charge-domain SRAM) and
states their range as *archsim / published*.  They are computed here, from the presets and their published
figures in ``techlib/presets/``, by the same functions as ``reports/validation.md``: nothing is copied.

An efficiency is turned into the quantity it implies: a TOPS/W ratio inverted is the ratio of energy per
operation, a TOPS/mm2 ratio inverted that of area at the same throughput.  A published range (a
``__low`` / ``__high`` pair) bounds a figure rather than giving one and is left out, as are consistency
figures (composed back from the source's own components: agreement by construction) and calibrated ones.
"""
from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd

from archsim.model import presets
from archsim.model.device import load_device

#: published metric -> (quantity it measures, exponent turning its ratio into that quantity's ratio)
QUANTITY = {
    "workload_energy_J": ("energy", 1), "workload_ops_per_W": ("energy", -1), "peak_ops_per_W": ("energy", -1),
    "macro_ops_per_W": ("energy", -1), "tile_power": ("energy", 1), "chip_power": ("energy", 1),
    "chip_area_used": ("area", 1), "chip_area": ("area", 1), "tile_area": ("area", 1),
    "workload_ops_per_s_mm2": ("area", -1), "peak_ops_per_s_mm2": ("area", -1), "macro_ops_per_s_mm2": ("area", -1),
}
#: suffixes of a published range's two ends (not point figures)
RANGE_ENDS = ("__low", "__high")


@lru_cache(maxsize=1)
def ratios() -> pd.DataFrame:
    """One row per predicted energy or area figure of a preset: ``preset``, ``kind`` (of its device),
    ``quantity`` (energy or area), ``figure``, ``ratio`` (archsim / published, of the quantity)."""
    from archsim.explore.validate import preset_rows
    rows = []
    for name in presets.names():
        p = presets.load(name)
        if not any((q.role or "predicted") == "predicted" for q in p.published.values()):
            continue
        kind = load_device(p.architecture.device).kind.value
        for r in preset_rows(name):
            metric = r["figure"].split("__")[0]
            if r["role"] != "predicted" or metric not in QUANTITY or r["figure"].endswith(RANGE_ENDS):
                continue
            if not (isinstance(r["ratio"], float) and math.isfinite(r["ratio"]) and r["ratio"] > 0):
                continue
            quantity, power = QUANTITY[metric]
            rows.append(dict(preset=name, kind=kind, quantity=quantity, figure=r["figure"],
                             ratio=float(r["ratio"]) ** power))
    return pd.DataFrame(rows, columns=["preset", "kind", "quantity", "figure", "ratio"])


def _range(t: pd.DataFrame, quantity: str) -> str:
    s = t[t.quantity == quantity]
    if s.empty:
        return f"{quantity} not validated"
    lo, hi = s.ratio.min(), s.ratio.max()
    span = f"{lo:.2f}x" if math.isclose(lo, hi, rel_tol=5e-3) else f"{lo:.2f}x to {hi:.2f}x"
    chips = ", ".join(dict.fromkeys(s.preset))
    return f"{quantity} {span} ({len(s)} figure{'s' if len(s) > 1 else ''}: {chips})"


def kind_of(device: str) -> str:
    return load_device(device).kind.value


def statement(devices) -> list[str]:
    """Lines stating, per device kind among ``devices``, the range of archsim / published over the
    predicted energy and area figures of the published chips of that kind."""
    groups: dict[str, list[str]] = {}
    for d in devices:
        groups.setdefault(kind_of(d), []).append(str(d))
    t = ratios()
    lines = []
    for kind, names in groups.items():
        s = t[t.kind == kind]
        who = f"{kind} ({', '.join(names)})"
        if s.empty:
            lines.append(f"  {who}: no published chip of this kind to validate against: energy and area unvalidated")
        else:
            lines.append(f"  {who}: {_range(s, 'energy')}; {_range(s, 'area')}")
    return ["how far to trust energy and area: archsim's figure over the published one (archsim / published), on "
            "published chips whose device is of the same kind, predicted not fitted (archsim validate, "
            "reports/validation.md):"] + lines


def statement_text(devices, markdown: bool = False) -> str:
    lines = statement(devices)
    if markdown:
        return lines[0][0].upper() + lines[0][1:] + "\n\n" + "\n".join("- " + l.strip() for l in lines[1:])
    return "\n".join(lines)

"""What a command prints beside its figures so that they are read right: the unit of work (an inference or a
training step), the read time and whether the device drifts at all, the wire resistances an IR-drop run
used, and a chip too large for one lithography exposure.

Every function returns text (empty where there is nothing to say); the numbers come from the architecture,
the device file or ``techlib/published/lithography.yaml``.  No physics here.
"""
from __future__ import annotations

from archsim.io import techlib
from archsim.model.device import load_device

#: display titles that name the unit of work, per task: a training step is one sample's forward pass,
#: backward pass and weight update (what ``--task training`` prices)
TASK_TITLES = {
    "inference": {},
    "training": {"energy/inference (uJ)": "energy/step (uJ)", "inferences/s": "steps/s"},
}
#: what one unit of work is, per task
TASK_UNIT = {
    "inference": "inference: one input through the network",
    "training": "step: one training sample's forward pass, backward pass and weight update",
}

#: ``--time`` units as the read-time line shows them (largest first)
_TIME_UNITS = (("y", 31557600.0), ("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0))


def task_of(df) -> str:
    """The task of a summary frame's rows (``inference`` unless every row says ``training``)."""
    if "task" in df and len(df) and set(df["task"]) == {"training"}:
        return "training"
    return "inference"


def task_note(task: str) -> str:
    """One line saying what a row's energy and rate count."""
    return f"per {TASK_UNIT[task]}" if task == "training" else ""


def _time_text(t: float) -> str:
    if t == 0:
        return "0 s"
    for unit, s in _TIME_UNITS:
        if t >= s:
            v = t / s
            return f"{v:g} {unit}" + ("" if unit == "s" else f" ({t:,.0f} s)")
    return f"{t:g} s"


def read_time(device: str, time_s: float) -> str:
    """The read time a simulation used, and whether the device changes with it: a device without a drift
    law (SONOS, ReRAM, SRAM, ...) reads the same at any ``--time``."""
    dev = load_device(device)
    head = f"read time: {_time_text(time_s)} after programming (--time)"
    if dev.drift is None:
        return f"{head}; {dev.name} has no drift law: --time changes nothing"
    return f"{head}; drift: {dev.name}'s {dev.drift.formula} ({dev.file}, drift section)"


def read_time_devices(devices, time_s: float) -> str:
    """:func:`read_time` for several devices in one line: the drifting ones named with their law, the
    others listed as unchanged by ``--time``."""
    if len(devices) == 1:
        return read_time(devices[0], time_s)
    still = [str(d) for d in devices if load_device(d).drift is None]
    drifting = [load_device(d).name for d in devices if load_device(d).drift is not None]
    parts = [f"read time: {_time_text(time_s)} after programming (--time)"]
    if drifting:
        parts.append(f"drift laws: {', '.join(drifting)}")
    if still:
        parts.append(f"no drift law ({', '.join(still)}): --time changes nothing for "
                     f"{'it' if len(still) == 1 else 'them'}")
    return "; ".join(parts)


def ir_drop(arch, enabled: bool = True) -> str:
    """The wire resistances a simulation used (architecture keys ``r_wire_ohm``, ``r_in_ohm``,
    ``r_out_ohm``); empty where the architecture sets none."""
    p = arch.parasitics
    values = (p.r_wire, p.r_in, p.r_out)
    if not any(v > 0 for v in values):
        return ""
    text = (f"r_wire_ohm={values[0]:g} (per segment between crosspoints), r_in_ohm={values[1]:g} (row driver), "
            f"r_out_ohm={values[2]:g} (column sense)")
    if not enabled:
        return f"IR drop: off (--no-ir-drop): ideal wires, although the architecture sets {text}"
    return f"IR drop: on, every programmed array solved with {text}"


def reticle_limit_mm2() -> float:
    """The exposure field's area in mm2 (``techlib/published/lithography.yaml``)."""
    return techlib.published("lithography")["reticle.field_area"] * 1e6


def reticle(area_mm2: float, what: str = "chip") -> str:
    """A note when ``area_mm2`` exceeds one lithography exposure field; empty otherwise."""
    limit = reticle_limit_mm2()
    if not area_mm2 > limit:
        return ""
    q = techlib.published("lithography").q("reticle.field_area")
    return (f"reticle: the {what} area {area_mm2:,.0f} mm2 exceeds one exposure field ({limit:,.0f} mm2, "
            f"{q.source.split(':')[0]}; {q.file}): it must be stitched or split over at "
            f"least {-(-area_mm2 // limit):.0f} dies, which this single-die estimate does not price")


def reticle_rows(df, label: str = "device") -> str:
    """Reticle notes for a frame of summaries (one per row over the limit, named by ``label``)."""
    if "area_mm2" not in df:
        return ""
    out = [reticle(float(a), f"{r} chip") for r, a in zip(df[label] if label in df else range(len(df)), df["area_mm2"])]
    return "\n".join(t for t in out if t)


#: what each power_gating mode means for the leakage figure (archsim.cost.static)
GATING_TEXT = {
    "none": "every tile, used or not, leaks the whole pipeline period",
    "idle_tiles": "a tile leaks over its busy time plus one wake-up (the gate's break-even time) per period, "
                  "unused tiles not at all",
}


def leakage(arch) -> str:
    """One line: where the leakage figure comes from (the circuit library's leakage law and file) and the
    power gating mode it was priced with."""
    from archsim.cost import static
    rec = techlib.circuit("leakage", arch.circuits)
    law = static.law(rec)
    q = rec.q(law)
    head = (q.source or q.assumption).split(" (")[0].split(":")[0]
    what = f"{static.LAWS[law]} ({'source' if q.source else 'assumed'}: {head})"
    return (f"leakage: {what}, {rec.file}; power_gating {arch.power_gating}: "
            f"{GATING_TEXT[str(arch.power_gating)]}")

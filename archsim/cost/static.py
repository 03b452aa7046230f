"""Static power: each component's leakage from its transistors' off-current, and the leakage energy a
pipeline period costs with or without power gating of idle tiles.

Leakage law (``techlib/circuits/leakage.yaml``): a circuit of layout area ``A`` at node ``F`` leaks
``A x k x I_off(F) x V_dd(F) / F`` (``k``: leaking transistor width per unit area in units of ``1/F``, the
analog classes times ``analog_width_ratio``); a buffer bit leaks as an SRAM cell, ``w_bit x F x I_off x
V_dd``.  The areas are the components' own at the node (their class's area factor), so a component's
leakage moves between nodes as its class's area factor times ``I_off V_dd / F`` and a buffer bit's as
``I_off V_dd F`` (:func:`density`).  A library whose leakage file gives ``active_power_fraction`` instead
(NeuroSim's, whose subarray and buffers carry their own figures) keeps that law (:data:`LAWS`).

Energy per period (:func:`leakage_energy`): without gating every tile leaks the whole period, the unused
tiles' share spread over the layers by tile count; with ``power_gating: idle_tiles`` a tile of a layer leaks
over ``min(period, busy + t_be)`` (its stage time, one break-even time ``t_be`` of its gate per period,
``techlib/circuits/power_gating.yaml``) and an unused tile not at all.  The function takes one point
(``price``) or rows of points (``batch``) and does the same operations in the same order for both.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from archsim.io import techlib
from archsim.model.arch import PowerGating
from archsim.model.errors import ArchsimError

#: the leakage laws a circuit library's leakage file may give, by the key that selects each
LAWS = {"off_current": "transistor off-current over each component's area",
        "active_power_fraction": "a fraction of each unit's active power at full use"}


@dataclass(frozen=True)
class Density:
    """Static power per unit of layout area (W/m2) by circuit class, and per buffer bit (W), at one node."""

    logic: float
    analog: float
    per_bit: float
    per_width: float = 0.0   # W per F of leaking transistor width (a device cell's: cell.leaking_width x this)

    def of(self, cls: str) -> float:
        """W/m2 of circuit class ``cls`` (``logic`` and ``sram`` periphery leak as logic)."""
        return self.analog if cls == "analog" else self.logic


def law(rec: techlib.Record) -> str:
    """The leakage law a leakage file states (the first key of :data:`LAWS` it holds)."""
    for k in LAWS:
        if rec.has(k):
            return k
    raise ArchsimError(f"{rec.file}: no leakage law; allowed keys: {', '.join(LAWS)} ({'; '.join(LAWS.values())})")


@lru_cache(maxsize=64)
def density(rec: techlib.Record, node_nm) -> Density:
    """The off-current law's leakage densities at ``node_nm`` (a node the file lists); kept per file (a record is
    hashed by identity, one per file read) and node."""
    nodes = np.atleast_1d(np.asarray(rec["nodes"], dtype=float))
    hit = np.flatnonzero(np.isclose(nodes, float(node_nm), rtol=0.0, atol=1e-9))
    if hit.size == 0:
        raise ArchsimError(f"architecture key 'node_nm' = {node_nm} has no leakage figures in {rec.file}; "
                           f"allowed: {', '.join(f'{n:g}' for n in nodes)}")
    i = int(hit[0])
    per_width = float(np.atleast_1d(rec["off_current"])[i]) * float(np.atleast_1d(rec["supply_voltage"])[i])  # W/m
    f = float(node_nm) * 1e-9
    logic = float(rec["logic_width_density"]) * per_width / f
    return Density(logic=logic, analog=logic * float(rec["analog_width_ratio"]),
                   per_bit=float(rec["sram_bit_width"]) * f * per_width, per_width=f * per_width)


def break_even_time(library: str, clock_Hz: float) -> float:
    """Seconds of leakage one wake-up of a tile's power gate costs (``power_gating.yaml``)."""
    return float(techlib.circuit("power_gating", library)["break_even_cycles"]) / clock_Hz


def leakage_energy(gating, p_tile, tiles, idle, p_idle, period, stages, t_be):
    """J of leakage per layer over one pipeline period.

    ``p_tile``: W per tile of each layer (last axis: layers; leading axes: points), ``tiles`` per layer,
    ``idle`` unused tiles of ``p_idle`` W each, ``period`` s, ``stages``: each layer's busy time per period,
    ``t_be``: the gate's break-even time (s).  ``gating`` a :class:`PowerGating` (one per call)."""
    pi = np.asarray(p_idle)[..., None]
    per = np.asarray(period)[..., None]
    if gating == PowerGating.NONE:
        return (p_tile * tiles + idle * pi * tiles / tiles.sum()) * per
    on = np.minimum(per, np.asarray(stages) + np.asarray(t_be)[..., None])
    return p_tile * tiles * on


def static_power(gating, p_tile, tiles, idle, p_idle, e_leak, period):
    """W of leakage the chip draws on average over a period: all tiles on without gating, the leakage
    energy per period over the period with it."""
    if gating == PowerGating.NONE:
        return (p_tile * tiles).sum(axis=-1) + idle * np.asarray(p_idle)
    return e_leak.sum(axis=-1) / np.asarray(period)

"""Node scaling by circuit class: energy, area and delay factors of logic, SRAM and analog periphery.

``techlib/circuits/scaling.yaml`` holds, per class (``logic``, ``sram``, ``analog``, ``wire``) and quantity
(``energy_scale``, ``area_scale``, and ``delay_scale`` for logic), one factor per node in one frame.  A circuit moved from
its file's reference node ``ref`` to ``node`` is multiplied by ``f(node) / f(ref)`` of its class.  Every
circuit file states its class (``class``); a file whose keys belong to different classes names the odd
ones under ``key_class`` (the buffer file: its array is SRAM, its bus and registers logic).  Device cells
are never scaled: nothing here is applied to a conductance, a read current or a cell energy.

The lookups take a node or an array of nodes (numpy broadcasting), so a batch of design points is
priced in one call; a node the file has no factors for is refused with the nodes it has.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from archsim.io import techlib
from archsim.model.errors import ArchsimError

CLASSES = ("logic", "sram", "analog", "wire")
_SCALARS = (int, float, np.float64, np.int64)
QUANTITIES = ("energy", "area", "delay")


@dataclass(frozen=True)
class NodeScaling:
    """Per-class factor tables of one circuit library, aligned with ``nodes``."""

    file: str
    nodes: tuple[int, ...]
    table: tuple            # ((class, quantity, factors), ...)

    def series(self, cls: str, quantity: str) -> np.ndarray:
        for c, q, f in self.table:
            if (c, q) == (cls, quantity):
                return np.asarray(f, dtype=float)
        have = sorted({f"{c}.{q}" for c, q, _ in self.table})
        raise ArchsimError(f"{self.file}: no factors '{cls}.{quantity}'; the file has: {', '.join(have)}")

    def _scalar_index(self, node: float) -> int | None:
        """:meth:`index` of one number (the first node within 1e-9, as ``np.isclose(rtol=0, atol=1e-9)``
        tests), None where none is (the array path then refuses it with its message)."""
        for i, x in enumerate(self.nodes):
            if abs(node - x) <= 1e-9:
                return i
        return None

    def index(self, node_nm, where: str) -> np.ndarray:
        """Positions of ``node_nm`` (a number or an array) in ``nodes``; refused where one is not listed
        (``where`` names the key, e.g. "architecture key 'node_nm'")."""
        n = np.asarray(node_nm, dtype=float)
        nodes = np.asarray(self.nodes, dtype=float)
        hit = np.isclose(n[..., None], nodes, rtol=0.0, atol=1e-9)
        if not hit.any(axis=-1).all():
            bad = np.atleast_1d(n)[~np.atleast_1d(hit.any(axis=-1))][0]
            raise ArchsimError(f"{where} = {bad:g} has no scaling factors in {self.file}; "
                               f"allowed: {', '.join(map(str, self.nodes))}")
        return hit.argmax(axis=-1)

    def factor(self, cls: str, quantity: str, node_nm, ref_nm, where: str = "architecture key 'node_nm'",
               where_ref: str = "reference key 'node'"):
        """``f(node) / f(ref)`` of class ``cls`` (a float for scalar nodes, else an array)."""
        if type(node_nm) in _SCALARS and type(ref_nm) in _SCALARS:    # one design: the same lookup in Python
            i, j = self._scalar_index(node_nm), self._scalar_index(ref_nm)
            if i is not None and j is not None:
                for c, q, f in self.table:
                    if c == cls and q == quantity:
                        return float(f[i]) / float(f[j])
        f = self.series(cls, quantity)
        out = f[self.index(node_nm, where)] / f[self.index(ref_nm, where_ref)]
        return float(out) if np.ndim(out) == 0 else out


@lru_cache(maxsize=16)
def node_scaling(library: str = "default") -> NodeScaling:
    rec = techlib.circuit("scaling", library)
    nodes = tuple(int(round(n)) for n in rec["nodes"])
    table = []
    for c in CLASSES:
        for q in QUANTITIES:
            if rec.has(f"{c}.{q}_scale"):
                f = tuple(rec[f"{c}.{q}_scale"])
                if len(f) != len(nodes) or min(f) <= 0:
                    raise ArchsimError(f"{rec.file}: key '{c}.{q}_scale' must list one factor > 0 per node "
                                       f"({len(nodes)} nodes); got {len(f)}")
                table.append((c, q, f))
    for c in CLASSES:
        for q in ("energy", "area"):
            if not rec.has(f"{c}.{q}_scale"):
                raise ArchsimError(f"{rec.file}: missing key '{c}.{q}_scale': every class ({', '.join(CLASSES)}) "
                                   f"needs energy and area factors")
    return NodeScaling(rec.file, nodes, tuple(table))


def circuit_class(rec: techlib.Record, key: str | None = None) -> str:
    """The class a circuit file (or one of its keys, ``key_class``) is scaled by."""
    cls = rec.field("class")
    if key is not None:
        cls = rec.field(f"key_class.{key}", cls)
    if cls not in CLASSES:
        where = f"key 'key_class.{key}'" if key is not None and rec.field(f"key_class.{key}") is not None else "key 'class'"
        raise ArchsimError(f"{rec.file}: {where} = {cls!r}; allowed: {', '.join(CLASSES)} (the circuit class its "
                           f"node scaling follows, techlib/circuits/scaling.yaml)")
    return cls


def scale(rec: techlib.Record, node_nm, library: str, key: str | None = None,
          ref_nm=None) -> tuple:
    """(energy, area) factors moving ``rec`` (or its ``key``) from its reference node to ``node_nm``, by its class."""
    cls = circuit_class(rec, key)
    ref = rec["node"] if ref_nm is None else ref_nm
    sc = node_scaling(library)
    w, wr = "architecture key 'node_nm'", f"{rec.file}: key 'node'"
    return sc.factor(cls, "energy", node_nm, ref, w, wr), sc.factor(cls, "area", node_nm, ref, w, wr)


def delay(node_nm, ref_nm, library: str = "default"):
    """Logic gate delay at ``node_nm`` relative to ``ref_nm``."""
    return node_scaling(library).factor("logic", "delay", node_nm, ref_nm)

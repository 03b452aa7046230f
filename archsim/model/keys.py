"""What an architecture key is: the field factory :func:`key` (default, meaning, unit, range, choices and
the steps that read it) and :class:`Key`, the description ``archsim list --keys`` prints.

:mod:`archsim.model.arch` declares every key of the :class:`~archsim.model.arch.Architecture` with them
and checks values against them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from archsim.model.choices import Choice


#: the steps of the flow that may read an architecture key
STEPS = ("mapping", "cost", "simulator")


def key(default, doc: str, *, unit: str = "", kind: str | None = None, lo: float | None = None,
        hi: float | None = None, choices: type[Choice] | None = None, steps: tuple[str, ...] = ()):
    """An architecture field: its default and, in metadata, meaning, unit, kind, allowed range and the steps
    that read it (``mapping``, ``cost``, ``simulator``: a key no step lists does not change that step's
    result; the sweep's mapping memo and the simulation cache rely on it)."""
    if kind is None:
        kind = ("choice" if choices is not None else "bool" if isinstance(default, bool) else
                "int" if isinstance(default, int) else "float" if isinstance(default, float) else "str")
    bad = [s for s in steps if s not in STEPS]
    if not steps or bad:   # pragma: no cover - a programming error in this module
        raise ValueError(f"key steps {steps!r}: allowed a non-empty subset of {STEPS}")
    return dataclasses.field(default=default, metadata=dict(doc=doc, unit=unit, kind=kind, lo=lo, hi=hi,
                                                            choices=choices, steps=tuple(steps)))


@dataclass(frozen=True)
class Key:
    """One architecture key as described by its field (what ``list --keys`` prints)."""

    name: str
    kind: str  # int, float, str, bool, choice, mesh, int_or_auto, float_or_auto
    default: Any
    doc: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    steps: tuple = ()  # the steps that read it: mapping, cost, simulator

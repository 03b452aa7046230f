"""What sizing optimizes and what it must meet: objectives, constraints, and the numbers in its sentences.

:data:`OBJECTIVES` names each objective's table column, sense and phrase; a :class:`Constraint` describes
one ``archsim size`` limit (``--min-fps``, ``--max-area-mm2``, ...): its column, sense, unit scale and the
phrases the explanations are built from; :class:`Constraints` holds the limits given and checks them;
:func:`satisfies` tells which designs of a results table meet one.  :func:`num` writes a number for a
sentence.  :mod:`archsim.explore.sizing` searches with them and :mod:`archsim.explore.sizing_report` reports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from archsim.model.errors import ParameterError

__all__ = ["OBJECTIVES", "Constraint", "CONSTRAINTS", "CONSTRAINT_BY_NAME", "Constraints", "satisfies", "num", "fill"]


#: objective -> (table column, sense, phrase)
OBJECTIVES = {
    "energy": ("energy_per_inference_J", "min", "least energy per inference"),
    "area": ("area_mm2", "min", "smallest area"),
    "fps": ("inferences_per_s", "max", "most inferences per second"),
    "accuracy": ("accuracy", "max", "highest accuracy"),
}


@dataclass(frozen=True)
class Constraint:
    name: str
    flag: str
    column: str
    sense: str          # ">=" or "<="
    scale: float        # table value x scale = the flag's unit
    goal: str           # "reaches {v} inferences/s"
    within: str         # "at {v} inferences/s or more"
    best: str           # "the fastest"
    reach: str          # "reaches {x}/s"
    at: str             # "{x} inferences/s": how a point's value reads as context


CONSTRAINTS = (
    Constraint("min_accuracy", "--min-accuracy", "accuracy", ">=", 1.0, "reaches accuracy {v}",
               "with accuracy {v} or more", "the most accurate", "reaches accuracy {x}", "accuracy {x}"),
    Constraint("min_fps", "--min-fps", "inferences_per_s", ">=", 1.0, "reaches {v} inferences/s",
               "at {v} inferences/s or more", "the fastest", "reaches {x}/s", "{x} inferences/s"),
    Constraint("max_energy_uj", "--max-energy-uj", "energy_per_inference_J", "<=", 1e6,
               "spends at most {v} uJ per inference", "within {v} uJ/inference", "the most frugal",
               "spends {x} uJ/inference", "{x} uJ/inference"),
    Constraint("max_area_mm2", "--max-area-mm2", "area_mm2", "<=", 1.0, "fits in {v} mm2",
               "within {v} mm2", "the smallest", "takes {x} mm2", "{x} mm2"),
)
CONSTRAINT_BY_NAME = {c.name: c for c in CONSTRAINTS}


def num(x: float, digits: int = 4) -> str:
    """A number for a sentence: 12,755 / 93.5 / 0.4946 / 1.2e-05."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a >= 1e4 or (a >= 100 and x == round(x)):
        return f"{x:,.0f}"
    if a >= 1e-3 or a == 0:
        return f"{x:.{digits}g}"
    return f"{x:.{digits - 1}e}"


def fill(template: str, **kw) -> str:
    """``template`` with each keyword's number written by :func:`num` (a :class:`Constraint`'s phrases)."""
    return template.format(**{k: num(v) for k, v in kw.items()})


@dataclass(frozen=True)
class Constraints:
    min_accuracy: float | None = None
    min_fps: float | None = None
    max_area_mm2: float | None = None
    max_energy_uj: float | None = None

    def active(self) -> list[tuple[Constraint, float]]:
        out = []
        for c in CONSTRAINTS:
            v = getattr(self, c.name)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ParameterError(f"{{param}} {v!r}: allowed a finite number", c.name)
                if c.sense == "<=" and v <= 0:
                    raise ParameterError(f"{{param}} {v:g}: allowed a positive number", c.name)
                out.append((c, float(v)))
        return out


def satisfies(df: pd.DataFrame, c: Constraint, limit: float) -> np.ndarray:
    x = df[c.column].to_numpy(dtype=float) * c.scale
    with np.errstate(invalid="ignore"):
        ok = x >= limit if c.sense == ">=" else x <= limit
    return ok & np.isfinite(x)

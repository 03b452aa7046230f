"""Pareto fronts: which rows of a table no other row beats.

A plain function over a numeric array, shared by the sizing search (:mod:`archsim.explore.sizing`, the
front of the feasible designs) and the benchmark plots (:mod:`archsim.report.plots`, the efficiency front).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def pareto_mask(values, senses: Sequence[str]) -> np.ndarray:
    """True for the rows of ``values`` (n x k) that no other row dominates.

    ``senses[j]`` is ``"min"`` or ``"max"``.  Row j dominates row i when it is at least as good on every
    objective and strictly better on one; equal rows do not dominate each other.  NaN counts as worst.
    """
    v = np.array(values, dtype=float, copy=True)
    if v.ndim != 2 or v.shape[1] != len(senses):
        raise ValueError("values must be n x len(senses)")
    for j, s in enumerate(senses):
        if s == "max":
            v[:, j] = -v[:, j]
        elif s != "min":
            raise ValueError(f"sense {s!r}: allowed min or max")
    v[np.isnan(v)] = np.inf
    n = len(v)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        le = np.all(v <= v[i], axis=1)
        lt = np.any(v < v[i], axis=1)
        if np.any(le & lt):
            keep[i] = False
    return keep

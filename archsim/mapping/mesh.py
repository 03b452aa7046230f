"""Mesh geometry for :mod:`archsim.mapping.layout`: where tiles sit, how far apart tile groups are, and
how bits flow between them.

Pure integer and array arithmetic, no architecture and no workload: the serpentine placement of tile
indices on the mesh (:func:`serpentine`), the near-square mesh for a tile count (:func:`auto_mesh`),
exact mean Manhattan distances between tile groups computed from histograms in time linear in the
tiles (:func:`mean_distance`, :func:`group_distances`), the split of an edge's bits over replicas
(:func:`shares`) and the greedy nearest-pairs-first transport that turns supplies and demands into
routes (:func:`transport`).  The layout module's docstring says how a mapping uses them.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["ceil_div", "serpentine", "auto_mesh", "mean_distance", "group_distances", "shares", "transport"]


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def serpentine(idx: np.ndarray, mesh_cols: int) -> np.ndarray:
    """Tile index -> (row, col) along a boustrophedon path: consecutive indices are neighbours."""
    r = idx // mesh_cols
    c = idx % mesh_cols
    c = np.where(r % 2 == 1, mesh_cols - 1 - c, c)
    return np.stack([r, c], axis=1)


def auto_mesh(tiles: int) -> tuple[int, int]:
    """Near-square mesh holding ``tiles``: ``r = ceil(sqrt(t))`` rows or one fewer, whichever wastes less."""
    r = max(1, math.isqrt(tiles - 1) + 1) if tiles > 1 else 1
    best = None
    for rr in (r - 1, r):
        if rr < 1:
            continue
        c = ceil_div(tiles, rr)
        cand = (rr * c - tiles, abs(c - rr), min(rr, c), max(rr, c))
        if best is None or cand < best:
            best = cand
    return best[2], best[3]


def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_i - b_j| over all pairs of integer coordinates.

    For integer points, E|A - B| = sum over unit gaps k of P(A <= k < B) + P(B <= k < A)
    = sum_k Fa(k) (1 - Fb(k)) + Fb(k) (1 - Fa(k)), with the empirical CDFs Fa, Fb: linear in the range.
    """
    lo = min(a.min(), b.min())
    hi = max(a.max(), b.max())
    fa = np.cumsum(np.bincount(a - lo, minlength=hi - lo + 1))[:-1] / a.size
    fb = np.cumsum(np.bincount(b - lo, minlength=hi - lo + 1))[:-1] / b.size
    return float((fa * (1 - fb) + fb * (1 - fa)).sum())


def group_distances(ga: list[np.ndarray], gb: list[np.ndarray]) -> np.ndarray:
    """Mean Manhattan distance over the tile pairs of every group of ``ga`` x every group of ``gb``.

    The distance separates into rows and columns, and a mean over pairs of ``|r - r'|`` is
    ``h_a^T |R - R'| h_b`` with ``h`` each group's histogram of rows (likewise columns): exact, and
    linear in the tiles instead of quadratic."""
    both = np.concatenate(ga + gb)
    lo = both.min(axis=0)
    span = both.max(axis=0) - lo + 1
    out = np.zeros((len(ga), len(gb)))
    for axis in (0, 1):
        n = int(span[axis])
        pos = np.arange(n)
        d = np.abs(pos[:, None] - pos[None, :]).astype(float)
        ha = np.stack([np.bincount(g[:, axis] - lo[axis], minlength=n) / len(g) for g in ga])
        hb = np.stack([np.bincount(g[:, axis] - lo[axis], minlength=n) / len(g) for g in gb])
        out += ha @ d @ hb.T
    return out


def shares(bits: int, weights: np.ndarray) -> np.ndarray:
    """``bits`` split over replicas in proportion to ``weights`` (integer, summing to ``bits``)."""
    n = int(weights.sum())
    per = np.full(n, bits // n, dtype=np.int64)
    per[: bits % n] += 1
    return np.add.reduceat(per, np.concatenate([[0], np.cumsum(weights)[:-1]]))


def transport(supply: np.ndarray, demand: np.ndarray, dist: np.ndarray) -> list[tuple[int, int, int]]:
    """Greedy transport, nearest pairs first: (src group, dst group, bits) with every demand met."""
    supply = supply.copy()
    demand = demand.copy()
    flows = []
    order = np.argsort(dist, axis=None, kind="stable")
    left = int(demand.sum())
    for flat in order:
        if left == 0:
            break
        j, i = divmod(int(flat), dist.shape[1])   # dist is src x dst
        q = min(supply[j], demand[i])
        if q > 0:
            supply[j] -= q
            demand[i] -= q
            left -= q
            flows.append((j, i, int(q)))
    return flows

"""Mesh geometry for :mod:`archsim.mapping.layout`: where tiles sit, how far apart tile groups are, and
how bits flow between them.

Pure integer and array arithmetic, no architecture and no workload: the serpentine placement of tile
indices on the mesh (:func:`serpentine`), the near-square mesh for a tile count (:func:`auto_mesh`),
exact mean Manhattan distances between tile groups computed from histograms in time linear in the
tiles (:func:`mean_distance`, :func:`group_distances`; for a whole mapping at once, every layer's replica
groups as row and column histograms, :func:`replica_groups`, and the same products from them,
:func:`tile_group_distances`), the split of an edge's bits over replicas (:func:`shares`) and the greedy
nearest-pairs-first transport that turns supplies and demands into routes (:func:`transport`).  The
layout module's docstring says how a mapping uses them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["ceil_div", "serpentine", "auto_mesh", "mean_distance", "group_distances", "shares", "transport",
           "replica_groups", "TileGroups", "tile_group_distances"]


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


@dataclass(frozen=True)
class TileGroups:
    """Tile groups as histograms of their tiles' rows and columns (each row summing to 1), indexed by coordinate
    (rows shifted by one, so the I/O port's row -1 has a place), with the smallest and largest coordinate."""

    hist: tuple            # (groups x (mesh rows + 1), groups x mesh cols)
    lo: tuple              # (row, col)
    hi: tuple
    counts: np.ndarray     # replicas per group

    @staticmethod
    def port(at: tuple[int, int], mesh: tuple[int, int]) -> "TileGroups":
        hist = (np.zeros((1, mesh[0] + 1)), np.zeros((1, mesh[1])))
        hist[0][0, at[0] + 1] = 1.0
        hist[1][0, at[1]] = 1.0
        return TileGroups(hist, tuple(at), tuple(at), np.array([1], dtype=np.int64))


def replica_groups(first: np.ndarray, arrays: np.ndarray, replication: np.ndarray, arrays_per_tile: int,
                   mesh: tuple[int, int]) -> list[TileGroups]:
    """The tile groups of every layer's replicas (one :class:`TileGroups` per layer), computed together.

    Replica ``k`` of a layer holds arrays ``k*arrays .. (k+1)*arrays - 1`` of the layer's run of tiles from
    ``first``; replicas on the same tiles form one group (in replica order), holding ``counts`` replicas."""
    first, arrays, replication = (np.asarray(v, dtype=np.int64) for v in (first, arrays, replication))
    n_layers = len(first)
    layer = np.repeat(np.arange(n_layers), replication)
    k = np.arange(int(replication.sum())) - np.repeat(np.cumsum(replication) - replication, replication)
    lo = first[layer] + (k * arrays[layer]) // arrays_per_tile
    hi = first[layer] + ((k + 1) * arrays[layer] - 1) // arrays_per_tile
    new = k == 0
    new[1:] |= (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])   # both grow with k: equal spans are neighbours
    at = np.flatnonzero(new)
    starts, ends, g_layer = lo[at], hi[at], layer[at]
    counts = np.diff(np.append(at, len(k)))
    size = ends - starts + 1
    g = len(starts)
    gid = np.repeat(np.arange(g), size)
    idx = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size) + np.repeat(starts, size)
    rc = serpentine(idx, mesh[1])
    hist = []
    for axis, width, shift in ((0, mesh[0] + 1, 1), (1, mesh[1], 0)):
        hist.append(np.bincount(gid * width + rc[:, axis] + shift, minlength=g * width).reshape(g, width)
                    / size[:, None])
    g_first = np.searchsorted(g_layer, np.arange(n_layers + 1))       # each layer's first group
    t_first = (np.cumsum(size) - size)[g_first[:-1]]                   # and its first tile in rc
    lo_rc = np.stack([np.minimum.reduceat(rc[:, a], t_first) for a in (0, 1)], axis=1)
    hi_rc = np.stack([np.maximum.reduceat(rc[:, a], t_first) for a in (0, 1)], axis=1)
    lo_rc, hi_rc = lo_rc.tolist(), hi_rc.tolist()
    return [TileGroups((hist[0][g0:g1], hist[1][g0:g1]), tuple(lo_rc[i]), tuple(hi_rc[i]), counts[g0:g1])
            for i, (g0, g1) in enumerate(zip(g_first[:-1].tolist(), g_first[1:].tolist()))]


def tile_group_distances(ga: TileGroups, gb: TileGroups) -> np.ndarray:
    """:func:`group_distances` of the groups' tiles from their histograms (the same products, bit for bit)."""
    out = []
    for axis, shift in ((0, 1), (1, 0)):
        lo = min(ga.lo[axis], gb.lo[axis])
        n = max(ga.hi[axis], gb.hi[axis]) - lo + 1
        s = lo + shift
        out.append(ga.hist[axis][:, s:s + n] @ _abs_diff(n) @ gb.hist[axis][:, s:s + n].T)
    return out[0] + out[1]


@lru_cache(maxsize=64)
def _abs_diff(n: int) -> np.ndarray:
    pos = np.arange(n)
    d = np.abs(pos[:, None] - pos[None, :]).astype(float)
    d.flags.writeable = False
    return d


def shares(bits: int, weights: np.ndarray) -> np.ndarray:
    """``bits`` split over replicas in proportion to ``weights`` (integer, summing to ``bits``): each replica
    takes ``bits // n``, the first ``bits % n`` one more, and a group of replicas the sum of theirs."""
    w = np.asarray(weights, dtype=np.int64)
    if len(w) == 1:
        return np.array([bits], dtype=np.int64)
    n = int(w.sum())
    start = np.cumsum(w) - w
    return w * (bits // n) + np.minimum(np.maximum(bits % n - start, 0), w)


def transport(supply: np.ndarray, demand: np.ndarray, dist: np.ndarray) -> list[tuple[int, int, int]]:
    """Greedy transport, nearest pairs first: (src group, dst group, bits) with every demand met.

    Pairs are taken in the order of ``argsort(dist, kind="stable")`` (ties by src, then dst).  With one
    source holding every demand (or one destination taking every supply) the greedy gives each other side its
    whole share in that order; otherwise only the pairs up to the greedy's last step are sorted (those at most
    as far as the ``4 (ns + nd)``-th nearest pair, then the rest if demand is left), a prefix of the same order,
    so the flows are those of the full sort."""
    supply = np.asarray(supply, dtype=np.int64)
    demand = np.asarray(demand, dtype=np.int64)
    ns, nd = dist.shape
    if ns == 1 and supply[0] >= demand.sum():
        order = np.argsort(dist[0], kind="stable")
        q = demand[order]
        keep = q > 0
        return list(zip([0] * int(keep.sum()), order[keep].tolist(), q[keep].tolist()))
    if nd == 1 and demand[0] >= supply.sum():
        order = np.argsort(dist[:, 0], kind="stable")
        q = supply[order]
        keep = q > 0
        return list(zip(order[keep].tolist(), [0] * int(keep.sum()), q[keep].tolist()))
    supply = supply.tolist()
    demand = demand.tolist()
    flat = np.ascontiguousarray(dist).ravel()
    k = min(flat.size, 4 * (ns + nd))
    if k < flat.size:
        t = np.partition(flat, k - 1)[k - 1]
        parts = [np.flatnonzero(flat <= t), np.flatnonzero(flat > t)]
    else:
        parts = [np.arange(flat.size)]
    flows: list = []
    left = [sum(demand)]
    for idx in parts:
        if left[0] == 0 or not idx.size:
            break
        flows += _greedy(idx[np.argsort(flat[idx], kind="stable")], supply, demand, nd, left)
    return flows


def _greedy(order: np.ndarray, supply: list, demand: list, nd: int, left: list) -> list:
    """The greedy steps along ``order`` (flat src x dst indices); updates supply, demand and left in place.

    Pairs whose source or destination is already exhausted carry nothing: they are dropped a block at a time
    in numpy, and the pairs left are stepped through one by one (each exhausts a source or a destination)."""
    flows = []
    js, ds = np.divmod(order, nd)
    alive_s = np.array([x > 0 for x in supply])
    alive_d = np.array([x > 0 for x in demand])
    block = max(64, 2 * (len(supply) + len(demand)))
    for at in range(0, len(order), block):
        jb, db = js[at:at + block], ds[at:at + block]
        keep = alive_s[jb] & alive_d[db]
        for j, i in zip(jb[keep].tolist(), db[keep].tolist()):
            q = min(supply[j], demand[i])
            if q > 0:
                supply[j] -= q
                demand[i] -= q
                left[0] -= q
                flows.append((j, i, q))
                alive_s[j] = supply[j] > 0
                alive_d[i] = demand[i] > 0
                if left[0] == 0:
                    return flows
    return flows

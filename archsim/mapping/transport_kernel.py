"""The routes of one network edge in one compiled pass: the split of its bits over the replicas of both sides
(:func:`archsim.mapping.mesh.shares`), the greedy nearest-pairs-first transport between the tile groups
(:func:`archsim.mapping.mesh.transport`), each route's hops and the edge's bit-hops and longest route.

The same integer steps as the numpy code, on the same order (every group pair sorted by distance with a stable
merge sort: ties by source group, then destination group), so the routes are the same; the hops are read from
the same distance matrix, and the bit-hops summed in route order from zero, as ``Edge`` sums them, so every float
is the same bit for bit (``tests/mapping/test_transport_kernel.py`` compares them with the numpy code's).  It
saves numpy's per-call costs, which dominate for the few groups of most edges (a sizing sweep of ResNet-50 maps
thousands of edges).  Compiled once and kept on disk (``cache=True``), as the simulator's kernels are.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _shares(bits, w):
    """:func:`archsim.mapping.mesh.shares`: ``bits`` over replicas, ``w`` replicas per group."""
    out = np.empty(w.size, dtype=np.int64)
    if w.size == 1:
        out[0] = bits
        return out
    n = 0
    for g in range(w.size):
        n += w[g]
    base = bits // n
    rem = bits % n
    start = 0
    for g in range(w.size):
        extra = rem - start
        if extra < 0:
            extra = 0
        if extra > w[g]:
            extra = w[g]
        out[g] = w[g] * base + extra
        start += w[g]
    return out


@njit(cache=True, nogil=True)
def edge_routes(bits, ns, nd, dist, src_port, dst_port):
    """Routes of an edge carrying ``bits`` from groups holding ``ns`` replicas each to groups holding ``nd``
    (``dist``: the groups' mean distances, ``len(ns) x len(nd)``); the port side (``src_port`` / ``dst_port``)
    is named replica -1, any other group by its first replica.

    Returns (source replicas, destination replicas, bits, hops) of the routes in the greedy's order, the sum of
    bits x hops in that order and the largest hops (0.0 without routes)."""
    supply = _shares(bits, ns)
    demand = _shares(bits, nd)
    n_s, n_d = dist.shape
    first_s = np.empty(n_s, dtype=np.int64)
    first_d = np.empty(n_d, dtype=np.int64)
    acc = 0
    for j in range(n_s):
        first_s[j] = -1 if src_port else acc
        acc += ns[j]
    acc = 0
    for i in range(n_d):
        first_d[i] = -1 if dst_port else acc
        acc += nd[i]
    left = 0
    for i in range(n_d):
        left += demand[i]
    cap = n_s + n_d
    rs = np.empty(cap, dtype=np.int64)
    rd = np.empty(cap, dtype=np.int64)
    rq = np.empty(cap, dtype=np.int64)
    rh = np.empty(cap, dtype=np.float64)
    k = 0
    if left > 0:
        flat = dist.ravel()
        order = np.argsort(flat, kind="mergesort")     # stable: ties by flat index (source, then destination)
        for t in range(order.size):
            f = order[t]
            j = f // n_d
            i = f - j * n_d
            q = supply[j] if supply[j] < demand[i] else demand[i]
            if q > 0:
                supply[j] -= q
                demand[i] -= q
                left -= q
                if k == cap:              # each route exhausts a source or a destination: never reached
                    break
                rs[k] = first_s[j]
                rd[k] = first_d[i]
                rq[k] = q
                rh[k] = flat[f]
                k += 1
                if left == 0:
                    break
    bit_hops = 0.0
    max_hops = 0.0
    for r in range(k):
        bit_hops += rq[r] * rh[r]
        if r == 0 or rh[r] > max_hops:
            max_hops = rh[r]
    return rs[:k], rd[:k], rq[:k], rh[:k], bit_hops, max_hops


def warm() -> None:
    """Load the kernel now (numba's start-up, about half a second of CPU once per process): a sweep's process pool
    calls it before forking, so its workers inherit the loaded kernel instead of each paying the start-up."""
    edge_routes(2, np.ones(2, dtype=np.int64), np.ones(2, dtype=np.int64), np.zeros((2, 2)), False, False)

"""Pipeline timing: stage latency per layer, throughput, latency per inference.

Every weighted layer is a pipeline stage.  A stage processes its input vectors
one after another on each replica, so its time per inference is
``ceil(vectors / replication) * t_vector``.  In steady state a new inference
enters every ``max(stage)`` seconds.  The latency of one inference is the
longest path through the layer graph, each stage counted in full plus the
network transfer into it (hops x router delay + serialization over a link):
an upper bound, since real tiles start a layer once its first rows arrive.
"""
from __future__ import annotations

import numpy as np

from archsim.mapping.layout import Mapping


def stage_latencies(m: Mapping, t_vector: float) -> np.ndarray:
    return np.array([l.vectors_per_replica * t_vector for l in m.layers], dtype=float)


def noc_latency(m: Mapping, router_cycles: float) -> dict:
    """Transfer time per edge (src, dst) in seconds."""
    a = m.arch
    return {(e.src, e.dst): (e.hops * router_cycles + e.bits / a.link_width_bits) / a.clock_Hz for e in m.edges}


def critical_path(m: Mapping, stages: np.ndarray, transfer: dict) -> float:
    """Longest input-to-output path: stage times plus the transfers between them."""
    finish: dict[str, float] = {"input": 0.0}
    into: dict[str, list] = {}
    for e in m.edges:
        into.setdefault(e.dst, []).append(e.src)
    for l, t in zip(m.layers, stages):  # layers are in topological order
        start = max((finish[s] + transfer[(s, l.layer)] for s in into.get(l.layer, ["input"])), default=0.0)
        finish[l.layer] = start + t
    return max(finish[s] + transfer[(s, "output")] for s in into["output"])

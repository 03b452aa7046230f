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

from archsim.cost.components import Prices, lut_entry
from archsim.mapping.layout import Mapping
from archsim.model.arch import Accumulation, Architecture, CostModel


def t_vector(arch: Architecture, prices: Prices) -> float:
    """Seconds for one input vector through one array (all arrays of a layer work in parallel)."""
    if arch.cost_model == CostModel.LUT:
        return lut_entry(prices, "vmm")[1]
    t_adc = arch.cols_per_adc / arch.adc_rate_Hz
    if arch.input_accumulation == Accumulation.ANALOG:
        # pulses integrate on the column, then one conversion sweep; a double-buffered
        # sample-and-hold lets the sweep of one vector overlap the integration of the next
        return max(arch.input_pulses * prices.t_read, t_adc)
    return arch.input_pulses * max(prices.t_read, t_adc)



def vector_time(arch: Architecture, prices: Prices, task: str = "inference") -> float:
    """Seconds per input vector through a layer's arrays for ``task`` (training: forward, backward and
    update from the device's tile table, one after another)."""
    if task == "training":
        return sum(lut_entry(prices, op)[1] for op in ("vmm", "mvm", "opu"))
    return t_vector(arch, prices)


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

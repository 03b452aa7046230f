"""Monte Carlo tile simulator: a weight matrix programmed on crossbar arrays, read with noise.

Usage::

    from archsim.sim import tilesim
    lm = tilesim.layer_map(K, N, arch)                     # or a LayerMap from archsim.map_workload
    pm = tilesim.ProgrammedMatrix.program(W, lm, arch, techlib.device(arch.device),
                                          tilesim.SimConfig(time_s=86400), seed=(seed, trial, layer))
    pm = pm.calibrate(X_calibration)                       # input range and ADC ranges
    Y = pm.matmul(X, key=(batch,), first_row=row0)         # ~ X @ W, with every modelled error

The matrix is split exactly as ``LayerMap.blocks`` enumerates the arrays; each array digitizes its
own partial sums.  :mod:`.programmed` states the model (quantization, mapping, ADC policies, read
noise fast path), :mod:`archsim.model.device` the typed device with its error laws,
:mod:`.kernels` the Numba kernels, their numpy twins and the counter-based random numbers, and
:mod:`.reference` the plain-numpy twin of the whole pipeline.
"""
from __future__ import annotations

import techlib

from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from archsim.mapping.layout import LayerMap, map_workload
from archsim.model.workload import GraphBuilder
from archsim.sim.tilesim.config import ADC_RANGES, SimConfig
from archsim.sim.tilesim.programmed import ProgrammedMatrix
from archsim.sim.tilesim.reference import reference_matmul

__all__ = ["ADC_RANGES", "ProgrammedMatrix", "SimConfig",
           "layer_map", "reference_matmul"]


def layer_map(K: int, N: int, arch: Architecture, device: techlib.Record | None = None, groups: int = 1,
              name: str = "fc") -> LayerMap:
    """The :class:`LayerMap` of one ``K x N`` matrix (``groups`` groups of ``K x N/groups``) on ``arch``.

    Built through the public path (a one-layer workload and :func:`archsim.map_workload`), so the split
    is the one the cost model prices."""
    for label, v in (("K", K), ("N", N), ("groups", groups)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ArchsimError(f"layer_map: {label} = {v!r} is not allowed; allowed an integer >= 1")
    if N % groups:
        raise ArchsimError(f"layer_map: groups = {groups} must divide N = {N}")
    if groups == 1:
        b = GraphBuilder(f"{name}_{K}x{N}", (K,))
        b.dense(name, N, relu=False, bias=False)
    else:
        b = GraphBuilder(f"{name}_{K}x{N}_g{groups}", (K * groups, 1, 1))
        b.conv(name, N, 1, groups=groups, relu=False)
    m = map_workload(b.build(), arch.replace(replicate=False, mesh="auto", tiles="auto"), device)
    return m.layer(name)

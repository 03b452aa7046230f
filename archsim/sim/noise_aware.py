"""Noise-aware training: the device's programming error, carried into weight units, injected while training.

A weight ``w`` of a layer is stored as the tile simulator stores it (:mod:`archsim.sim.tilesim`):
quantized with the layer's scale ``w_scale = max |W|`` to a code, cut into slices of ``b`` bits, each slice
value ``s`` programmed to ``g_min + s dg`` (``dg = (g_max - g_min) / (2^b - 1)``) in every array of its
pair (differential: the other array of the pair holds ``g_min``) or in one offset array.  A cell programmed
to ``g`` lands at ``g + sigma_prog(g) N(0, 1)`` and, with device-to-device variation, is scaled by
``1 + d2d N(0, 1)``: independent errors, so the stored weight's error is Gaussian with variance::

    sigma_w^2 = sum over the weight's cells (copy c, slice s) of
                (2^(b s) w_scale / w_code_max)^2 (sigma_prog(g_cs)^2 + (d2d g_cs)^2) / dg^2

(the sign of the pair's arrays does not change a variance).  :func:`weight_sigma` computes it from the
device's own law (relative or absolute, whatever ``programming_error.model`` says), with the cells'
quantized targets; :func:`programming_noise` returns the hook :func:`archsim.sim.train.fit` takes
(``weight_noise``): every training step draws ``w + sigma_w(w) N(0, 1)`` for every weighted layer, the
loss and gradients are taken on those weights and the gradient updates the clean ones.  ``scale``
multiplies ``sigma_w`` (training with a little more noise than the chip has is a common margin).

What is left out on purpose: quantization (the straight-through weights stay continuous), read noise
(fresh on every read, not a property of the programmed weights), drift and stuck cells.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from archsim.mapping.layout import Mapping
from archsim.model.errors import ArchsimError
from archsim.model.workload import Workload
from archsim.sim.tilesim.support import slice_codes, weight_code_params, weight_scale

__all__ = ["weight_sigma", "programming_noise"]


def weight_sigma(W: np.ndarray, m: Mapping) -> np.ndarray:
    """Standard deviation of each stored weight of ``W`` (any shape, one layer) in weight units, from the
    mapping's device (programming error and device-to-device variation), split as the mapping splits it
    (its architecture and bits per cell; module docstring)."""
    arch, dm, bpc = m.arch, m.device, m.bits_per_cell
    W = np.asarray(W, dtype=np.float64)
    if dm.exact:
        return np.zeros_like(W)
    _, wmax, _, slices = weight_code_params(arch, bpc)
    w_scale = weight_scale(W)
    codes = slice_codes(W, w_scale, arch, bpc)               # (copies, slices, *W.shape)
    dg = (dm.g_max - dm.g_min) / float((1 << bpc) - 1)
    g = dm.g_min + codes.astype(np.float64) * dg
    var_g = dm.prog.sigma(g) ** 2 + (dm.d2d * g) ** 2
    per_slice = (np.array([float(1 << (bpc * s)) for s in range(slices)]) * (w_scale / wmax) / dg) ** 2
    var_w = np.tensordot(per_slice, var_g.sum(axis=0), axes=(0, 0))
    return np.sqrt(var_w)


def programming_noise(workload: Workload, m: Mapping, scale: float = 1.0) -> Callable[[dict, np.random.Generator], dict]:
    """The ``weight_noise`` hook of :func:`archsim.sim.train.fit`: ``params -> params`` with every weighted
    layer's weights drawn as ``w + scale * sigma_w(w) N(0, 1)`` (:func:`weight_sigma`), biases untouched
    (they are added digitally)."""
    if not (isinstance(scale, (int, float)) and not isinstance(scale, bool) and np.isfinite(scale) and scale >= 0):
        raise ArchsimError(f"noise scale = {scale!r} is not allowed; allowed a finite number >= 0")
    keys = [f"{l.name}.weight" for l in workload.weighted_layers()]

    def draw(params: dict, rng: np.random.Generator) -> dict:
        out = dict(params)
        for k in keys:
            if k not in params:
                continue
            w = params[k]
            sig = weight_sigma(w, m) * scale
            out[k] = (w + sig * rng.standard_normal(w.shape)).astype(w.dtype)
        return out

    return draw

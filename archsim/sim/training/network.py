"""A chain of dense layers whose weights live on analog tiles, read through converters.

Reads (forward ``x @ W``, backward ``d @ W.T``) use the converter model of the tile simulator
(:mod:`archsim.sim.tilesim`) in the form a training step allows (no calibration batch: ranges are set
per vector): each input vector is scaled by its largest magnitude (Gokmen et al. 2017's noise
management) and quantized to ``input_bits`` (signed: ``2^(b-1) - 1`` magnitude codes); the matrix is cut
into row blocks of ``arch.rows`` (one array each; with ``parallel_rows`` below ``rows`` each array is read
in chunks of that many rows, each chunk converted on its own), each block's column sums get the device's read noise
(``sigma(g)`` of its conductance, summed in variance over the rows) and are digitized by an ADC of
``adc_bits`` over a signed full scale of ``adc_full_scale x rows_of_block`` (in units of full input on a
device at its upper bound; sums beyond it clip); the blocks are added digitally and scaled back.
``converters=False`` reads exactly (the float reference of the pipeline).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.model.device import Device
from archsim.model.errors import ArchsimError
from archsim.model.workload import Workload
from archsim.sim.training.tile import AnalogTile, read_noise_normals
from archsim.sim.tilesim.rng import mix64_py

#: element-wise activation kinds the chain handles: forward and derivative from the output
ACTIVATIONS = {
    None: (lambda z: z, lambda y: np.ones_like(y)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda y: (y > 0).astype(y.dtype)),
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda y: y * (1.0 - y)),
}


@dataclass(frozen=True)
class DenseSpec:
    name: str
    K: int
    N: int
    bias: bool
    activation: str | None


def dense_chain(workload: Workload) -> list[DenseSpec]:
    """The dense layers of a chain workload with their activations; anything else is refused."""
    specs: list[DenseSpec] = []
    for lay in workload.layers():
        if lay.kind in ("input", "flatten", "identity"):
            continue
        if lay.kind == "dense":
            specs.append(DenseSpec(lay.name, lay.K, lay.N, bool(lay.has_bias), lay.activation))
            continue
        if lay.kind in ("relu", "sigmoid") and specs and specs[-1].activation is None:
            s = specs[-1]
            specs[-1] = DenseSpec(s.name, s.K, s.N, s.bias, lay.kind)
            continue
        raise ArchsimError(f"workload {workload.name}: analog training handles chains of dense layers with relu or "
                           f"sigmoid activations; layer '{lay.name}' is of kind '{lay.kind}'")
    if not specs:
        raise ArchsimError(f"workload {workload.name}: no dense layer to train")
    if any(len(list(workload.graph.successors(l.name))) > 1 for l in workload.layers()):
        raise ArchsimError(f"workload {workload.name}: analog training handles a chain (no branches)")
    return specs


@dataclass(frozen=True)
class Periphery:
    """Converters of a training read (see the module docstring)."""

    converters: bool
    input_bits: int
    adc_bits: int
    adc_full_scale: float
    rows: int
    read_noise: bool
    read_rows: int = 0          # rows converted at once (``parallel_rows``); 0: all ``rows`` of an array

    def chunks(self, K: int):
        """``(r0, r1)`` of every conversion: arrays of ``rows`` rows, each read ``read_rows`` rows at a time."""
        step = self.read_rows if 0 < self.read_rows < self.rows else self.rows
        for a0 in range(0, K, self.rows):
            a1 = min(K, a0 + self.rows)
            for r0 in range(a0, a1, step):
                yield r0, min(a1, r0 + step)


def read_sigma(tile: AnalogTile, device: Device) -> np.ndarray | None:
    """Read-noise standard deviation of every device in normalized state units (None: no noise); kept
    on the tile until its states change (a step's forward and backward reads of a layer share it)."""
    if device.read.is_none:
        return None
    key = (tile._version, id(device))
    cached = getattr(tile, "_sigma_cache", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    s = _read_sigma(tile, device)
    tile._sigma_cache = (key, s)
    return s


def _read_sigma(tile: AnalogTile, device: Device) -> np.ndarray:
    span = device.g_max - device.g_min

    def sig(X):
        g = device.g_min + (X - tile.bm) / (tile.bp - tile.bm) * span
        return device.read.sigma(g) / span * 2.0

    s = sig(tile.Xp)
    if tile.pair:
        s = 0.5 * np.hypot(s, sig(tile.Xm))
    return s


def read(view, x: np.ndarray, per: Periphery, transpose: bool, stream: int, row0: int,
         use_numba: bool = True) -> np.ndarray:
    """``x @ W`` (``transpose``: ``x @ W.T``) of a learner's ``view = (W, gain, sigma)`` through the
    converters (``sigma``: read-noise spread per device in units of ``gain``, or None)."""
    W, gain, sig = view
    if transpose:
        W = W.T
        sig = None if sig is None else sig.T
    if not per.converters:
        return x @ W
    xmax = np.max(np.abs(x), axis=1, keepdims=True)
    xmax[xmax == 0] = 1.0
    lx = float((1 << (per.input_bits - 1)) - 1)
    u = np.rint(x / xmax * lx) / lx
    Wn = W / gain
    if not per.read_noise:
        sig = None
    la = float((1 << (per.adc_bits - 1)) - 1)
    out = np.zeros((x.shape[0], W.shape[1]))
    K = W.shape[0]
    for rb, (r0, r1) in enumerate(per.chunks(K)):
        z = u[:, r0:r1] @ Wn[r0:r1]
        if sig is not None:
            var = (u[:, r0:r1] ** 2) @ (sig[r0:r1] ** 2)
            z += np.sqrt(var) * read_noise_normals(mix64_py(stream + rb), row0, x.shape[0], W.shape[1], use_numba)
        step = per.adc_full_scale * (r1 - r0) / la
        out += np.clip(np.rint(z / step), -la, la) * step
    return out * xmax * gain

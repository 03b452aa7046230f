"""Activity measured from data: input bit density per bit plane and the programmed conductances.

:func:`measure_activity` runs the exact forward pass of a mapped network with weights on a
calibration batch and returns the :class:`~archsim.cost.events.Activity` that
:func:`archsim.cost.events.events` scales its counts with, one value per weighted layer in mapping
order.  Both statistics follow the Monte Carlo simulator (:mod:`archsim.sim.tilesim.programmed`):

Inputs.  Each weighted layer's crossbar inputs (the im2col rows of a convolution, padding zeros
included, since the arrays see them; the vector of a dense layer) are quantized per group with the
input range of the batch, ``x_max = max |x|``: unsigned ``rint(clip(x / x_max (2^n - 1), 0, 2^n - 1))``
when the batch is non-negative, otherwise sign and magnitude, ``rint(clip(x / x_max (2^(n-1) - 1)))``
whose magnitude is pulsed and whose sign goes on the pulse voltage (as the simulator does: the sign
costs no pulse, so the top bit plane of a signed input is always 0 and is counted as such, because
the ``input_pulses`` pulses are still applied).  The magnitude is cut into ``arch.input_pulses``
digits of ``dac_bits`` bits, least significant first; the density of pulse ``p`` is the fraction of
digits that are non-zero (a cell conducts during that pulse).  With ``dac_bits = 1`` that is the
fraction of 1 bits of bit plane ``p``.  ``input_bit_density`` is the mean over the pulses.

Conductances.  Each group's ``K x N/groups`` matrix is quantized with its own scale ``max |W|``
(:func:`~archsim.sim.tilesim.programmed.slice_codes`: magnitude bits over ``bits_per_cell`` slices,
differential pair or offset); a cell at level ``s`` sits at ``g_min + s / (2^b - 1) (g_max - g_min)``,
so its fraction of the way from ``g_min`` to ``g_max`` is ``s / (2^b - 1)``.  The layer's value is
the mean over all its used cells (``LayerMap.cells_used``: both arrays of a pair, every slice).
Target conductances: programming errors, drift and stuck cells are left out.

Memory: the batch runs in chunks of images, the hook handles a chunk's rows in pieces of at most
:data:`ROW_ELEMENTS` values, and only counts are kept.  Two passes: the first finds each layer's
input range (over the whole batch, as a calibration would), the second counts digits.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from archsim.cost.events import Activity
from archsim.mapping.layout import Mapping
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError, ParameterError
from archsim.model.workload import Workload
from archsim.sim import forward

#: values of one piece of a layer's inputs (or weights) quantized at once
ROW_ELEMENTS = 1 << 22
#: calibration images measured by default
DEFAULT_SAMPLES = 256


def digit_counts(cols: np.ndarray, x_max: float, signed: bool, arch: Architecture) -> np.ndarray:
    """Non-zero digits per pulse (LSB first) of the inputs ``cols`` (rows, K), quantized as above."""
    n, b, P = arch.input_bits, arch.dac_bits, arch.input_pulses
    top = (1 << (n - 1)) - 1 if signed else (1 << n) - 1
    scale = top / x_max if x_max > 0 else float(top)   # the simulator's range is 1 when x_max = 0
    lo = -float(top) if signed else 0.0
    counts = np.zeros(P, dtype=np.int64)
    rows = max(1, ROW_ELEMENTS // max(1, cols.shape[1]))
    mask = (1 << b) - 1
    for r0 in range(0, cols.shape[0], rows):
        t = np.asarray(cols[r0:r0 + rows], dtype=np.float64) * scale
        m = np.abs(np.rint(np.clip(t, lo, float(top)))).astype(np.int64)
        for p in range(P):
            counts[p] += np.count_nonzero((m >> (b * p)) & mask)
    return counts


def measure_inputs(wl: Workload, arch: Architecture, x: np.ndarray, layers=None, chunk: int | None = None):
    """``(density, planes)`` of ``wl``'s weighted layers (``layers``: names, default all, in that order) on
    the batch ``x``: ``density`` (layers,) the mean over pulses, ``planes`` (layers, pulses) LSB first."""
    names = list(layers) if layers is not None else [l.name for l in wl.weighted_layers()]
    index = {n: i for i, n in enumerate(names)}
    mats: dict = {}
    rng: dict = {}          # (layer, group) -> [max |x|, any negative]
    counts = np.zeros((len(names), arch.input_pulses), dtype=np.int64)
    digits = np.zeros(len(names), dtype=np.int64)
    phase = ["range"]

    def hook(layer, cols, group):
        k = (layer.name, group)
        if phase[0] == "range":
            r = rng.setdefault(k, [0.0, False])
            if cols.size:
                r[0] = max(r[0], float(np.max(np.abs(cols))))
                r[1] = r[1] or bool((cols < 0).any())
        elif layer.name in index:
            x_max, signed = rng[k]
            if signed and arch.input_bits < 2:
                raise ArchsimError(f"layer '{layer.name}': signed inputs need input_bits >= 2 ({arch.source})")
            counts[index[layer.name]] += digit_counts(cols, x_max, signed, arch)
            digits[index[layer.name]] += cols.size
        if layer.name not in mats:
            mats[layer.name] = forward.weight_matrix(layer, cols.dtype)
        return cols @ mats[layer.name][group]

    x = np.asarray(x)
    if len(x) == 0:
        raise ArchsimError(f"workload {wl.name}: measuring activity needs at least one input")
    forward.run(wl, x, hook, chunk=chunk)
    phase[0] = "count"
    forward.run(wl, x, hook, chunk=chunk)
    planes = counts / np.maximum(digits, 1)[:, None]
    return planes.mean(axis=1), planes


def cell_fractions(W: np.ndarray, arch: Architecture, bits_per_cell: int) -> np.ndarray:
    """Mean ``(g - g_min) / (g_max - g_min)`` of the cells of each copy (G+, G- or the offset array) when
    the matrix ``W`` ((K, N) or (groups, K, N/groups)) is programmed; each group has its own scale."""
    from archsim.sim.tilesim.support import slice_codes, weight_scale   # here: tilesim loads Numba
    W3 = np.asarray(W, dtype=np.float64)
    W3 = W3[None] if W3.ndim == 2 else W3
    top = float((1 << bits_per_cell) - 1)
    total = None
    cells = 0
    for Wg in W3:
        scale = weight_scale(Wg)
        rows = max(1, ROW_ELEMENTS // max(1, Wg.shape[1]))
        for r0 in range(0, Wg.shape[0], rows):
            codes = slice_codes(Wg[r0:r0 + rows], scale, arch, bits_per_cell)   # (copies, slices, rows, N)
            s = codes.reshape(codes.shape[0], -1).sum(axis=1, dtype=np.int64)
            total = s if total is None else total + s
            cells += codes[0].size
    return total / (max(cells, 1) * top)


def conductance_fractions(m: Mapping) -> np.ndarray:
    """Mean conductance fraction of every weighted layer of ``m`` (mapping order)."""
    wl = m.workload
    out = []
    for lm in m.layers:
        lay = wl.layer(lm.layer)
        W = forward.weight_matrix(lay, np.float64)
        out.append(float(cell_fractions(W, m.layer_arch(lay.name), m.layer_bits_per_cell(lay.name)).mean()))
    return np.array(out)


def measure_activity(m: Mapping, x: np.ndarray, source: str | None = None, chunk: int | None = None) -> Activity:
    """The :class:`Activity` of mapping ``m`` (whose workload carries weights) on the calibration batch
    ``x`` (B, *input shape): per weighted layer the input bit density (and its bit planes) and the mean
    conductance fraction.  Deterministic."""
    wl = m.workload
    need_weights(wl)
    density, planes = measure_inputs(wl, m.arch, x, [lm.layer for lm in m.layers], chunk)
    g = conductance_fractions(m)
    return Activity(tuple(float(v) for v in density), tuple(float(v) for v in g),
                    source or f"measured on {len(x)} inputs", tuple(tuple(float(v) for v in p) for p in planes))


def need_weights(wl: Workload) -> None:
    if not wl.has_weights:
        raise ParameterError(f"{{param}} data: network {wl.name} has no weights; measuring activity needs a "
                             f"network with weights (a built-in with shipped weights or an ONNX model with its own)", "activity")


def with_weights(wl: Workload, shipped: bool = True) -> Workload:
    """``wl`` as is when it carries weights, else (``shipped``: a built-in) with its shipped trained
    weights; fails (one line) without."""
    if wl.has_weights or not shipped:
        need_weights(wl)
        return wl
    import workloads as W
    try:
        if W.weights_path(wl.name).exists():
            return W.with_weights(wl)
    except ArchsimError:
        pass
    need_weights(wl)
    return wl


def calibration_inputs(wl: Workload, samples: int = DEFAULT_SAMPLES, data=None) -> tuple[np.ndarray, str]:
    """``(x, what)``: the batch to measure activity on and a phrase naming it.  ``data``: an array of
    inputs, or an ``.npz`` path (:func:`archsim.io.data.load_npz`); without it the TRAIN split of the
    network's data set (never the test set)."""
    from archsim.io import data as D
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ParameterError(f"{{param}} {samples!r}: allowed an integer >= 1 (calibration inputs to measure on)",
                             "activity_samples")
    if data is None:
        if wl.dataset not in D.DATASETS:
            raise ParameterError(f"{{param}} data: network {wl.name} has no data set of its own "
                                 f"('{wl.dataset or 'none'}'); give {{param}} (an .npz file or an input array)", "activity", "data")
        x, _ = D.for_workload(wl, "train", limit=int(samples))
        return x, f"{len(x)} images of {wl.dataset} (train split)"
    if isinstance(data, (str, Path)):
        x, _ = D.load_npz(data, workload=wl, limit=int(samples))
        return x, f"{len(x)} inputs of {Path(data).name}"
    x = np.asarray(data)[: int(samples)]
    return x, f"{len(x)} given inputs"


def activity_table(m: Mapping, act: Activity):
    """One row per weighted layer: input bit density and conductance fraction (what was priced)."""
    import pandas as pd
    n = len(m.layers)
    return pd.DataFrame({"layer": [lm.layer for lm in m.layers],
                         "input_bit_density": act.per_layer("input_bit_density", n),
                         "conductance_fraction": act.per_layer("mean_conductance_fraction", n)})

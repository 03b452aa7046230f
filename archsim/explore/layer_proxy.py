"""A fidelity floor for networks too large to simulate whole: per-layer analog error, combined.

Simulating every array of ResNet-50 at its own 224 x 224 input costs about a minute per design and image,
so the whole-network check of :mod:`archsim.explore.fidelity` shrinks such inputs to 32 x 32: not the same
network (layer 4 sees 1 x 1 maps and its ADC ranges are set on two vectors), and with seeded weights its
top-1 agreement with float is near 0 on every design.  This module checks the **full-size** network:

1. **Each layer's error, simulated on its own arrays and its own inputs.**  A float pass of the full-size
   network (its weights, or seeded ones; :data:`IMAGES` inputs at the native size) records a seeded sample
   of every weighted layer's real input vectors (:data:`VECTORS`), and a pass over separate calibration
   inputs as many more.  Each layer is programmed on the design's arrays restricted to :data:`COLUMNS` of
   its columns (:func:`_column_sample`: every row block, hence the same conversions, DAC and ADC ranges per
   array; the column holding the layer's largest weight is always in, so the weight codes are the whole
   layer's), calibrated on the calibration vectors and read on the scored ones with every error source of
   the full simulator (the chips of :mod:`archsim.sim.accuracy`).  Its local error is
   ``e_l = ||y_analog - y_float|| / ||y_float||`` on exact inputs, with its sampling error.
2. **Combination at unit gain.**  ``E = sqrt(sum_l e_l^2)``: independent layer errors, each reaching the
   output at the relative size it has where it arises.  The floor is on the output SNR ``-20 log10 E``.

Why unit gain: on the trained networks shipped, a layer's relative error reaches the logits smaller
(weight noise injected in one layer of LeNet-5, fashion_vgg or mnist_cnn5 came out at 0.4 to 0.9 of its
size), so E bounds their logit error from above; the full simulation of the same designs confirms it
(:data:`BAND`).  The seeded networks are not used for the gain: a seeded ResNet-50 has no trained
margins and amplifies a 1% error in conv1 to 70% at its logits, which says nothing of a trained one.
What stays an assumption: that a trained ResNet-50 does not amplify its layers' errors either.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.mapping.layout import map_workload
from archsim.model import arch as _arch
from archsim.model.weights import weight_matrix
from archsim.model.workload import GraphBuilder, Workload

#: input vectors sampled per weighted layer: scored, and (separately) for calibration
VECTORS = 256
#: columns of each layer programmed and read (at most one array's width)
COLUMNS = 32
#: the standard normal's 97.5% quantile (two-sided 95% intervals)
Z975 = 1.959963984540054
#: full-size images of the scored float pass (each dense layer reads one vector per image); calibration:
#: the whole-network check's (:data:`archsim.explore.fidelity.ACCURACY_CALIB` training images for a trained
#: network, :data:`~archsim.explore.fidelity.FIDELITY_CALIB` seeded inputs otherwise)
IMAGES = 4
#: the proxy's band: the full simulation's relative logit error over E, lowest and highest, on every design
#: validated with E <= VALID_E (LeNet-5, fashion_vgg, mnist_cnn5 with their trained weights; 11 designs
#: across 7 devices each, docs/explore.md "The layer proxy"; tests/explore/test_layer_proxy.py checks it)
BAND = (0.6, 1.0)
#: the largest E validated within BAND (above it the full simulation reached 1.03 E: errors compound)
VALID_E = 0.36
#: the lowest floor allowed (dB): the E it stands for is within VALID_E
MIN_FLOOR_DB = 10.0
#: default floor, output SNR in dB (E <= 0.1): on the trained networks shipped, every validated design with
#: E <= 0.1 kept its accuracy within one point of float (the accuracy floor of their own checks), one at
#: E = 0.12 lost exactly one point (fashion_vgg) and one at E = 0.17 lost 1.2 (mnist_cnn5)
DEFAULT_MIN_SNR_DB = 20.0


def snr_db(err: float) -> float:
    """Output SNR in dB of a relative logit error: ``-20 log10(err)`` (inf at 0)."""
    return float("inf") if err <= 0 else float(-20.0 * np.log10(err))


@dataclass
class ProxyInputs:
    """What every design of a search is scored on, prepared once: the full-size network (with weights), the
    scored images' float logits and every weighted layer's sampled input vectors."""
    workload: Workload
    x: np.ndarray
    z: np.ndarray                                     # float logits of x
    test: dict                                        # layer -> (vectors, K) float32 from x
    cal: dict                                         # layer -> (vectors, K) float32 from the calibration images
    seed: int


def _sampler(wl: Workload, per_layer: int, seed, store: dict):
    """A matmul hook returning exact products and keeping a seeded sample of each layer's input vectors."""
    index = {l.name: i for i, l in enumerate(wl.weighted_layers())}
    calls: dict = {}

    def hook(layer, cols, group):
        if group == 0:
            n = calls.get(layer.name, 0)
            calls[layer.name] = n + 1
            rng = np.random.default_rng([*seed, index[layer.name], n])
            take = np.sort(rng.choice(cols.shape[0], size=min(per_layer, cols.shape[0]), replace=False))
            store.setdefault(layer.name, []).append(np.array(cols[take], dtype=np.float32))
        return cols @ weight_matrix(layer, cols.dtype)[group]
    return hook


def _collect(wl: Workload, x: np.ndarray, seed: list) -> tuple[np.ndarray, dict]:
    from archsim.sim import forward
    store: dict = {}
    z = forward.run(wl, x, matmul=_sampler(wl, VECTORS, seed, store), chunk=1)
    out = {}
    for i, (name, parts) in enumerate(store.items()):
        v = np.concatenate(parts)
        if len(v) > VECTORS:
            v = v[np.sort(np.random.default_rng([*seed, i, 1 << 20]).choice(len(v), VECTORS, replace=False))]
        out[name] = v
    return z, out


def prepare(wl: Workload, x: np.ndarray, x_cal: np.ndarray, seed: int) -> ProxyInputs:
    """The float passes of the full-size ``wl`` (it carries weights) on ``x`` and ``x_cal``."""
    z, test = _collect(wl, x, [seed, 1])
    _, cal = _collect(wl, x_cal, [seed, 2])
    return ProxyInputs(wl, x, z, test, cal, int(seed))


def _column_sample(W: np.ndarray, width: int, seed) -> np.ndarray:
    """``width`` column indices of ``W`` (K, N), seeded, always holding the column of its largest |weight|
    (the simulator scales the weight codes by the largest |weight| of what it programs)."""
    N = W.shape[1]
    if N <= width:
        return np.arange(N)
    top = int(np.unravel_index(np.argmax(np.abs(W)), W.shape)[1])
    rest = np.delete(np.arange(N), top)
    pick = np.random.default_rng(seed).choice(rest, size=width - 1, replace=False)
    return np.sort(np.append(pick, top))


def layer_errors(data: ProxyInputs, a: _arch.Architecture, device, cfg, chip=None,
                 stop_above: float | None = None, only: tuple | None = None) -> dict:
    """``{layer: (local relative error e_l, its standard error)}`` of the weighted layers on ``a``'s arrays
    (step 1 of the module docstring), in network order.  ``stop_above``: stop once the root sum of squares
    of the errors so far exceeds it by more than its 95% margin (the design is then below that floor
    whatever the other layers add; the layers measured are returned).  ``only``: the layer indices to measure
    (all where None).  ``chip``: a chip factory as
    :func:`archsim.sim.accuracy.simulate` takes (:meth:`archsim.explore.simcache.ArrayCache.chip`)."""
    from archsim.sim.accuracy import CAL_PASS, TEST_PASS, _Chip
    make = chip or _Chip
    out: dict = {}
    for i, lay in enumerate(data.workload.weighted_layers()):
        if only is not None and i not in only:
            continue
        la = a.for_layer(lay.name).replace(layer_overrides={}, replicate=False, mesh=_arch.AUTO, tiles=_arch.AUTO)
        W = weight_matrix(lay, np.float64)[0]
        cols = _column_sample(W, min(int(la.cols), COLUMNS), [data.seed, i, 3])
        b = GraphBuilder(f"{data.workload.name}:{lay.name}", (W.shape[0],))
        b.dense(lay.name, len(cols), relu=False, bias=False, weights=W[:, cols].T.astype(np.float32))
        sub = b.build()
        m = map_workload(sub, la, device)      # the simulator follows parallel_rows itself
        ch = make(m, m.device, cfg, data.seed, i)        # "trial" i: every layer its own cells and noise keys
        (layer,) = sub.weighted_layers()
        ch.phase = CAL_PASS
        ch(layer, data.cal[lay.name], 0)
        ch.share_layer_ranges()
        ch.phase = TEST_PASS
        X = data.test[lay.name]
        ya = np.asarray(ch(layer, X, 0), dtype=np.float64)
        yf = X.astype(np.float64) @ W[:, cols]
        out[lay.name] = _ratio((ya - yf) ** 2, yf ** 2)
        if stop_above is not None:
            e2 = sum(e * e for e, _ in out.values())
            se2 = np.sqrt(sum((2 * e * s) ** 2 for e, s in out.values()))
            if e2 - Z975 * se2 > stop_above ** 2:
                break
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """``(sqrt(sum num / sum den), its standard error)`` over the sampled vectors (rows): the ratio
    estimator's delta-method error, ``se(R) = sqrt(var_v(a_v - R b_v) / n) / mean_v(b_v)`` for ``R = e^2``,
    halved relative for the square root."""
    a, b = num.sum(axis=1), den.sum(axis=1)
    B = float(b.sum())
    if B <= 0:
        return 0.0, 0.0
    R = float(a.sum()) / B
    n = len(a)
    se_R = float(np.sqrt(np.var(a - R * b, ddof=1) / n) / b.mean()) if n > 1 else 0.0
    e = float(np.sqrt(R))
    return e, (se_R / (2 * e) if e > 0 else 0.0)


def combine(errors: dict) -> tuple[float, float, float]:
    """``(E, low, high)``: the root sum of squares of the layers' errors and its 95% interval (sampling
    error of the per-layer estimates, delta method on ``E^2``)."""
    e2 = sum(e * e for e, _ in errors.values())
    se2 = float(np.sqrt(sum((2 * e * s) ** 2 for e, s in errors.values())))
    return float(np.sqrt(e2)), float(np.sqrt(max(e2 - Z975 * se2, 0.0))), float(np.sqrt(e2 + Z975 * se2))


def check(data: ProxyInputs, a: _arch.Architecture, device, cfg, floor_db: float, chip=None) -> dict:
    """One design's proxy: the output SNR (dB) of :func:`combine`'s E, its 95% interval, E itself, the layers
    measured and whether it meets ``floor_db``; the keys are the check's table columns.  A design stopped early
    (:func:`layer_errors`' ``stop_above``: its first layers already put it clearly below the floor) reports
    the SNR of those layers, an upper bound of its own (``layers_measured`` says how many)."""
    errors = layer_errors(data, a, device, cfg, chip, stop_above=10 ** (-floor_db / 20))
    E, lo, hi = combine(errors)
    complete = len(errors) == len(data.test)
    return {"snr_db": snr_db(E), "snr_db_ci95_low": snr_db(hi), "snr_db_ci95_high": snr_db(lo),
            "logit_error": E, "layers_measured": len(errors),
            "floor": "pass" if complete and snr_db(E) >= floor_db else "below floor"}


#: the digital reference's margin (dB): where the exact digital chip at the search's input and weight
#: resolution is itself within this of the absolute floor, the floor is that chip's SNR minus it (the analog
#: cells and converters may at most double the error power the quantization already has)
REFERENCE_MARGIN_DB = 3.0
#: a search's float passes and reference, kept for the next device of ``compare --best`` (one entry)
_PREPARED: dict = {}


def reference_snr(data: ProxyInputs, a: _arch.Architecture) -> float:
    """Output SNR (dB) of the exact digital chip at ``a``'s resolution: error-free cells (no programming error,
    read noise, variation, stuck cells or IR drop) and an ideal ADC; its inputs still go through the DAC
    (``input_bits``) and its weights through their magnitude bits.  No design of ``a``'s resolution does better."""
    from archsim.sim.tilesim import SimConfig
    clean = SimConfig(prog_error=False, read_noise=False, d2d_sigma_rel=0.0, stuck_on_rate=0.0, stuck_off_rate=0.0,
                      ideal_adc=True, ir_drop=False)
    return snr_db(combine(layer_errors(data, a.replace(layer_overrides={}), None, clean))[0])


#: the error sources :func:`error_sources` switches off one at a time: name -> the simulator settings that
#: remove it (what is left with every one of them off is the weight grid's rounding)
SOURCES = {
    "programming error": {"prog_error": False},
    "read noise": {"read_noise": False},
    "variation and stuck cells": {"d2d_sigma_rel": 0.0, "stuck_on_rate": 0.0, "stuck_off_rate": 0.0},
    "IR drop": {"ir_drop": False},
    "ADC": {"ideal_adc": True},
    "DAC (input rounding)": {"ideal_dac": True},
}
#: layers :func:`error_sources` measures, spread evenly through the network
SOURCE_LAYERS = 6


def error_sources(data: ProxyInputs, a: _arch.Architecture, cfg) -> dict:
    """Where a design's error comes from: ``{source: share}``, the fraction of the summed error power
    ``sum_l e_l^2`` of :data:`SOURCE_LAYERS` layers spread through the network that switching the source off
    removes (:data:`SOURCES`; each alone, so the shares need not add to 1), and ``"weight grid"``: what is
    left with all of them off (the weights rounded to the cells' levels).  Sources the design does not have
    remove nothing and are left out."""
    import dataclasses
    n = len(data.test)
    only = tuple(sorted({int(round(x)) for x in np.linspace(0, n - 1, min(SOURCE_LAYERS, n))}))

    def power(c) -> float:
        return sum(e * e for e, _ in layer_errors(data, a, None, c, only=only).values())

    total = power(cfg)
    if total <= 0:
        return {}
    out = {}
    for name, off in SOURCES.items():
        share = (total - power(dataclasses.replace(cfg, **off))) / total
        if share > 0.005:
            out[name] = share
    exact = {k: v for off in SOURCES.values() for k, v in off.items()}
    out["weight grid"] = power(dataclasses.replace(cfg, **exact)) / total
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def sources_text(shares: dict) -> str:
    """``"programming error 71%, read noise 12%, ..."``: :func:`error_sources`' shares in words."""
    return ", ".join(f"{k} {100 * v:.0f}%" for k, v in shares.items())

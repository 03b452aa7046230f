"""Sizing's accuracy: the Monte Carlo of one sizing (or benchmark) design point, and its data cache.

:func:`sizing_result` simulates one design point (``config``: workload and architecture keys) on the
network's shipped trained weights: :data:`SIZING_SAMPLES` test images, :data:`SIZING_TRIALS` chip(s),
calibrated on :data:`SIZING_CALIB` training images; :func:`sizing_accuracy` is its mean, the picklable
module-level accuracy model :func:`archsim.explore.sizing.default_accuracy_fn` hands to worker processes.
Each process keeps the loaded network and images of the workloads it has simulated (``_SIZING_CACHE``), so
the points of one sweep read them once.
"""
from __future__ import annotations

from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.sim.accuracy import AccuracyResult, simulate


#: images and trials per design point when sizing asks for accuracy (kept small: one design point
#: costs seconds); the numbers are part of the method, stated in `archsim size`'s notes
SIZING_SAMPLES = 300
SIZING_TRIALS = 1


def _sizing_data(name: str):
    import workloads as W
    from archsim.io import data as D
    base = W.get(name)
    if not W.weights_path(base.name).exists() or base.dataset not in D.DATASETS:
        return None
    wl = W.with_weights(base)
    x, y = D.for_workload(wl, "test", limit=SIZING_SAMPLES)
    x_cal, _ = D.for_workload(wl, "train", limit=SIZING_CALIB)   # calibration never touches the scored images
    return wl, x, y, x_cal


#: calibration images (from the training split) per sizing design point
SIZING_CALIB = 64

_SIZING_CACHE: dict = {}


def sizing_result(config: dict) -> AccuracyResult | None:
    """The Monte Carlo result of one sizing design point (``config``: workload and architecture keys):
    :data:`SIZING_SAMPLES` test images, :data:`SIZING_TRIALS` chip(s), calibrated on :data:`SIZING_CALIB`
    training images.  ``None`` for workloads without shipped trained weights."""
    from archsim.model.arch import KEY_BY_NAME
    name = config["workload"]
    if name not in _SIZING_CACHE:
        _SIZING_CACHE[name] = _sizing_data(name)
    d = _SIZING_CACHE[name]
    if d is None:
        return None
    wl, x, y, x_cal = d
    a = Architecture(**{k: config[k] for k in KEY_BY_NAME if k in config})
    m = map_workload(wl, a.replace(replicate=False, mesh="auto", tiles="auto"))
    return simulate(m, x, y, x_cal=x_cal, calibration=f"{len(x_cal)} training-split images",
                    trials=SIZING_TRIALS, seed=int(config.get("seed", 0)))


def sizing_accuracy(config: dict) -> float | None:
    """Mean test accuracy of one sizing design point (:func:`sizing_result`); ``None`` for workloads
    without shipped trained weights: sizing then leaves accuracy out."""
    r = sizing_result(config)
    return None if r is None else r.mean

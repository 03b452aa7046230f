"""The Python API: the flow of docs/ARCHITECTURE.md as five functions.

``estimate``: load, map, count events, price.  ``compare``: one estimate per device, one row each.
``simulate``: load, map, program and read the chips by Monte Carlo; ``compare_accuracy``: devices' results
side by side with paired differences to a baseline.  ``sweep``: many design points
into a resumable store.  Results are pandas DataFrames or the step's frozen result objects.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd


from archsim.cost.components import prices_for
from archsim.cost.events import Activity, events
from archsim.cost.price import Estimate, price
from archsim.io import load
from archsim.mapping.layout import map_workload
from archsim.model import arch as _arch
from archsim.model.errors import ArchsimError
from archsim.model.workload import Workload
from archsim.report.tables import summary_frame
from archsim.sim.activity import DEFAULT_SAMPLES, calibration_inputs, measure_activity, with_weights


def estimate(workload: Workload | str | Path, device: str | None = None, arch=None, task: str = "inference",
             activity: "str | Activity" = "default", data=None, samples: int = DEFAULT_SAMPLES,
             **overrides) -> Estimate:
    """Energy, latency, area and efficiency of ``workload`` (a Workload, a built-in name or an ``.onnx``
    file) on an architecture (defaults, a YAML path, a dict or an Architecture); ``device`` and keyword
    ``overrides`` replace architecture keys.

    ``activity``: ``"default"`` (techlib/circuits/activity.yaml), an :class:`Activity`, or ``"data"``:
    measured through the network's forward pass (it needs weights) on ``data`` (inputs or an ``.npz``),
    else on ``samples`` images of the TRAIN split of its data set; ``summary["activity"]`` then says so.
    """
    a = _architecture(arch, device, overrides)                                    # load
    wl = _workload(workload, weights=activity == "data")
    m = map_workload(wl, a)                                                       # map
    ev = events(m, task, _activity(m, activity, data, samples))                  # count events
    return price(m, ev, prices_for(m.arch, m.device))                             # price


def compare(workload: Workload | str | Path, devices: Iterable[str], arch=None, task: str = "inference",
            activity: "str | Activity" = "default", data=None, samples: int = DEFAULT_SAMPLES,
            **overrides) -> pd.DataFrame:
    """One row of chip totals per device, same workload and architecture otherwise."""
    wl = _workload(workload, weights=activity == "data")
    return summary_frame(estimate(wl, d, arch, task, activity, data, samples, **overrides).summary for d in devices)


def simulate(workload: Workload | str | Path, x: np.ndarray, y: np.ndarray | None = None, device: str | None = None,
             arch=None, **kwargs):
    """Accuracy (with labels ``y``) or fidelity of the network on programmed chips: the mapping is made
    once and every layer is programmed as it splits it (:func:`archsim.sim.accuracy.simulate`, whose
    keyword arguments ``trials``, ``seed``, ``cfg``, ``x_cal``, ... pass through).  Without ``x_cal``, a
    network whose data set archsim knows calibrates on images of its training split."""
    from archsim.sim.accuracy import simulate as _simulate
    a = _architecture(arch, device, {})                                           # load
    wl = _workload(workload, weights=True)
    m = map_workload(wl, a)                                                       # map
    if kwargs.get("x_cal") is None:
        kwargs.update(_training_calibration(wl, kwargs.get("calib", 128)))
    return _simulate(m, x, y, **kwargs)                                           # program, read, score


def train(workload: Workload | str = "mlp", device: str = "ecram", epochs: int = 1, algorithm: str = "sgd",
          trials: int = 1, dataset: str | None = None, train_samples: int | None = None,
          test_samples: int | None = None, arch=None, progress: bool = False, **config) -> pd.DataFrame:
    """Train ``workload`` (a chain of dense layers) on the arrays of ``device`` (one name or a comma-separated
    list): one row per device with the final test accuracy (mean, 95% half-width over ``trials``), pulses
    per device and the energy and time of an epoch (circuit model); ``config`` keys are those of
    :class:`archsim.sim.training.AnalogTrainConfig` (``lr``, ``bl``, ``batch_size``, ``seed``, ``lr_schedule``
    e.g. ``((11, 0.005), (21, 0.0025))``: the rate from epoch 11 and from epoch 21 on, ...)."""
    from archsim.cli.train import train_devices, training_data
    from archsim.report.training import summary_table
    from archsim.sim.training import AnalogTrainConfig
    wl = _workload(workload)                                                        # load
    data = training_data(wl, dataset, train_samples, test_samples)
    cfg = AnalogTrainConfig(algorithm=algorithm, epochs=epochs, **config)
    devices = [d.strip() for d in str(device).split(",") if d.strip()]
    rows, _ = train_devices(wl, devices, data, cfg, trials, _architecture(arch, devices[0], {}), progress)
    return summary_table(rows)                                                      # train, price, rank


def compare_accuracy(results, baseline: str | None = None) -> pd.DataFrame:
    """Devices' :func:`simulate` results on the same images, one row each: the mean and its own 95% interval,
    and the paired difference to ``baseline`` (default: the first exact device, e.g. sram, else the highest
    mean) with its 95% interval and whether that excludes 0 (:func:`archsim.sim.stats.versus_baseline`; the
    statistic is in that module's docstring)."""
    from archsim.sim.stats import versus_baseline
    results = list(results)
    base, diffs = versus_baseline(results, baseline)
    return pd.DataFrame([{"device": r.device, "metric": r.metric, "mean": r.mean, "ci95_low": r.ci95[0],
                          "ci95_high": r.ci95[1], "baseline": base, "diff": d.diff, "diff_ci95_low": d.low,
                          "diff_ci95_high": d.high, "separated": d.separated} for r, d in zip(results, diffs)])


def sweep(spec: str | Path, out: str | Path | None = None, workers: int | None = None, resume: bool = False, **kwargs):
    """Evaluate a sweep file's design points into ``out/results.sqlite`` (resumable) and write its table
    (:func:`archsim.explore.run.run_sweep`)."""
    from archsim.explore.run import run_sweep
    return run_sweep(spec, out=out, workers=workers, resume=resume, **kwargs)


# ---- loading the inputs of the flow ----
def _architecture(arch, device: str | None, overrides: dict) -> _arch.Architecture:
    return load.architecture(arch, device=device, overrides=overrides)


def _workload(workload: Workload | str | Path, weights: bool = False) -> Workload:
    """A Workload as is; a path ending in ``.onnx`` imported (:func:`archsim.io.onnx.load_onnx`); else a
    built-in name (:func:`archsim.io.load.network`).  ``weights``: attach a built-in's shipped weights (for
    measured activity, simulation)."""
    wl, builtin = load.network(workload)
    return with_weights(wl, shipped=builtin) if weights else wl


def _training_calibration(wl: Workload, n: int) -> dict:
    """``x_cal`` from the training split of the network's data set, where it has one (never the scored
    images); else nothing, and the simulation calibrates on its first inputs and says so."""
    cal = load.training_calibration(wl, n)
    return {} if cal is None else {"x_cal": cal[0], "calibration": cal[1]}


def _activity(m, activity, data, samples: int) -> Activity | None:
    """``activity`` as priced: ``"default"`` (None: techlib's assumption), an Activity, or ``"data"``:
    measured on ``data`` (an input array or ``.npz``; default the network's own TRAIN images)."""
    if activity is None or isinstance(activity, Activity) or activity == "default":
        return None if activity == "default" else activity
    if activity != "data":
        raise ArchsimError(f"activity = {activity!r} is not allowed; allowed 'default', 'data' or an Activity")
    x, what = calibration_inputs(m.workload, samples, data)
    return measure_activity(m, x, f"measured on {what}")

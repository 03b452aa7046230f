"""The Python API: estimates and comparisons as pandas DataFrames."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterable

import pandas as pd

import workloads as _workloads

from archsim.model import arch as _arch
from archsim.cost.events import Activity
from archsim.cost.price import Estimate, evaluate
from archsim.model.errors import ArchsimError
from archsim.sim.activity import DEFAULT_SAMPLES, calibration_inputs, measure_activity, with_weights
from archsim.mapping.layout import map_workload
from archsim.report.tables import summary_frame
from archsim.model.workload import Workload


def _resolve_arch(arch: _arch.Architecture | str | Path | dict | None) -> _arch.Architecture:
    if arch is None:
        return _arch.Architecture()
    if isinstance(arch, _arch.Architecture):
        return arch
    if isinstance(arch, dict):
        return _arch.from_dict(arch, where="architecture dict")
    return _arch.load(arch)


def _resolve_workload(workload: Workload | str | Path) -> Workload:
    """A Workload as is; a path ending in ``.onnx`` imported (:func:`archsim.io.onnx.load_onnx`); else a built-in name."""
    if isinstance(workload, Workload):
        return workload
    if isinstance(workload, Path) or str(workload).lower().endswith(".onnx"):
        from archsim.io.onnx import load_onnx
        return load_onnx(workload)
    return _workloads.get(workload)


def _activity(m, activity, data, samples: int) -> Activity | None:
    """``activity`` as priced: ``"default"`` (None: techlib's assumption), an Activity, or ``"data"``:
    measured on ``data`` (an input array or ``.npz``; default the network's own TRAIN images)."""
    if activity is None or isinstance(activity, Activity) or activity == "default":
        return None if activity == "default" else activity
    if activity != "data":
        raise ArchsimError(f"activity = {activity!r} is not allowed; allowed 'default', 'data' or an Activity")
    x, what = calibration_inputs(m.workload, samples, data)
    return measure_activity(m, x, f"measured on {what}")


def estimate(workload: Workload | str | Path, device: str | None = None, arch=None, task: str = "inference",
             activity: "str | Activity" = "default", data=None, samples: int = DEFAULT_SAMPLES,
             **overrides) -> Estimate:
    """Map and price ``workload`` (a Workload, a built-in name or an ``.onnx`` file) on an architecture
    (defaults, a YAML path, a dict or an Architecture).

    ``device`` and keyword ``overrides`` replace architecture keys.  ``activity``: ``"default"``
    (techlib/circuits/activity.yaml), an :class:`Activity`, or ``"data"``: measured through the network's
    forward pass (it needs weights) on ``data`` (inputs or an ``.npz``), else on ``samples`` images of
    the TRAIN split of its data set; then ``summary["activity"]`` says what was measured (absent: the default).
    """
    a = _resolve_arch(arch)
    changes = dict(overrides)
    if device is not None:
        changes["device"] = device
    if changes:
        a = a.replace(**changes)
    wl = _resolve_workload(workload)
    if activity == "data":   # shipped weights only for a built-in named by a string
        wl = with_weights(wl, shipped=isinstance(workload, str) and not workload.lower().endswith(".onnx"))
    m = map_workload(wl, a)
    act = _activity(m, activity, data, samples)
    est = evaluate(m, task=task, activity=act)
    if act is None:   # the default: the summary stays the one every other path (explore) gives
        return est
    return dataclasses.replace(est, summary={**est.summary, "activity": act.source})


def compare(workload: Workload | str | Path, devices: Iterable[str], arch=None, task: str = "inference",
            activity: "str | Activity" = "default", data=None, samples: int = DEFAULT_SAMPLES,
            **overrides) -> pd.DataFrame:
    """One row of chip totals per device, same workload and architecture otherwise."""
    wl = _resolve_workload(workload)
    return summary_frame(estimate(wl, d, arch, task, activity, data, samples, **overrides).summary for d in devices)

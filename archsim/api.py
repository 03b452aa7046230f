"""The Python API: estimates and comparisons as pandas DataFrames."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

import workloads as _workloads

from archsim.model import arch as _arch
from archsim.cost.price import Estimate, evaluate
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


def estimate(workload: Workload | str | Path, device: str | None = None, arch=None, task: str = "inference",
             **overrides) -> Estimate:
    """Map and price ``workload`` (a Workload, a built-in name or an ``.onnx`` file) on an architecture
    (defaults, a YAML path, a dict or an Architecture).

    ``device`` and keyword ``overrides`` replace architecture keys.
    """
    a = _resolve_arch(arch)
    changes = dict(overrides)
    if device is not None:
        changes["device"] = device
    if changes:
        a = a.replace(**changes)
    wl = _resolve_workload(workload)
    return evaluate(map_workload(wl, a), task=task)


def compare(workload: Workload | str | Path, devices: Iterable[str], arch=None, task: str = "inference",
            **overrides) -> pd.DataFrame:
    """One row of chip totals per device, same workload and architecture otherwise."""
    wl = _resolve_workload(workload)
    return summary_frame(estimate(wl, d, arch, task, **overrides).summary for d in devices)

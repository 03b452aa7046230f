"""The front door: loaders for the flow's inputs, shared by the Python API and the command line.

``architecture`` builds an :class:`~archsim.model.arch.Architecture` from defaults, a YAML file, a dict,
a published preset or an Architecture, with a device and key overrides on top; ``overrides`` parses
``key=value`` texts into those overrides; ``network`` gives a :class:`~archsim.model.workload.Workload`
from a built-in name or an ONNX file; ``devices`` checks a list of device names against ``techlib``.
:mod:`archsim.api` and :mod:`archsim.cli.args` both call these, so a file, a name or a key is read and
checked the same way whichever door it comes in by.

Errors name the parameter (:class:`~archsim.model.errors.ParameterError`: ``parameter 'preset'``) or the
file and key; the CLI words a parameter as its flag (``--preset``).
"""
from __future__ import annotations

import math
from pathlib import Path

from archsim.io import techlib
from archsim.io.yaml import parse_yaml
from archsim.model import arch as _arch
from archsim.model import presets
from archsim.model.device import Device, load_device
from archsim.model.errors import ParameterError, brief, naming
from archsim.model.workload import Workload


def architecture(arch=None, *, preset: str | None = None, device: str | None = None,
                 overrides: dict | None = None) -> _arch.Architecture:
    """The architecture of a run: ``arch`` (None: the defaults; an Architecture; a dict of keys; a YAML path)
    or the published ``preset``, then ``device`` and the ``overrides`` (key -> value) replaced on it."""
    if arch is not None and preset is not None:
        raise ParameterError("{param} and {param} both given; choose one (change a preset's keys with {param})",
                             "arch", "preset", "overrides")
    if preset is not None:
        a = presets.load(preset).architecture
    elif arch is None:
        a = _arch.Architecture()
    elif isinstance(arch, _arch.Architecture):
        a = arch
    elif isinstance(arch, dict):
        a = _arch.from_dict(arch, where="architecture dict")
    else:
        a = _arch.load(arch)
    changes = dict(overrides or {})
    for k in changes:
        if k not in _arch.KEY_BY_NAME:
            raise ParameterError(f"{{param}}: unknown key {brief(str(k), 40)}; allowed keys: "
                                 f"{', '.join(_arch.KEY_BY_NAME)}", "overrides")
    if device is not None:
        changes["device"] = device
    return a.replace(**changes) if changes else a


def overrides(items: list[str] | None) -> dict:
    """Architecture keys from ``key=value`` texts (each value a plain YAML scalar or list)."""
    out = {}
    allowed = ", ".join(_arch.KEY_BY_NAME)
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"{{param}} '{brief(item)[1:-1]}': write key=value; allowed keys: {allowed}",
                                 "overrides")
        k, v = item.split("=", 1)
        k = k.strip()
        if k not in _arch.KEY_BY_NAME:
            raise ParameterError(f"{{param}}: unknown key '{brief(k, 40)[1:-1]}'; allowed keys: {allowed}",
                                 "overrides")
        if k in out:
            raise ParameterError(f"{{param}}: key '{k}' given twice; allowed once", "overrides")
        with naming("overrides", " (write a plain YAML scalar or list)"):
            value = parse_yaml(v, f"{ParameterError.MARK} {k}")
        if value is None:
            raise ParameterError(f"{{param}} {k}: no value; write {k}=VALUE (archsim list --keys shows what is "
                                 f"allowed)", "overrides")
        if isinstance(value, dict) and k != "layer_overrides":   # the one key whose value is a mapping
            raise ParameterError(f"{{param}} {k}: value {brief(value)} is a mapping; allowed a plain value or list",
                                 "overrides")
        out[k] = value
    return out


def _shape(shape) -> tuple | None:
    """``input_shape`` as a tuple of 1 or 3 positive integers (text ``C,H,W`` or ``F`` accepted)."""
    if shape is None:
        return None
    if isinstance(shape, str):
        try:
            dims = tuple(int(v) for v in shape.replace("x", ",").split(",") if v.strip())
        except ValueError:
            dims = ()
    else:
        dims = tuple(int(v) for v in shape)
    if len(dims) not in (1, 3) or min(dims) < 1:
        raise ParameterError(f"{{param}} {brief(str(shape))}: write C,H,W or F (per image, no batch axis), "
                             f"e.g. 1,28,28", "input_shape")
    if max(dims) > 65536 or math.prod(dims) > MAX_INPUT_VALUES:
        raise ParameterError(f"{{param}} {brief(str(shape))}: allowed each size 1 to 65536 and at most "
                             f"{MAX_INPUT_VALUES:,} values per image", "input_shape")
    return dims


#: the most values one input image may have (``input_shape``): 3 x 4096 x 4096 fits
MAX_INPUT_VALUES = 1 << 26


def network(workload: "Workload | str | Path", input_shape=None) -> tuple[Workload, bool]:
    """``(workload, built-in)``: a Workload as is; a path ending in ``.onnx`` imported with its weights
    (``input_shape``: the per-image shape of a model whose input has dynamic axes); else a built-in name."""
    import workloads
    if isinstance(workload, Workload):
        return workload, False
    if isinstance(workload, Path) or str(workload).lower().endswith(".onnx"):
        from archsim.io.onnx import load_onnx
        return load_onnx(workload, input_shape=_shape(input_shape)), False
    if input_shape is not None:
        raise ParameterError("{param} applies to {param}, not to a built-in {param}", "input_shape", "model", "workload")
    return workloads.get(workload), True


def training_calibration(wl: Workload, n: int) -> tuple | None:
    """``(x_cal, what)``: ``n`` images of the training split of the network's data set (never the scored test
    images), or None for a network whose data set archsim does not know."""
    from archsim.io import data as D
    if wl.dataset not in D.DATASETS:
        return None
    x_cal, _ = D.for_workload(wl, "train", limit=n)
    return x_cal, f"{len(x_cal)} images of the {wl.dataset} training split"


def device(name_or_path) -> Device:
    """The typed :class:`Device` of a techlib name, a device file's path, a record or a Device (before any
    mapping: to check a name early, list a device's properties or search its bits per cell; a mapping's
    own device is ``Mapping.device``)."""
    return load_device(name_or_path)


def devices(names) -> list[str]:
    """Device names (a comma-separated text or a list), each checked against techlib (unknown names fail
    here, before any work)."""
    items = [d.strip() for d in (names.split(",") if isinstance(names, str) else names) if str(d).strip()]
    if not items:
        raise ParameterError(f"{{param}} {brief(str(names))}: give a comma-separated list; choose from: "
                             f"{', '.join(techlib.device_names())}", "devices")
    for d in items:
        techlib.device(d)
    return items

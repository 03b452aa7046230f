"""Workload registry: named network graphs ready for :mod:`archsim`.

>>> import workloads
>>> workloads.names()[:3]
['alexnet', 'lenet5', 'mlp']
>>> wl = workloads.get("ResNet-50")         # case and punctuation do not matter
>>> wl.total_macs
4089184256

``get(name, weights=True)`` attaches the trained weights shipped in
``workloads/weights/<name>.npz`` (``lenet5``, ``mlp``, ``mnist_cnn5``, ``fashion_vgg``; see
``scripts/train_weights.py``); :func:`with_weights` does it for a workload in hand.

Every entry is a zero-argument builder returning a
:class:`archsim.model.workload.Workload`.  A Workload is immutable once built (its
graph frozen), so :func:`get` builds each entry once per process and hands out that
one workload, its memoized views (topological order, the mapping's edge bits) warm;
to change a network, copy its graph (``wl.graph.copy()``) and build a new Workload.
Add your own network with :func:`register` (its builder is called once).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from archsim.model.errors import ArchsimError
from archsim.model.weights import attach_weights, load_weights
from archsim.model.workload import Workload

from . import classic, memristor, neurosim, resnet, training


__all__ = ["names", "get", "describe", "register", "aliases", "with_weights", "weights_path",
           "trained", "WEIGHTS_DIR"]

#: where trained weight files live: ``<name>.npz``
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class _Entry:
    name: str
    build: Callable[[], Workload]
    description: str
    aliases: tuple[str, ...]


_ENTRIES: dict[str, _Entry] = {}   # canonical name -> entry
_LOOKUP: dict[str, str] = {}       # normalized name or alias -> canonical name
_BUILT: dict[_Entry, Workload] = {}  # entry -> its workload, built once (immutable: its graph is frozen)


def _norm(name: str) -> str:
    """Lower case without separators: 'ResNet-50', 'resnet_50' and 'resnet50' meet."""
    return re.sub(r"[\s_\-.]+", "", str(name).lower())


def register(name: str, fn: Callable[[], Workload], description: str, aliases: Iterable[str] = (),
             *, replace: bool = False) -> None:
    """Add a workload builder under ``name`` (and ``aliases``).

    ``fn`` takes no arguments and returns a :class:`Workload`.  A name or alias
    already taken by another entry is an error unless ``replace=True``, which
    drops the old entry first.
    """
    if not isinstance(name, str) or not _norm(name):
        raise ArchsimError(f"workload name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise ArchsimError(f"workload '{name}': builder must be callable, got {type(fn).__name__}")
    canonical = name.strip().lower()
    aliases = tuple(str(a) for a in aliases)
    keys = [_norm(canonical)] + [_norm(a) for a in aliases]
    if replace:
        for old in {_LOOKUP[k] for k in keys if k in _LOOKUP} | {canonical}:
            _unregister(old)
    for k, shown in zip(keys, [name, *aliases]):
        if k in _LOOKUP:
            raise ArchsimError(f"workload '{name}': name '{shown}' is already taken by '{_LOOKUP[k]}'; "
                               f"pass replace=True to override")
    _ENTRIES[canonical] = _Entry(canonical, fn, " ".join(str(description).split()), aliases)
    for k in keys:
        _LOOKUP[k] = canonical


def _unregister(canonical: str) -> None:
    entry = _ENTRIES.pop(canonical, None)
    _BUILT.pop(entry, None)
    for k in [k for k, v in _LOOKUP.items() if v == canonical]:
        del _LOOKUP[k]


def names() -> list[str]:
    """Canonical workload names, sorted."""
    return sorted(_ENTRIES)


def aliases() -> dict[str, tuple[str, ...]]:
    """Canonical name -> its registered aliases."""
    return {n: _ENTRIES[n].aliases for n in names()}


def _resolve(name: str) -> _Entry:
    canonical = _LOOKUP.get(_norm(name)) if isinstance(name, str) else None
    if canonical is None:
        raise ArchsimError(f"unknown workload {name!r}; choose one of: {', '.join(names())}")
    return _ENTRIES[canonical]


def get(name: str, weights: bool = False) -> Workload:
    """The workload called ``name`` (case-insensitive; aliases accepted), built on the first call and the
    same immutable object after (its graph is frozen).

    ``weights=True`` attaches the shipped trained weights (:func:`with_weights`).
    """
    entry = _resolve(name)
    wl = _BUILT.get(entry)
    if wl is None:
        wl = entry.build()
        if not isinstance(wl, Workload):
            raise ArchsimError(f"workload '{entry.name}': builder returned {type(wl).__name__}, not a Workload")
        _BUILT[entry] = wl
    return with_weights(wl) if weights else wl


def weights_path(name: str) -> Path:
    """Path of the weight file of workload ``name`` (it may not exist)."""
    canonical = _LOOKUP.get(_norm(name), str(name).strip().lower())
    return WEIGHTS_DIR / f"{canonical}.npz"


def trained() -> list[str]:
    """Workloads with a shipped weight file, sorted."""
    return [n for n in names() if weights_path(n).exists()]


def with_weights(wl: Workload, path=None) -> Workload:
    """A copy of ``wl`` with its weights and biases attached from ``path``
    (default ``workloads/weights/<name>.npz``)."""
    p = Path(path) if path else weights_path(wl.name)
    if not p.exists():
        have = ", ".join(trained()) or "none"
        raise ArchsimError(f"workload '{wl.name}' has no trained weights ({p} does not exist); "
                           f"workloads with weights: {have}; train with scripts/train_weights.py "
                           f"or use archsim.model.weights.random_weights for fidelity studies")
    return attach_weights(wl, load_weights(p), source=str(p))


def describe() -> list[dict]:
    """One dict per workload: name, description, dataset, weights, macs (sorted by name)."""
    rows = []
    for n in names():
        wl = get(n)
        rows.append(dict(name=n, description=_ENTRIES[n].description, dataset=wl.dataset,
                         weights=int(wl.total_weights), macs=int(wl.total_macs)))
    return rows


# ---- built-in networks ----
for _name, _fn, _desc, _aliases in (
    ("lenet5", classic.lenet5, classic.LENET5, ("lenet",)),
    ("alexnet", classic.alexnet, classic.ALEXNET, ()),
    ("vgg8", classic.vgg8, classic.VGG8, ("vgg8_cifar10", "neurosim_vgg8")),
    ("vgg16", classic.vgg16, classic.VGG16, ()),
    ("mlp", classic.mlp, classic.MLP, ("mlp_784_500_300_10", "zhang_mlp")),
    ("mnist_cnn3", classic.mnist_cnn3, classic.MNIST_CNN3, ("cnn3",)),
    ("fashion_vgg", classic.fashion_vgg, classic.FASHION_VGG, ("fashion_cnn", "vgg_fashion")),
    ("resnet18", resnet.resnet18, resnet.RESNET18, ()),
    ("resnet50", resnet.resnet50, resnet.RESNET50, ("resnet50v1.5", "resnet50_v1_5")),
    ("resnet50v1", resnet.resnet50v1, resnet.RESNET50V1, ()),
    ("mnist_cnn5", memristor.mnist_cnn5, memristor.MNIST_CNN5, ("yao2020", "yao_mcnn", "mcnn5")),
    ("dpe_softmax", memristor.dpe_softmax, memristor.DPE_SOFTMAX, ("softmax_mnist", "hpe_dpe")),
    ("densenet40", neurosim.densenet40, neurosim.DENSENET40, ("neurosim_densenet40",)),
    ("rpu_mlp", training.rpu_mlp, training.RPU_MLP, ("gokmen_mlp", "mlp_784_256_128_10")),
):
    register(_name, _fn, _desc, _aliases)
del _name, _fn, _desc, _aliases

"""A layer's weights: shape checks, the crossbar view, batch-norm folding, attaching and making them.

Weighted layers carry ``weights`` (conv ``(Cout, Cin/groups, kh, kw)``, dense ``(N, K)``) and an
optional ``bias`` ``(N,)``.  :func:`attach_weights` checks a ``{"<layer>.weight": array}`` dict
against a workload and returns a copy carrying it; :func:`load_weights` reads such a dict from
``.npz``; :func:`random_weights` makes He-normal ones; :func:`weight_matrix` gives the
``(groups, K, N / groups)`` view a crossbar holds; :func:`fold_batchnorm` folds an inference-mode
batch norm into the layer before it.  Plain data in, plain data out: no forward pass here.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import numpy as np

from archsim.model.errors import ArchsimError
from archsim.model.workload import Layer, Workload

__all__ = ["weight_matrix", "fold_batchnorm", "attach_weights", "load_weights", "random_weights"]


def _check_weights(layer: Layer) -> None:
    if not layer.weighted:
        return
    if layer.weights is None:
        raise ArchsimError(
            f"layer '{layer.name}' ({layer.kind}) has no weights; attach them with "
            f"workloads.get(name, weights=True), archsim.model.weights.attach_weights or random_weights")
    W = np.asarray(layer.weights)
    view = layer.matrix_view
    want = view.weight_shape(layer)
    if W.shape != tuple(want):
        raise ArchsimError(f"layer '{layer.name}': weights have shape {W.shape}, expected {tuple(want)} "
                           f"({view.layout})")
    if layer.bias is not None and np.shape(layer.bias) != (layer.N,):
        raise ArchsimError(f"layer '{layer.name}': bias has shape {np.shape(layer.bias)}, expected ({layer.N},)")


def weight_matrix(layer: Layer, dtype=np.float32) -> np.ndarray:
    """The crossbar view of a weighted layer's weights: ``(groups, K, N / groups)``.

    Row ``k`` of group ``g`` multiplies column ``k`` of the im2col matrix of that
    group (``K`` index = ``(cin, kh, kw)`` in C order); column ``n`` is output
    channel ``g * N / groups + n``.  A dense layer has one group: ``W.T``.
    """
    _check_weights(layer)
    W = np.asarray(layer.weights, dtype=dtype)
    return np.ascontiguousarray(layer.matrix_view.matrix(W, layer))


def fold_batchnorm(W: np.ndarray, b: np.ndarray | None, gamma, beta, mean, var, eps: float = 1e-5):
    """Fold an inference-mode batch norm that follows a conv or dense layer into it.

    ``BN(conv(x, W) + b) = conv(x, W') + b'`` with ``s = gamma / sqrt(var + eps)``,
    ``W' = W * s`` (per output channel, axis 0) and ``b' = (b - mean) * s + beta``.
    Returns ``(W', b')`` in ``W``'s dtype.
    """
    W = np.asarray(W)
    s = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    if s.shape != (W.shape[0],):
        raise ArchsimError(f"fold_batchnorm: {s.shape[0] if s.ndim else 1} BN channels for {W.shape[0]} outputs")
    b0 = np.zeros(W.shape[0]) if b is None else np.asarray(b, dtype=np.float64)
    W2 = (W.astype(np.float64) * s.reshape((-1,) + (1,) * (W.ndim - 1))).astype(W.dtype)
    b2 = ((b0 - np.asarray(mean, dtype=np.float64)) * s + np.asarray(beta, dtype=np.float64)).astype(W.dtype)
    return W2, b2


def _rebuild(workload: Workload, layers: Mapping[str, Layer]) -> Workload:
    g = workload.graph.copy()
    for name, lay in layers.items():
        g.nodes[name]["layer"] = lay
    return Workload(workload.name, g, workload.description, workload.dataset)


def attach_weights(workload: Workload, params: Mapping[str, np.ndarray], *, source: str = "",
                   strict: bool = True) -> Workload:
    """A copy of ``workload`` whose weighted layers carry ``params``.

    ``params`` maps ``"<layer>.weight"`` (and ``"<layer>.bias"`` where the layer
    has a bias) to arrays; other keys (``meta.*``) are ignored.  With ``strict``
    every weighted layer must be present; shapes are checked against the layer.
    """
    where = f" ({source})" if source else ""
    new = {}
    names = {l.name for l in workload.weighted_layers()}
    for key in params:
        if key.startswith("meta."):
            continue
        lname, _, what = key.rpartition(".")
        if lname not in names or what not in ("weight", "bias"):
            raise ArchsimError(f"weights{where}: key '{key}' names no weighted layer of workload "
                               f"'{workload.name}'; expected '<layer>.weight' / '<layer>.bias' with layer "
                               f"in {sorted(names)}")
    missing = [f"'{l.name}.weight'" for l in workload.weighted_layers() if f"{l.name}.weight" not in params]
    if strict and missing:
        raise ArchsimError(f"weights{where}: missing {', '.join(missing)} for workload '{workload.name}'")
    for lay in workload.weighted_layers():
        wk, bk = f"{lay.name}.weight", f"{lay.name}.bias"
        if wk not in params:
            continue
        W = np.asarray(params[wk], dtype=np.float32)
        b = np.asarray(params[bk], dtype=np.float32) if bk in params else None
        if b is not None and not lay.has_bias:
            raise ArchsimError(f"weights{where}: layer '{lay.name}' has no bias but '{bk}' is given")
        new_lay = replace(lay, weights=W, bias=b)
        try:
            _check_weights(new_lay)
        except ArchsimError as e:
            raise ArchsimError(f"weights{where}: {e}") from None
        if not (np.all(np.isfinite(W)) and (b is None or np.all(np.isfinite(b)))):
            raise ArchsimError(f"weights{where}: layer '{lay.name}' has NaN or infinite values")
        new[lay.name] = new_lay
    return _rebuild(workload, new)


def load_weights(path) -> dict[str, np.ndarray]:
    """Read a weight file (``.npz``, no pickles) into ``{key: array}``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise ArchsimError(f"weight file {path} does not exist") from None
    except ValueError as e:
        raise ArchsimError(f"weight file {path}: not a plain .npz of arrays ({e})") from None


def random_weights(workload: Workload, seed: int = 0) -> Workload:
    """A copy of ``workload`` with He-normal weights and small random biases.

    For fidelity studies of networks without trained weights (VGG-16, ResNet-50):
    ``std = sqrt(2 / fan_in)`` keeps activations of order one through ReLU layers.
    Not a trained network: results with it are fidelity, never accuracy.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for lay in workload.weighted_layers():
        shape = lay.matrix_view.weight_shape(lay)
        params[f"{lay.name}.weight"] = (rng.standard_normal(shape, dtype=np.float32)
                                        * np.float32(np.sqrt(2.0 / lay.K)))
        if lay.has_bias:
            params[f"{lay.name}.bias"] = rng.standard_normal(lay.N, dtype=np.float32) * np.float32(0.01)
    return attach_weights(workload, params, source=f"random seed {seed}")

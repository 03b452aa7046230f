"""A small numpy trainer for workload graphs (enough for the MNIST networks).

Forward and backward for ``conv`` (im2col, stride, padding, groups), ``dense``,
``maxpool``, ``avgpool``, ``globalavgpool``, ``add``, ``concat``, ``flatten``,
``relu``, ``sigmoid``, ``identity`` and fused ReLU; softmax cross-entropy loss;
Adam or SGD with momentum; a cosine learning-rate schedule; an explicit seed for
the initialisation and the shuffling.  The forward pass uses the same im2col and
window helpers as :mod:`archsim.sim.forward`, so a trained network gives the same
outputs there.  Everything runs in the dtype of the parameters (float32 for
training, float64 for the gradient check).

>>> cfg = TrainConfig(epochs=3, seed=0)
>>> params, history = fit(workload, x_train, y_train, cfg)          # doctest: +SKIP
>>> trained = archsim.model.weights.attach_weights(workload, params)       # doctest: +SKIP
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from archsim.sim import forward as F
from archsim.io.files import atomic_write
from archsim.model.errors import ArchsimError
from archsim.model.kinds import KINDS
from archsim.model.weights import attach_weights
from archsim.model.workload import Layer, Workload

__all__ = ["TrainConfig", "init_params", "forward_train", "backward", "loss_and_grads", "fit",
           "evaluate", "save_weights", "TRAINABLE"]

#: kinds the trainer handles: the graph input and every kind with a rule in :data:`TRAIN_RULES`
TRAINABLE = tuple(k for k, spec in KINDS.items() if spec.trainable)
#: spawn key of the weight-noise stream of noise-aware training (beside the shuffling's ``config.seed``)
NOISE_STREAM = 7


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; all of them are written into the weight file's ``meta.*``."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"          # "adam" or "sgd" (with momentum)
    momentum: float = 0.9            # SGD momentum
    beta1: float = 0.9               # Adam
    beta2: float = 0.999
    weight_decay: float = 0.0        # L2, added to the gradient of weights (not biases)
    schedule: str = "cosine"         # "cosine" (to lr * final_lr_fraction) or "constant"
    final_lr_fraction: float = 0.02
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in ("adam", "sgd"):
            raise ArchsimError(f"optimizer '{self.optimizer}' not allowed; choose adam or sgd")
        if self.schedule not in ("cosine", "constant"):
            raise ArchsimError(f"schedule '{self.schedule}' not allowed; choose cosine or constant")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ArchsimError("epochs, batch_size and lr must be positive")


def _check_trainable(workload: Workload) -> None:
    for lay in workload.layers():
        if lay.kind not in TRAINABLE:
            raise ArchsimError(f"workload {workload.name}: the trainer has no backward pass for layer "
                               f"'{lay.name}' of kind '{lay.kind}'; trainable kinds: {', '.join(TRAINABLE)}")
        if lay.activation not in (None, "relu"):
            raise ArchsimError(f"layer '{lay.name}': fused activation '{lay.activation}' is not trainable")


def init_params(workload: Workload, seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """He-normal weights (``std = sqrt(2 / fan_in)``, Glorot for a last layer without ReLU) and zero biases."""
    rng = np.random.default_rng(seed)
    params = {}
    for lay in workload.weighted_layers():
        shape = lay.matrix_view.weight_shape(lay)
        gain = 2.0 / lay.K if lay.activation == "relu" else 2.0 / (lay.K + lay.N)
        params[f"{lay.name}.weight"] = (rng.standard_normal(shape) * math.sqrt(gain)).astype(dtype)
        if lay.has_bias:
            params[f"{lay.name}.bias"] = np.zeros(lay.N, dtype=dtype)
    return params


# ------------------------------------------------------------- forward ----
def _relu_mask(y: np.ndarray, activation):
    """Apply a fused ReLU in place; the mask the backward pass needs (None without one)."""
    if activation != "relu":
        return None
    mask = y > 0
    y *= mask
    return mask


def _conv_fwd(lay, ins, params):
    # channel-major layout throughout: im2col^T (K, rows), outputs (Cout, rows)
    x = ins[0]
    W = params[f"{lay.name}.weight"]
    B = x.shape[0]
    Cout, Ho, Wo = lay.out_shape
    g = lay.groups
    ng = Cout // g
    WmT = np.ascontiguousarray(W.reshape(g, ng, -1))                  # (g, ng, K)
    colsT = [F.im2col(x, lay, gi).T for gi in range(g)]               # C-ordered (K, rows)
    yT = np.concatenate([WmT[gi] @ colsT[gi] for gi in range(g)], axis=0) if g > 1 else WmT[0] @ colsT[0]
    b = params.get(f"{lay.name}.bias")
    if b is not None:
        yT += b[:, None]
    mask = _relu_mask(yT, lay.activation)
    out = np.ascontiguousarray(yT.reshape(Cout, B, Ho, Wo).transpose(1, 0, 2, 3))
    return out, (colsT, x.shape, mask)


def _dense_fwd(lay, ins, params):
    x = ins[0]
    W = params[f"{lay.name}.weight"]
    xf = x.reshape(x.shape[0], -1)
    y = xf @ W.T
    b = params.get(f"{lay.name}.bias")
    if b is not None:
        y += b
    return y, (xf, x.shape, _relu_mask(y, lay.activation))


def _maxpool_fwd(lay, ins, params):
    x = ins[0]
    xp = F._pad(x, lay.padding, -np.inf)
    y = arg = None
    for i, j, (hs, ws) in F.window_slices(lay):
        v = xp[:, :, hs, ws]
        if y is None:
            y, arg = v.copy(), np.zeros(v.shape, dtype=np.int16)
            continue
        upd = v > y                      # first maximum wins, as argmax
        np.copyto(y, v, where=upd)
        arg[upd] = i * lay.kernel[1] + j
    return y, (arg, x.shape)


def _shape_fwd(lay, ins, params):
    """Layers whose backward pass needs only their input shapes: the exact forward pass."""
    return F.apply_layer(lay, ins, None), ([i.shape for i in ins],)


def _add_fwd(lay, ins, params):
    y = ins[0].copy()
    for o in ins[1:]:
        y += o
    return y, (len(ins), _relu_mask(y, lay.activation))


def _relu_fwd(lay, ins, params):
    mask = ins[0] > 0
    return ins[0] * mask, (mask,)


def _sigmoid_fwd(lay, ins, params):
    x = ins[0]
    y = (1.0 / (1.0 + np.exp(-x))).astype(x.dtype)
    return y, (y,)


def forward_train(workload: Workload, x: np.ndarray, params):
    """Logits and per-layer caches for :func:`backward`."""
    order = workload.layers()
    preds = {l.name: list(workload.graph.predecessors(l.name)) for l in order}
    vals, caches = {}, {}
    for lay in order:
        if lay.kind == "input":
            vals[lay.name] = x
            continue
        vals[lay.name], caches[lay.name] = _layer_forward(lay, [vals[p] for p in preds[lay.name]], params)
    return vals[order[-1].name], (order, preds, caches)


def _conv_bwd(lay, dy, cache, params, grads, need_dx):
    colsT, xshape, mask = cache
    Cout = lay.N
    dT = np.ascontiguousarray(dy.transpose(1, 0, 2, 3)).reshape(Cout, -1)   # (Cout, rows)
    if mask is not None:
        dT *= mask
    W = params[f"{lay.name}.weight"]
    g = lay.groups
    ng = Cout // g
    # (K, rows) @ (rows, ng), transposed: OpenBLAS is far slower on some shapes of the other order
    dW = np.concatenate([(colsT[gi] @ dT[gi * ng:(gi + 1) * ng].T).T for gi in range(g)], axis=0)  # (Cout, K)
    grads[f"{lay.name}.weight"] = dW.reshape(W.shape)
    if f"{lay.name}.bias" in params:
        grads[f"{lay.name}.bias"] = dT.sum(axis=1)
    if not need_dx:
        return [None]
    Wm = np.ascontiguousarray(W.reshape(g, ng, -1).transpose(0, 2, 1))     # (g, K, ng)
    dcolsT = np.concatenate([Wm[gi] @ dT[gi * ng:(gi + 1) * ng] for gi in range(g)], axis=0) \
        if g > 1 else Wm[0] @ dT                                            # (Cin*kh*kw, rows)
    return [F.col2im(dcolsT.T, xshape, lay)]


def _dense_bwd(lay, dy, cache, params, grads, need_dx):
    xf, xshape, mask = cache
    if mask is not None:
        dy = dy * mask
    W = params[f"{lay.name}.weight"]
    grads[f"{lay.name}.weight"] = dy.T @ xf
    if f"{lay.name}.bias" in params:
        grads[f"{lay.name}.bias"] = dy.sum(axis=0)
    return [(dy @ W).reshape(xshape) if need_dx else None]


def _pool_bwd(lay, dy, cache, params, grads, need_dx):
    maxpool = lay.kind == "maxpool"
    if maxpool:                 # the gradient goes to the arg-max of each window
        arg, xshape = cache
    else:                       # spread evenly over the whole window
        (xshape,) = cache[0]
        d = dy / dy.dtype.type(lay.kernel[0] * lay.kernel[1])
    B, C, H, W = xshape
    kw = lay.kernel[1]
    t, l, b, r = lay.padding
    dxp = np.zeros((B, C, H + t + b, W + l + r), dtype=dy.dtype)
    for i, j, (hs, ws) in F.window_slices(lay):
        dxp[:, :, hs, ws] += dy * (arg == (i * kw + j)) if maxpool else d
    return [dxp[:, :, t:t + H, l:l + W]]


def _global_bwd(lay, dy, cache, params, grads, need_dx):
    (xshape,) = cache[0]
    return [np.broadcast_to(dy / dy.dtype.type(xshape[2] * xshape[3]), xshape).copy()]


def _reshape_bwd(lay, dy, cache, params, grads, need_dx):
    (xshape,) = cache[0]
    return [dy.reshape(xshape)]


def _concat_bwd(lay, dy, cache, params, grads, need_dx):
    cuts = np.cumsum([s[1] for s in cache[0]])[:-1]
    return list(np.split(dy, cuts, axis=1))


def _add_bwd(lay, dy, cache, params, grads, need_dx):
    n, mask = cache
    if mask is not None:
        dy = dy * mask
    return [dy] * n


#: layer kind -> (forward with cache, backward) for every kind the trainer handles; a kind whose
#: :class:`~archsim.model.kinds.KindSpec` says ``trainable`` has an entry (a test checks it)
TRAIN_RULES = {
    "conv": (_conv_fwd, _conv_bwd),
    "dense": (_dense_fwd, _dense_bwd),
    "maxpool": (_maxpool_fwd, _pool_bwd),
    "avgpool": (_shape_fwd, _pool_bwd),
    "globalavgpool": (_shape_fwd, _global_bwd),
    "flatten": (_shape_fwd, _reshape_bwd),
    "identity": (_shape_fwd, _reshape_bwd),
    "concat": (_shape_fwd, _concat_bwd),
    "add": (_add_fwd, _add_bwd),
    "relu": (_relu_fwd, lambda lay, dy, cache, *_: [dy * cache[0]]),
    "sigmoid": (_sigmoid_fwd, lambda lay, dy, cache, *_: [dy * cache[0] * (1 - cache[0])]),
}


def _rule(lay: Layer, which: int):
    rule = TRAIN_RULES.get(lay.kind)
    if rule is None:
        raise ArchsimError(f"layer '{lay.name}': kind '{lay.kind}' is not trainable")
    return rule[which]


def _layer_forward(lay: Layer, ins: list[np.ndarray], params):
    """Output and the cache the backward pass needs."""
    return _rule(lay, 0)(lay, ins, params)


def _layer_backward(lay: Layer, dy: np.ndarray, cache, params, grads, need_dx: bool):
    """Input gradients (list, one per input; None where not needed)."""
    return _rule(lay, 1)(lay, dy, cache, params, grads, need_dx)


def backward(dlogits: np.ndarray, state, params) -> dict[str, np.ndarray]:
    """Gradients of every parameter given the gradient of the loss w.r.t. the output."""
    order, preds, caches = state
    grads: dict[str, np.ndarray] = {}
    dvals: dict[str, np.ndarray] = {order[-1].name: dlogits}
    kinds = {l.name: l.kind for l in order}
    for lay in reversed(order):
        if lay.kind == "input" or lay.name not in dvals:
            continue
        dy = dvals.pop(lay.name)
        ps = preds[lay.name]
        need = any(kinds[p] != "input" for p in ps)
        dxs = _layer_backward(lay, dy, caches[lay.name], params, grads, need)
        for p, dx in zip(ps, dxs):
            if dx is None or kinds[p] == "input":
                continue
            if p in dvals:
                dvals[p] = dvals[p] + dx
            else:
                dvals[p] = dx
    return grads


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray):
    """Mean cross-entropy and its gradient w.r.t. the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = logits.shape[0]
    loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
    d = e / s
    d[np.arange(n), y] -= 1
    return loss, (d / n).astype(logits.dtype)


def loss_and_grads(workload: Workload, x: np.ndarray, y: np.ndarray, params):
    """Mean softmax cross-entropy of a batch and the gradients of every parameter."""
    logits, state = forward_train(workload, x, params)
    logits = logits.reshape(logits.shape[0], -1)
    loss, d = softmax_cross_entropy(logits, y)
    return loss, backward(d, state, params)


# ---------------------------------------------------------------- training ----
def evaluate(workload: Workload, params, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Top-1 accuracy with the exact forward pass of :mod:`archsim.sim.forward`."""
    wl = attach_weights(workload, params)
    return F.accuracy(wl, x, y, chunk=batch)


def fit(workload: Workload, x: np.ndarray, y: np.ndarray, config: TrainConfig = TrainConfig(), *,
        x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
        log: Callable[[str], None] | None = print, params: dict | None = None,
        trainable: Iterable[str] | None = None,
        weight_noise: Callable[[dict, np.random.Generator], dict] | None = None):
    """Train ``workload`` on ``(x, y)``; return ``(params, history)``.

    ``params`` float32, keyed ``<layer>.weight`` / ``<layer>.bias``.  ``history``
    holds one dict per epoch: mean training loss, training accuracy, validation
    accuracy (when given) and seconds.  Same seed, same result.

    ``trainable``: the layer names whose parameters are updated (default all); the others stay as
    given (hybrid training retrains chosen layers only).  ``weight_noise(params, rng)``: noise-aware
    training: each step's forward and backward pass run on the weights it returns (e.g. the clean
    weights plus a draw of the device's programming error), and the gradient updates the clean
    weights; ``rng`` is a stream of its own, seeded from ``config.seed``.
    """
    _check_trainable(workload)
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    in_shape = tuple(workload.input_layer.out_shape)
    if tuple(x.shape[1:]) != in_shape:
        raise ArchsimError(f"workload {workload.name}: training images have shape {x.shape[1:]}, expected {in_shape}")
    rng = np.random.default_rng(config.seed)
    params = {k: np.array(v, dtype=np.float32) for k, v in (params or init_params(workload, config.seed)).items()}
    if trainable is not None:
        names = {l.name for l in workload.weighted_layers()}
        wanted = set(trainable)
        if not wanted or wanted - names:
            raise ArchsimError(f"workload {workload.name}: trainable layers {sorted(wanted - names) or '(none)'} are "
                               f"not weighted layers of it; allowed: {', '.join(sorted(names))}")
        update = [k for k in params if k.rpartition(".")[0] in wanted]
    else:
        update = list(params)
    noise_rng = np.random.default_rng([config.seed, NOISE_STREAM])
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    n = x.shape[0]
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.epochs
    step = 0
    history = []
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        perm = rng.permutation(n)
        losses, correct = [], 0
        for s in range(0, n, config.batch_size):
            idx = perm[s:s + config.batch_size]
            xb, yb = x[idx], y[idx]
            run = params if weight_noise is None else weight_noise(params, noise_rng)
            logits, state = forward_train(workload, xb, run)
            logits = logits.reshape(logits.shape[0], -1)
            loss, d = softmax_cross_entropy(logits, yb)
            grads = backward(d, state, run)
            losses.append(loss)
            correct += int(np.sum(logits.argmax(axis=1) == yb))
            if config.schedule == "cosine":
                f = config.final_lr_fraction
                lr = config.lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * step / total)))
            else:
                lr = config.lr
            step += 1
            for k in update:
                p, g = params[k], grads[k]
                if config.weight_decay and k.endswith(".weight"):
                    g = g + np.float32(config.weight_decay) * p
                if config.optimizer == "adam":
                    m[k] *= config.beta1
                    m[k] += (1 - config.beta1) * g
                    v2[k] *= config.beta2
                    v2[k] += (1 - config.beta2) * (g * g)
                    mh = m[k] / (1 - config.beta1 ** step)
                    vh = v2[k] / (1 - config.beta2 ** step)
                    p -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
                else:
                    m[k] *= config.momentum
                    m[k] += g
                    p -= np.float32(lr) * m[k]
        rec = dict(epoch=epoch + 1, loss=float(np.mean(losses)), train_accuracy=correct / n,
                   seconds=time.perf_counter() - t0)
        if x_val is not None and y_val is not None:
            rec["val_accuracy"] = evaluate(workload, params, x_val, y_val)
        history.append(rec)
        if log:
            log("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()))
    return params, history


def save_weights(path, params: dict[str, np.ndarray], meta: dict | None = None) -> Path:
    """Write ``params`` (float32) and ``meta`` (``meta.<key>`` 0-d arrays, numbers or strings) to ``.npz``.

    No object arrays: the file loads with ``np.load(allow_pickle=False)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    for k, v in (meta or {}).items():
        if isinstance(v, (bool, np.bool_)):
            a = np.array(bool(v))
        elif isinstance(v, (int, float, np.integer, np.floating)):
            a = np.array(v)
        else:
            a = np.array(str(v))
        if a.dtype == object:
            raise ArchsimError(f"meta '{k}' would be an object array")
        arrays[f"meta.{k}"] = a
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))   # a file object: numpy adds no second ".npz"
    return path


def config_meta(config: TrainConfig) -> dict:
    """The training settings as ``meta`` entries."""
    return {f"train.{k}": v for k, v in asdict(config).items()}

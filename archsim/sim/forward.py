"""Forward pass of a workload graph on a batch, with a hook for the matrix products.

``run(workload, x)`` executes the graph in topological order on ``x`` of shape
``(B, *input_shape)`` in float32 and returns the last layer's output.  Every
weighted layer goes through one call per group of the ``matmul`` hook::

    matmul(layer, cols, group) -> (rows, N / groups)

``cols`` is exactly the matrix a crossbar sees: one input vector per row
(``rows = B * Hout * Wout`` for a convolution, ``B`` for a dense layer) and
``K`` inputs per vector, ordered as the rows of :func:`weight_matrix`: for a
convolution ``K`` runs over ``(cin, kh, kw)`` in C order, i.e. the rows of
``W.reshape(Cout, -1).T`` restricted to one group.  The default hook is the exact
product ``cols @ weight_matrix(layer)[group]``; an analog simulator plugs in its
own.  Biases are added digitally after the hook, then the fused activation.

Conventions (what each digital kind does):

* ``padding`` is ``(top, left, bottom, right)``; convolutions and average pooling
  pad with zeros, max pooling with ``-inf``;
* ``avgpool`` divides by the full window, padding included (PyTorch's default
  ``count_include_pad=True``);
* ``clip`` is ReLU6, ``clip(x, 0, 6)`` (the layer record has no bounds);
* ``softmax`` runs over the channel axis (axis 1);
* ``concat`` joins along channels in the order its inputs were added to the graph.

Memory stays bounded: the batch is cut into chunks (``chunk`` images, by default
as many as fit ``max_bytes`` by a per-image estimate) and an intermediate output
is dropped as soon as its last consumer has run.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from archsim.model.errors import ArchsimError
from archsim.sim import forward_kernels as _fk
from archsim.model.weights import _check_weights, weight_matrix
from archsim.model.kinds import CLIP_RANGE
from archsim.model.workload import Layer, Workload

__all__ = [
    "run", "predict", "accuracy", "im2col", "col2im", "pool_windows", "relative_errors",
    "chunk_size", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_CHUNK", "apply_layer", "window_slices",
]

MatmulHook = Callable[[Layer, np.ndarray, int], np.ndarray]

#: default memory budget of one chunk of the batch (intermediate arrays), bytes
DEFAULT_MAX_BYTES = 512 * 2**20
#: most images in one default chunk (small networks: cache-sized buffers beat huge ones)
DEFAULT_MAX_CHUNK = 256


# ------------------------------------------------------------ primitives ----
def _pad(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    t, l, b, r = padding
    if not (t or l or b or r):
        return x
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def pool_windows(x: np.ndarray, kernel, stride, padding, value: float = 0.0) -> np.ndarray:
    """View ``(B, C, Hout, Wout, kh, kw)`` of the windows of ``x`` (B, C, H, W) after padding."""
    xp = _pad(x, padding, value)
    kh, kw = kernel
    sh, sw = stride
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    return win[:, :, ::sh, ::sw]


def window_slices(layer: Layer):
    """``(i, j, (slice_h, slice_w))`` per kernel offset: the padded-input positions it meets per output."""
    _, Ho, Wo = layer.out_shape
    sh, sw = layer.stride
    for i in range(layer.kernel[0]):
        for j in range(layer.kernel[1]):
            yield i, j, (slice(i, i + sh * (Ho - 1) + 1, sh), slice(j, j + sw * (Wo - 1) + 1, sw))


def im2col(x: np.ndarray, layer: Layer, group: int = 0) -> np.ndarray:
    """The im2col matrix of one group of a conv layer: ``(B * Hout * Wout, Cin/groups * kh * kw)``.

    Rows run over ``(b, oh, ow)`` in C order; columns over ``(cin, kh, kw)`` in C
    order within the group, matching :func:`weight_matrix`.  The array is built
    column-major (one contiguous copy per kernel offset is the fastest im2col in
    numpy), so it comes back Fortran-ordered: a plain 2-D array to every numpy
    operation; call ``np.ascontiguousarray`` where a C-ordered one is needed.
    """
    B, C = x.shape[:2]
    cg = C // layer.groups
    xs = x[:, group * cg:(group + 1) * cg] if layer.groups > 1 else x
    _, Ho, Wo = layer.out_shape
    kh, kw = layer.kernel
    out = np.empty((cg, kh, kw, B, Ho, Wo), dtype=x.dtype)
    if layer.stride[1] == 1 and Wo >= 8 and x.flags.c_contiguous and x.dtype in (np.float32, np.float64):
        # one numba pass from the unpadded maps (no padded copy; runs of output columns copied whole):
        # the same values, 2-3x faster than the copies below on the MNIST networks' 3x3 layers
        _fk.im2col_into(x, group * cg, layer.padding[0], layer.padding[1], *layer.stride, out)
        return out.reshape(cg * kh * kw, B * Ho * Wo).T
    xp = _pad(xs, layer.padding)
    for i, j, (hs, ws) in window_slices(layer):
        out[:, i, j] = xp[:, :, hs, ws].transpose(1, 0, 2, 3)
    return out.reshape(cg * kh * kw, B * Ho * Wo).T


def col2im(dcols: np.ndarray, x_shape, layer: Layer) -> np.ndarray:
    """Adjoint of :func:`im2col` over all groups: ``dcols`` (B*Hout*Wout, Cin*kh*kw) -> (B, Cin, H, W).

    ``dcols`` holds the groups side by side (group-major columns), as
    ``np.concatenate([im2col(x, layer, g) for g in groups], axis=1)`` would;
    a Fortran-ordered ``dcols`` (the transpose of a C-ordered ``(K, rows)``) is read without a copy.
    """
    B, C, H, W = x_shape
    _, Ho, Wo = layer.out_shape
    kh, kw = layer.kernel
    t, l, b, r = layer.padding
    d = dcols.T.reshape(C, kh, kw, B, Ho, Wo)
    dxp = np.zeros((B, C, H + t + b, W + l + r), dtype=dcols.dtype)
    for i, j, (hs, ws) in window_slices(layer):
        dxp[:, :, hs, ws] += d[:, i, j].transpose(1, 0, 2, 3)
    return dxp[:, :, t:t + H, l:l + W]


def _activate(y: np.ndarray, act: str | None) -> np.ndarray:
    if act is None:
        return y
    if act == "relu":
        return np.maximum(y, 0, out=y)
    raise ArchsimError(f"unknown fused activation '{act}'; allowed: relu or none")


def _exact(layer: Layer, cols: np.ndarray, group: int, _cache: dict) -> np.ndarray:
    mats = _cache.get(layer.name)
    if mats is None:
        Wm = weight_matrix(layer, cols.dtype)
        mats = _cache[layer.name] = (Wm, np.ascontiguousarray(Wm.transpose(0, 2, 1)))
    Wm, WmT = mats
    if cols.flags.f_contiguous and not cols.flags.c_contiguous and cols.shape[0] >= 4 * Wm.shape[2]:
        # im2col's column-major matrix: (N/g, K) @ (K, rows) keeps both operands C-ordered, which
        # OpenBLAS runs up to 6x faster than the transposed form for narrow layers; same sums
        return (WmT[group] @ cols.T).T
    return cols @ Wm[group]


def _call(mm, layer: Layer, cols: np.ndarray, group: int, ng: int) -> np.ndarray:
    out = mm(layer, cols, group)
    # a user hook's array may be its own (cached, read-only): bias and ReLU then work on a copy
    out = np.asarray(out) if getattr(mm, "_archsim_exact", False) else np.array(out, dtype=cols.dtype)
    if out.shape != (cols.shape[0], ng):
        raise ArchsimError(f"matmul hook for layer '{layer.name}' group {group} returned shape {out.shape}, "
                           f"expected {(cols.shape[0], ng)}")
    return out


def _conv_product(mm, layer: Layer, x: np.ndarray, group: int, ng: int) -> np.ndarray:
    """One group's products: the hook's ``conv_maps(layer, x, group)`` where it has one and returns an array
    (a fresh one, the hook's to give: it reads the input maps without an im2col matrix), else the hook on
    :func:`im2col`'s matrix."""
    maps = getattr(mm, "conv_maps", None)
    if maps is not None:
        out = maps(layer, x, group)
        if out is not None:
            _, Ho, Wo = layer.out_shape
            out = np.asarray(out, dtype=x.dtype)
            if out.shape != (x.shape[0] * Ho * Wo, ng):
                raise ArchsimError(f"conv_maps hook for layer '{layer.name}' group {group} returned shape "
                                   f"{out.shape}, expected {(x.shape[0] * Ho * Wo, ng)}")
            return out
    return _call(mm, layer, im2col(x, layer, group), group, ng)


def _conv(layer: Layer, x: np.ndarray, mm, pool: Layer | None = None) -> np.ndarray:
    """The convolution's output; with ``pool`` (a max pooling without padding, its only consumer, see
    :func:`_pool_fusions`) that pooling's output, each value the same as the two layers apart give."""
    B = x.shape[0]
    Cout, Ho, Wo = layer.out_shape
    ng = Cout // layer.groups
    dt = x.dtype
    if layer.groups == 1:
        y = _conv_product(mm, layer, x, 0, ng)
    else:
        y = np.empty((B * Ho * Wo, Cout), dtype=dt, order="F")
        for g in range(layer.groups):
            y[:, g * ng:(g + 1) * ng] = _conv_product(mm, layer, x, g, ng)
    if layer.activation in (None, "relu") and dt in (np.float32, np.float64) and y.dtype == dt and y.ndim == 2:
        # bias, ReLU and the channel-major layout in one pass (the same numbers as the numpy steps below)
        out = np.empty((B, Cout, Ho, Wo), dtype=dt)
        has_bias = layer.bias is not None
        bias = np.asarray(layer.bias, dtype=dt) if has_bias else np.zeros(0, dtype=dt)
        if pool is not None:
            # and the max pooling in the same pass: the conv's output is never written whole
            pooled = np.empty((B, Cout) + tuple(pool.out_shape[1:]), dtype=dt)
            _fk.conv_out_pool(y.T, bias, has_bias, layer.activation == "relu", Ho, Wo, *pool.kernel, *pool.stride,
                              pooled)
            return pooled
        _fk.conv_out(y.T, bias, has_bias, layer.activation == "relu", out.reshape(B, Cout, Ho * Wo))
        return out
    if layer.bias is not None:
        y += np.asarray(layer.bias, dtype=dt)
    y = _activate(y, layer.activation)
    if y.flags.f_contiguous:      # (Cout, rows) in memory
        y = np.ascontiguousarray(y.T.reshape(Cout, B, Ho, Wo).transpose(1, 0, 2, 3))
    else:
        y = np.ascontiguousarray(y.reshape(B, Ho, Wo, Cout).transpose(0, 3, 1, 2))
    return y if pool is None else _pool(pool, y)


def _dense(layer: Layer, x: np.ndarray, mm) -> np.ndarray:
    cols = np.ascontiguousarray(x.reshape(x.shape[0], -1))
    y = _call(mm, layer, cols, 0, layer.N)
    if layer.bias is not None:
        y += np.asarray(layer.bias, dtype=x.dtype)
    return _activate(y, layer.activation)


def _pool(layer: Layer, x: np.ndarray) -> np.ndarray:
    is_max = layer.kind == "maxpool"
    _, Ho, Wo = layer.out_shape
    inside = x.ndim == 4 and (Ho - 1) * layer.stride[0] + layer.kernel[0] <= x.shape[2] \
        and (Wo - 1) * layer.stride[1] + layer.kernel[1] <= x.shape[3]
    if is_max and not any(layer.padding) and x.dtype in (np.float32, np.float64) and inside:
        out = np.empty(x.shape[:2] + (Ho, Wo), dtype=x.dtype)
        _fk.max_pool(x, *layer.kernel, *layer.stride, out)      # one pass, the same numbers as below
        return out
    xp = _pad(x, layer.padding, -np.inf if is_max else 0.0)
    out = None
    for _, _, (hs, ws) in window_slices(layer):
        v = xp[:, :, hs, ws]
        if out is None:
            out = v.copy()
        elif is_max:
            np.maximum(out, v, out=out)
        else:
            out += v
    if not is_max:
        out /= x.dtype.type(layer.kernel[0] * layer.kernel[1])
    return out


def _softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _add(layer: Layer, inputs: list[np.ndarray]) -> np.ndarray:
    y = inputs[0].copy()
    for other in inputs[1:]:
        y += other
    return _activate(y, layer.activation)


#: layer kind -> forward function ``(layer, inputs, matmul) -> output``; every kind of
#: :data:`archsim.model.kinds.KINDS` but the graph input has one (a test checks it)
FORWARD = {
    "conv": lambda layer, xs, mm: _conv(layer, xs[0], mm),
    "dense": lambda layer, xs, mm: _dense(layer, xs[0], mm),
    "maxpool": lambda layer, xs, mm: _pool(layer, xs[0]),
    "avgpool": lambda layer, xs, mm: _pool(layer, xs[0]),
    "globalavgpool": lambda layer, xs, mm: xs[0].mean(axis=(2, 3), keepdims=True, dtype=xs[0].dtype),
    "flatten": lambda layer, xs, mm: xs[0].reshape(xs[0].shape[0], -1),
    "add": lambda layer, xs, mm: _add(layer, xs),
    "concat": lambda layer, xs, mm: np.concatenate(xs, axis=1),
    "relu": lambda layer, xs, mm: np.maximum(xs[0], 0),
    "sigmoid": lambda layer, xs, mm: (1.0 / (1.0 + np.exp(-xs[0]))).astype(xs[0].dtype),
    "clip": lambda layer, xs, mm: np.clip(xs[0], *CLIP_RANGE),
    "softmax": lambda layer, xs, mm: _softmax(xs[0], 1),
    "identity": lambda layer, xs, mm: xs[0],
}


def apply_layer(layer: Layer, inputs: list[np.ndarray], matmul) -> np.ndarray:
    """Output of one layer on its (batched) inputs; ``matmul`` as in :func:`run` (never None here)."""
    fn = FORWARD.get(layer.kind)
    if fn is None:
        raise ArchsimError(f"layer '{layer.name}': the forward pass has no rule for kind '{layer.kind}'")
    return fn(layer, inputs, matmul)


# --------------------------------------------------------------- the run ----
def _plan(workload: Workload):
    order = workload.layers()
    preds = {l.name: list(workload.graph.predecessors(l.name)) for l in order}
    return order, preds


def chunk_size(workload: Workload, max_bytes: int = DEFAULT_MAX_BYTES, itemsize: int = 4) -> int:
    """Images per chunk so that one chunk's intermediate arrays stay near ``max_bytes``.

    Per image: the largest ``im2col matrix + 2 x output`` of any layer plus the
    four largest feature maps alive at once (a generous bound for residual nets).
    """
    layers = workload.layers()
    peak = 0
    for l in layers:
        cols = (l.K * l.vectors) if l.kind == "conv" else l.in_size
        peak = max(peak, cols + 2 * l.out_size + l.in_size)
    live = sum(sorted((l.out_size for l in layers), reverse=True)[:4])
    per_image = (peak + live) * itemsize
    return max(1, int(max_bytes // max(per_image, 1)))


def _pool_fusions(order, preds, keep: set[str], last: str) -> dict[str, Layer]:
    """``{conv: pool}``: each convolution whose only consumer is a max pooling without padding (whose only
    input it is), its own output neither collected nor the network's: the pair runs as one step (:func:`_conv`
    with ``pool``), so the convolution's full output is never written."""
    users: dict[str, list[str]] = {}
    for n, ps in preds.items():
        for p in ps:
            users.setdefault(p, []).append(n)
    by_name = {l.name: l for l in order}
    fused = {}
    for lay in order:
        nxt = users.get(lay.name, [])
        if lay.kind != "conv" or len(nxt) != 1 or lay.name in keep or lay.name == last:
            continue
        pool = by_name[nxt[0]]
        if pool.kind != "maxpool" or preds[pool.name] != [lay.name] or any(pool.padding):
            continue
        _, Ho, Wo = lay.out_shape
        (kh, kw), (sh, sw) = pool.kernel, pool.stride
        _, Hp, Wp = pool.out_shape
        if (Hp - 1) * sh + kh <= Ho and (Wp - 1) * sw + kw <= Wo:
            fused[lay.name] = pool
    return fused


def _run_chunk(order, preds, x, mm, keep: set[str], last: str) -> dict[str, np.ndarray]:
    remaining: dict[str, int] = {}
    for n, ps in preds.items():
        for p in ps:
            remaining[p] = remaining.get(p, 0) + 1
    vals: dict[str, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    fused = _pool_fusions(order, preds, keep, last)
    pooled = {p.name for p in fused.values()}
    for lay in order:
        if lay.kind == "input":
            y = x
        elif lay.name in fused or lay.name in pooled:
            # a convolution and its max pooling: the convolution's value is the pooling's output already
            (p,) = preds[lay.name]
            y = _conv(lay, vals[p], mm, fused[lay.name]) if lay.name in fused else vals[p]
            remaining[p] -= 1
            if remaining[p] == 0:
                del vals[p]
        else:
            y = apply_layer(lay, [vals[p] for p in preds[lay.name]], mm)
            for p in preds[lay.name]:
                remaining[p] -= 1
                if remaining[p] == 0:
                    del vals[p]
        if lay.name in keep or lay.name == last:
            out[lay.name] = y
        if remaining.get(lay.name, 0):
            vals[lay.name] = y
    return out


def run(workload: Workload, x: np.ndarray, matmul: MatmulHook | None = None, *,
        collect: bool | Iterable[str] = False, chunk: int | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES, dtype=np.float32):
    """Run ``workload`` on the batch ``x`` (B, *input_shape); return the last layer's output.

    ``matmul(layer, cols, group)``: see the module docstring; default exact.
    ``collect=True`` (or an iterable of layer names) returns ``(output, {name: output})``
    with every (or the named) layer's output over the whole batch, for per-layer
    error analysis.  ``chunk`` images are processed at a time (default: what fits
    ``max_bytes`` by :func:`chunk_size`, at most ``DEFAULT_MAX_CHUNK``); results
    do not depend on it beyond float rounding.  A hook is called once per chunk,
    weighted layer and group, in topological order.
    """
    x = np.asarray(x)
    in_shape = tuple(workload.input_layer.out_shape)
    if x.ndim != len(in_shape) + 1 or tuple(x.shape[1:]) != in_shape:
        raise ArchsimError(f"workload {workload.name}: input batch has shape {x.shape}, expected (B, "
                           f"{', '.join(map(str, in_shape))})")
    if not np.issubdtype(x.dtype, np.number):
        raise ArchsimError(f"workload {workload.name}: input has dtype {x.dtype}, expected numbers")
    x = x.astype(dtype, copy=False)
    order, preds = _plan(workload)
    for lay in order:
        _check_weights(lay)
    sinks = [n for n in workload.graph.nodes if workload.graph.out_degree(n) == 0]
    if len(sinks) != 1:
        raise ArchsimError(f"workload {workload.name}: the forward pass needs one output layer, found {sorted(sinks)}")
    last = sinks[0]
    if collect is True:
        keep = {l.name for l in order}
    elif collect:
        keep = set(collect)
        unknown = keep - {l.name for l in order}
        if unknown:
            raise ArchsimError(f"workload {workload.name}: collect names unknown layers {sorted(unknown)}")
    else:
        keep = set()
    if matmul is None:
        cache: dict = {}
        def mm(layer, cols, group):
            return _exact(layer, cols, group, cache)
        mm._archsim_exact = True
    else:
        mm = matmul
    B = x.shape[0]
    step = int(chunk) if chunk else min(DEFAULT_MAX_CHUNK, chunk_size(workload, max_bytes, np.dtype(dtype).itemsize))
    if step < 1:
        raise ArchsimError(f"chunk must be a positive number of images, got {chunk}")
    parts: dict[str, list[np.ndarray]] = {}
    for s in range(0, max(B, 1), step):
        res = _run_chunk(order, preds, x[s:s + step], mm, keep, last)
        for k, v in res.items():
            parts.setdefault(k, []).append(v)
    outs = {k: (v[0] if len(v) == 1 else np.concatenate(v, axis=0)) for k, v in parts.items()}
    y = outs[last]
    if collect:
        return y, {k: outs[k] for k in (l.name for l in order) if k in keep}
    return y


def predict(workload: Workload, x: np.ndarray, matmul: MatmulHook | None = None, **kw) -> np.ndarray:
    """Class index per image: argmax of the output."""
    y = run(workload, x, matmul, **kw)
    return y.reshape(y.shape[0], -1).argmax(axis=1)


def accuracy(workload: Workload, x: np.ndarray, y: np.ndarray, matmul: MatmulHook | None = None, **kw) -> float:
    """Top-1 accuracy (fraction) of ``workload`` on ``(x, y)``."""
    return float(np.mean(predict(workload, x, matmul, **kw) == np.asarray(y)))


def relative_errors(reference: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Per-layer relative error ``||test - ref|| / ||ref||`` (Frobenius over the batch).

    Both arguments are ``{layer: output}`` dicts as returned by ``run(..., collect=True)``.
    """
    rows = []
    for name, ref in reference.items():
        if name not in test:
            continue
        ref64 = np.asarray(ref, dtype=np.float64)
        diff = np.asarray(test[name], dtype=np.float64) - ref64
        den = np.linalg.norm(ref64)
        rows.append(dict(layer=name, rel_error=float(np.linalg.norm(diff) / den) if den > 0 else float(np.linalg.norm(diff)),
                         max_abs_error=float(np.abs(diff).max()) if diff.size else 0.0))
    return pd.DataFrame(rows, columns=["layer", "rel_error", "max_abs_error"])

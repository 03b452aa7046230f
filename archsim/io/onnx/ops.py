"""ONNX operators: one small handler per op type, looked up in :data:`OPS`.

A handler ``handler(imp, node, i)`` gets the :class:`~archsim.io.onnx.importer.Importer` walking
the graph, the node and its index; it reads its inputs (:class:`Act` activations, constants,
:class:`Slot` weights without values), imports the node exactly or raises a one-line
:class:`ArchsimError` naming it, and records its output.  :data:`SUPPORTED_OPS` is the table's
keys, sorted.  Operators (default domain, opset >= 7):

* ``Conv`` (2-D; groups, depthwise, ``pads``, ``auto_pad`` ``SAME_UPPER``, ``SAME_LOWER``,
  ``VALID``, strides; dilation must be 1) -> ``conv``;
* ``Gemm`` (``transB``, ``alpha``, ``beta``; ``transA`` must be 0) and ``MatMul`` (activation
  ``(batch, K)`` times a constant ``(K, N)``) -> ``dense``;
* ``Add`` of two activations of the same shape and ``Sum`` -> residual ``add``; ``Add`` of an
  activation and a constant folds into the bias of the conv or dense layer right before it (a
  per-channel or scalar constant), and nowhere else;
* ``BatchNormalization`` (inference mode) folds into the conv or dense layer right before it
  (:func:`archsim.model.weights.fold_batchnorm`); anywhere else it is an error naming the node;
* ``Relu`` (and ``Clip(0, inf)``) fuses into the conv, dense or add right before it when that
  layer's output feeds nothing else, else a ``relu`` layer; ``Clip(0, 6)`` -> ``clip`` (ReLU6;
  other bounds are refused); ``Sigmoid``;
* ``MaxPool`` (``ceil_mode`` as extra bottom/right padding), ``AveragePool`` (padding only with
  ``count_include_pad=1``: archsim divides by the whole window), ``GlobalAveragePool``, and
  ``ReduceMean`` over the spatial axes (2, 3) (a global average pool, flattened where ``keepdims=0``);
* ``Flatten`` (axis 1), ``Reshape`` to ``(batch, -1)`` style flattening only, ``Concat`` on the
  channel axis, ``Softmax`` over the channel axis, ``Identity`` and ``Dropout`` (inference:
  ``identity`` layers), ``Constant``.

Weights must be initializers or ``Constant`` nodes; a graph input used only as a weight (what
``save_onnx(weights="none")`` writes) gives a layer with its shape and no values: estimates work,
the forward pass asks for weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from archsim.model.errors import ArchsimError

__all__ = ["OPS", "SUPPORTED_OPS", "Act", "Slot", "attrs"]

_BIG = 3.0e38                   # Clip bounds at or beyond this are "no bound" (float32 max is 3.4e38)


@dataclass(frozen=True)
class Act:
    """An activation tensor: the output of ``layer``, per-image ``shape``."""
    layer: str
    shape: tuple


@dataclass(frozen=True)
class Slot:
    """A weight without values: a graph input used only as a weight, with its declared shape."""
    name: str
    shape: tuple


def attrs(node) -> dict:
    from onnx import helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return out


def conv(imp, node, i):
    x = imp.act(node, i, 0)
    W = imp.const(node, i, 1, slot_ok=True)
    B = imp.const(node, i, 2, required=False, slot_ok=True)
    wshape = W.shape
    if len(wshape) != 4:
        raise ArchsimError(f"{imp.node_where(node, i)}: weight of shape {tuple(wshape)}; archsim imports "
                           f"2-D convolutions, weight (Cout, Cin/groups, kh, kw)")
    a = attrs(node)
    if "kernel_shape" not in a:
        a["kernel_shape"] = list(wshape[2:])
    ks, strides = imp.window(node, i, a, x)
    if tuple(ks) != tuple(wshape[2:]):
        raise ArchsimError(f"{imp.node_where(node, i)}: kernel_shape {list(ks)} disagrees with the "
                           f"weight's {tuple(wshape[2:])}")
    groups = int(a.get("group", 1))
    c = x.shape[0]
    cout = int(wshape[0])
    if groups < 1 or wshape[1] * groups != c or cout % groups:
        raise ArchsimError(f"{imp.node_where(node, i)}: weight {tuple(wshape)} with group={groups} does "
                           f"not fit {c} input channels (need Cin/groups = weight dim 1 and groups | Cout)")
    if B is not None and tuple(B.shape) not in ((cout,),):
        raise ArchsimError(f"{imp.node_where(node, i)}: bias of shape {tuple(B.shape)}; expected ({cout},)")
    imp.same_kind(node, i, W, B)
    pads = imp.pads(node, i, a, x.shape[1:], ks, strides)
    name = imp.b.conv(imp.new_name(node, i), cout, ks, strides, pads, groups, relu=False, bias=B is not None,
                      src=x.layer, weights=imp.weight_values(node, i, W, "weight"),
                      bias_values=imp.weight_values(node, i, B, "bias"))
    imp.fix_slots(name)
    imp.set_output(node, i, name)


def gemm(imp, node, i):
    x = imp.act(node, i, 0)
    B = imp.const(node, i, 1, slot_ok=True)
    C = imp.const(node, i, 2, required=False, slot_ok=True)
    a = attrs(node)
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    if int(a.get("transA", 0)):
        raise ArchsimError(f"{imp.node_where(node, i)}: transA=1 transposes the batch; allowed transA=0")
    trans_b = int(a.get("transB", 0))
    imp.flat_input(node, i, x)
    if len(B.shape) != 2:
        raise ArchsimError(f"{imp.node_where(node, i)}: weight of shape {tuple(B.shape)}; expected 2-D")
    N, K = (B.shape[0], B.shape[1]) if trans_b else (B.shape[1], B.shape[0])
    if K != x.shape[0]:
        raise ArchsimError(f"{imp.node_where(node, i)}: weight {tuple(B.shape)} (transB={trans_b}) takes "
                           f"{K} inputs, the input has {x.shape[0]}")
    imp.same_kind(node, i, B, C)
    if not math.isfinite(alpha) or not math.isfinite(beta):
        raise ArchsimError(f"{imp.node_where(node, i)}: alpha={alpha}, beta={beta}; allowed finite values")
    W = B
    if not isinstance(B, Slot):
        W = imp.weight_values(node, i, B if trans_b else B.T, "weight")
        if alpha != 1.0:
            W = (W.astype(np.float64) * alpha).astype(np.float32)
    bias, has_bias = None, False
    if C is not None and beta != 0.0:
        has_bias = True
        if isinstance(C, Slot):
            if math.prod(C.shape) not in (1, N):
                raise ArchsimError(f"{imp.node_where(node, i)}: bias of shape {C.shape}; expected ({N},)")
        else:
            bias = imp.bias_vector(node, i, C, N, "dense") * np.float32(beta)
    name = imp.b.dense(imp.new_name(node, i), N, relu=False, bias=has_bias, src=x.layer,
                       weights=None if isinstance(W, Slot) else W, bias_values=bias)
    imp.set_output(node, i, name)


def mat_mul(imp, node, i):
    if node.input[0] in imp.consts and node.input[1] in imp.env:
        raise ArchsimError(f"{imp.node_where(node, i)}: the constant is on the left; archsim maps x @ W "
                           f"with the activation on the left and a constant (K, N) weight on the right")
    x = imp.act(node, i, 0)
    B = imp.const(node, i, 1, slot_ok=True)
    imp.flat_input(node, i, x)
    if len(B.shape) != 2 or B.shape[0] != x.shape[0]:
        raise ArchsimError(f"{imp.node_where(node, i)}: weight of shape {tuple(B.shape)} does not take "
                           f"{x.shape[0]} inputs; expected ({x.shape[0]}, N)")
    W = None if isinstance(B, Slot) else imp.weight_values(node, i, B.T, "weight")
    name = imp.b.dense(imp.new_name(node, i), int(B.shape[1]), relu=False, bias=False, src=x.layer, weights=W)
    imp.set_output(node, i, name)


def add(imp, node, i):
    ins = [t for t in node.input]
    if len(ins) != 2 or not all(ins):
        raise ArchsimError(f"{imp.node_where(node, i)}: expected two inputs")
    acts = [t in imp.env for t in ins]
    if all(acts):
        _residual(imp, node, i, ins)
        return
    if not any(acts):
        raise ArchsimError(f"{imp.node_where(node, i)}: adds two constants; archsim does not fold constants "
                           f"(simplify the model, e.g. with onnxsim)")
    k = 0 if acts[0] else 1
    x = imp.env[ins[k]]
    c = imp.const(node, i, 1 - k, slot_ok=True)
    lay = imp.layer(x.layer)
    if not (lay.weighted and lay.activation is None and imp.uses[ins[k]] == 1):
        why = (f"a {lay.kind} layer" if not lay.weighted else
               f"{lay.kind} layer '{lay.name}' after its activation" if lay.activation else
               f"{lay.kind} layer '{lay.name}' whose output also feeds other nodes")
        raise ArchsimError(f"{imp.node_where(node, i)}: adds a constant to the output of {why}; archsim "
                           f"folds an added constant only into the bias of the conv/Gemm/MatMul right before it")
    imp.fold_bias(node, i, lay, c)


def _residual(imp, node, i, ins):
    if len(set(ins)) != len(ins):
        raise ArchsimError(f"{imp.node_where(node, i)}: adds a tensor to itself; archsim's add layer joins "
                           f"different tensors")
    acts = [imp.act(node, i, k) for k in range(len(ins))]
    shapes = {a.shape for a in acts}
    if len(shapes) != 1:
        raise ArchsimError(f"{imp.node_where(node, i)}: adds shapes {sorted(shapes)}; archsim adds "
                           f"tensors of one shape (no broadcasting)")
    name = imp.b.add(imp.new_name(node, i), [a.layer for a in acts], relu=False)
    imp.set_output(node, i, name)


def sum_(imp, node, i):
    ins = [t for t in node.input]
    if not ins or not all(ins):
        raise ArchsimError(f"{imp.node_where(node, i)}: expected activations as inputs")
    if len(ins) == 1:
        x = imp.act(node, i, 0)
        imp.set_output(node, i, imp.b.elementwise("identity", imp.new_name(node, i), src=x.layer))
        return
    _residual(imp, node, i, ins)


def _relu(imp, node, i, x: Act):
    if imp.fusable(node, x, ("conv", "dense", "add")):
        imp.replace_layer(x.layer, activation="relu")
        imp.set_output(node, i, x.layer)
    else:
        imp.set_output(node, i, imp.b.elementwise("relu", imp.new_name(node, i), src=x.layer))


def relu(imp, node, i):
    _relu(imp, node, i, imp.act(node, i, 0))


def clip(imp, node, i):
    x = imp.act(node, i, 0)
    if imp.opset < 11:
        a = attrs(node)
        lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))
    else:
        lo, hi = imp.scalar(node, i, 1), imp.scalar(node, i, 2)
    lo = None if lo is None or lo <= -_BIG else lo
    hi = None if hi is None or hi >= _BIG else hi
    if lo == 0.0 and hi is None:
        _relu(imp, node, i, x)
    elif lo == 0.0 and hi == 6.0:
        imp.set_output(node, i, imp.b.elementwise("clip", imp.new_name(node, i), src=x.layer))
    else:
        raise ArchsimError(f"{imp.node_where(node, i)}: bounds ({lo}, {hi}); archsim's clip is ReLU6, "
                           f"allowed (0, 6) or (0, none) (ReLU)")


def sigmoid(imp, node, i):
    x = imp.act(node, i, 0)
    imp.set_output(node, i, imp.b.elementwise("sigmoid", imp.new_name(node, i), src=x.layer))


def _pool(imp, node, i, kind):
    x = imp.act(node, i, 0)
    a = attrs(node)
    ks, strides = imp.window(node, i, a, x)
    pads = imp.pads(node, i, a, x.shape[1:], ks, strides)
    extra = (0, 0)
    if int(a.get("ceil_mode", 0)):
        extra = tuple(imp.ceil_extra(x.shape[1 + ax], ks[ax], strides[ax], pads[ax], pads[2 + ax])
                      for ax in (0, 1))
    if kind == "avgpool":
        if any(extra):
            raise ArchsimError(f"{imp.node_where(node, i)}: ceil_mode adds partial windows, which archsim's "
                               f"average pooling (dividing by the whole window) does not model; allowed "
                               f"ceil_mode=0 or sizes where it changes nothing")
        if any(pads) and not int(a.get("count_include_pad", 0)):
            raise ArchsimError(f"{imp.node_where(node, i)}: padding with count_include_pad=0; archsim "
                               f"divides by the whole window, allowed count_include_pad=1 or no padding")
    pads = (pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1])
    fn = imp.b.maxpool if kind == "maxpool" else imp.b.avgpool
    name = fn(imp.new_name(node, i), ks, strides, pads, src=x.layer)
    out = node.output[0] if node.output else ""
    if int(a.get("ceil_mode", 0)) and out in imp.inferred:
        # ONNX shape inference keeps ceil-mode windows that start in the right padding (the reference
        # evaluator and PyTorch drop them): where it disagrees, its shapes from here on are not comparable
        inf = imp.inferred[out]
        if len(inf) != 4 or tuple(inf[1:]) != tuple(imp.layer(name).out_shape):
            imp.inferred = {}
    imp.set_output(node, i, name, check_inferred=not int(a.get("ceil_mode", 0)))


def max_pool(imp, node, i):
    _pool(imp, node, i, "maxpool")


def average_pool(imp, node, i):
    _pool(imp, node, i, "avgpool")


def global_average_pool(imp, node, i):
    x = imp.act(node, i, 0)
    if len(x.shape) != 3:
        raise ArchsimError(f"{imp.node_where(node, i)}: input has shape {x.shape} per image; "
                           f"expected (C, H, W)")
    imp.set_output(node, i, imp.b.globalavgpool(imp.new_name(node, i), src=x.layer))


def reduce_mean(imp, node, i):
    """A mean over the spatial axes (2, 3) of (N, C, H, W): PyTorch's ``AdaptiveAvgPool2d(1)`` and
    ``x.mean((2, 3))`` as its torch.export-based exporter writes them (axes as an input from opset 18)."""
    x = imp.act(node, i, 0)
    a = attrs(node)
    axes = a.get("axes")
    if axes is None:
        c = imp.const(node, i, 1, required=False)
        axes = None if c is None else [int(v) for v in np.asarray(c).reshape(-1)]
    rank = len(x.shape) + 1
    ax = sorted({v + rank if v < 0 else v for v in (int(v) for v in (axes or []))})
    if len(x.shape) != 3 or ax != [2, 3]:
        raise ArchsimError(f"{imp.node_where(node, i)}: ReduceMean over axes {list(axes or [])} of a "
                           f"{len(x.shape) + 1}-D input; archsim reads it only as a global average pool, "
                           f"allowed axes (2, 3) of (N, C, H, W)")
    name = imp.b.globalavgpool(imp.new_name(node, i), src=x.layer)
    if not int(a.get("keepdims", 1)):
        name = imp.b.flatten(imp.new_name(node, i), src=name)
    imp.set_output(node, i, name)


def batch_normalization(imp, node, i):
    x = imp.act(node, i, 0)
    lay = imp.layer(x.layer)
    if not (lay.weighted and lay.activation is None and imp.uses[node.input[0]] == 1):
        why = ("the graph input" if lay.kind == "input" else
               f"{lay.kind} layer '{lay.name}'" + (" after its activation" if lay.activation else
                                                   " whose output also feeds other nodes" if lay.weighted else ""))
        raise ArchsimError(f"{imp.node_where(node, i)}: follows {why}; archsim folds batch norm into the "
                           f"conv or Gemm/MatMul right before it (whose output feeds only the batch norm)")
    a = attrs(node)
    if int(a.get("training_mode", 0)):
        raise ArchsimError(f"{imp.node_where(node, i)}: training_mode=1; allowed inference mode (0)")
    if int(a.get("spatial", 1)) != 1:
        raise ArchsimError(f"{imp.node_where(node, i)}: spatial=0; allowed per-channel batch norm (1)")
    eps = float(a.get("epsilon", 1e-5))
    params = [imp.const(node, i, k, slot_ok=True) for k in (1, 2, 3, 4)]
    for p, what in zip(params, ("scale", "B", "mean", "var")):
        if math.prod(p.shape) != lay.N:
            raise ArchsimError(f"{imp.node_where(node, i)}: {what} has shape {tuple(p.shape)}; expected "
                               f"({lay.N},), one value per output channel of '{lay.name}'")
    imp.fold_batch_norm(node, i, lay, params, eps)


def flatten(imp, node, i):
    x = imp.act(node, i, 0)
    axis = int(attrs(node).get("axis", 1))
    rank = len(x.shape) + 1
    if (axis + rank if axis < 0 else axis) != 1:
        raise ArchsimError(f"{imp.node_where(node, i)}: axis={axis}; archsim flattens each image, "
                           f"allowed axis=1")
    imp.set_output(node, i, imp.b.flatten(imp.new_name(node, i), src=x.layer))


def reshape(imp, node, i):
    x = imp.act(node, i, 0)
    if imp.opset < 5:
        raise ArchsimError(f"{imp.node_where(node, i)}: shape as an attribute (opset < 5) is not supported")
    t = imp.const(node, i, 1)
    if not np.issubdtype(t.dtype, np.integer) or t.ndim != 1:
        raise ArchsimError(f"{imp.node_where(node, i)}: shape must be a 1-D integer constant")
    target = [int(v) for v in t]
    allowzero = int(attrs(node).get("allowzero", 0))
    F = math.prod(x.shape)
    ok = False
    if len(target) == 2:
        b0, f1 = target
        batch_ok = (b0 == 0 and not allowzero) or (imp.batch is not None and b0 == imp.batch)
        ok = (b0 == -1 and f1 == F) or (batch_ok and f1 in (-1, F))
    if not ok:
        raise ArchsimError(f"{imp.node_where(node, i)}: reshape of (batch, {', '.join(map(str, x.shape))}) "
                           f"to {target}; archsim imports only flattening reshapes, allowed [-1, {F}], "
                           f"[0, -1] or [batch, -1] (or use Flatten)")
    imp.set_output(node, i, imp.b.flatten(imp.new_name(node, i), src=x.layer))


def concat(imp, node, i):
    ins = [t for t in node.input]
    acts = [imp.act(node, i, k) for k in range(len(ins))]
    axis = int(attrs(node).get("axis", 1))
    rank = len(acts[0].shape) + 1
    if (axis + rank if axis < 0 else axis) != 1:
        raise ArchsimError(f"{imp.node_where(node, i)}: axis={axis}; archsim concatenates channels, "
                           f"allowed axis=1")
    if len({a.layer for a in acts}) != len(acts):
        raise ArchsimError(f"{imp.node_where(node, i)}: joins a tensor with itself; not supported")
    if len({len(a.shape) for a in acts}) != 1:
        raise ArchsimError(f"{imp.node_where(node, i)}: joins tensors of different ranks "
                           f"{[a.shape for a in acts]}")
    imp.set_output(node, i, imp.b.concat(imp.new_name(node, i), [a.layer for a in acts]))


def softmax(imp, node, i):
    x = imp.act(node, i, 0)
    rank = len(x.shape) + 1
    axis = int(attrs(node).get("axis", 1 if imp.opset < 13 else -1))
    axis = axis + rank if axis < 0 else axis
    # archsim's softmax runs over the channel axis (axis 1); before opset 13 ONNX softmaxes over
    # everything from `axis` on, which is the channel axis only for (batch, F) or (batch, C, 1, 1)
    ok = axis == 1 and (imp.opset >= 13 or len(x.shape) == 1 or tuple(x.shape[1:]) == (1, 1))
    if not ok:
        raise ArchsimError(f"{imp.node_where(node, i)}: softmax over axis {axis} of (batch, "
                           f"{', '.join(map(str, x.shape))}) at opset {imp.opset}; archsim's softmax runs "
                           f"over the channel axis, allowed axis=1 (or -1 on (batch, F))")
    imp.set_output(node, i, imp.b.elementwise("softmax", imp.new_name(node, i), src=x.layer))


def identity(imp, node, i):
    x = imp.act(node, i, 0)
    imp.set_output(node, i, imp.b.elementwise("identity", imp.new_name(node, i), src=x.layer))


def dropout(imp, node, i):
    x = imp.act(node, i, 0)
    if imp.opset >= 12 and len(node.input) > 2 and node.input[2]:
        tm = imp.const(node, i, 2)
        if tm.size != 1 or bool(tm.reshape(())):
            raise ArchsimError(f"{imp.node_where(node, i)}: training_mode is true; archsim imports "
                               f"inference graphs (dropout as identity)")
    imp.set_output(node, i, imp.b.elementwise("identity", imp.new_name(node, i), src=x.layer))


def constant(imp, node, i):
    from onnx import numpy_helper
    a = node.attribute
    if len(a) != 1:
        raise ArchsimError(f"{imp.node_where(node, i)}: expected one value attribute")
    a = a[0]
    if a.name == "value":
        v = np.asarray(numpy_helper.to_array(a.t))     # checked by _tensor_check
    elif a.name == "value_float":
        v = np.array(a.f, dtype=np.float32)
    elif a.name == "value_floats":
        v = np.array(list(a.floats), dtype=np.float32)
    elif a.name == "value_int":
        v = np.array(a.i, dtype=np.int64)
    elif a.name == "value_ints":
        v = np.array(list(a.ints), dtype=np.int64)
    else:
        raise ArchsimError(f"{imp.node_where(node, i)}: attribute '{a.name}' is not supported; allowed "
                           f"value, value_float(s), value_int(s)")
    if not node.output or not node.output[0]:
        raise ArchsimError(f"{imp.node_where(node, i)}: has no output")
    imp.consts[node.output[0]] = v


#: ONNX op type (default domain) -> handler
OPS = {
    "Add": add, "AveragePool": average_pool, "BatchNormalization": batch_normalization, "Clip": clip,
    "Concat": concat, "Constant": constant, "Conv": conv, "Dropout": dropout, "Flatten": flatten, "Gemm": gemm,
    "GlobalAveragePool": global_average_pool, "Identity": identity, "MatMul": mat_mul, "MaxPool": max_pool,
    "ReduceMean": reduce_mean, "Relu": relu, "Reshape": reshape, "Sigmoid": sigmoid, "Softmax": softmax,
    "Sum": sum_,
}
#: the op types :func:`archsim.io.onnx.load_onnx` reads, sorted
SUPPORTED_OPS = tuple(sorted(OPS))

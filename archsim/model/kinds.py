"""The layer-kind table: one :class:`KindSpec` per kind a workload may hold.

Every consumer looks a kind up here instead of comparing strings: the graph builder (shape rule),
the cost model (digital operations, activation evaluations), the forward pass and the trainer
(their own ``kind -> function`` tables, checked complete against this one by the tests) and ONNX
import and export (the ONNX operator a kind is written as).  ``conv`` and ``dense`` carry weights
and run on crossbars; every other kind runs in the tiles' digital units.

Shapes are channel-first without the batch axis: ``(C, H, W)`` or ``(F,)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Sequence


def conv_out(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis."""
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def window_shape(in_shape: Sequence[int], channels: int, kernel, stride, padding) -> tuple:
    """``(channels, Hout, Wout)`` of a sliding window over ``(C, H, W)``; padding ``(top, left, bottom, right)``."""
    _, h, w = in_shape
    return (int(channels), conv_out(h, kernel[0], stride[0], padding[0], padding[2]),
            conv_out(w, kernel[1], stride[1], padding[1], padding[3]))


#: bounds of the ``clip`` kind (ReLU6): the forward pass and the ONNX export read them here
CLIP_RANGE = (0.0, 6.0)


# ---- shape rules: (layer, input shapes) -> output shape ----
def _shape_conv(layer, ins):
    return window_shape(ins[0], layer.out_shape[0], layer.kernel, layer.stride, layer.padding)


def _shape_dense(layer, ins):
    return (int(layer.out_shape[0]),)


def _shape_pool(layer, ins):
    return window_shape(ins[0], ins[0][0], layer.kernel, layer.stride, layer.padding)


def _shape_global(layer, ins):
    return (ins[0][0], 1, 1)


def _shape_flatten(layer, ins):
    return (int(math.prod(ins[0])),)


def _shape_same(layer, ins):
    return tuple(ins[0])


def _shape_concat(layer, ins):
    return (sum(s[0] for s in ins),) + tuple(ins[0][1:])


def _shape_input(layer, ins):
    return tuple(layer.in_shape)


# ---- digital work: (layer, number of inputs) -> element operations ----
def _ops_none(layer, n_in):
    return 0


def _ops_window(layer, n_in):
    return layer.out_size * layer.kernel[0] * layer.kernel[1]


def _ops_global(layer, n_in):
    return layer.in_size


def _ops_add(layer, n_in):
    return layer.out_size * (n_in - 1)


# ---- matrix views of the weighted kinds: how a layer becomes a K x N matrix read by input vectors ----
def _conv_K(layer):
    return (layer.in_shape[0] // layer.groups) * layer.kernel[0] * layer.kernel[1]


def _conv_vectors(layer):
    return int(layer.out_shape[1] * layer.out_shape[2])


def _conv_weight_shape(layer):
    return (layer.N, layer.in_shape[0] // layer.groups, *layer.kernel)


def _conv_matrix(W, layer):
    g = layer.groups
    return W.reshape(g, layer.N // g, -1).transpose(0, 2, 1)


def _conv_working_set(layer):
    # a line buffer of kernel_h + stride_h input rows (W_in x C_in values each) and one output row
    c_in, _, w_in = layer.in_shape
    c_out, _, w_out = layer.out_shape
    return (layer.kernel[0] + layer.stride[0]) * w_in * c_in + w_out * c_out


def _dense_matrix(W, layer):
    return W.T[None]


@dataclass(frozen=True)
class MatrixView:
    """How a weighted kind is read as matrix-vector products (the crossbar view).

    ``K(layer)``: rows of one group's matrix (inputs per output); ``N(layer)``: columns over all groups;
    ``vectors(layer)``: input vectors per inference; ``weight_shape(layer)``: the shape of the stored
    weights (ONNX / PyTorch layout); ``matrix(W, layer)``: those weights as ``(groups, K, N / groups)``
    (row ``k`` multiplies element ``k`` of an input vector); ``working_set(layer)``: activation values one
    replica keeps in its tile buffers; ``layout``: the weight layout in words, for messages."""

    K: Callable
    N: Callable
    vectors: Callable
    weight_shape: Callable
    matrix: Callable
    working_set: Callable
    layout: str


CONV_VIEW = MatrixView(K=_conv_K, N=lambda l: int(l.out_shape[0]), vectors=_conv_vectors,
                       weight_shape=_conv_weight_shape, matrix=_conv_matrix, working_set=_conv_working_set,
                       layout="(Cout, Cin/groups, kh, kw)")
DENSE_VIEW = MatrixView(K=lambda l: int(l.in_shape[0]), N=lambda l: int(l.out_shape[0]), vectors=lambda l: 1,
                        weight_shape=lambda l: (l.N, l.K), matrix=_dense_matrix,
                        working_set=lambda l: l.K + l.N, layout="(N, K)")


@dataclass(frozen=True)
class KindSpec:
    """What every part of archsim needs to know about one layer kind.

    ``shape(layer, in_shapes)`` gives the output shape; ``digital_ops(layer, n_inputs)`` the element
    operations the tile's digital units spend (beside activation evaluations, counted when
    ``activation`` is set or the layer carries a fused activation); ``onnx_op`` the operator it is
    exported as (None: not written as a node); ``trainable``: the numpy trainer has its backward pass;
    ``matrix``: the crossbar view of a weighted kind (:class:`MatrixView`; None for the others).
    """

    name: str
    shape: Callable
    digital_ops: Callable = _ops_none
    weighted: bool = False
    activation: bool = False
    onnx_op: str | None = None
    trainable: bool = True
    inputs: str = "one"            # one | many (add, concat) | none (the graph input)
    matrix: MatrixView | None = None


_SPECS = (
    KindSpec("input", _shape_input, inputs="none"),
    KindSpec("conv", _shape_conv, weighted=True, onnx_op="Conv", matrix=CONV_VIEW),
    KindSpec("dense", _shape_dense, weighted=True, onnx_op="Gemm", matrix=DENSE_VIEW),
    KindSpec("maxpool", _shape_pool, _ops_window, onnx_op="MaxPool"),
    KindSpec("avgpool", _shape_pool, _ops_window, onnx_op="AveragePool"),
    KindSpec("globalavgpool", _shape_global, _ops_global, onnx_op="GlobalAveragePool"),
    KindSpec("add", _shape_same, _ops_add, onnx_op="Add", inputs="many"),
    KindSpec("concat", _shape_concat, onnx_op="Concat", inputs="many"),
    KindSpec("relu", _shape_same, activation=True, onnx_op="Relu"),
    KindSpec("sigmoid", _shape_same, activation=True, onnx_op="Sigmoid"),
    KindSpec("clip", _shape_same, activation=True, onnx_op="Clip", trainable=False),
    KindSpec("flatten", _shape_flatten, onnx_op="Flatten"),
    KindSpec("softmax", _shape_same, activation=True, onnx_op="Softmax", trainable=False),
    KindSpec("identity", _shape_same, onnx_op="Identity"),
)

_BY_NAME = {s.name: s for s in _SPECS}
#: kind name -> spec, in a stable order (a read-only view; :func:`register` adds a kind)
KINDS = MappingProxyType(_BY_NAME)
WEIGHTED = tuple(s.name for s in _SPECS if s.weighted)


def register(spec: KindSpec) -> None:
    """Add a layer kind to the table (docs/extending.md); a kind already there is refused."""
    if spec.name in _BY_NAME:
        raise ValueError(f"layer kind '{spec.name}' is already in the table")
    if spec.weighted and spec.matrix is None:
        raise ValueError(f"layer kind '{spec.name}' is weighted but has no matrix view")
    _BY_NAME[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a kind :func:`register` added (the built-in kinds stay)."""
    if any(s.name == name for s in _SPECS):
        raise ValueError(f"layer kind '{name}' is built in")
    _BY_NAME.pop(name, None)
ELEMENTWISE = tuple(s.name for s in _SPECS if s.activation) + ("identity",)

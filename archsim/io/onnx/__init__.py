"""Bring your own network: ONNX import (with weights) and export.

``load_onnx(path)`` reads an ONNX file into a :class:`~archsim.workload.Workload`
whose weighted layers carry the file's weights in the layouts of
:mod:`archsim.workload` (conv ``(Cout, Cin/groups, kh, kw)``, dense ``(N, K)``).
``save_onnx(workload, path)`` writes a workload as an ONNX model (opset 17,
IR version 8, built with ``onnx.helper``; valid under ``onnx.checker``).

ONNX is an optional extra (``pip install archsim[onnx]``); ``import archsim``
does not need it.

Import
------
Shapes come from the data input's declared shape (the batch axis, fixed or
dynamic, is dropped; ``input_shape=`` gives the per-image shape of a model with
dynamic spatial axes) and are propagated node by node with archsim's own rules;
where ``onnx.shape_inference`` knows an output shape, the two must agree (except
for ceil-mode pooling, where ONNX shape inference keeps windows that start in
the right padding and the ONNX reference evaluator and PyTorch drop them;
archsim follows the latter).

Operators (default domain, opset >= 7), each imported exactly or refused:

* ``Conv`` (2-D; groups, depthwise, ``pads``, ``auto_pad`` ``SAME_UPPER``,
  ``SAME_LOWER``, ``VALID``, strides; dilation must be 1) -> ``conv``;
* ``Gemm`` (``transB``, ``alpha``, ``beta``; ``transA`` must be 0) and
  ``MatMul`` (activation ``(batch, K)`` times a constant ``(K, N)``) -> ``dense``;
* ``Add`` of two activations of the same shape and ``Sum`` -> residual ``add``;
  ``Add`` of an activation and a constant folds into the bias of the conv or
  dense layer right before it (a per-channel or scalar constant), and nowhere else;
* ``BatchNormalization`` (inference mode) folds into the conv or dense layer
  right before it (:func:`archsim.model.weights.fold_batchnorm`); anywhere else it is
  an error naming the node;
* ``Relu`` (and ``Clip(0, inf)``) fuses into the conv, dense or add right before it
  when that layer's output feeds nothing else, else a ``relu`` layer;
  ``Clip(0, 6)`` -> ``clip`` (ReLU6; other bounds are refused); ``Sigmoid``;
* ``MaxPool`` (``ceil_mode`` as extra bottom/right padding), ``AveragePool``
  (padding only with ``count_include_pad=1``: archsim divides by the whole
  window), ``GlobalAveragePool``, and ``ReduceMean`` over the spatial axes (2, 3)
  (a global average pool, flattened where ``keepdims=0``);
* ``Flatten`` (axis 1), ``Reshape`` to ``(batch, -1)`` style flattening only,
  ``Concat`` on the channel axis, ``Softmax`` over the channel axis,
  ``Identity`` and ``Dropout`` (inference: ``identity`` layers), ``Constant``.

Anything else is an :class:`ArchsimError` naming the node and its op type and
listing :data:`SUPPORTED_OPS`.  Weights must be initializers or ``Constant``
nodes; a graph input used only as a weight (what ``save_onnx(weights="none")``
writes) gives a layer with its shape and no values: estimates work, the forward
pass asks for weights.

Untrusted files: the file size is checked before reading (:data:`MAX_FILE_BYTES`),
external data and sparse initializers are refused, every tensor's declared size
is checked against :data:`MAX_TENSOR_ELEMENTS` and against the bytes it really
holds before an array is made, and every activation against
:data:`MAX_ACTIVATION_ELEMENTS` per image.  Every problem is a one-line
:class:`ArchsimError` naming the file and the node, tensor or key.

Export
------
One node per layer (plus a ``Relu`` for a fused activation): conv -> ``Conv``,
dense -> ``Gemm`` with ``transB=1`` (the ``(N, K)`` weight as is, as PyTorch
writes ``Linear``), add -> ``Add`` (``Sum`` for more than two inputs), pools,
``Flatten``, ``Concat`` (axis 1), ``Softmax`` (axis 1), ``Clip(0, 6)``,
``Identity``.  The batch axis is dynamic (``batch``).  Node and tensor names are
the layer names, so a round trip keeps them.  ``weights``: ``"auto"`` writes
the workload's own weights and, for a workload without weights, deterministic
He-normal random weights (:func:`archsim.model.weights.random_weights` with ``seed``);
``"random"`` and ``"zeros"`` force those; ``"none"`` writes the network's
structure only (weights as graph inputs with their shapes and no values), fast
for VGG-16-sized networks and enough for estimates.
"""
from __future__ import annotations

import math
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from archsim.model.errors import ArchsimError
from archsim.model.weights import attach_weights, fold_batchnorm, random_weights
from archsim.model.workload import CLIP_RANGE, KINDS, GraphBuilder, Layer, Workload

__all__ = ["load_onnx", "save_onnx", "SUPPORTED_OPS", "MAX_FILE_BYTES", "MAX_TENSOR_ELEMENTS",
           "MAX_ACTIVATION_ELEMENTS", "EXPORT_OPSET"]

#: largest ONNX file read (bytes); VGG-16 in float32 is 553 MB
MAX_FILE_BYTES = 1 << 30
#: most elements one tensor (weight, constant, weight placeholder) may declare
MAX_TENSOR_ELEMENTS = 1 << 28
#: most elements of one activation of one image (512 MiB in float32)
MAX_ACTIVATION_ELEMENTS = 1 << 27
#: most nodes in a graph
MAX_NODES = 100_000
#: oldest default-domain opset read
MIN_OPSET = 7
#: opset and IR version written
EXPORT_OPSET = 17
EXPORT_IR_VERSION = 8

SUPPORTED_OPS = ("Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Dropout",
                 "Flatten", "Gemm", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "ReduceMean", "Relu",
                 "Reshape", "Sigmoid", "Softmax", "Sum")

EXPORT_WEIGHTS = ("auto", "random", "zeros", "none")

# ONNX TensorProto data types archsim reads: code -> (name, numpy dtype, typed field holding the values)
_DTYPES = {
    1: ("float", np.float32, "float_data"),
    2: ("uint8", np.uint8, "int32_data"),
    3: ("int8", np.int8, "int32_data"),
    4: ("uint16", np.uint16, "int32_data"),
    5: ("int16", np.int16, "int32_data"),
    6: ("int32", np.int32, "int32_data"),
    7: ("int64", np.int64, "int64_data"),
    9: ("bool", np.bool_, "int32_data"),
    10: ("float16", np.float16, "int32_data"),
    11: ("double", np.float64, "double_data"),
    12: ("uint32", np.uint32, "uint64_data"),
    13: ("uint64", np.uint64, "uint64_data"),
}
_FLOAT_TYPES = (1, 10, 11)      # float, float16, double
_BIG = 3.0e38                   # Clip bounds at or beyond this are "no bound" (float32 max is 3.4e38)


def _onnx():
    """The onnx package, or a one-line error saying how to get it."""
    try:
        import onnx
        import onnx.checker  # noqa: F401
        import onnx.helper  # noqa: F401
        import onnx.numpy_helper  # noqa: F401
        import onnx.shape_inference  # noqa: F401
    except ImportError:
        raise ArchsimError("ONNX import and export need the onnx package: pip install archsim[onnx]") from None
    return onnx


def _one_line(e) -> str:
    text = " ".join(str(e).split())
    return text[:300] + ("..." if len(text) > 300 else "")


# ================================================================= import ====
@dataclass(frozen=True)
class _Act:
    """An activation tensor: the output of ``layer``, per-image ``shape``."""
    layer: str
    shape: tuple


@dataclass(frozen=True)
class _Slot:
    """A weight without values: a graph input used only as a weight, with its declared shape."""
    name: str
    shape: tuple


def _read_model(path: Path, where: str):
    onnx = _onnx()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ArchsimError(f"{where} does not exist") from None
    except OSError as e:
        raise ArchsimError(f"{where}: cannot read it ({e.strerror})") from None
    if not path.is_file():
        raise ArchsimError(f"{where} is not a regular file")
    if st.st_size == 0:
        raise ArchsimError(f"{where} is empty")
    if st.st_size > MAX_FILE_BYTES:
        raise ArchsimError(f"{where} has {st.st_size:,} bytes; archsim reads ONNX files up to "
                           f"{MAX_FILE_BYTES:,} bytes (archsim.onnx_io.MAX_FILE_BYTES)")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ArchsimError(f"{where}: cannot read it ({e.strerror})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ArchsimError(f"{where} grew beyond {MAX_FILE_BYTES:,} bytes while being read")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(raw)
    except Exception as e:  # protobuf's DecodeError and friends: a library boundary, any failure is bad input
        raise ArchsimError(f"{where}: not a readable ONNX model, truncated or malformed ({_one_line(e)})") from None
    del raw
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise ArchsimError(f"{where}: holds no ONNX graph with nodes (not an ONNX model, or truncated)")
    return model


def _tensor_check(t, where: str, what: str) -> None:
    """Refuse external data and tensors whose declared size is absurd or disagrees with their data."""
    if t.data_location == 1 or len(t.external_data):  # TensorProto.EXTERNAL
        raise ArchsimError(f"{where}: {what} '{t.name}' refers to external data; archsim reads only "
                           f"self-contained ONNX files (save with all tensors inside the file; from PyTorch: "
                           f"torch.onnx.export(..., external_data=False))")
    if t.HasField("segment"):
        raise ArchsimError(f"{where}: {what} '{t.name}' is a segment of a tensor; not supported")
    dims = [int(d) for d in t.dims]
    if len(dims) > 8 or any(d < 0 for d in dims):
        raise ArchsimError(f"{where}: {what} '{t.name}' declares shape {tuple(dims)}; allowed up to 8 "
                           f"non-negative dims")
    n = math.prod(dims)
    if n > MAX_TENSOR_ELEMENTS:
        raise ArchsimError(f"{where}: {what} '{t.name}' declares {n:,} elements (shape {tuple(dims)}); "
                           f"the limit is {MAX_TENSOR_ELEMENTS:,} (archsim.onnx_io.MAX_TENSOR_ELEMENTS)")
    if t.data_type not in _DTYPES:
        raise ArchsimError(f"{where}: {what} '{t.name}' has ONNX data type {t.data_type}; archsim reads "
                           f"{', '.join(v[0] for v in _DTYPES.values())}")
    _, dt, field = _DTYPES[t.data_type]
    if t.raw_data:
        have, want = len(t.raw_data), n * np.dtype(dt).itemsize
        unit = "bytes"
    else:
        have, want = len(getattr(t, field)), n
        unit = "values"
    if have != want:
        raise ArchsimError(f"{where}: {what} '{t.name}' declares shape {tuple(dims)} ({want:,} {unit}) but "
                           f"holds {have:,} {unit}; the file is truncated or malformed")


def _light(model, keep: int = 4096):
    """A copy of ``model`` for onnx.checker and shape inference without the bulk of the weights.

    Initializers of more than ``keep`` elements become graph inputs of the same type and shape
    (what the checker and shape inference need from them); small ones (reshape targets, clip
    bounds) stay.  Their data were checked by :func:`_tensor_check`.  Saves seconds per copy
    on VGG-16-sized models, which both tools serialize whole.
    """
    from onnx import ModelProto, helper
    m = ModelProto()
    m.ir_version = model.ir_version
    m.opset_import.extend(model.opset_import)
    src, g = model.graph, m.graph
    g.name = src.name
    g.node.extend(src.node)
    g.input.extend(src.input)
    g.output.extend(src.output)
    g.value_info.extend(src.value_info)
    inputs = {vi.name for vi in src.input}
    for t in src.initializer:
        if math.prod(t.dims) <= keep:
            g.initializer.append(t)
        elif t.name not in inputs:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return m


def _attrs(node) -> dict:
    from onnx import helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    return out


def _safe_name(text: str, limit: int = 128) -> str:
    """Printable, single-line, bounded: names come from untrusted files."""
    s = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in str(text))
    return s[:limit]


def _workload_name(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._-")
    return s[:64] or "onnx_model"


def _static_dims(vi):
    """Declared dims of a value info: list of int or None (dynamic); None without a shape."""
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]


class _Importer:
    def __init__(self, model, where: str, name: str, input_shape):
        self.model = model
        self.g = model.graph
        self.where = where
        self.name = name
        self.opset = self._opset()
        self.consts: dict = {}       # tensor name -> TensorProto (checked, not yet materialised) or np.ndarray
        self.slots: dict = {}        # tensor name -> _Slot
        self.env: dict = {}          # tensor name -> _Act
        self.names: set = {"input"}
        self.uses = Counter(i for n in self.g.node for i in n.input if i)
        for o in self.g.output:
            self.uses[o.name] += 1
        self._scan()
        self.inferred = self._infer()
        self.b = self._input(input_shape)

    # -- messages --
    def _node_where(self, node, i) -> str:
        return f"{self.where}: node '{_safe_name(node.name) or f'#{i}'}' ({node.op_type})"

    # -- model-level checks --
    def _opset(self) -> int:
        ver = None
        for imp in self.model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                ver = int(imp.version)
        if ver is None:
            raise ArchsimError(f"{self.where}: imports no default-domain (ai.onnx) opset")
        if ver < MIN_OPSET:
            raise ArchsimError(f"{self.where}: opset {ver} is older than archsim reads (opset >= {MIN_OPSET}); "
                               f"convert it with onnx.version_converter")
        return ver

    def _scan(self) -> None:
        g = self.g
        if len(g.node) > MAX_NODES:
            raise ArchsimError(f"{self.where}: {len(g.node):,} nodes; the limit is {MAX_NODES:,}")
        if len(g.sparse_initializer):
            raise ArchsimError(f"{self.where}: sparse initializer '{g.sparse_initializer[0].values.name}' is "
                               f"not supported; store weights as dense initializers")
        # protobuf hands back invalid UTF-8 in proto2 string fields as bytes: refuse those names up front
        texts = [g.name] + [vi.name for vi in (*g.input, *g.output, *g.value_info)] + [t.name for t in g.initializer]
        for node in g.node:
            texts += [node.name, node.op_type, node.domain, *node.input, *node.output]
        if any(not isinstance(t, str) for t in texts):
            raise ArchsimError(f"{self.where}: holds names or text that are not valid UTF-8 (a malformed file)")
        for t in g.initializer:
            _tensor_check(t, self.where, "initializer")
            self.consts[t.name] = t
        for i, node in enumerate(g.node):
            if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED_OPS:
                dom = f" in domain '{_safe_name(node.domain)}'" if node.domain not in ("", "ai.onnx") else ""
                raise ArchsimError(f"{self.where}: node '{_safe_name(node.name) or f'#{i}'}' has op type "
                                   f"'{_safe_name(node.op_type)}'{dom}, which archsim cannot import; supported "
                                   f"ops: {', '.join(SUPPORTED_OPS)}")
            for a in node.attribute:
                if a.HasField("t"):
                    _tensor_check(a.t, self.where, f"attribute '{a.name}' of node '{_safe_name(node.name)}'")
                if len(a.tensors) or a.HasField("g") or len(a.graphs) or a.HasField("sparse_tensor"):
                    raise ArchsimError(f"{self.where}: node '{_safe_name(node.name) or f'#{i}'}' "
                                       f"({node.op_type}) has a tensor-list, graph or sparse attribute "
                                       f"'{a.name}'; not supported")
        onnx = _onnx()
        self.light = _light(self.model)
        try:
            onnx.checker.check_model(self.light)
        except Exception as e:  # onnx's ValidationError and its C++ errors: the file is bad input
            raise ArchsimError(f"{self.where}: not a valid ONNX model (onnx.checker: {_one_line(e)})") from None

    def _infer(self) -> dict:
        onnx = _onnx()
        try:
            inf = onnx.shape_inference.infer_shapes(self.light, check_type=False, strict_mode=False)
        except Exception:  # inference is only a cross-check; archsim propagates shapes itself
            return {}
        out = {}
        for vi in list(inf.graph.value_info) + list(inf.graph.output):
            dims = _static_dims(vi)
            if dims is not None:
                out[vi.name] = dims
        return out

    def _input(self, input_shape) -> GraphBuilder:
        g = self.g
        inits = {t.name for t in g.initializer}
        candidates = [vi for vi in g.input if vi.name not in inits]
        weight_pos = {"Conv": (1, 2), "Gemm": (1, 2), "MatMul": (1,), "BatchNormalization": (1, 2, 3, 4),
                      "Add": (1,)}
        data_use = set()
        for node in g.node:
            for k, t in enumerate(node.input):
                if t and k not in weight_pos.get(node.op_type, ()):
                    data_use.add(t)
        data = [vi for vi in candidates if vi.name in data_use]
        if not data and len(candidates) == 1:      # e.g. Add(constant, x): x sits where a bias could
            data = candidates
        data_names = {vi.name for vi in data}
        for vi in candidates:
            if vi.name not in data_names:
                dims = _static_dims(vi)
                if dims is None or any(d is None or d < 0 for d in dims):
                    raise ArchsimError(f"{self.where}: graph input '{_safe_name(vi.name)}' holds weights without "
                                       f"values and without a static shape")
                if math.prod(dims) > MAX_TENSOR_ELEMENTS:
                    raise ArchsimError(f"{self.where}: graph input '{_safe_name(vi.name)}' declares "
                                       f"{math.prod(dims):,} elements; the limit is {MAX_TENSOR_ELEMENTS:,}")
                self.slots[vi.name] = _Slot(vi.name, tuple(dims))
        if len(data) != 1:
            found = ", ".join(f"'{_safe_name(v.name)}'" for v in data) or "none"
            raise ArchsimError(f"{self.where}: archsim takes a graph with one data input, found {found}")
        vi = data[0]
        where = f"{self.where}: input '{_safe_name(vi.name)}'"
        if not vi.type.HasField("tensor_type"):
            raise ArchsimError(f"{where} is not a tensor")
        if vi.type.tensor_type.elem_type not in _FLOAT_TYPES:
            raise ArchsimError(f"{where} has ONNX element type {vi.type.tensor_type.elem_type}; "
                               f"allowed float, float16 or double")
        dims = _static_dims(vi)
        if dims is not None and any(d is not None and d < 0 for d in dims):
            raise ArchsimError(f"{where} declares negative dims {tuple(dims)}")
        self.batch = None
        if input_shape is not None:
            shp = tuple(int(s) for s in input_shape)
            if len(shp) not in (1, 3) or any(s <= 0 for s in shp):
                raise ArchsimError(f"{where}: input_shape {tuple(input_shape)}; allowed (C, H, W) or (F,) "
                                   f"of positive sizes, without the batch axis")
            if dims is not None:
                if len(dims) != len(shp) + 1 or any(d not in (None, 0, s) for d, s in zip(dims[1:], shp)):
                    raise ArchsimError(f"{where} is declared {tuple(dims)}; input_shape {shp} does not match it")
                self.batch = dims[0] or None
        else:
            if dims is None:
                raise ArchsimError(f"{where} has no declared shape; give input_shape=(C, H, W) or (F,)")
            if len(dims) not in (2, 4):
                raise ArchsimError(f"{where} has shape {tuple(dims)}; allowed (batch, C, H, W) or (batch, F)")
            if any(not d for d in dims[1:]):
                shown = tuple("?" if not d else d for d in dims)
                raise ArchsimError(f"{where} has dynamic axes {shown}; give the per-image shape with "
                                   f"input_shape=(C, H, W) (CLI: --input-shape C,H,W)")
            shp = tuple(dims[1:])
            self.batch = dims[0] or None
        self._check_act(shp, where)
        b = GraphBuilder(self.name, shp, dataset="")
        self.env[vi.name] = _Act("input", shp)
        return b

    def _check_act(self, shape, where) -> None:
        n = math.prod(shape)
        if n > MAX_ACTIVATION_ELEMENTS:
            raise ArchsimError(f"{where}: activation of shape {tuple(shape)} has {n:,} elements per image; the "
                               f"limit is {MAX_ACTIVATION_ELEMENTS:,} (archsim.onnx_io.MAX_ACTIVATION_ELEMENTS)")

    # -- inputs of a node --
    def _act(self, node, i, k) -> _Act:
        t = node.input[k] if k < len(node.input) else ""
        if not t:
            raise ArchsimError(f"{self._node_where(node, i)}: input {k} is missing")
        if t in self.env:
            return self.env[t]
        if t in self.consts or t in self.slots:
            raise ArchsimError(f"{self._node_where(node, i)}: input {k} ('{_safe_name(t)}') is a constant; "
                               f"archsim expects an activation there")
        raise ArchsimError(f"{self._node_where(node, i)}: input {k} ('{_safe_name(t)}') is produced by no node")

    def _const(self, node, i, k, required=True, slot_ok=False):
        """The constant at input ``k`` as an array, a _Slot (weights without values), or None (absent)."""
        t = node.input[k] if k < len(node.input) else ""
        if not t:
            if required:
                raise ArchsimError(f"{self._node_where(node, i)}: input {k} is missing")
            return None
        if t in self.slots:
            if not slot_ok:
                raise ArchsimError(f"{self._node_where(node, i)}: input {k} ('{_safe_name(t)}') has no values "
                                   f"(a graph input); archsim needs a constant there")
            return self.slots[t]
        if t in self.consts:
            v = self.consts[t]
            if not isinstance(v, np.ndarray):
                from onnx import numpy_helper
                v = self.consts[t] = np.asarray(numpy_helper.to_array(v))   # size checked by _tensor_check
            return v
        raise ArchsimError(f"{self._node_where(node, i)}: input {k} ('{_safe_name(t)}') must be a constant "
                           f"(an initializer or a Constant node); archsim maps only weights stored in the file")

    def _weights(self, node, i, arr, what):
        """float32 copy of a weight array, refusing non-float and non-finite values."""
        if isinstance(arr, _Slot) or arr is None:
            return arr
        if not np.issubdtype(arr.dtype, np.floating):
            raise ArchsimError(f"{self._node_where(node, i)}: {what} has dtype {arr.dtype}; allowed floating point")
        a = np.array(arr, dtype=np.float32)
        if not np.all(np.isfinite(a)):
            raise ArchsimError(f"{self._node_where(node, i)}: {what} holds NaN or infinite values")
        return a

    def _scalar(self, node, i, k):
        v = self._const(node, i, k, required=False)
        if v is None:
            return None
        if v.size != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: input {k} has shape {v.shape}; expected a scalar")
        return float(v.reshape(()))

    # -- outputs --
    def _lname(self, node, i) -> str:
        base = _safe_name(node.name) or f"{node.op_type.lower()}_{i}"
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def _set(self, node, i, layer_name: str, check_inferred=True) -> None:
        lay = self.b.g.nodes[layer_name]["layer"]
        shape = tuple(lay.out_shape)
        self._check_act(shape, self._node_where(node, i))
        out = node.output[0] if len(node.output) else ""
        if not out:
            raise ArchsimError(f"{self._node_where(node, i)}: has no output")
        for extra in node.output[1:]:
            if extra and self.uses[extra]:
                raise ArchsimError(f"{self._node_where(node, i)}: its extra output '{_safe_name(extra)}' is "
                                   f"used; archsim imports only the first output of {node.op_type}")
        inf = self.inferred.get(out)
        if check_inferred and inf is not None and len(inf) >= 1 and all(d is not None for d in inf[1:]):
            if len(inf) != len(shape) + 1 or tuple(inf[1:]) != shape:
                raise ArchsimError(f"{self._node_where(node, i)}: ONNX shape inference gives {tuple(inf)}, "
                                   f"archsim computes (batch, {', '.join(map(str, shape))}); refusing to guess")
        self.env[out] = _Act(layer_name, shape)

    def _layer(self, name) -> Layer:
        return self.b.g.nodes[name]["layer"]

    def _replace(self, name, **changes) -> None:
        self.b.g.nodes[name]["layer"] = replace(self._layer(name), **changes)

    def _fusable(self, node, x: _Act, kinds) -> bool:
        lay = self._layer(x.layer)
        return lay.kind in kinds and lay.activation is None and self.uses[node.input[0]] == 1

    # -- geometry --
    def _pads(self, node, i, a, hw, ks, strides, dil=(1, 1)) -> tuple:
        auto = a.get("auto_pad", "NOTSET") or "NOTSET"
        if auto == "NOTSET":
            p = list(a.get("pads", [0, 0, 0, 0]))
            if len(p) != 4 or any(v < 0 for v in p):
                raise ArchsimError(f"{self._node_where(node, i)}: pads {p}; allowed 4 non-negative values "
                                   f"(top, left, bottom, right)")
            return (int(p[0]), int(p[1]), int(p[2]), int(p[3]))
        if auto == "VALID":
            return (0, 0, 0, 0)
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            lo, hi = [], []
            for size, k, s, d in zip(hw, ks, strides, dil):
                out = -(-size // s)
                total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
                small = total // 2
                lo.append(small if auto == "SAME_UPPER" else total - small)
                hi.append(total - lo[-1])
            return (lo[0], lo[1], hi[0], hi[1])
        raise ArchsimError(f"{self._node_where(node, i)}: auto_pad '{_safe_name(auto)}'; allowed NOTSET, VALID, "
                           f"SAME_UPPER, SAME_LOWER")

    def _window(self, node, i, a, x: _Act):
        if len(x.shape) != 3:
            raise ArchsimError(f"{self._node_where(node, i)}: input has shape {x.shape} per image; "
                               f"archsim runs 2-D windows on (C, H, W) feature maps")
        ks = tuple(int(v) for v in a.get("kernel_shape", ()))
        if len(ks) != 2:
            raise ArchsimError(f"{self._node_where(node, i)}: kernel_shape {list(ks)}; allowed two sizes (2-D)")
        strides = tuple(int(v) for v in a.get("strides", (1, 1)))
        dil = tuple(int(v) for v in a.get("dilations", (1, 1)))
        if len(strides) != 2 or min(strides) < 1:
            raise ArchsimError(f"{self._node_where(node, i)}: strides {list(strides)}; allowed two positive values")
        if len(dil) != 2 or any(d != 1 for d in dil):
            raise ArchsimError(f"{self._node_where(node, i)}: dilations {list(dil)}; archsim layers have no "
                               f"dilation, allowed [1, 1]")
        if min(ks) < 1:
            raise ArchsimError(f"{self._node_where(node, i)}: kernel_shape {list(ks)}; allowed positive sizes")
        return ks, strides

    # -- operators --
    def op_Conv(self, node, i):
        x = self._act(node, i, 0)
        W = self._const(node, i, 1, slot_ok=True)
        B = self._const(node, i, 2, required=False, slot_ok=True)
        wshape = W.shape
        if len(wshape) != 4:
            raise ArchsimError(f"{self._node_where(node, i)}: weight of shape {tuple(wshape)}; archsim imports "
                               f"2-D convolutions, weight (Cout, Cin/groups, kh, kw)")
        a = _attrs(node)
        if "kernel_shape" not in a:
            a["kernel_shape"] = list(wshape[2:])
        ks, strides = self._window(node, i, a, x)
        if tuple(ks) != tuple(wshape[2:]):
            raise ArchsimError(f"{self._node_where(node, i)}: kernel_shape {list(ks)} disagrees with the "
                               f"weight's {tuple(wshape[2:])}")
        groups = int(a.get("group", 1))
        c = x.shape[0]
        cout = int(wshape[0])
        if groups < 1 or wshape[1] * groups != c or cout % groups:
            raise ArchsimError(f"{self._node_where(node, i)}: weight {tuple(wshape)} with group={groups} does "
                               f"not fit {c} input channels (need Cin/groups = weight dim 1 and groups | Cout)")
        if B is not None and tuple(B.shape) not in ((cout,),):
            raise ArchsimError(f"{self._node_where(node, i)}: bias of shape {tuple(B.shape)}; expected ({cout},)")
        self._same_kind(node, i, W, B)
        pads = self._pads(node, i, a, x.shape[1:], ks, strides)
        name = self.b.conv(self._lname(node, i), cout, ks, strides, pads, groups, relu=False, bias=B is not None,
                           src=x.layer, weights=self._weights(node, i, W, "weight"),
                           bias_values=self._weights(node, i, B, "bias"))
        self._fix_slots(name)
        self._set(node, i, name)

    def _same_kind(self, node, i, W, B) -> None:
        if B is not None and isinstance(W, _Slot) != isinstance(B, _Slot):
            raise ArchsimError(f"{self._node_where(node, i)}: weight and bias must both have values or both be "
                               f"graph inputs without values")

    def _fix_slots(self, name) -> None:
        lay = self._layer(name)
        if isinstance(lay.weights, _Slot) or isinstance(lay.bias, _Slot):
            self._replace(name, weights=None if isinstance(lay.weights, _Slot) else lay.weights,
                          bias=None if isinstance(lay.bias, _Slot) else lay.bias)

    def _flat(self, node, i, x: _Act) -> None:
        if len(x.shape) != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: input has shape {x.shape} per image; archsim maps "
                               f"{node.op_type} on (batch, K) inputs (add a Flatten before it)")

    def op_Gemm(self, node, i):
        x = self._act(node, i, 0)
        B = self._const(node, i, 1, slot_ok=True)
        C = self._const(node, i, 2, required=False, slot_ok=True)
        a = _attrs(node)
        alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
        if int(a.get("transA", 0)):
            raise ArchsimError(f"{self._node_where(node, i)}: transA=1 transposes the batch; allowed transA=0")
        trans_b = int(a.get("transB", 0))
        self._flat(node, i, x)
        if len(B.shape) != 2:
            raise ArchsimError(f"{self._node_where(node, i)}: weight of shape {tuple(B.shape)}; expected 2-D")
        N, K = (B.shape[0], B.shape[1]) if trans_b else (B.shape[1], B.shape[0])
        if K != x.shape[0]:
            raise ArchsimError(f"{self._node_where(node, i)}: weight {tuple(B.shape)} (transB={trans_b}) takes "
                               f"{K} inputs, the input has {x.shape[0]}")
        self._same_kind(node, i, B, C)
        if not math.isfinite(alpha) or not math.isfinite(beta):
            raise ArchsimError(f"{self._node_where(node, i)}: alpha={alpha}, beta={beta}; allowed finite values")
        W = B
        if not isinstance(B, _Slot):
            W = self._weights(node, i, B if trans_b else B.T, "weight")
            if alpha != 1.0:
                W = (W.astype(np.float64) * alpha).astype(np.float32)
        bias, has_bias = None, False
        if C is not None and beta != 0.0:
            has_bias = True
            if isinstance(C, _Slot):
                if math.prod(C.shape) not in (1, N):
                    raise ArchsimError(f"{self._node_where(node, i)}: bias of shape {C.shape}; expected ({N},)")
            else:
                bias = self._bias_vector(node, i, C, N, "dense") * np.float32(beta)
        name = self.b.dense(self._lname(node, i), N, relu=False, bias=has_bias, src=x.layer,
                            weights=None if isinstance(W, _Slot) else W, bias_values=bias)
        self._set(node, i, name)

    def op_MatMul(self, node, i):
        if node.input[0] in self.consts and node.input[1] in self.env:
            raise ArchsimError(f"{self._node_where(node, i)}: the constant is on the left; archsim maps x @ W "
                               f"with the activation on the left and a constant (K, N) weight on the right")
        x = self._act(node, i, 0)
        B = self._const(node, i, 1, slot_ok=True)
        self._flat(node, i, x)
        if len(B.shape) != 2 or B.shape[0] != x.shape[0]:
            raise ArchsimError(f"{self._node_where(node, i)}: weight of shape {tuple(B.shape)} does not take "
                               f"{x.shape[0]} inputs; expected ({x.shape[0]}, N)")
        W = None if isinstance(B, _Slot) else self._weights(node, i, B.T, "weight")
        name = self.b.dense(self._lname(node, i), int(B.shape[1]), relu=False, bias=False, src=x.layer, weights=W)
        self._set(node, i, name)

    def _bias_vector(self, node, i, c, n, kind) -> np.ndarray:
        """A constant added after a layer with ``n`` outputs, as a per-output vector (or an error)."""
        shp = tuple(int(s) for s in c.shape)
        core = shp
        while core and core[0] == 1 and len(core) > (3 if kind == "conv" else 1):
            core = core[1:]
        if c.size == 1:
            vec = np.full(n, float(c.reshape(())), dtype=np.float64)
        elif kind == "conv" and core == (n, 1, 1):
            vec = c.reshape(n)
        elif kind == "dense" and core == (n,):
            vec = c.reshape(n)
        else:
            want = f"({n}, 1, 1) or (1, {n}, 1, 1)" if kind == "conv" else f"({n},) or (1, {n})"
            raise ArchsimError(f"{self._node_where(node, i)}: constant of shape {shp} is not a per-channel bias "
                               f"of the {kind} layer before it; allowed a scalar, {want}")
        return self._weights(node, i, np.asarray(vec, dtype=np.float64), "bias")

    def op_Add(self, node, i):
        ins = [t for t in node.input]
        if len(ins) != 2 or not all(ins):
            raise ArchsimError(f"{self._node_where(node, i)}: expected two inputs")
        acts = [t in self.env for t in ins]
        if all(acts):
            self._residual(node, i, ins)
            return
        if not any(acts):
            raise ArchsimError(f"{self._node_where(node, i)}: adds two constants; archsim does not fold constants "
                               f"(simplify the model, e.g. with onnxsim)")
        k = 0 if acts[0] else 1
        x = self.env[ins[k]]
        c = self._const(node, i, 1 - k, slot_ok=True)
        lay = self._layer(x.layer)
        if not (lay.weighted and lay.activation is None and self.uses[ins[k]] == 1):
            why = (f"a {lay.kind} layer" if not lay.weighted else
                   f"{lay.kind} layer '{lay.name}' after its activation" if lay.activation else
                   f"{lay.kind} layer '{lay.name}' whose output also feeds other nodes")
            raise ArchsimError(f"{self._node_where(node, i)}: adds a constant to the output of {why}; archsim "
                               f"folds an added constant only into the bias of the conv/Gemm/MatMul right before it")
        if isinstance(c, _Slot) != (lay.weights is None):
            raise ArchsimError(f"{self._node_where(node, i)}: bias and weights of '{lay.name}' must both have "
                               f"values or both be graph inputs without values")
        if isinstance(c, _Slot):
            if math.prod(c.shape) not in (1, lay.N):
                raise ArchsimError(f"{self._node_where(node, i)}: bias of shape {c.shape}; expected ({lay.N},)")
            self._replace(lay.name, has_bias=True)
        else:
            vec = self._bias_vector(node, i, c, lay.N, lay.kind)
            old = np.zeros(lay.N, np.float32) if lay.bias is None else lay.bias
            self._replace(lay.name, has_bias=True, bias=(old.astype(np.float64) + vec).astype(np.float32))
        self._set(node, i, lay.name)

    def _residual(self, node, i, ins):
        if len(set(ins)) != len(ins):
            raise ArchsimError(f"{self._node_where(node, i)}: adds a tensor to itself; archsim's add layer joins "
                               f"different tensors")
        acts = [self._act(node, i, k) for k in range(len(ins))]
        shapes = {a.shape for a in acts}
        if len(shapes) != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: adds shapes {sorted(shapes)}; archsim adds "
                               f"tensors of one shape (no broadcasting)")
        name = self.b.add(self._lname(node, i), [a.layer for a in acts], relu=False)
        self._set(node, i, name)

    def op_Sum(self, node, i):
        ins = [t for t in node.input]
        if not ins or not all(ins):
            raise ArchsimError(f"{self._node_where(node, i)}: expected activations as inputs")
        if len(ins) == 1:
            x = self._act(node, i, 0)
            self._set(node, i, self.b.elementwise("identity", self._lname(node, i), src=x.layer))
            return
        self._residual(node, i, ins)

    def _relu(self, node, i, x: _Act):
        if self._fusable(node, x, ("conv", "dense", "add")):
            self._replace(x.layer, activation="relu")
            self._set(node, i, x.layer)
        else:
            self._set(node, i, self.b.elementwise("relu", self._lname(node, i), src=x.layer))

    def op_Relu(self, node, i):
        self._relu(node, i, self._act(node, i, 0))

    def op_Clip(self, node, i):
        x = self._act(node, i, 0)
        if self.opset < 11:
            a = _attrs(node)
            lo, hi = float(a.get("min", -np.inf)), float(a.get("max", np.inf))
        else:
            lo, hi = self._scalar(node, i, 1), self._scalar(node, i, 2)
        lo = None if lo is None or lo <= -_BIG else lo
        hi = None if hi is None or hi >= _BIG else hi
        if lo == 0.0 and hi is None:
            self._relu(node, i, x)
        elif lo == 0.0 and hi == 6.0:
            self._set(node, i, self.b.elementwise("clip", self._lname(node, i), src=x.layer))
        else:
            raise ArchsimError(f"{self._node_where(node, i)}: bounds ({lo}, {hi}); archsim's clip is ReLU6, "
                               f"allowed (0, 6) or (0, none) (ReLU)")

    def op_Sigmoid(self, node, i):
        x = self._act(node, i, 0)
        self._set(node, i, self.b.elementwise("sigmoid", self._lname(node, i), src=x.layer))

    def _ceil_extra(self, size, k, s, lo, hi) -> int:
        span = size + lo + hi - k
        if span < 0:
            return 0
        floor_out = span // s + 1
        ceil_out = -(-span // s) + 1
        if ceil_out > floor_out and (ceil_out - 1) * s >= size + lo:   # window starting in the right padding
            ceil_out -= 1
        return (ceil_out - 1) * s + k - (size + lo + hi) if ceil_out > floor_out else 0

    def _pool(self, node, i, kind):
        x = self._act(node, i, 0)
        a = _attrs(node)
        ks, strides = self._window(node, i, a, x)
        pads = self._pads(node, i, a, x.shape[1:], ks, strides)
        extra = (0, 0)
        if int(a.get("ceil_mode", 0)):
            extra = tuple(self._ceil_extra(x.shape[1 + ax], ks[ax], strides[ax], pads[ax], pads[2 + ax])
                          for ax in (0, 1))
        if kind == "avgpool":
            if any(extra):
                raise ArchsimError(f"{self._node_where(node, i)}: ceil_mode adds partial windows, which archsim's "
                                   f"average pooling (dividing by the whole window) does not model; allowed "
                                   f"ceil_mode=0 or sizes where it changes nothing")
            if any(pads) and not int(a.get("count_include_pad", 0)):
                raise ArchsimError(f"{self._node_where(node, i)}: padding with count_include_pad=0; archsim "
                                   f"divides by the whole window, allowed count_include_pad=1 or no padding")
        pads = (pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1])
        fn = self.b.maxpool if kind == "maxpool" else self.b.avgpool
        name = fn(self._lname(node, i), ks, strides, pads, src=x.layer)
        out = node.output[0] if node.output else ""
        if int(a.get("ceil_mode", 0)) and out in self.inferred:
            # ONNX shape inference keeps ceil-mode windows that start in the right padding (the reference
            # evaluator and PyTorch drop them): where it disagrees, its shapes from here on are not comparable
            inf = self.inferred[out]
            if len(inf) != 4 or tuple(inf[1:]) != tuple(self._layer(name).out_shape):
                self.inferred = {}
        self._set(node, i, name, check_inferred=not int(a.get("ceil_mode", 0)))

    def op_MaxPool(self, node, i):
        self._pool(node, i, "maxpool")

    def op_AveragePool(self, node, i):
        self._pool(node, i, "avgpool")

    def op_GlobalAveragePool(self, node, i):
        x = self._act(node, i, 0)
        if len(x.shape) != 3:
            raise ArchsimError(f"{self._node_where(node, i)}: input has shape {x.shape} per image; "
                               f"expected (C, H, W)")
        self._set(node, i, self.b.globalavgpool(self._lname(node, i), src=x.layer))

    def op_ReduceMean(self, node, i):
        """A mean over the spatial axes (2, 3) of (N, C, H, W): PyTorch's ``AdaptiveAvgPool2d(1)`` and
        ``x.mean((2, 3))`` as its torch.export-based exporter writes them (axes as an input from opset 18)."""
        x = self._act(node, i, 0)
        a = _attrs(node)
        axes = a.get("axes")
        if axes is None:
            c = self._const(node, i, 1, required=False)
            axes = None if c is None else [int(v) for v in np.asarray(c).reshape(-1)]
        rank = len(x.shape) + 1
        ax = sorted({v + rank if v < 0 else v for v in (int(v) for v in (axes or []))})
        if len(x.shape) != 3 or ax != [2, 3]:
            raise ArchsimError(f"{self._node_where(node, i)}: ReduceMean over axes {list(axes or [])} of a "
                               f"{len(x.shape) + 1}-D input; archsim reads it only as a global average pool, "
                               f"allowed axes (2, 3) of (N, C, H, W)")
        name = self.b.globalavgpool(self._lname(node, i), src=x.layer)
        if not int(a.get("keepdims", 1)):
            name = self.b.flatten(self._lname(node, i), src=name)
        self._set(node, i, name)

    def op_BatchNormalization(self, node, i):
        x = self._act(node, i, 0)
        lay = self._layer(x.layer)
        if not (lay.weighted and lay.activation is None and self.uses[node.input[0]] == 1):
            why = ("the graph input" if lay.kind == "input" else
                   f"{lay.kind} layer '{lay.name}'" + (" after its activation" if lay.activation else
                                                       " whose output also feeds other nodes" if lay.weighted else ""))
            raise ArchsimError(f"{self._node_where(node, i)}: follows {why}; archsim folds batch norm into the "
                               f"conv or Gemm/MatMul right before it (whose output feeds only the batch norm)")
        a = _attrs(node)
        if int(a.get("training_mode", 0)):
            raise ArchsimError(f"{self._node_where(node, i)}: training_mode=1; allowed inference mode (0)")
        if int(a.get("spatial", 1)) != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: spatial=0; allowed per-channel batch norm (1)")
        eps = float(a.get("epsilon", 1e-5))
        params = [self._const(node, i, k, slot_ok=True) for k in (1, 2, 3, 4)]
        for p, what in zip(params, ("scale", "B", "mean", "var")):
            if math.prod(p.shape) != lay.N:
                raise ArchsimError(f"{self._node_where(node, i)}: {what} has shape {tuple(p.shape)}; expected "
                                   f"({lay.N},), one value per output channel of '{lay.name}'")
        if lay.weights is None:
            self._replace(lay.name, has_bias=True)
        else:
            if any(isinstance(p, _Slot) for p in params):
                raise ArchsimError(f"{self._node_where(node, i)}: parameters without values after a layer with "
                                   f"weights; give them as initializers")
            gamma, beta, mean, var = (self._weights(node, i, p.reshape(-1), w)
                                      for p, w in zip(params, ("scale", "B", "mean", "var")))
            if not (eps >= 0 and np.all(var.astype(np.float64) + eps > 0)):
                raise ArchsimError(f"{self._node_where(node, i)}: var + epsilon must be positive")
            W2, b2 = fold_batchnorm(lay.weights, lay.bias, gamma, beta, mean, var, eps)
            self._replace(lay.name, weights=W2, bias=b2, has_bias=True)
        self._set(node, i, lay.name)

    def op_Flatten(self, node, i):
        x = self._act(node, i, 0)
        axis = int(_attrs(node).get("axis", 1))
        rank = len(x.shape) + 1
        if (axis + rank if axis < 0 else axis) != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: axis={axis}; archsim flattens each image, "
                               f"allowed axis=1")
        self._set(node, i, self.b.flatten(self._lname(node, i), src=x.layer))

    def op_Reshape(self, node, i):
        x = self._act(node, i, 0)
        if self.opset < 5:
            raise ArchsimError(f"{self._node_where(node, i)}: shape as an attribute (opset < 5) is not supported")
        t = self._const(node, i, 1)
        if not np.issubdtype(t.dtype, np.integer) or t.ndim != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: shape must be a 1-D integer constant")
        target = [int(v) for v in t]
        allowzero = int(_attrs(node).get("allowzero", 0))
        F = math.prod(x.shape)
        ok = False
        if len(target) == 2:
            b0, f1 = target
            batch_ok = (b0 == 0 and not allowzero) or (self.batch is not None and b0 == self.batch)
            ok = (b0 == -1 and f1 == F) or (batch_ok and f1 in (-1, F))
        if not ok:
            raise ArchsimError(f"{self._node_where(node, i)}: reshape of (batch, {', '.join(map(str, x.shape))}) "
                               f"to {target}; archsim imports only flattening reshapes, allowed [-1, {F}], "
                               f"[0, -1] or [batch, -1] (or use Flatten)")
        self._set(node, i, self.b.flatten(self._lname(node, i), src=x.layer))

    def op_Concat(self, node, i):
        ins = [t for t in node.input]
        acts = [self._act(node, i, k) for k in range(len(ins))]
        axis = int(_attrs(node).get("axis", 1))
        rank = len(acts[0].shape) + 1
        if (axis + rank if axis < 0 else axis) != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: axis={axis}; archsim concatenates channels, "
                               f"allowed axis=1")
        if len({a.layer for a in acts}) != len(acts):
            raise ArchsimError(f"{self._node_where(node, i)}: joins a tensor with itself; not supported")
        if len({len(a.shape) for a in acts}) != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: joins tensors of different ranks "
                               f"{[a.shape for a in acts]}")
        self._set(node, i, self.b.concat(self._lname(node, i), [a.layer for a in acts]))

    def op_Softmax(self, node, i):
        x = self._act(node, i, 0)
        rank = len(x.shape) + 1
        axis = int(_attrs(node).get("axis", 1 if self.opset < 13 else -1))
        axis = axis + rank if axis < 0 else axis
        # archsim's softmax runs over the channel axis (axis 1); before opset 13 ONNX softmaxes over
        # everything from `axis` on, which is the channel axis only for (batch, F) or (batch, C, 1, 1)
        ok = axis == 1 and (self.opset >= 13 or len(x.shape) == 1 or tuple(x.shape[1:]) == (1, 1))
        if not ok:
            raise ArchsimError(f"{self._node_where(node, i)}: softmax over axis {axis} of (batch, "
                               f"{', '.join(map(str, x.shape))}) at opset {self.opset}; archsim's softmax runs "
                               f"over the channel axis, allowed axis=1 (or -1 on (batch, F))")
        self._set(node, i, self.b.elementwise("softmax", self._lname(node, i), src=x.layer))

    def op_Identity(self, node, i):
        x = self._act(node, i, 0)
        self._set(node, i, self.b.elementwise("identity", self._lname(node, i), src=x.layer))

    def op_Dropout(self, node, i):
        x = self._act(node, i, 0)
        if self.opset >= 12 and len(node.input) > 2 and node.input[2]:
            tm = self._const(node, i, 2)
            if tm.size != 1 or bool(tm.reshape(())):
                raise ArchsimError(f"{self._node_where(node, i)}: training_mode is true; archsim imports "
                                   f"inference graphs (dropout as identity)")
        self._set(node, i, self.b.elementwise("identity", self._lname(node, i), src=x.layer))

    def op_Constant(self, node, i):
        from onnx import numpy_helper
        a = node.attribute
        if len(a) != 1:
            raise ArchsimError(f"{self._node_where(node, i)}: expected one value attribute")
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
            raise ArchsimError(f"{self._node_where(node, i)}: attribute '{a.name}' is not supported; allowed "
                               f"value, value_float(s), value_int(s)")
        if not node.output or not node.output[0]:
            raise ArchsimError(f"{self._node_where(node, i)}: has no output")
        self.consts[node.output[0]] = v

    # -- the whole graph --
    def run(self) -> Workload:
        for i, node in enumerate(self.g.node):
            try:
                getattr(self, f"op_{node.op_type}")(node, i)
            except ArchsimError as e:    # GraphBuilder's and fold_batchnorm's messages: add the file and node
                if str(e).startswith(self.where):
                    raise
                raise ArchsimError(f"{self._node_where(node, i)}: {e}") from None
        if len(self.g.output) != 1:
            raise ArchsimError(f"{self.where}: the graph has {len(self.g.output)} outputs; archsim takes one")
        out = self.g.output[0].name
        if out not in self.env:
            raise ArchsimError(f"{self.where}: graph output '{_safe_name(out)}' is not computed from the input")
        last = self.env[out].layer
        if last == "input":
            raise ArchsimError(f"{self.where}: the graph output is the input; nothing to map")
        g = self.b.g
        dangling = [n for n in g.nodes if g.out_degree(n) == 0 and n != last]
        if dangling:
            raise ArchsimError(f"{self.where}: layer(s) {dangling[:5]} compute outputs nothing uses; archsim needs "
                               f"every node to lead to the one graph output")
        wl = self.b.build()
        if not wl.weighted_layers():
            raise ArchsimError(f"{self.where}: the graph has no Conv, Gemm or MatMul; archsim maps weighted "
                               f"layers onto crossbars and needs at least one")
        return wl


def load_onnx(path, name: str | None = None, *, input_shape=None) -> Workload:
    """Import the ONNX file ``path`` into a :class:`Workload` with its weights.

    ``name``: the workload's name (default: the file name without ``.onnx``).
    ``input_shape``: per-image input shape ``(C, H, W)`` or ``(F,)`` for a model
    whose input has dynamic axes besides the batch.  See the module docstring for
    the operators and the checks on untrusted files.
    """
    p = Path(path)
    where = f"ONNX file {p}"
    model = _read_model(p, where)
    try:
        imp = _Importer(model, where, _workload_name(name if name else p.stem), input_shape)
        wl = imp.run()
        meta = {m.key: m.value for m in model.metadata_props}
    except UnicodeDecodeError:
        # proto2 string fields are not checked when parsed, only when read
        raise ArchsimError(f"{where}: holds names or text that are not valid UTF-8 (a malformed file)") from None
    dataset = meta.get("archsim.dataset", "")
    dataset = dataset if re.fullmatch(r"[A-Za-z0-9_-]{1,32}", dataset) else ""
    producer = _safe_name(f"{model.producer_name} {model.producer_version}".strip(), 64) or "unknown producer"
    desc = f"imported from {_safe_name(p.name, 100)} ({producer}, opset {imp.opset})"
    return Workload(wl.name, wl.graph, desc, dataset)


# ================================================================= export ====
def _prepare_weights(workload: Workload, weights: str, seed: int) -> tuple[Workload, str]:
    if weights not in EXPORT_WEIGHTS:
        raise ArchsimError(f"save_onnx: weights='{weights}'; allowed {', '.join(EXPORT_WEIGHTS)}")
    wl_layers = workload.weighted_layers()
    have = [l.weights is not None for l in wl_layers]
    if weights == "none":
        return workload, "none (structure only)"
    if weights == "auto" and all(have):
        return workload, "the workload's own"
    if weights == "zeros":
        params = {}
        for l in wl_layers:
            shape = (l.N, l.in_shape[0] // l.groups, *l.kernel) if l.kind == "conv" else (l.N, l.K)
            params[f"{l.name}.weight"] = np.zeros(shape, np.float32)
            if l.has_bias:
                params[f"{l.name}.bias"] = np.zeros(l.N, np.float32)
        return attach_weights(workload, params, source="zeros"), "zeros"
    rnd = random_weights(workload, seed=seed)
    if weights == "random" or not any(have):
        return rnd, f"random He-normal (seed {seed})"
    # auto with some layers lacking weights: keep what is there, fill the rest
    new = {l.name: rnd.layer(l.name) for l in wl_layers if l.weights is None}
    g = workload.graph.copy()
    for n, lay in new.items():
        g.nodes[n]["layer"] = lay
    return (Workload(workload.name, g, workload.description, workload.dataset),
            f"the workload's own, random He-normal (seed {seed}) for {sorted(new)}")


def _bias_or_zeros(lay: Layer):
    """A layer's bias; zeros where it has weights and a bias slot without values (the forward pass adds none)."""
    if lay.bias is not None or lay.weights is None:
        return lay.bias
    return np.zeros(lay.N, np.float32)


def _export_model(workload: Workload, weights: str = "auto", seed: int = 0):
    onnx = _onnx()
    from onnx import TensorProto, helper

    if not isinstance(workload, Workload):
        raise ArchsimError(f"save_onnx: expected a Workload, got {type(workload).__name__}")
    wl, note = _prepare_weights(workload, weights, seed)
    layers = wl.layers()
    sinks = [n for n in wl.graph.nodes if wl.graph.out_degree(n) == 0]
    if len(sinks) != 1:
        raise ArchsimError(f"save_onnx: workload {wl.name} has outputs {sorted(sinks)}; ONNX export takes one")
    used: set = set()

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *map(int, shape)])

    nodes, inits, slots, infos = [], [], [], []
    tensor: dict = {}
    clip_bounds = None
    inp = wl.input_layer
    tensor[inp.name] = fresh(inp.name)
    graph_input = vi(tensor[inp.name], inp.out_shape)

    def const(name, arr, shape):
        """An initializer holding ``arr``; with weights='none' (or no values) a graph input of ``shape``."""
        t = fresh(name)
        if weights == "none" or arr is None:
            slots.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, list(map(int, shape))))
        else:
            inits.append((t, np.ascontiguousarray(arr, dtype=np.float32)))
        return t

    for lay in layers:
        if lay.kind == "input":
            continue
        if lay.kind not in KINDS:
            raise ArchsimError(f"save_onnx: layer '{lay.name}' has kind '{lay.kind}'; allowed {', '.join(KINDS)}")
        srcs = [tensor[p] for p in wl.graph.predecessors(lay.name)]   # edge order, as the forward pass reads it
        out = fresh(lay.name)
        pre = fresh(f"{lay.name}.preact") if lay.activation else out
        k = lay.kind
        if k == "conv":
            shape = (lay.N, lay.in_shape[0] // lay.groups, *lay.kernel)
            ins = [srcs[0], const(f"{lay.name}.weight", lay.weights, shape)]
            if lay.has_bias:
                ins.append(const(f"{lay.name}.bias", _bias_or_zeros(lay), (lay.N,)))
            t, l, b, r = lay.padding
            nodes.append(helper.make_node("Conv", ins, [pre], name=lay.name, kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=[t, l, b, r], group=lay.groups,
                                          dilations=[1, 1]))
        elif k == "dense":
            src = srcs[0]
            if len(wl.layer(next(iter(wl.graph.predecessors(lay.name)))).out_shape) != 1:
                flat = fresh(f"{lay.name}.flatten")
                nodes.append(helper.make_node("Flatten", [src], [flat], name=flat, axis=1))
                src = flat
            ins = [src, const(f"{lay.name}.weight", lay.weights, (lay.N, lay.K))]
            if lay.has_bias:
                ins.append(const(f"{lay.name}.bias", _bias_or_zeros(lay), (lay.N,)))
            nodes.append(helper.make_node("Gemm", ins, [pre], name=lay.name, transB=1))
        elif k in ("maxpool", "avgpool"):
            t, l, b, r = lay.padding
            kw = dict(kernel_shape=list(lay.kernel), strides=list(lay.stride), pads=[t, l, b, r])
            if k == "avgpool":
                kw["count_include_pad"] = 1
            nodes.append(helper.make_node("MaxPool" if k == "maxpool" else "AveragePool", srcs, [pre],
                                          name=lay.name, **kw))
        elif k == "globalavgpool":
            nodes.append(helper.make_node("GlobalAveragePool", srcs, [pre], name=lay.name))
        elif k == "flatten":
            nodes.append(helper.make_node("Flatten", srcs, [pre], name=lay.name, axis=1))
        elif k == "add":
            nodes.append(helper.make_node("Add" if len(srcs) == 2 else "Sum", srcs, [pre], name=lay.name))
        elif k == "concat":
            nodes.append(helper.make_node("Concat", srcs, [pre], name=lay.name, axis=1))
        elif k == "relu":
            nodes.append(helper.make_node("Relu", srcs, [pre], name=lay.name))
        elif k == "sigmoid":
            nodes.append(helper.make_node("Sigmoid", srcs, [pre], name=lay.name))
        elif k == "clip":
            if clip_bounds is None:
                lo, hi = fresh("clip.min"), fresh("clip.max")
                inits.append((lo, np.array(CLIP_RANGE[0], np.float32)))
                inits.append((hi, np.array(CLIP_RANGE[1], np.float32)))
                clip_bounds = (lo, hi)
            nodes.append(helper.make_node("Clip", [srcs[0], *clip_bounds], [pre], name=lay.name))
        elif k == "softmax":
            nodes.append(helper.make_node("Softmax", srcs, [pre], name=lay.name, axis=1))
        elif k == "identity":
            nodes.append(helper.make_node("Identity", srcs, [pre], name=lay.name))
        if lay.activation == "relu":
            nodes.append(helper.make_node("Relu", [pre], [out], name=fresh(f"{lay.name}.relu")))
        elif lay.activation:
            raise ArchsimError(f"save_onnx: layer '{lay.name}' has activation '{lay.activation}'; allowed relu")
        tensor[lay.name] = out
        if lay.name != sinks[0]:
            infos.append(vi(out, lay.out_shape))
    last = wl.layer(sinks[0])
    graph = helper.make_graph(nodes, _safe_name(wl.name) or "archsim", [graph_input, *slots],
                              [vi(tensor[last.name], last.out_shape)], value_info=infos)
    from archsim import __version__
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)],
                              ir_version=EXPORT_IR_VERSION, producer_name="archsim", producer_version=__version__,
                              doc_string=wl.description)
    for key, val in (("archsim.workload", wl.name), ("archsim.dataset", wl.dataset), ("archsim.weights", note)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(val)
    size = sum(a.nbytes for _, a in inits)
    if size >= 2**31 - 2**24:
        raise ArchsimError(f"save_onnx: workload {wl.name} has {size:,} bytes of weights, beyond protobuf's "
                           f"2 GB; export with weights='none'")
    for name, arr in inits:   # straight into the model: make_graph and make_model would copy every tensor twice
        t = model.graph.initializer.add()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(arr.shape)
        t.raw_data = arr.tobytes()
    try:
        onnx.checker.check_model(_light(model))
    except Exception as e:  # a bug here, not bad input: say so in one line
        raise ArchsimError(f"save_onnx: the model for {wl.name} fails onnx.checker ({_one_line(e)})") from None
    return model, note


def save_onnx(workload: Workload, path, *, weights: str = "auto", seed: int = 0) -> Path:
    """Write ``workload`` as an ONNX model (opset 17) to ``path``; return the path.

    ``weights``: ``"auto"`` (the workload's own; He-normal random ones with
    ``seed`` for layers without), ``"random"``, ``"zeros"`` or ``"none"``
    (structure only: weights are graph inputs with shapes and no values).
    The file is written atomically (a temporary file renamed into place).
    """
    model, _ = _export_model(workload, weights, seed)
    p = Path(path)
    data = model.SerializeToString()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as e:
        raise ArchsimError(f"save_onnx: cannot write {p} ({e.strerror or e})") from None
    return p

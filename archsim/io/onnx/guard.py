"""Reading untrusted ONNX files safely: limits, the file read, tensor checks, name sanitizing.

Everything here runs before an array is made or a layer is built: the file size is checked
before reading (:data:`MAX_FILE_BYTES`), external data and sparse initializers are refused,
every tensor's declared size is checked against :data:`MAX_TENSOR_ELEMENTS` and against the
bytes it really holds, all of them together (weights without values included) against
:data:`MAX_TOTAL_ELEMENTS`, every activation against :data:`MAX_ACTIVATION_ELEMENTS` per image, and
every name shown in a message is made printable and bounded.  To change a limit, set it here
(``archsim.io.onnx.guard.MAX_FILE_BYTES = ...``): the checks read it at call time.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from archsim.io.bounded import Refusals, read_bounded
from archsim.model.errors import ArchsimError, one_line

__all__ = ["MAX_FILE_BYTES", "MAX_TENSOR_ELEMENTS", "MAX_TOTAL_ELEMENTS", "check_total", "MAX_ACTIVATION_ELEMENTS", "MAX_NODES", "MIN_OPSET",
           "DTYPES", "FLOAT_TYPES", "onnx_module", "one_line", "read_model", "check_tensor", "check_opset", "check_graph",
           "check_activation", "light", "safe_name", "workload_name"]

#: largest ONNX file read (bytes); VGG-16 in float32 is 553 MB
MAX_FILE_BYTES = 1 << 30
#: most elements one tensor (weight, constant, weight placeholder) may declare
MAX_TENSOR_ELEMENTS = 1 << 28
#: most elements all weights of a model may come to, 2 GiB in float32: initializers plus weights without values
#: (graph inputs that hold weights), before anything is built; then the float32 copies the layers get, counted
#: as they are made (one tensor used by many layers is copied for each).  Weights without values cost nothing
#: to read but become arrays later (random weights for a fidelity study), so their declared sizes count too
MAX_TOTAL_ELEMENTS = 1 << 29
#: most elements of one activation of one image (512 MiB in float32)
MAX_ACTIVATION_ELEMENTS = 1 << 27
#: most nodes in a graph
MAX_NODES = 100_000
#: oldest default-domain opset read
MIN_OPSET = 7

# ONNX TensorProto data types archsim reads: code -> (name, numpy dtype, typed field holding the values)
DTYPES = {
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
FLOAT_TYPES = (1, 10, 11)      # float, float16, double


def onnx_module():
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


#: how :func:`read_model` refuses a file before parsing it (fields: see :class:`archsim.io.bounded.Refusals`)
_REFUSALS = Refusals(
    missing="{where} does not exist",
    unreadable="{where}: cannot read it ({strerror})",
    folder="{where} is not a regular file",
    empty="{where} is empty",
    too_big="{where} has {size:,} bytes; archsim reads ONNX files up to {limit:,} bytes "
            "(archsim.io.onnx.guard.MAX_FILE_BYTES)",
    grew="{where} grew beyond {limit:,} bytes while being read")


def read_model(path: Path, where: str):
    onnx = onnx_module()
    raw = read_bounded(path, MAX_FILE_BYTES, where, _REFUSALS)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(raw)
    except Exception as e:  # protobuf's DecodeError and friends: a library boundary, any failure is bad input
        raise ArchsimError(f"{where}: not a readable ONNX model, truncated or malformed ({one_line(e)})") from None
    del raw
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise ArchsimError(f"{where}: holds no ONNX graph with nodes (not an ONNX model, or truncated)")
    return model


def check_tensor(t, where: str, what: str) -> None:
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
                           f"the limit is {MAX_TENSOR_ELEMENTS:,} (archsim.io.onnx.guard.MAX_TENSOR_ELEMENTS)")
    if t.data_type not in DTYPES:
        raise ArchsimError(f"{where}: {what} '{t.name}' has ONNX data type {t.data_type}; archsim reads "
                           f"{', '.join(v[0] for v in DTYPES.values())}")
    _, dt, field = DTYPES[t.data_type]
    if t.raw_data:
        have, want = len(t.raw_data), n * np.dtype(dt).itemsize
        unit = "bytes"
    else:
        have, want = len(getattr(t, field)), n
        unit = "values"
    if have != want:
        raise ArchsimError(f"{where}: {what} '{t.name}' declares shape {tuple(dims)} ({want:,} {unit}) but "
                           f"holds {have:,} {unit}; the file is truncated or malformed")


def check_total(sizes, where: str) -> None:
    """Refuse a model whose weight tensors declare more than :data:`MAX_TOTAL_ELEMENTS` elements together."""
    n = sum(int(v) for v in sizes)
    if n > MAX_TOTAL_ELEMENTS:
        raise ArchsimError(f"{where}: its weights come to {n:,} elements (initializers and weights without "
                           f"values, a tensor shared by several layers counted once per layer); the limit is "
                           f"{MAX_TOTAL_ELEMENTS:,} (archsim.io.onnx.guard.MAX_TOTAL_ELEMENTS)")


def check_opset(model, where: str) -> int:
    """The model's default-domain (ai.onnx) opset version; refused when missing or below :data:`MIN_OPSET`."""
    ver = None
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            ver = int(imp.version)
    if ver is None:
        raise ArchsimError(f"{where}: imports no default-domain (ai.onnx) opset")
    if ver < MIN_OPSET:
        raise ArchsimError(f"{where}: opset {ver} is older than archsim reads (opset >= {MIN_OPSET}); "
                           f"convert it with onnx.version_converter")
    return ver


def check_graph(model, where: str, supported) -> object:
    """Check a parsed model's graph before anything is built from it; return its light copy.

    Node count, sparse initializers, names that are not valid UTF-8, every initializer and
    tensor attribute (:func:`check_tensor`), op types (default domain and in ``supported``),
    attribute kinds, and ``onnx.checker`` on :func:`light`'s copy (returned for shape inference).
    """
    g = model.graph
    if len(g.node) > MAX_NODES:
        raise ArchsimError(f"{where}: {len(g.node):,} nodes; the limit is {MAX_NODES:,}")
    if len(g.sparse_initializer):
        raise ArchsimError(f"{where}: sparse initializer '{g.sparse_initializer[0].values.name}' is "
                           f"not supported; store weights as dense initializers")
    # protobuf hands back invalid UTF-8 in proto2 string fields as bytes: refuse those names up front
    texts = [g.name] + [vi.name for vi in (*g.input, *g.output, *g.value_info)] + [t.name for t in g.initializer]
    for node in g.node:
        texts += [node.name, node.op_type, node.domain, *node.input, *node.output]
    if any(not isinstance(t, str) for t in texts):
        raise ArchsimError(f"{where}: holds names or text that are not valid UTF-8 (a malformed file)")
    for t in g.initializer:
        check_tensor(t, where, "initializer")
    for i, node in enumerate(g.node):
        if node.domain not in ("", "ai.onnx") or node.op_type not in supported:
            dom = f" in domain '{safe_name(node.domain)}'" if node.domain not in ("", "ai.onnx") else ""
            raise ArchsimError(f"{where}: node '{safe_name(node.name) or f'#{i}'}' has op type "
                               f"'{safe_name(node.op_type)}'{dom}, which archsim cannot import; supported "
                               f"ops: {', '.join(supported)}")
        for a in node.attribute:
            if a.HasField("t"):
                check_tensor(a.t, where, f"attribute '{a.name}' of node '{safe_name(node.name)}'")
            if len(a.tensors) or a.HasField("g") or len(a.graphs) or a.HasField("sparse_tensor"):
                raise ArchsimError(f"{where}: node '{safe_name(node.name) or f'#{i}'}' "
                                   f"({node.op_type}) has a tensor-list, graph or sparse attribute "
                                   f"'{a.name}'; not supported")
    onnx = onnx_module()
    checked = light(model)
    try:
        onnx.checker.check_model(checked)
    except Exception as e:  # onnx's ValidationError and its C++ errors: the file is bad input
        raise ArchsimError(f"{where}: not a valid ONNX model (onnx.checker: {one_line(e)})") from None
    return checked


def check_activation(shape, where: str) -> None:
    """Refuse an activation of more than :data:`MAX_ACTIVATION_ELEMENTS` elements per image."""
    n = math.prod(shape)
    if n > MAX_ACTIVATION_ELEMENTS:
        raise ArchsimError(f"{where}: activation of shape {tuple(shape)} has {n:,} elements per image; the "
                           f"limit is {MAX_ACTIVATION_ELEMENTS:,} (archsim.io.onnx.guard.MAX_ACTIVATION_ELEMENTS)")


def light(model, keep: int = 4096):
    """A copy of ``model`` for onnx.checker and shape inference without the bulk of the weights.

    Initializers of more than ``keep`` elements become graph inputs of the same type and shape
    (what the checker and shape inference need from them); small ones (reshape targets, clip
    bounds) stay.  Their data were checked by :func:`check_tensor`.  Saves seconds per copy
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


def safe_name(text: str, limit: int = 128) -> str:
    """Printable, single-line, bounded: names come from untrusted files."""
    s = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in str(text))
    return s[:limit]


def workload_name(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._-")
    return s[:64] or "onnx_model"

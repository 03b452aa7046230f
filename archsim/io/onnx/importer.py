"""The ONNX importer: one walk over a checked graph, shapes propagated node by node, folding.

:func:`load_onnx` reads the file through :mod:`archsim.io.onnx.guard`, then :class:`Importer`
hands each node to its handler in :data:`archsim.io.onnx.ops.OPS`.  The importer holds what the
handlers share: the activations computed so far, the constants and weight slots, the
:class:`GraphBuilder`, the shape rules of padding and windows, and the folding of biases and batch
norms into the layer before them.  Shapes come from the data input's declared shape (the batch
axis, fixed or dynamic, is dropped; ``input_shape=`` gives the per-image shape of a model with
dynamic spatial axes) and are propagated node by node with archsim's own rules; where
``onnx.shape_inference`` knows an output shape, the two must agree (except for ceil-mode pooling,
where ONNX shape inference keeps windows that start in the right padding and the ONNX reference
evaluator and PyTorch drop them; archsim follows the latter).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from archsim.io.onnx import guard
from archsim.io.onnx.guard import safe_name
from archsim.io.onnx.ops import OPS, SUPPORTED_OPS, Act, Slot
from archsim.model.errors import ArchsimError, ParameterError
from archsim.model.weights import fold_batchnorm
from archsim.model.workload import GraphBuilder, Layer, Workload

__all__ = ["load_onnx", "Importer"]


def static_dims(vi):
    """Declared dims of a value info: list of int or None (dynamic); None without a shape."""
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]


class Importer:
    """One walk over a checked graph: ``run()`` hands each node to its handler in :data:`OPS`.

    Handlers read their inputs with :meth:`act` and :meth:`const`, add layers to the
    :class:`GraphBuilder` ``b`` and record their output with :meth:`set_output`.
    """

    def __init__(self, model, where: str, name: str, input_shape):
        self.model = model
        self.g = model.graph
        self.where = where
        self.name = name
        self.opset = guard.check_opset(model, where)
        self.consts: dict = {}       # tensor name -> TensorProto (checked, not yet materialised) or np.ndarray
        self.slots: dict = {}        # tensor name -> Slot
        self.made = 0                # elements of the float32 weight copies made so far (guard.MAX_TOTAL_ELEMENTS)
        self.env: dict = {}          # tensor name -> Act
        self.names: set = {"input"}
        self.uses = Counter(i for n in self.g.node for i in n.input if i)
        for o in self.g.output:
            self.uses[o.name] += 1
        self.light = guard.check_graph(model, where, SUPPORTED_OPS)
        for t in self.g.initializer:
            self.consts[t.name] = t
        self.inferred = self._infer()
        self.b = self._input(input_shape)

    # -- messages --
    def node_where(self, node, i) -> str:
        return f"{self.where}: node '{safe_name(node.name) or f'#{i}'}' ({node.op_type})"

    # -- the model: shape inference, the data input --
    def _infer(self) -> dict:
        onnx = guard.onnx_module()
        try:
            inf = onnx.shape_inference.infer_shapes(self.light, check_type=False, strict_mode=False)
        except Exception:  # inference is only a cross-check; archsim propagates shapes itself
            return {}
        out = {}
        for vi in list(inf.graph.value_info) + list(inf.graph.output):
            dims = static_dims(vi)
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
                dims = static_dims(vi)
                if dims is None or any(d is None or d < 0 for d in dims):
                    raise ArchsimError(f"{self.where}: graph input '{safe_name(vi.name)}' holds weights without "
                                       f"values and without a static shape")
                if math.prod(dims) > guard.MAX_TENSOR_ELEMENTS:
                    raise ArchsimError(f"{self.where}: graph input '{safe_name(vi.name)}' declares "
                                       f"{math.prod(dims):,} elements; the limit is {guard.MAX_TENSOR_ELEMENTS:,}")
                self.slots[vi.name] = Slot(vi.name, tuple(dims))
        guard.check_total([math.prod(t.dims) for t in g.initializer] +
                          [math.prod(sl.shape) for sl in self.slots.values()], self.where)
        if len(data) != 1:
            found = ", ".join(f"'{safe_name(v.name)}'" for v in data) or "none"
            raise ArchsimError(f"{self.where}: archsim takes a graph with one data input, found {found}")
        vi = data[0]
        where = f"{self.where}: input '{safe_name(vi.name)}'"
        if not vi.type.HasField("tensor_type"):
            raise ArchsimError(f"{where} is not a tensor")
        if vi.type.tensor_type.elem_type not in guard.FLOAT_TYPES:
            raise ArchsimError(f"{where} has ONNX element type {vi.type.tensor_type.elem_type}; "
                               f"allowed float, float16 or double")
        dims = static_dims(vi)
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
                raise ParameterError(f"{where} has dynamic axes {shown}; give the per-image shape (C, H, W) with "
                                     f"{{param}}", "input_shape")
            shp = tuple(dims[1:])
            self.batch = dims[0] or None
        guard.check_activation(shp, where)
        b = GraphBuilder(self.name, shp, dataset="")
        self.env[vi.name] = Act("input", shp)
        return b

    # -- inputs of a node --
    def act(self, node, i, k) -> Act:
        t = node.input[k] if k < len(node.input) else ""
        if not t:
            raise ArchsimError(f"{self.node_where(node, i)}: input {k} is missing")
        if t in self.env:
            return self.env[t]
        if t in self.consts or t in self.slots:
            raise ArchsimError(f"{self.node_where(node, i)}: input {k} ('{safe_name(t)}') is a constant; "
                               f"archsim expects an activation there")
        raise ArchsimError(f"{self.node_where(node, i)}: input {k} ('{safe_name(t)}') is produced by no node")

    def flat_input(self, node, i, x: Act) -> None:
        if len(x.shape) != 1:
            raise ArchsimError(f"{self.node_where(node, i)}: input has shape {x.shape} per image; archsim maps "
                               f"{node.op_type} on (batch, K) inputs (add a Flatten before it)")

    def const(self, node, i, k, required=True, slot_ok=False):
        """The constant at input ``k`` as an array, a Slot (weights without values), or None (absent)."""
        t = node.input[k] if k < len(node.input) else ""
        if not t:
            if required:
                raise ArchsimError(f"{self.node_where(node, i)}: input {k} is missing")
            return None
        if t in self.slots:
            if not slot_ok:
                raise ArchsimError(f"{self.node_where(node, i)}: input {k} ('{safe_name(t)}') has no values "
                                   f"(a graph input); archsim needs a constant there")
            return self.slots[t]
        if t in self.consts:
            v = self.consts[t]
            if not isinstance(v, np.ndarray):
                from onnx import numpy_helper
                v = self.consts[t] = np.asarray(numpy_helper.to_array(v))   # size checked by check_tensor
            return v
        raise ArchsimError(f"{self.node_where(node, i)}: input {k} ('{safe_name(t)}') must be a constant "
                           f"(an initializer or a Constant node); archsim maps only weights stored in the file")

    def weight_values(self, node, i, arr, what):
        """float32 copy of a weight array, refusing non-float and non-finite values."""
        if isinstance(arr, Slot) or arr is None:
            return arr
        if not np.issubdtype(arr.dtype, np.floating):
            raise ArchsimError(f"{self.node_where(node, i)}: {what} has dtype {arr.dtype}; allowed floating point")
        self.made += int(arr.size)          # every copy counts: one tensor shared by many layers is copied for each
        guard.check_total([self.made], self.where)
        a = np.array(arr, dtype=np.float32)
        if not np.all(np.isfinite(a)):
            raise ArchsimError(f"{self.node_where(node, i)}: {what} holds NaN or infinite values")
        return a

    def scalar(self, node, i, k):
        v = self.const(node, i, k, required=False)
        if v is None:
            return None
        if v.size != 1:
            raise ArchsimError(f"{self.node_where(node, i)}: input {k} has shape {v.shape}; expected a scalar")
        return float(v.reshape(()))

    # -- weights and folding --
    def same_kind(self, node, i, W, B) -> None:
        if B is not None and isinstance(W, Slot) != isinstance(B, Slot):
            raise ArchsimError(f"{self.node_where(node, i)}: weight and bias must both have values or both be "
                               f"graph inputs without values")

    def fix_slots(self, name) -> None:
        lay = self.layer(name)
        if isinstance(lay.weights, Slot) or isinstance(lay.bias, Slot):
            self.replace_layer(name, weights=None if isinstance(lay.weights, Slot) else lay.weights,
                               bias=None if isinstance(lay.bias, Slot) else lay.bias)

    def bias_vector(self, node, i, c, n, kind) -> np.ndarray:
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
            raise ArchsimError(f"{self.node_where(node, i)}: constant of shape {shp} is not a per-channel bias "
                               f"of the {kind} layer before it; allowed a scalar, {want}")
        return self.weight_values(node, i, np.asarray(vec, dtype=np.float64), "bias")

    def fold_bias(self, node, i, lay: Layer, c) -> None:
        """Fold the constant ``c`` (an array or a Slot) that ``node`` adds to ``lay``'s output into its bias."""
        if isinstance(c, Slot) != (lay.weights is None):
            raise ArchsimError(f"{self.node_where(node, i)}: bias and weights of '{lay.name}' must both have "
                               f"values or both be graph inputs without values")
        if isinstance(c, Slot):
            if math.prod(c.shape) not in (1, lay.N):
                raise ArchsimError(f"{self.node_where(node, i)}: bias of shape {c.shape}; expected ({lay.N},)")
            self.replace_layer(lay.name, has_bias=True)
        else:
            vec = self.bias_vector(node, i, c, lay.N, lay.kind)
            old = np.zeros(lay.N, np.float32) if lay.bias is None else lay.bias
            self.replace_layer(lay.name, has_bias=True, bias=(old.astype(np.float64) + vec).astype(np.float32))
        self.set_output(node, i, lay.name)

    def fold_batch_norm(self, node, i, lay: Layer, params, eps: float) -> None:
        """Fold an inference-mode batch norm (``params``: scale, B, mean, var) into ``lay`` right before it."""
        if lay.weights is None:
            self.replace_layer(lay.name, has_bias=True)
        else:
            if any(isinstance(p, Slot) for p in params):
                raise ArchsimError(f"{self.node_where(node, i)}: parameters without values after a layer with "
                                   f"weights; give them as initializers")
            gamma, beta, mean, var = (self.weight_values(node, i, p.reshape(-1), w)
                                      for p, w in zip(params, ("scale", "B", "mean", "var")))
            if not (eps >= 0 and np.all(var.astype(np.float64) + eps > 0)):
                raise ArchsimError(f"{self.node_where(node, i)}: var + epsilon must be positive")
            W2, b2 = fold_batchnorm(lay.weights, lay.bias, gamma, beta, mean, var, eps)
            self.replace_layer(lay.name, weights=W2, bias=b2, has_bias=True)
        self.set_output(node, i, lay.name)

    # -- outputs --
    def new_name(self, node, i) -> str:
        base = (module_name(node, self.consts) if generated_name(node.name) else "") or safe_name(node.name) \
            or f"{node.op_type.lower()}_{i}"
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def set_output(self, node, i, layer_name: str, check_inferred=True) -> None:
        lay = self.b.g.nodes[layer_name]["layer"]
        shape = tuple(lay.out_shape)
        guard.check_activation(shape, self.node_where(node, i))
        out = node.output[0] if len(node.output) else ""
        if not out:
            raise ArchsimError(f"{self.node_where(node, i)}: has no output")
        for extra in node.output[1:]:
            if extra and self.uses[extra]:
                raise ArchsimError(f"{self.node_where(node, i)}: its extra output '{safe_name(extra)}' is "
                                   f"used; archsim imports only the first output of {node.op_type}")
        inf = self.inferred.get(out)
        if check_inferred and inf is not None and len(inf) >= 1 and all(d is not None for d in inf[1:]):
            if len(inf) != len(shape) + 1 or tuple(inf[1:]) != shape:
                raise ArchsimError(f"{self.node_where(node, i)}: ONNX shape inference gives {tuple(inf)}, "
                                   f"archsim computes (batch, {', '.join(map(str, shape))}); refusing to guess")
        self.env[out] = Act(layer_name, shape)

    def layer(self, name) -> Layer:
        return self.b.g.nodes[name]["layer"]

    def replace_layer(self, name, **changes) -> None:
        self.b.g.nodes[name]["layer"] = replace(self.layer(name), **changes)

    def fusable(self, node, x: Act, kinds) -> bool:
        lay = self.layer(x.layer)
        return lay.kind in kinds and lay.activation is None and self.uses[node.input[0]] == 1

    # -- shapes --
    def pads(self, node, i, a, hw, ks, strides, dil=(1, 1)) -> tuple:
        auto = a.get("auto_pad", "NOTSET") or "NOTSET"
        if auto == "NOTSET":
            p = list(a.get("pads", [0, 0, 0, 0]))
            if len(p) != 4 or any(v < 0 for v in p):
                raise ArchsimError(f"{self.node_where(node, i)}: pads {p}; allowed 4 non-negative values "
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
        raise ArchsimError(f"{self.node_where(node, i)}: auto_pad '{safe_name(auto)}'; allowed NOTSET, VALID, "
                           f"SAME_UPPER, SAME_LOWER")

    def window(self, node, i, a, x: Act):
        if len(x.shape) != 3:
            raise ArchsimError(f"{self.node_where(node, i)}: input has shape {x.shape} per image; "
                               f"archsim runs 2-D windows on (C, H, W) feature maps")
        ks = tuple(int(v) for v in a.get("kernel_shape", ()))
        if len(ks) != 2:
            raise ArchsimError(f"{self.node_where(node, i)}: kernel_shape {list(ks)}; allowed two sizes (2-D)")
        strides = tuple(int(v) for v in a.get("strides", (1, 1)))
        dil = tuple(int(v) for v in a.get("dilations", (1, 1)))
        if len(strides) != 2 or min(strides) < 1:
            raise ArchsimError(f"{self.node_where(node, i)}: strides {list(strides)}; allowed two positive values")
        if len(dil) != 2 or any(d != 1 for d in dil):
            raise ArchsimError(f"{self.node_where(node, i)}: dilations {list(dil)}; archsim layers have no "
                               f"dilation, allowed [1, 1]")
        if min(ks) < 1:
            raise ArchsimError(f"{self.node_where(node, i)}: kernel_shape {list(ks)}; allowed positive sizes")
        return ks, strides

    def ceil_extra(self, size, k, s, lo, hi) -> int:
        span = size + lo + hi - k
        if span < 0:
            return 0
        floor_out = span // s + 1
        ceil_out = -(-span // s) + 1
        if ceil_out > floor_out and (ceil_out - 1) * s >= size + lo:   # window starting in the right padding
            ceil_out -= 1
        return (ceil_out - 1) * s + k - (size + lo + hi) if ceil_out > floor_out else 0

    # -- the whole graph --
    def run(self) -> Workload:
        for i, node in enumerate(self.g.node):
            try:
                OPS[node.op_type](self, node, i)
            except ArchsimError as e:    # GraphBuilder's and fold_batchnorm's messages: add the file and node
                if str(e).startswith(self.where):
                    raise
                raise ArchsimError(f"{self.node_where(node, i)}: {e}") from None
        if len(self.g.output) != 1:
            raise ArchsimError(f"{self.where}: the graph has {len(self.g.output)} outputs; archsim takes one")
        out = self.g.output[0].name
        if out not in self.env:
            raise ArchsimError(f"{self.where}: graph output '{safe_name(out)}' is not computed from the input")
        last = self.env[out].layer
        if last == "input":
            raise ArchsimError(f"{self.where}: the graph output is the input; nothing to map")
        g = self.b.g
        dangling = [n for n in g.nodes if g.out_degree(n) == 0 and n != last]
        if dangling:
            raise ArchsimError(f"{self.where}: layer(s) {dangling[:5]} compute outputs nothing uses; archsim needs "
                               f"every node to lead to the one graph output")
        wl = self.b.build()
        guard.check_total([wl.total_weights], self.where)   # weights without values become arrays later
        if not wl.weighted_layers():
            raise ArchsimError(f"{self.where}: the graph has no Conv, Gemm or MatMul; archsim maps weighted "
                               f"layers onto crossbars and needs at least one")
        return wl


#: node names an exporter makes up rather than takes from the network: PyTorch's default (dynamo) exporter
#: (``node_Conv_50``, ``node_linear``), its TorchScript exporter (``/features/features.0/Conv``, ``Conv_3``)
GENERATED_NAME = re.compile(r"node_\w*|/(?:[^/]*/)*[A-Za-z]+(?:_\d+)?|[A-Z][A-Za-z]*_\d+")
#: the weighted operators whose weight initializer's name can name the module (``features.0.weight``)
WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")
#: longest ``pkg.torch.onnx.name_scopes`` value read (the metadata is untrusted text)
MAX_SCOPES_TEXT = 4096


def generated_name(name: str) -> bool:
    """Whether a node's name was made up by its exporter (or is missing), so a module name serves better."""
    return not name or GENERATED_NAME.fullmatch(name) is not None


def module_name(node, consts) -> str:
    """The PyTorch module a node came from, where the file records it; ``''`` where it does not.

    In this order: the name scopes PyTorch's dynamo exporter writes into the node's metadata
    (``pkg.torch.onnx.name_scopes``: ``['', 'features', 'features.0', 'conv2d']``, cumulative module
    paths, the last entry the operator's own name: the module is the one before it); the module path of a
    TorchScript export's node name (``/features/features.0/Conv`` -> ``features.0``); the name of a weighted
    node's weight initializer (``features.0.weight`` -> ``features.0``)."""
    import ast
    meta = {p.key: p.value for p in node.metadata_props}
    raw = meta.get("pkg.torch.onnx.name_scopes", "")
    if raw and len(raw) <= MAX_SCOPES_TEXT:
        try:
            scopes = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            scopes = None
        if isinstance(scopes, (list, tuple)) and len(scopes) >= 3 and all(isinstance(s, str) for s in scopes) \
                and scopes[-2]:
            return safe_name(scopes[-2])
    parts = node.name.split("/")
    if node.name.startswith("/") and len(parts) >= 3 and parts[-2]:
        return safe_name(parts[-2])
    if node.op_type in WEIGHTED_OPS and len(node.input) > 1:
        w = node.input[1]
        if w in consts and w.endswith(".weight") and len(w) > len(".weight"):
            return safe_name(w[:-len(".weight")])
    return ""


def load_onnx(path, name: str | None = None, *, input_shape=None) -> Workload:
    """Import the ONNX file ``path`` into a :class:`Workload` with its weights.

    ``name``: the workload's name (default: the file name without ``.onnx``).
    ``input_shape``: per-image input shape ``(C, H, W)`` or ``(F,)`` for a model
    whose input has dynamic axes besides the batch.  See :mod:`archsim.io.onnx.ops`
    for the operators and :mod:`archsim.io.onnx.guard` for the checks on untrusted files.
    """
    p = Path(path)
    where = f"ONNX file {p}"
    model = guard.read_model(p, where)
    try:
        imp = Importer(model, where, guard.workload_name(name if name else p.stem), input_shape)
        wl = imp.run()
        meta = {m.key: m.value for m in model.metadata_props}
    except UnicodeDecodeError:
        # proto2 string fields are not checked when parsed, only when read
        raise ArchsimError(f"{where}: holds names or text that are not valid UTF-8 (a malformed file)") from None
    dataset = meta.get("archsim.dataset", "")
    dataset = dataset if re.fullmatch(r"[A-Za-z0-9_-]{1,32}", dataset) else ""
    producer = safe_name(f"{model.producer_name} {model.producer_version}".strip(), 64) or "unknown producer"
    desc = f"imported from {safe_name(p.name, 100)} ({producer}, opset {imp.opset})"
    return Workload(wl.name, wl.graph, desc, dataset)

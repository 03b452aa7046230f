"""The ONNX exporter: one node per layer, from a layer kind -> handler table.

:func:`save_onnx` writes a :class:`Workload` as an ONNX model (opset :data:`EXPORT_OPSET`, IR
version 8, built with ``onnx.helper``; valid under ``onnx.checker``), atomically
(:func:`archsim.io.files.atomic_write`).  Each kind's handler in :data:`EXPORTERS` appends its
node(s) to the :class:`_Graph` under construction: conv -> ``Conv``, dense -> ``Gemm`` with
``transB=1`` (the ``(N, K)`` weight as is, as PyTorch writes ``Linear``), add -> ``Add`` (``Sum``
for more than two inputs), pools, ``Flatten``, ``Concat`` (axis 1), ``Softmax`` (axis 1),
``Clip(0, 6)``, ``Identity``; a fused activation adds a ``Relu``.  The batch axis is dynamic
(``batch``).  Node and tensor names are the layer names, so a round trip keeps them.
``weights``: ``"auto"`` writes the workload's own weights and, for a workload without weights,
deterministic He-normal random weights (:func:`archsim.model.weights.random_weights` with
``seed``); ``"random"`` and ``"zeros"`` force those; ``"none"`` writes the network's structure
only (weights as graph inputs with their shapes and no values), fast for VGG-16-sized networks
and enough for estimates.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from archsim.io.files import atomic_write, check_target
from archsim.io.onnx.guard import light, one_line, onnx_module, safe_name
from archsim.model.errors import ArchsimError, ParameterError, naming
from archsim.model.weights import attach_weights, random_weights
from archsim.model.kinds import CLIP_RANGE
from archsim.model.workload import KINDS, Layer, Workload

__all__ = ["save_onnx", "EXPORT_OPSET", "EXPORT_IR_VERSION", "EXPORT_WEIGHTS", "EXPORTERS"]

#: opset and IR version written
EXPORT_OPSET = 17
EXPORT_IR_VERSION = 8
#: what ``save_onnx(weights=...)`` accepts
EXPORT_WEIGHTS = ("auto", "random", "zeros", "none")


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
            shape = l.matrix_view.weight_shape(l)
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


class _Graph:
    """The ONNX graph under construction: nodes, initializers, weight slots, value infos, unique names."""

    def __init__(self, wl: Workload, weights: str):
        from onnx import TensorProto, helper
        self.helper, self.float = helper, TensorProto.FLOAT
        self.wl, self.weights = wl, weights
        self.used: set = set()
        self.nodes, self.inits, self.slots, self.infos = [], [], [], []
        self.clip_bounds = None

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def vi(self, name, shape):
        return self.helper.make_tensor_value_info(name, self.float, ["batch", *map(int, shape)])

    def const(self, name, arr, shape):
        """An initializer holding ``arr``; with weights='none' (or no values) a graph input of ``shape``."""
        t = self.fresh(name)
        if self.weights == "none" or arr is None:
            self.slots.append(self.helper.make_tensor_value_info(t, self.float, list(map(int, shape))))
        else:
            self.inits.append((t, np.ascontiguousarray(arr, dtype=np.float32)))
        return t

    def node(self, op: str, ins, outs, **attrs) -> None:
        self.nodes.append(self.helper.make_node(op, ins, outs, **attrs))


# ---- one handler per layer kind: (graph, layer, input tensor names, output tensor name) ----
def _conv(g: _Graph, lay: Layer, srcs, pre) -> None:
    shape = (lay.N, lay.in_shape[0] // lay.groups, *lay.kernel)
    ins = [srcs[0], g.const(f"{lay.name}.weight", lay.weights, shape)]
    if lay.has_bias:
        ins.append(g.const(f"{lay.name}.bias", _bias_or_zeros(lay), (lay.N,)))
    t, l, b, r = lay.padding
    g.node("Conv", ins, [pre], name=lay.name, kernel_shape=list(lay.kernel), strides=list(lay.stride),
           pads=[t, l, b, r], group=lay.groups, dilations=[1, 1])


def _dense(g: _Graph, lay: Layer, srcs, pre) -> None:
    src = srcs[0]
    if len(g.wl.layer(next(iter(g.wl.graph.predecessors(lay.name)))).out_shape) != 1:
        flat = g.fresh(f"{lay.name}.flatten")
        g.node("Flatten", [src], [flat], name=flat, axis=1)
        src = flat
    ins = [src, g.const(f"{lay.name}.weight", lay.weights, (lay.N, lay.K))]
    if lay.has_bias:
        ins.append(g.const(f"{lay.name}.bias", _bias_or_zeros(lay), (lay.N,)))
    g.node("Gemm", ins, [pre], name=lay.name, transB=1)


def _pool(g: _Graph, lay: Layer, srcs, pre) -> None:
    t, l, b, r = lay.padding
    kw = dict(kernel_shape=list(lay.kernel), strides=list(lay.stride), pads=[t, l, b, r])
    if lay.kind == "avgpool":
        kw["count_include_pad"] = 1
    g.node("MaxPool" if lay.kind == "maxpool" else "AveragePool", srcs, [pre], name=lay.name, **kw)


def _add(g: _Graph, lay: Layer, srcs, pre) -> None:
    g.node("Add" if len(srcs) == 2 else "Sum", srcs, [pre], name=lay.name)


def _clip(g: _Graph, lay: Layer, srcs, pre) -> None:
    if g.clip_bounds is None:
        lo, hi = g.fresh("clip.min"), g.fresh("clip.max")
        g.inits.append((lo, np.array(CLIP_RANGE[0], np.float32)))
        g.inits.append((hi, np.array(CLIP_RANGE[1], np.float32)))
        g.clip_bounds = (lo, hi)
    g.node("Clip", [srcs[0], *g.clip_bounds], [pre], name=lay.name)


def _plain(op: str, **attrs):
    """A handler writing the one ONNX node ``op`` over the layer's inputs."""
    def handler(g: _Graph, lay: Layer, srcs, pre) -> None:
        g.node(op, srcs, [pre], name=lay.name, **attrs)
    return handler


#: layer kind -> handler appending its ONNX node(s); every kind but ``input``
EXPORTERS = {
    "conv": _conv, "dense": _dense, "maxpool": _pool, "avgpool": _pool,
    "globalavgpool": _plain("GlobalAveragePool"), "flatten": _plain("Flatten", axis=1), "add": _add,
    "concat": _plain("Concat", axis=1), "relu": _plain("Relu"), "sigmoid": _plain("Sigmoid"), "clip": _clip,
    "softmax": _plain("Softmax", axis=1), "identity": _plain("Identity"),
}


def _export_model(workload: Workload, weights: str = "auto", seed: int = 0):
    onnx = onnx_module()
    from onnx import TensorProto, helper

    if not isinstance(workload, Workload):
        raise ArchsimError(f"save_onnx: expected a Workload, got {type(workload).__name__}")
    wl, note = _prepare_weights(workload, weights, seed)
    layers = wl.layers()
    sinks = [n for n in wl.graph.nodes if wl.graph.out_degree(n) == 0]
    if len(sinks) != 1:
        raise ArchsimError(f"save_onnx: workload {wl.name} has outputs {sorted(sinks)}; ONNX export takes one")
    g = _Graph(wl, weights)
    tensor: dict = {}
    inp = wl.input_layer
    tensor[inp.name] = g.fresh(inp.name)
    graph_input = g.vi(tensor[inp.name], inp.out_shape)
    for lay in layers:
        if lay.kind == "input":
            continue
        if lay.kind not in KINDS:
            raise ArchsimError(f"save_onnx: layer '{lay.name}' has kind '{lay.kind}'; allowed {', '.join(KINDS)}")
        srcs = [tensor[p] for p in wl.graph.predecessors(lay.name)]   # edge order, as the forward pass reads it
        out = g.fresh(lay.name)
        pre = g.fresh(f"{lay.name}.preact") if lay.activation else out
        EXPORTERS[lay.kind](g, lay, srcs, pre)
        if lay.activation == "relu":
            g.node("Relu", [pre], [out], name=g.fresh(f"{lay.name}.relu"))
        elif lay.activation:
            raise ArchsimError(f"save_onnx: layer '{lay.name}' has activation '{lay.activation}'; allowed relu")
        tensor[lay.name] = out
        if lay.name != sinks[0]:
            g.infos.append(g.vi(out, lay.out_shape))
    last = wl.layer(sinks[0])
    graph = helper.make_graph(g.nodes, safe_name(wl.name) or "archsim", [graph_input, *g.slots],
                              [g.vi(tensor[last.name], last.out_shape)], value_info=g.infos)
    from archsim.version import __version__
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)],
                              ir_version=EXPORT_IR_VERSION, producer_name="archsim", producer_version=__version__,
                              doc_string=wl.description)
    for key, val in (("archsim.workload", wl.name), ("archsim.dataset", wl.dataset), ("archsim.weights", note)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(val)
    size = sum(a.nbytes for _, a in g.inits)
    if size >= 2**31 - 2**24:
        raise ArchsimError(f"save_onnx: workload {wl.name} has {size:,} bytes of weights, beyond protobuf's "
                           f"2 GB; export with weights='none'")
    for name, arr in g.inits:   # straight into the model: make_graph and make_model would copy every tensor twice
        t = model.graph.initializer.add()
        t.name, t.data_type = name, TensorProto.FLOAT
        t.dims.extend(arr.shape)
        t.raw_data = arr.tobytes()
    try:
        onnx.checker.check_model(light(model))
    except Exception as e:  # a bug here, not bad input: say so in one line
        raise ArchsimError(f"save_onnx: the model for {wl.name} fails onnx.checker ({one_line(e)})") from None
    return model, note


def save_onnx(workload: Workload, path, *, weights: str = "auto", seed: int = 0) -> Path:
    """Write ``workload`` as an ONNX model (opset 17) to ``path``; return the path.

    ``weights``: ``"auto"`` (the workload's own; He-normal random ones with
    ``seed`` for layers without), ``"random"``, ``"zeros"`` or ``"none"``
    (structure only: weights are graph inputs with shapes and no values).
    The file is written atomically (:func:`archsim.io.files.atomic_write`).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"{{param}} {seed!r}: allowed a whole number of 0 or more", "seed")
    with naming("path"):      # a regular file or absent (no link, folder, FIFO or device), before the work
        p = check_target(path, ParameterError.MARK)
    model, _ = _export_model(workload, weights, seed)
    data = model.SerializeToString()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(p, data)
    except OSError as e:
        raise ArchsimError(f"save_onnx: cannot write {p} ({e.strerror or e})") from None
    return p

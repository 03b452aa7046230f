"""Network graphs: a :class:`Workload` is a ``networkx.DiGraph`` of :class:`Layer` records.

A workload knows shapes and (optionally) weights; it knows nothing about devices
or tiles.  Each weighted layer (``conv`` or ``dense``) has a matrix-vector view:
``K`` rows (``Cin/groups * kh * kw``), ``N`` columns (``Cout``), ``vectors``
per inference (``Hout * Wout``) and ``macs = K * N * vectors`` (``K`` already
divides by the group count, so grouped and depthwise convolutions count right).

Shapes are channel-first without the batch axis: ``(C, H, W)`` for feature maps,
``(F,)`` for vectors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import networkx as nx
import numpy as np
import pandas as pd

from archsim.model.errors import ArchsimError

from archsim.model.kinds import ELEMENTWISE, KINDS, window_shape


@dataclass(frozen=True)
class Layer:
    """One node of a network graph.

    ``padding`` is ``(top, left, bottom, right)``.  ``activation`` names a fused
    element-wise function applied after the layer (``"relu"`` or ``None``).
    ``weights`` (conv: ``(Cout, Cin/groups, kh, kw)``; dense: ``(N, K)``) and
    ``bias`` (``(Cout,)``) are optional arrays; they do not take part in equality.
    """

    name: str
    kind: str
    in_shape: tuple
    out_shape: tuple
    kernel: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0, 0, 0)
    groups: int = 1
    activation: str | None = None
    has_bias: bool = False
    weights: np.ndarray | None = field(default=None, compare=False, repr=False)
    bias: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def weighted(self) -> bool:
        return KINDS[self.kind].weighted

    # ---- matrix-vector view (weighted layers; zero otherwise) ----
    @property
    def matrix_view(self):
        """The kind's crossbar view (:class:`archsim.model.kinds.MatrixView`), None for an unweighted kind."""
        return KINDS[self.kind].matrix

    @property
    def K(self) -> int:
        """Rows of the weight matrix of one group: inputs per output."""
        v = self.matrix_view
        return int(v.K(self)) if v is not None else 0

    @property
    def N(self) -> int:
        """Columns of the weight matrix over all groups: outputs per vector."""
        v = self.matrix_view
        return int(v.N(self)) if v is not None else 0

    @property
    def vectors(self) -> int:
        """Input vectors per inference (output pixels for conv, 1 for dense)."""
        v = self.matrix_view
        return int(v.vectors(self)) if v is not None else 0

    @property
    def n_weights(self) -> int:
        return self.K * self.N

    @property
    def macs(self) -> int:
        return self.K * self.N * self.vectors

    @property
    def out_size(self) -> int:
        return math.prod(self.out_shape)

    @property
    def in_size(self) -> int:
        return math.prod(self.in_shape)


class _LockedAttrs(dict):
    """A node's attributes once its workload is built: read as a dict, never written (a copy is a plain dict)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a workload's graph is frozen once built: change a copy (workload.graph.copy()) and "
                        "build a new Workload from it")

    __setitem__ = __delitem__ = __ior__ = update = pop = popitem = clear = setdefault = _refuse

    def copy(self) -> dict:
        return dict(self)

    def __reduce__(self):
        return (_LockedAttrs, (dict(self),))


def freeze_graph(g: nx.DiGraph) -> nx.DiGraph:
    """Freeze ``g`` in place: no node or edge can be added or removed (:func:`networkx.freeze`) and no node's
    attributes (its ``layer``, its ``order``) replaced.  ``g.copy()`` is an ordinary, changeable graph."""
    if not nx.is_frozen(g):
        nodes = g._node     # networkx's node -> attribute dict table (its documented data structure)
        for n in list(nodes):
            nodes[n] = _LockedAttrs(nodes[n])
        nx.freeze(g)
    return g


@dataclass(frozen=True)
class Workload:
    """A named network graph.  Nodes are layer names with attribute ``layer``.

    Immutable once built: the graph is frozen when the Workload is made (:func:`freeze_graph`; its layers
    are frozen records), so every view below (topological order, neighbours, weighted sources, totals, and
    what later steps keep with :meth:`memo`) is a pure function of it, computed once per workload and
    returned as a fresh list.  To change a network, copy its graph and build a new Workload."""

    name: str
    graph: nx.DiGraph = field(compare=False)
    description: str = ""
    dataset: str = ""

    def __post_init__(self):
        freeze_graph(self.graph)
        object.__setattr__(self, "_views", {})

    def __getstate__(self):    # the views are not sent along (a worker computes its own)
        return {k: v for k, v in self.__dict__.items() if k != "_views"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__["_views"] = {}

    def memo(self, name: str, fn, *args):
        """``fn(*args)`` computed once for this workload (``name`` and ``args`` name it): a pure function of
        the graph that a later step reads many times (lists are copied on the way out)."""
        views = self._views
        k = (name,) + args
        if k not in views:
            views[k] = fn(*args)
        v = views[k]
        return list(v) if isinstance(v, list) else v

    def layer(self, name: str) -> Layer:
        return self.graph.nodes[name]["layer"]

    def layers(self) -> list[Layer]:
        """All layers in a deterministic topological order."""
        return self.memo("layers", self._layers)

    def _layers(self) -> list[Layer]:
        return [self.layer(n) for n in nx.lexicographical_topological_sort(self.graph, key=self._order_key)]

    def _order_key(self, node: str):
        return self.graph.nodes[node].get("order", 0)

    def weighted_layers(self) -> list[Layer]:
        return self.memo("weighted_layers", lambda: [l for l in self.layers() if l.weighted])

    def predecessors(self, name: str) -> list[str]:
        return self.memo("predecessors", lambda n: sorted(self.graph.predecessors(n), key=self._order_key), name)

    def successors(self, name: str) -> list[str]:
        return self.memo("successors", lambda n: sorted(self.graph.successors(n), key=self._order_key), name)

    def weighted_sources(self, name: str) -> list[str]:
        """Nearest weighted layers (or the input) upstream of ``name``, through digital layers."""
        return self.memo("weighted_sources", self._weighted_sources, name)

    def _weighted_sources(self, name: str) -> list[str]:
        found: list[str] = []
        stack = list(self.predecessors(name))
        seen: set[str] = set()
        while stack:
            p = stack.pop()
            if p in seen:
                continue
            seen.add(p)
            lay = self.layer(p)
            if lay.weighted or lay.kind == "input":
                found.append(p)
            else:
                stack.extend(self.predecessors(p))
        return sorted(set(found), key=self._order_key)

    @property
    def input_layer(self) -> Layer:
        return next(l for l in self.layers() if l.kind == "input")

    @property
    def total_weights(self) -> int:
        return self.memo("total_weights", lambda: sum(l.n_weights for l in self.weighted_layers()))

    @property
    def total_macs(self) -> int:
        return self.memo("total_macs", lambda: sum(l.macs for l in self.weighted_layers()))

    def mvm_table(self) -> pd.DataFrame:
        """One row per weighted layer: K, N, groups, vectors, weights, MACs."""
        rows = [
            dict(layer=l.name, kind=l.kind, K=l.K, N=l.N, groups=l.groups, vectors=l.vectors,
                 weights=l.n_weights, macs=l.macs)
            for l in self.weighted_layers()
        ]
        return pd.DataFrame(rows, columns=["layer", "kind", "K", "N", "groups", "vectors", "weights", "macs"])

    @property
    def has_weights(self) -> bool:
        return all(l.weights is not None for l in self.weighted_layers())


def memo_workload(wl: Workload) -> Workload:
    """``wl`` itself: every :class:`Workload` memoizes its graph views (kept for callers of the earlier API)."""
    return wl


class GraphBuilder:
    """Builds a :class:`Workload` layer by layer, inferring shapes.

    Each method adds one layer fed by ``src`` (default: the last layer added)
    and returns the new layer's name.
    """

    def __init__(self, name: str, input_shape: Iterable[int], description: str = "", dataset: str = ""):
        self.name = name
        self.description = description
        self.dataset = dataset
        self.g = nx.DiGraph()
        self._count = 0
        self.last = self._add(Layer("input", "input", tuple(input_shape), tuple(input_shape)), [])

    # -- plumbing --
    def _add(self, layer: Layer, srcs: list[str]) -> str:
        if layer.name in self.g:
            raise ArchsimError(f"workload {self.name}: duplicate layer name '{layer.name}'")
        for s in srcs:
            if s not in self.g:
                raise ArchsimError(f"workload {self.name}: layer '{layer.name}' reads unknown layer '{s}'")
        spec = KINDS.get(layer.kind)
        if spec is None:
            raise ArchsimError(f"workload {self.name}: layer '{layer.name}' has kind '{layer.kind}'; allowed: "
                               f"{', '.join(KINDS)}")
        if any(d <= 0 for d in layer.out_shape):
            raise ArchsimError(
                f"workload {self.name}: layer '{layer.name}' has empty output shape {layer.out_shape} "
                f"(input {layer.in_shape}); shrink its kernel or stride")
        expect = spec.shape(layer, [self.g.nodes[s]["layer"].out_shape for s in srcs])
        if tuple(expect) != tuple(layer.out_shape):
            raise ArchsimError(f"workload {self.name}: layer '{layer.name}' ({layer.kind}) has output shape "
                               f"{layer.out_shape}; its inputs give {tuple(expect)}")
        self.g.add_node(layer.name, layer=layer, order=self._count)
        self._count += 1
        for s in srcs:
            self.g.add_edge(s, layer.name)
        self.last = layer.name
        return layer.name

    def shape(self, name: str | None = None) -> tuple:
        return self.g.nodes[name or self.last]["layer"].out_shape

    def _src(self, src):
        return src or self.last

    @staticmethod
    def _pair(v) -> tuple:
        return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))

    @staticmethod
    def _pad4(p) -> tuple:
        if isinstance(p, (tuple, list)):
            if len(p) == 2:
                return (p[0], p[1], p[0], p[1])
            return tuple(p)
        return (int(p),) * 4

    # -- layers --
    def conv(self, name, cout, kernel, stride=1, padding=0, groups=1, relu=True, bias=False, src=None,
             weights=None, bias_values=None) -> str:
        src = self._src(src)
        c, h, w = self.shape(src)
        kh, kw = self._pair(kernel)
        sh, sw = self._pair(stride)
        pad = self._pad4(padding)
        if c % groups or cout % groups:
            raise ArchsimError(f"workload {self.name}: layer '{name}' groups={groups} must divide Cin={c} and Cout={cout}")
        out = window_shape((c, h, w), cout, (kh, kw), (sh, sw), pad)
        return self._add(Layer(name, "conv", (c, h, w), out, (kh, kw), (sh, sw), pad, groups,
                               "relu" if relu else None, bias, weights, bias_values), [src])

    def dense(self, name, nout, relu=True, bias=True, src=None, weights=None, bias_values=None) -> str:
        src = self._src(src)
        shp = self.shape(src)
        if len(shp) != 1:
            src = self.flatten(f"{name}_flatten", src=src)
            shp = self.shape(src)
        return self._add(Layer(name, "dense", shp, (int(nout),), activation="relu" if relu else None,
                               has_bias=bias, weights=weights, bias=bias_values), [src])

    def _pool(self, kind, name, kernel, stride, padding, src):
        src = self._src(src)
        c, h, w = self.shape(src)
        kh, kw = self._pair(kernel)
        sh, sw = self._pair(stride if stride is not None else kernel)
        pad = self._pad4(padding)
        out = window_shape((c, h, w), c, (kh, kw), (sh, sw), pad)
        return self._add(Layer(name, kind, (c, h, w), out, (kh, kw), (sh, sw), pad), [src])

    def maxpool(self, name, kernel, stride=None, padding=0, src=None) -> str:
        return self._pool("maxpool", name, kernel, stride, padding, src)

    def avgpool(self, name, kernel, stride=None, padding=0, src=None) -> str:
        return self._pool("avgpool", name, kernel, stride, padding, src)

    def globalavgpool(self, name, src=None) -> str:
        src = self._src(src)
        c, h, w = self.shape(src)
        return self._add(Layer(name, "globalavgpool", (c, h, w), (c, 1, 1), (h, w), (1, 1)), [src])

    def flatten(self, name, src=None) -> str:
        src = self._src(src)
        shp = self.shape(src)
        return self._add(Layer(name, "flatten", shp, (int(np.prod(shp)),)), [src])

    def add(self, name, srcs, relu=True) -> str:
        shapes = {self.shape(s) for s in srcs}
        if len(shapes) != 1:
            raise ArchsimError(f"workload {self.name}: add '{name}' joins different shapes {sorted(shapes)}")
        shp = shapes.pop()
        return self._add(Layer(name, "add", shp, shp, activation="relu" if relu else None), list(srcs))

    def concat(self, name, srcs) -> str:
        shapes = [self.shape(s) for s in srcs]
        if len({s[1:] for s in shapes}) != 1:
            raise ArchsimError(f"workload {self.name}: concat '{name}' joins incompatible shapes {shapes}")
        out = (sum(s[0] for s in shapes),) + tuple(shapes[0][1:])
        return self._add(Layer(name, "concat", out, out), list(srcs))

    def elementwise(self, kind, name, src=None) -> str:
        if kind not in ELEMENTWISE:
            raise ArchsimError(f"workload {self.name}: layer '{name}' kind '{kind}' is not element-wise")
        src = self._src(src)
        shp = self.shape(src)
        return self._add(Layer(name, kind, shp, shp), [src])

    def layer(self, kind: str, name: str, srcs=None, **fields) -> str:
        """A layer of any kind in the table (:data:`archsim.model.kinds.KINDS`), its output shape given by the
        kind's shape rule; ``fields``: the other :class:`Layer` fields (kernel, stride, ...)."""
        spec = KINDS.get(kind)
        if spec is None:
            raise ArchsimError(f"workload {self.name}: layer '{name}' has kind '{kind}'; allowed: {', '.join(KINDS)}")
        srcs = [self._src(None)] if srcs is None else list(srcs)
        ins = [self.shape(s) for s in srcs]
        probe = Layer(name, kind, ins[0], ins[0], **fields)
        out = tuple(spec.shape(probe, ins))
        return self._add(Layer(name, kind, ins[0], out, **fields), srcs)

    def build(self) -> Workload:
        return Workload(self.name, self.g, self.description, self.dataset)

"""Routes of a mapping: the activations each edge of the network sends between the tiles of replicas.

Routes.  Each edge (producer -> consumer, or the chip's I/O port beside tile
(0, 0)) carries its bits as routes between replicas.  Each replica (or the
port) is a tile group; the distance between two groups is the mean Manhattan
distance over their tile pairs (exact for single tiles).  Every consumer
replica takes its share of the bits (``bits / replicas``, the vectors being
split evenly) from the nearest producer replica that still holds outputs to
send, each producer replica holding ``bits / its replicas`` (a greedy
transport, nearest pairs first: with one producer replica every consumer
replica takes its share from it; with one consumer replica it gathers every
producer replica's share).  The port sends the whole input and gathers the
whole output.  So the bit-hops of an edge are the sum over its routes of
bits x hops, and adding replicas does not inflate them as a mean over all
producer x consumer tile pairs would.

:func:`edges` builds them for a :class:`archsim.mapping.layout.Mapping` (the mesh arithmetic, group distances
and the transport are in :mod:`archsim.mapping.mesh`).
"""
from __future__ import annotations

import contextlib
import itertools
import operator
from dataclasses import dataclass, field

import numpy as np

from archsim.io.blas import blas_single_thread
from archsim.mapping.mesh import TileGroups, replica_groups, shares, tile_group_distances, transport
from archsim.mapping.transport_kernel import edge_routes
from archsim.model.arch import Architecture
from archsim.model.workload import Workload


@dataclass(frozen=True)
class Route:
    """Bits sent per inference from one producer replica to one consumer replica (-1: the I/O port)."""

    src_replica: int
    dst_replica: int
    bits: int
    hops: float  # mean Manhattan distance between the two tile groups

    @property
    def bit_hops(self) -> float:
        return self.bits * self.hops


@dataclass(frozen=True)
class Edge:
    """Activations sent over the network per inference, as routes between replicas.

    ``flows`` holds the routes as four tuples (source replicas, destination replicas, bits, hops); ``routes``
    gives them as :class:`Route` records.  ``bit_hops`` (the routes' bits x hops summed in route order) and
    ``max_hops`` are computed once."""

    src: str   # weighted layer, or "input" for the chip's I/O port
    dst: str   # weighted layer, or "output"
    bits: int
    flows: tuple = ((), (), (), ())
    bit_hops: float = field(init=False, repr=False)
    max_hops: float = field(init=False, repr=False)   # hops of the longest route (what the last bit travels)

    def __post_init__(self):
        _, _, bits, hops = self.flows
        object.__setattr__(self, "bit_hops", float(sum(map(operator.mul, bits, hops))))   # in route order
        object.__setattr__(self, "max_hops", max(itertools.compress(hops, bits), default=0.0))

    @classmethod
    def of_routes(cls, src: str, dst: str, bits: int, flows: tuple, bit_hops: float, max_hops: float) -> "Edge":
        """The edge with its routes' bit-hops and longest hops already summed, in route order as
        ``__post_init__`` sums them (:func:`archsim.mapping.transport_kernel.edge_routes`)."""
        e = object.__new__(cls)
        for name, v in (("src", src), ("dst", dst), ("bits", bits), ("flows", flows), ("bit_hops", bit_hops),
                        ("max_hops", max_hops)):
            object.__setattr__(e, name, v)
        return e

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(Route(*r) for r in zip(*self.flows))

    @property
    def hops(self) -> float:
        """Hops per bit, averaged over the routes by their bits."""
        return self.bit_hops / self.bits if self.bits else 0.0


IO_PORT = (-1, 0)  # the chip's I/O port sits just off the mesh, beside tile (0, 0)
PORT_ENDS = ("input", "output")


def _tile_groups(m, name: str, memo: dict) -> TileGroups:
    """The distinct tile groups of a layer's replicas (or the I/O port) and how many replicas each holds."""
    if not memo:
        ls = m.layers
        groups = replica_groups([l.first_tile for l in ls], [l.arrays for l in ls], [l.replication for l in ls],
                                m.arch.arrays_per_tile, m.mesh)
        memo.update(zip([l.layer for l in ls], groups))
        memo["input"] = memo["output"] = TileGroups.port(IO_PORT, m.mesh)
    return memo[name]


def _route(m, src: str, dst: str, bits: int, memo: dict) -> Edge:
    """The edge ``src -> dst`` carrying ``bits`` as routes between replicas (see the module docstring)."""
    gs, gd = _tile_groups(m, src, memo), _tile_groups(m, dst, memo)
    ns, nd = gs.counts, gd.counts
    dist = tile_group_distances(gs, gd)
    if len(ns) == 1 and len(nd) == 1:    # one group each side: the whole edge is one route
        flows = ((-1 if src == "input" else 0,), (-1 if dst == "output" else 0,), (int(bits),), (float(dist[0, 0]),))
        return Edge(src, dst, int(bits), flows if bits > 0 else ((), (), (), ()))
    if _Compiled.depth:
        rs, rd, q, hops, bit_hops, max_hops = edge_routes(int(bits), ns, nd, dist, src == "input", dst == "output")
        flows = (tuple(rs.tolist()), tuple(rd.tolist()), tuple(q.tolist()), tuple(hops.tolist()))
        return Edge.of_routes(src, dst, int(bits), flows, float(bit_hops), float(max_hops))
    flows = transport(shares(bits, ns), shares(bits, nd), dist)
    js, ds, qs = zip(*flows) if flows else ((), (), ())
    # report routes by replica: the first replica of each group stands for the group
    first_s = (np.cumsum(ns) - ns).tolist()
    first_d = (np.cumsum(nd) - nd).tolist()
    routes = (tuple(-1 for _ in js) if src == "input" else tuple(first_s[j] for j in js),
              tuple(-1 for _ in ds) if dst == "output" else tuple(first_d[i] for i in ds),
              qs, tuple(dist[list(js), list(ds)].tolist()))
    return Edge(src, dst, int(bits), routes)


class _Compiled:
    depth = 0      # inside compiled_transport()
    blas = 0       # inside compiled_transport(hold_blas=True): BLAS already held to one thread


@contextlib.contextmanager
def compiled_transport(hold_blas: bool = False):
    """Within it, the routes of edges with several tile groups on a side come from the compiled kernel
    (:mod:`archsim.mapping.transport_kernel`: the same routes and floats as :func:`~archsim.mapping.mesh.transport`,
    about ten times faster).  Its first call in a process costs numba's start-up (about half a second of CPU),
    worth paying for a sweep of many mappings, not for one estimate: sweeps run inside it
    (:mod:`archsim.explore.batch`), a single estimate does not.  ``hold_blas``: BLAS held to one thread for the
    whole block (:func:`archsim.io.blas.blas_single_thread`) instead of around each mapping's routes."""
    _Compiled.depth += 1
    try:
        with blas_single_thread() if hold_blas else contextlib.nullcontext():
            _Compiled.blas += int(hold_blas)
            try:
                yield
            finally:
                _Compiled.blas -= int(hold_blas)
    finally:
        _Compiled.depth -= 1


def home(wl: Workload, name: str) -> str:
    """Where a layer runs: a weighted layer (or the input) in itself; a digital layer (pooling, add, flatten)
    in the tiles of its last weighted source upstream (the input's port if there is none)."""
    lay = wl.layer(name)
    if lay.weighted or lay.kind == "input":
        return "input" if lay.kind == "input" else name
    srcs = wl.weighted_sources(name)
    return srcs[-1] if srcs else "input"


def edges(m, arch: Architecture) -> list[Edge]:
    """Every tensor that leaves the tiles where it is made, once per destination tile set: a graph edge
    ``u -> v`` whose homes differ sends ``u``'s output from ``home(u)`` to ``home(v)``, so a pooled map
    crosses pooled and a residual sum crosses once per place that reads it."""
    names = tuple(l.layer for l in m.layers)
    memo_of = getattr(m.workload, "memo", None)
    pairs = (memo_of("edge_bits", _edge_bits, m.workload, names, arch.input_bits) if memo_of
             else _edge_bits(m.workload, names, arch.input_bits))
    memo: dict = {}
    # small products: BLAS's threads would only spin (archsim.io.blas)
    with contextlib.nullcontext() if _Compiled.blas else blas_single_thread():
        return [_route(m, s, d, b, memo) for s, d, b in pairs]


def _edge_bits(wl: Workload, names: tuple, act: int) -> tuple:
    """``(src home, dst home, bits)`` of every edge, in the order the mapping lists them."""
    order = {"input": -1, **{n: i for i, n in enumerate(names)}, "output": len(names)}
    bits: dict[tuple[str, str], int] = {}
    sent: set[tuple[str, str]] = set()
    for lay in wl.layers():
        succ = wl.successors(lay.name)
        dests = [home(wl, v) for v in succ] if succ else ["output"]
        h = home(wl, lay.name)
        for d in dests:
            if d != h and (lay.name, d) not in sent:
                sent.add((lay.name, d))
                bits[(h, d)] = bits.get((h, d), 0) + lay.out_size * act
    pairs = sorted(bits, key=lambda p: (order[p[1]], order[p[0]]))
    return tuple((s, d, int(bits[(s, d)])) for s, d in pairs)

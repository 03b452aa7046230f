"""Mapping a workload onto a mesh of tiles of crossbar arrays.

For each weighted layer the ``K x N`` matrix (per group) is cut into row
blocks of ``rows`` and column blocks of ``cols``; each weight is split into
``slices`` cells of ``bits_per_cell`` bits, each slice in its own array; a
differential mapping doubles the arrays (G+ and G-).  Arrays are grouped into
tiles of ``arrays_per_tile``; a tile holds arrays of one layer only.  Spare
tiles of the budget hold copies (replicas) of the slowest layers so that the
pipeline stages balance.  Tiles are placed on the mesh along a serpentine
path in layer order, so consecutive layers sit side by side.

The mapping holds no energy; :mod:`archsim.cost` prices it.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

import techlib

from archsim.model.arch import AUTO, Architecture
from archsim.model.device import Device, load_device
from archsim.model.errors import ArchsimError
from archsim.model.workload import Layer, Workload


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class LayerMap:
    """How one weighted layer sits on the chip."""

    layer: str
    kind: str
    K: int                 # rows of one group's matrix
    N: int                 # columns over all groups
    groups: int
    vectors: int           # input vectors per inference
    macs: int
    row_blocks: int        # per group
    col_blocks: int        # per group
    slices: int            # cells per weight
    copies: int            # 2 differential, 1 offset
    conversions: int       # ADC conversions per column per slice: copies, or 1 when a pair is subtracted in analog
    replication: int       # copies of the whole layer on the chip
    tiles: int             # tiles over all replicas
    first_tile: int        # index of its first tile on the serpentine path

    @property
    def arrays(self) -> int:
        """Arrays of one replica."""
        return self.groups * self.row_blocks * self.col_blocks * self.slices * self.copies

    @property
    def cells_used(self) -> int:
        """Cells holding weight slices in one replica."""
        return self.K * self.N * self.slices * self.copies

    @property
    def row_drives(self) -> int:
        """Rows driven per input pulse over the arrays of one replica (inputs fan out to every column block)."""
        return self.groups * self.K * self.col_blocks * self.slices * self.copies

    @property
    def col_reads(self) -> int:
        """ADC conversions per input pulse over one replica."""
        return self.N * self.row_blocks * self.slices * self.conversions

    @property
    def vectors_per_replica(self) -> int:
        return ceil_div(self.vectors, self.replication)

    def blocks(self, rows: int, cols: int):
        """Every array of one replica as ``(group, r0, r1, c0, c1, slice, copy)``.

        Rows ``r0:r1`` of the group's ``K x N/groups`` matrix and columns ``c0:c1`` sit in one
        ``rows x cols`` array; ``slice`` counts from the least significant cell; ``copy`` is 0 for
        G+ (or the offset array) and 1 for G-.  The Monte Carlo simulator splits matrices this way.
        """
        n_g = self.N // self.groups
        for g in range(self.groups):
            for i in range(self.row_blocks):
                r0, r1 = i * rows, min(self.K, (i + 1) * rows)
                for j in range(self.col_blocks):
                    c0, c1 = j * cols, min(n_g, (j + 1) * cols)
                    for s in range(self.slices):
                        for c in range(self.copies):
                            yield g, r0, r1, c0, c1, s, c


@dataclass(frozen=True)
class Edge:
    """Activations sent over the network per inference."""

    src: str   # weighted layer, or "input" for the chip's I/O port
    dst: str   # weighted layer, or "output"
    bits: int
    hops: float  # mean Manhattan distance between the two tile sets (+1 to reach the I/O port)

    @property
    def bit_hops(self) -> float:
        return self.bits * self.hops


@dataclass(frozen=True)
class Mapping:
    arch: Architecture
    workload: Workload
    bits_per_cell: int
    layers: tuple[LayerMap, ...]
    mesh: tuple[int, int]
    edges: tuple[Edge, ...]

    @property
    def tiles_used(self) -> int:
        return sum(l.tiles for l in self.layers)

    @property
    def tiles_total(self) -> int:
        return self.mesh[0] * self.mesh[1]

    def layer(self, name: str) -> LayerMap:
        for l in self.layers:
            if l.layer == name:
                return l
        raise ArchsimError(f"mapping: no weighted layer '{name}'")

    def tile_coords(self, lm: LayerMap) -> np.ndarray:
        """(row, col) of each of the layer's tiles, shape (tiles, 2)."""
        idx = np.arange(lm.first_tile, lm.first_tile + lm.tiles)
        return serpentine(idx, self.mesh[1])

    def table(self) -> pd.DataFrame:
        cap = self.arch.rows * self.arch.cols
        rows = []
        for l in self.layers:
            rows.append(dict(layer=l.layer, kind=l.kind, K=l.K, N=l.N, groups=l.groups, vectors=l.vectors,
                             row_blocks=l.row_blocks, col_blocks=l.col_blocks, slices=l.slices, copies=l.copies,
                             arrays=l.arrays, replication=l.replication, tiles=l.tiles, first_tile=l.first_tile,
                             utilization=l.cells_used / (l.arrays * cap)))
        return pd.DataFrame(rows)


def serpentine(idx: np.ndarray, mesh_cols: int) -> np.ndarray:
    """Tile index -> (row, col) along a boustrophedon path: consecutive indices are neighbours."""
    r = idx // mesh_cols
    c = idx % mesh_cols
    c = np.where(r % 2 == 1, mesh_cols - 1 - c, c)
    return np.stack([r, c], axis=1)


def resolve_bits_per_cell(arch: Architecture, device: Device) -> int:
    """Bits per cell: the architecture's, checked against the device's levels, or the most the device allows."""
    levels = device.levels
    dev_bits = device.bits
    mag_bits = arch.magnitude_bits
    if arch.bits_per_cell == AUTO:
        # as few slices as the device allows, with the bits spread evenly over them (7 bits on 6-bit
        # cells: 4 + 3, not 6 + 1, whose top slice would amplify its cell's errors 64 times)
        slices = -(-mag_bits // dev_bits)
        return -(-mag_bits // slices)
    if arch.bits_per_cell > dev_bits:
        raise ArchsimError(
            f"{arch.source}: key 'bits_per_cell' = {arch.bits_per_cell} exceeds what device '{device.name}' holds "
            f"({levels} levels = {dev_bits} bits, {device.file}); allowed 1 to {dev_bits} or auto")
    return int(arch.bits_per_cell)


def _base_layer_map(layer: Layer, arch: Architecture, bpc: int) -> LayerMap:
    slices = arch.slices(bpc)
    n_g = layer.N // layer.groups
    rb = ceil_div(layer.K, arch.rows)
    cb = ceil_div(n_g, arch.cols)
    lm = LayerMap(layer.name, layer.kind, layer.K, layer.N, layer.groups, layer.vectors, layer.macs,
                  rb, cb, slices, arch.copies, arch.conversions_per_pair, 1, 0, 0)
    return lm


def _tiles_for(lm: LayerMap, replication: int, arch: Architecture) -> int:
    return ceil_div(lm.arrays * replication, arch.arrays_per_tile)


def _auto_mesh(tiles: int) -> tuple[int, int]:
    """Near-square mesh holding ``tiles``: ``r = ceil(sqrt(t))`` rows or one fewer, whichever wastes less."""
    r = max(1, math.isqrt(tiles - 1) + 1) if tiles > 1 else 1
    best = None
    for rr in (r - 1, r):
        if rr < 1:
            continue
        c = ceil_div(tiles, rr)
        cand = (rr * c - tiles, abs(c - rr), min(rr, c), max(rr, c))
        if best is None or cand < best:
            best = cand
    return best[2], best[3]


def _balance(base: list[LayerMap], budget: int, arch: Architecture) -> list[int]:
    """Greedy replication: give the slowest stage one more copy while the budget lasts."""
    reps = [1] * len(base)
    used = sum(_tiles_for(l, 1, arch) for l in base)
    # stage time is proportional to ceil(vectors / replication)
    heap = [(-l.vectors, i) for i, l in enumerate(base)]
    heapq.heapify(heap)
    while heap:
        negt, i = heapq.heappop(heap)
        l = base[i]
        if reps[i] >= l.vectors:
            continue  # cannot split further: this stage bounds the pipeline
        new = reps[i] + 1
        extra = _tiles_for(l, new, arch) - _tiles_for(l, reps[i], arch)
        if used + extra > budget:
            break  # the bottleneck cannot grow: more copies elsewhere do not raise throughput
        used += extra
        reps[i] = new
        heapq.heappush(heap, (-ceil_div(l.vectors, new), i))
    return reps


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_i - b_j| over all pairs of integer coordinates.

    For integer points, E|A - B| = sum over unit gaps k of P(A <= k < B) + P(B <= k < A)
    = sum_k Fa(k) (1 - Fb(k)) + Fb(k) (1 - Fa(k)), with the empirical CDFs Fa, Fb: linear in the range.
    """
    lo = min(a.min(), b.min())
    hi = max(a.max(), b.max())
    fa = np.cumsum(np.bincount(a - lo, minlength=hi - lo + 1))[:-1] / a.size
    fb = np.cumsum(np.bincount(b - lo, minlength=hi - lo + 1))[:-1] / b.size
    return float((fa * (1 - fb) + fb * (1 - fa)).sum())


def map_workload(workload: Workload, arch: Architecture, device: "Device | techlib.Record | str | None" = None) -> Mapping:
    """Place every weighted layer of ``workload`` on the chip described by ``arch``."""
    device = load_device(device if device is not None else arch.device)
    bpc = resolve_bits_per_cell(arch, device)
    weighted = workload.weighted_layers()
    if not weighted:
        raise ArchsimError(f"workload {workload.name}: no conv or dense layer to map")
    base = [_base_layer_map(l, arch, bpc) for l in weighted]
    min_tiles = [_tiles_for(l, 1, arch) for l in base]

    if arch.mesh != AUTO:
        budget = arch.mesh[0] * arch.mesh[1]
        budget_name = f"mesh {arch.mesh[0]}x{arch.mesh[1]}"
    elif arch.tiles != AUTO:
        budget = int(arch.tiles)
        budget_name = f"tiles = {budget}"
    else:
        budget = sum(min_tiles)
        budget_name = None
    if budget_name is not None:
        used = 0
        for l, t in zip(base, min_tiles):
            if used + t > budget:
                raise ArchsimError(
                    f"{arch.source}: layer '{l.layer}' of {workload.name} does not fit the chip: it needs {t} tiles "
                    f"but only {budget - used} of {budget} remain ({budget_name}); the whole network needs "
                    f"{sum(min_tiles)} tiles: enlarge 'mesh' or 'tiles', or use larger arrays")
            used += t

    reps = _balance(base, budget, arch) if (arch.replicate and budget > sum(min_tiles)) else [1] * len(base)

    layers = []
    first = 0
    for l, r in zip(base, reps):
        t = _tiles_for(l, r, arch)
        layers.append(LayerMap(l.layer, l.kind, l.K, l.N, l.groups, l.vectors, l.macs, l.row_blocks,
                               l.col_blocks, l.slices, l.copies, l.conversions, r, t, first))
        first += t
    mesh = arch.mesh if arch.mesh != AUTO else (
        _auto_mesh(first) if arch.tiles == AUTO else _auto_mesh(int(arch.tiles)))

    m = Mapping(arch, workload, bpc, tuple(layers), tuple(mesh), ())
    return Mapping(arch, workload, bpc, tuple(layers), tuple(mesh), tuple(_edges(m, arch)))


def _edges(m: Mapping, arch: Architecture) -> list[Edge]:
    wl = m.workload
    coords = {l.layer: m.tile_coords(l) for l in m.layers}
    io = np.array([[-1, 0]])  # the I/O port sits just off the mesh, beside tile (0, 0)
    coords["input"] = io
    coords["output"] = io
    dists: dict = {}

    def hops(a: str, b: str) -> float:
        key = (a, b)
        if key not in dists:
            ca, cb = coords[a], coords[b]
            dists[key] = _mean_distance(ca[:, 0], cb[:, 0]) + _mean_distance(ca[:, 1], cb[:, 1])
        return dists[key]

    edges = []
    act = arch.input_bits
    for lm in m.layers:
        layer = wl.layer(lm.layer)
        for src in wl.weighted_sources(lm.layer):
            s = "input" if wl.layer(src).kind == "input" else src
            # digital layers in between (pooling, add, flatten) run in the producer's tiles, so what
            # crosses the network is the smaller of what the producer makes and what the consumer reads
            bits = min(wl.layer(src).out_size, layer.in_size) * act
            edges.append(Edge(s, lm.layer, int(bits), hops(s, lm.layer)))
    last = m.layers[-1]
    edges.append(Edge(last.layer, "output", int(wl.layer(last.layer).out_size * act), hops(last.layer, "output")))
    return edges

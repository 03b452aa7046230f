"""Mapping a workload onto a mesh of tiles of crossbar arrays.

For each weighted layer the ``K x N`` matrix (per group) is cut into row
blocks of ``rows`` and column blocks of ``cols``; each weight is split into
``slices`` cells of ``bits_per_cell`` bits, each slice in its own array; a
differential mapping doubles the arrays (G+ and G-).  ``mapping: pairs`` (Narayanan et al., IBM 2019)
holds each weight on two differential pairs of varying significance, so two
"slices" (the less and the more significant pair) of two arrays each: four cells
per weight, each array read and converted like a bit slice.  Arrays are grouped into
tiles of ``arrays_per_tile``; a tile holds arrays of one layer only.  Tiles are
placed on the mesh along a serpentine path in layer order, so consecutive
layers sit side by side.

Replication.  Spare tiles hold copies (replicas) of the slowest layers so that
the pipeline stages balance: greedily, the layer with the most input vectors
per replica gets one more copy while the tiles last (:func:`_balance`).  The
spare tiles are those of the budget: a fixed ``mesh``, else the near-square
mesh chosen for ``tiles`` or, with both ``auto``, for the tiles the network
needs (that mesh may hold a few more tiles than needed; the chip pays their
area and leakage either way, so they replicate the bottleneck too).  Replica
``k`` of a layer holds arrays ``k*A .. (k+1)*A - 1`` of the layer's run of
tiles (``A`` arrays per replica): small replicas share a tile.

Routes.  Each edge between the tiles of two layers (or the chip's I/O port) carries its bits as routes
between replicas: :mod:`archsim.mapping.routes`.

Buffers.  ``buffer_kB: auto`` gives each tile its share of its layer's
working set (:func:`working_set_bits`), rounded up to 1 kB; a number gives
every tile that many kB.  The result is ``LayerMap.buffer_bits_per_tile``.

The mesh arithmetic (serpentine path, near-square mesh, group distances, the
transport) is in :mod:`archsim.mapping.mesh`.  The mapping holds no energy and
no time; :mod:`archsim.cost` prices it and :mod:`archsim.cost.pipeline` times it.
"""
from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from archsim.io import techlib
from archsim.mapping.admissible import check as _admissible
from archsim.mapping.mesh import (TileGroups, auto_mesh, ceil_div, replica_groups, serpentine, shares,  # noqa: F401
                                  tile_group_distances, transport)
from archsim.mapping.routes import Edge
from archsim.mapping.routes import edges as _route_edges
from archsim.model.arch import AUTO, Architecture, ConvMapping, Replication
from archsim.model.device import Device, load_device
from archsim.model.errors import ArchsimError
from archsim.model.workload import Layer, Workload


KB_BITS = 8 * 1024  # bits in one kB of buffer (ISAAC's 64 KB eDRAM: kB = 1024 bytes)


@dataclass(frozen=True, kw_only=True)
class LayerMap:
    """How one weighted layer sits on the chip: its matrix view, how each weight is split (``bits_per_cell``,
    ``slices``, ``copies``, ``conversions``) and cut into arrays, its replicas and tiles.  The simulator
    programs the layer exactly as this record splits it."""

    layer: str
    kind: str
    K: int                 # rows of one group's matrix
    N: int                 # columns over all groups
    groups: int
    vectors: int           # input vectors per inference
    macs: int
    row_blocks: int        # per group
    col_blocks: int        # per group
    bits_per_cell: int     # weight bits each cell holds (resolve_bits_per_cell)
    slices: int            # cells per weight (per pair side); pairs: 2, the less and the more significant pair
    copies: int            # 2 differential (and pairs), 1 offset
    conversions: int       # ADC conversions per column per slice: copies, or 1 when a pair is subtracted in analog
    positions: int = 1     # kernel positions on arrays of their own (conv_mapping: kernel_position); 1: packed
    replication: int = 1   # copies of the whole layer on the chip
    tiles: int = 0         # tiles over all replicas
    first_tile: int = 0    # index of its first tile on the serpentine path
    buffer_bits_per_tile: int = 0  # activation buffer of each of its tiles (bits)

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

    @property
    def tiles_per_replica(self) -> float:
        """Tiles of one replica (a fraction where small replicas share a tile)."""
        return self.tiles / self.replication

    @property
    def buffer_bits(self) -> int:
        """Activation buffer over all the layer's tiles (bits)."""
        return self.buffer_bits_per_tile * self.tiles

    def replica_tiles(self, k: int, arrays_per_tile: int) -> tuple[int, int]:
        """Tiles ``first .. last`` (inclusive, serpentine indices) that hold replica ``k``'s arrays."""
        a = self.arrays
        return (self.first_tile + (k * a) // arrays_per_tile,
                self.first_tile + ((k + 1) * a - 1) // arrays_per_tile)

    def row_order(self) -> np.ndarray | None:
        """Which matrix row each array row holds, in array order (None: the matrix's own order).  Matrix rows
        are im2col's ``(c_in, kh, kw)``; with ``positions > 1`` kernel position ``p`` gets the rows
        ``c * positions + p`` of every input channel ``c``, one position after another."""
        if self.positions == 1:
            return None
        return np.arange(self.K).reshape(self.K // self.positions, self.positions).T.ravel()

    def row_ranges(self, rows: int) -> tuple[tuple[int, int], ...]:
        """``(r0, r1)`` of each row block in array order (:meth:`row_order`): runs of ``rows``, each kernel
        position starting a new array (its last one partly filled)."""
        per = self.K // self.positions
        return tuple((p * per + q * rows, p * per + min(per, (q + 1) * rows))
                     for p in range(self.positions) for q in range(ceil_div(per, rows)))

    def blocks(self, rows: int, cols: int):
        """Every array of one replica as ``(group, r0, r1, c0, c1, slice, copy)``.

        Rows ``r0:r1`` (in array order, :meth:`row_order`) of the group's ``K x N/groups`` matrix and columns
        ``c0:c1`` sit in one ``rows x cols`` array; ``slice`` counts from the least significant cell; ``copy``
        is 0 for G+ (or the offset array) and 1 for G-.  The Monte Carlo simulator splits matrices this way.
        """
        n_g = self.N // self.groups
        ranges = self.row_ranges(rows)
        if len(ranges) != self.row_blocks:  # pragma: no cover - LayerMap invariant
            raise ArchsimError(f"layer '{self.layer}': {len(ranges)} row ranges for {self.row_blocks} row blocks")
        for g in range(self.groups):
            for r0, r1 in ranges:
                for j in range(self.col_blocks):
                    c0, c1 = j * cols, min(n_g, (j + 1) * cols)
                    for s in range(self.slices):
                        for c in range(self.copies):
                            yield g, r0, r1, c0, c1, s, c


@dataclass(frozen=True, kw_only=True)
class Mapping:
    """What the mapping step decided: the architecture, the typed :class:`Device` the chip is built of,
    bits per cell, every weighted layer's split and place (:class:`LayerMap`), the mesh and the routes.
    Cost and the simulator read the device and the split here; they never look the device up again."""

    arch: Architecture
    workload: Workload
    device: Device
    bits_per_cell: int
    layers: tuple[LayerMap, ...]
    mesh: tuple[int, int]
    edges: tuple[Edge, ...] = ()

    @property
    def slices(self) -> int:
        """Cells per weight (per pair side), the same for every layer of the chip."""
        return self.arch.slices(self.bits_per_cell)

    @property
    def tiles_used(self) -> int:
        return sum(l.tiles for l in self.layers)

    @property
    def tiles_total(self) -> int:
        return self.mesh[0] * self.mesh[1]

    def layer_arch(self, name: str) -> Architecture:
        """The architecture layer ``name`` is built with (its ``layer_overrides`` applied)."""
        return self.arch.for_layer(name)

    def layer_bits_per_cell(self, name: str) -> int:
        """Bits per cell of layer ``name`` (the network's, or its ``layer_overrides``'), resolved against the
        mapping's own :attr:`device` as :func:`map_workload` resolved them (never the device looked up again by
        the architecture's name, which a mapping built with a device of its own does not name)."""
        a = self.arch.for_layer(name)
        return self.bits_per_cell if a is self.arch else resolve_bits_per_cell(a, self.device)

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
                             buffer_kB_per_tile=l.buffer_bits_per_tile / KB_BITS,
                             utilization=l.cells_used / (l.arrays * cap)))
        return pd.DataFrame(rows)


def resolve_bits_per_cell(arch: Architecture, device: Device) -> int:
    """Bits per cell: the architecture's, checked against the device's levels, or (auto) the most the device
    holds reliably (its file's ``conductance.bits_per_cell_max``), spread evenly over the slices."""
    levels = device.levels
    dev_bits = device.bits
    mag_bits = arch.magnitude_bits
    if arch.pairs:
        # conductance pairs: every cell uses the bits the device holds reliably (or the bits asked for), two
        # pairs per weight
        bpc = device.reliable_bits if arch.bits_per_cell == AUTO else int(arch.bits_per_cell)
        if bpc > dev_bits:
            raise ArchsimError(
                f"{arch.source}: key 'bits_per_cell' = {bpc} exceeds what device '{device.name}' holds "
                f"({levels} levels = {dev_bits} bits, {device.file}); allowed 1 to {dev_bits} or auto")
        arch.pair_levels(bpc)   # the less significant pair must keep a level
        return bpc
    if arch.bits_per_cell == AUTO:
        # as few slices as the device allows, with the bits spread evenly over them (7 bits on 6-bit
        # cells: 4 + 3, not 6 + 1, whose top slice would amplify its cell's errors 64 times)
        slices = -(-mag_bits // device.reliable_bits)
        return -(-mag_bits // slices)
    if arch.bits_per_cell > dev_bits:
        raise ArchsimError(
            f"{arch.source}: key 'bits_per_cell' = {arch.bits_per_cell} exceeds what device '{device.name}' holds "
            f"({levels} levels = {dev_bits} bits, {device.file}); allowed 1 to {dev_bits} or auto")
    return int(arch.bits_per_cell)


def kernel_positions(layer: Layer, arch: Architecture) -> int:
    """Kernel positions with arrays of their own: ``kh x kw`` with ``conv_mapping: kernel_position`` for a
    convolution whose unrolled kernel fills at least one array (a smaller one stays packed, as NeuroSim maps it
    conventionally); 1 otherwise (im2col packs the unrolled kernel)."""
    if arch.conv_mapping != ConvMapping.KERNEL_POSITION or layer.kind != "conv" or layer.K < arch.rows:
        return 1
    return layer.kernel[0] * layer.kernel[1]


def row_blocks(layer: Layer, arch: Architecture) -> int:
    """Arrays down one group's ``K`` rows.  ``conv_mapping: im2col`` packs the unrolled kernel into
    ``ceil(K / rows)`` arrays; ``kernel_position`` gives each of the ``kh x kw`` kernel positions arrays of its
    own, ``kh kw ceil(C_in / rows)`` (NeuroSim's mapping; :func:`kernel_positions`)."""
    positions = kernel_positions(layer, arch)
    return positions * ceil_div(layer.K // positions, arch.rows)


def _base_layer_map(layer: Layer, arch: Architecture, bpc: int, split: tuple | None = None) -> LayerMap:
    """One replica of ``layer`` split for ``arch`` with ``bpc`` bits per cell (not yet placed); ``split``:
    ``(slices, copies, conversions)`` of ``arch`` and ``bpc`` where the caller has them."""
    slices, copies, conversions = split or (arch.slices(bpc), arch.copies, arch.conversions_per_pair)
    K, N, V = layer.K, layer.N, layer.vectors
    return LayerMap(layer=layer.name, kind=layer.kind, K=K, N=N, groups=layer.groups, vectors=V, macs=K * N * V,
                    row_blocks=row_blocks(layer, arch), col_blocks=ceil_div(N // layer.groups, arch.cols),
                    bits_per_cell=bpc, slices=slices, copies=copies, conversions=conversions,
                    positions=kernel_positions(layer, arch))


def _tiles_for(lm: LayerMap, replication: int, arch: Architecture) -> int:
    return ceil_div(lm.arrays * replication, arch.arrays_per_tile)


def _balance(base: list[LayerMap], budget: int, arch: Architecture, fixed: dict | None = None) -> list[int]:
    """Greedy replication: give the slowest stage one more copy while the budget lasts (a layer in ``fixed``
    keeps its copies: ``layer_overrides``' replication)."""
    fixed = fixed or {}
    reps = [fixed.get(l.layer, 1) for l in base]
    used = sum(_tiles_for(l, r, arch) for l, r in zip(base, reps))
    # stage time is proportional to ceil(vectors / replication)
    heap = [(-ceil_div(l.vectors, r), i) for i, (l, r) in enumerate(zip(base, reps)) if l.layer not in fixed]
    heapq.heapify(heap)
    arrays = [l.arrays for l in base]
    vectors = [l.vectors for l in base]
    apt = arch.arrays_per_tile
    while heap:
        negt, i = heapq.heappop(heap)
        if reps[i] >= vectors[i]:
            continue  # cannot split further: this stage bounds the pipeline
        new = reps[i] + 1
        extra = -(-arrays[i] * new // apt) - -(-arrays[i] * reps[i] // apt)    # _tiles_for(new) - _tiles_for(old)
        if used + extra > budget:
            break  # the bottleneck cannot grow: more copies elsewhere do not raise throughput
        used += extra
        reps[i] = new
        heapq.heappush(heap, (-vectors[i] // new, i))   # -ceil(vectors / new)
    return reps


def _check_layer_overrides(workload: Workload, arch: Architecture, weighted: list) -> dict[str, int]:
    """Every layer ``layer_overrides`` names must be a weighted layer of ``workload``; returns the fixed
    replications (layer -> copies), each at most the layer's input vectors."""
    names = {l.name: l for l in weighted}
    fixed = {}
    for name, ov in arch.layer_overrides:
        if name not in names:
            shown = ", ".join(list(names)[:12]) + (", ..." if len(names) > 12 else "")
            raise ArchsimError(f"{arch.source}: key 'layer_overrides': no weighted layer '{name}' in {workload.name}; "
                               f"weighted layers: {shown}")
        r = dict(ov).get("replication")
        if r is not None:
            if r > names[name].vectors:
                raise ArchsimError(f"{arch.source}: key 'layer_overrides' layer '{name}': replication = {r} exceeds "
                                   f"its {names[name].vectors} input vectors per inference; allowed 1 to "
                                   f"{names[name].vectors}")
            fixed[name] = int(r)
    return fixed


def feature_map_replication(weighted: list[Layer], degree: int) -> list[int]:
    """NeuroSim's pipeline speed-up (Chip.cpp ChipDesignInitialize): copies of each weighted layer, from the
    heights of the convolutions' input feature maps."""
    heights = [int(l.in_shape[1]) for l in weighted if l.kind == "conv" and len(l.in_shape) == 3]
    if not heights:
        return [1] * len(weighted)
    spatial = [int(l.in_shape[1]) for l in weighted
               if l.kind == "conv" and len(l.in_shape) == 3 and l.kernel != (1, 1)] or heights
    h_max, h_min = max(heights), min(spatial)
    bound = math.ceil(h_max / min(degree, max(1, h_max // h_min)))
    return [max(1, math.ceil((int(l.in_shape[1]) / bound) ** 2)) if l.kind == "conv" and len(l.in_shape) == 3 else 1
            for l in weighted]


def map_workload(workload: Workload, arch: Architecture, device: "Device | techlib.Record | str | None" = None) -> Mapping:
    """Place every weighted layer of ``workload`` on the chip described by ``arch`` (each layer with its own
    ``layer_overrides``: ADC bits and bits per cell through :meth:`Architecture.for_layer`, a fixed replication).

    A design the simulator cannot compute, or whose buffers and mesh cannot hold the work, is refused first
    (:func:`archsim.mapping.admissible.check`)."""
    device = load_device(device if device is not None else arch.device)
    _admissible(arch, workload)
    bpc = resolve_bits_per_cell(arch, device)
    weighted = workload.weighted_layers()
    if not weighted:
        raise ArchsimError(f"workload {workload.name}: no conv or dense layer to map")
    fixed = _check_layer_overrides(workload, arch, weighted) if arch.layer_overrides else {}
    if arch.layer_overrides:
        base = [_base_layer_map(l, arch.for_layer(l.name), resolve_bits_per_cell(arch.for_layer(l.name), device))
                for l in weighted]
    else:    # one split for every layer
        split = (arch.slices(bpc), arch.copies, arch.conversions_per_pair)
        base = [_base_layer_map(l, arch, bpc, split) for l in weighted]
    min_tiles = [_tiles_for(l, fixed.get(l.layer, 1), arch) for l in base]

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

    if arch.replicate and arch.replication == Replication.FEATURE_MAP:
        reps = [fixed.get(l.layer, r) for l, r in zip(base, feature_map_replication(weighted, arch.speedup_degree))]
        need = sum(_tiles_for(l, r, arch) for l, r in zip(base, reps))
        if budget_name is not None and need > budget:
            raise ArchsimError(f"{arch.source}: replication feature_map needs {need} tiles for {workload.name} but "
                               f"{budget_name} holds {budget}; use mesh and tiles auto, or replication greedy")
        mesh = arch.mesh if arch.mesh != AUTO else auto_mesh(need if budget_name is None else budget)
    else:
        # the chip's tiles: a fixed mesh, or the near-square mesh holding the budget (it may hold a few more)
        mesh = arch.mesh if arch.mesh != AUTO else auto_mesh(budget)
        spare = mesh[0] * mesh[1]
        reps = _balance(base, spare, arch, fixed) if (arch.replicate and spare > sum(min_tiles)) else \
            [fixed.get(l.layer, 1) for l in base]

    layers = []
    first = 0
    for l, r, lay in zip(base, reps, weighted):
        t = _tiles_for(l, r, arch)
        layers.append(dataclasses.replace(l, replication=r, tiles=t, first_tile=first,
                                          buffer_bits_per_tile=_buffer_bits_per_tile(lay, r, t, arch)))
        first += t

    m = Mapping(arch=arch, workload=workload, device=device, bits_per_cell=bpc, layers=tuple(layers),
                mesh=tuple(mesh))
    return dataclasses.replace(m, edges=tuple(_route_edges(m, arch)))


def working_set_bits(layer: Layer, input_bits: int) -> int:
    """Activation bits one replica of a weighted layer keeps in its tile buffers.

    conv: a line buffer of ``kernel_h + stride_h`` input rows (the window's rows, plus the next rows
    arriving while the window slides), ``W_in x C_in`` values each, and one output row, ``W_out x C_out``
    values (the row being written while the next layer drains the previous one); dense: its ``K`` inputs
    and ``N`` outputs.  Values are ``input_bits`` wide (the activation width).
    """
    return int(layer.matrix_view.working_set(layer)) * input_bits


def _buffer_bits_per_tile(layer: Layer, replication: int, tiles: int, arch: Architecture) -> int:
    """A fixed ``buffer_kB`` per tile, or (auto) the tile's share of the working sets of the replicas it holds,
    rounded up to whole kB."""
    if arch.buffer_kB != AUTO:
        return int(round(arch.buffer_kB * KB_BITS))
    share = working_set_bits(layer, arch.input_bits) * replication / tiles
    return int(math.ceil(share / KB_BITS)) * KB_BITS

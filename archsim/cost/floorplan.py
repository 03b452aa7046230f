"""The chip's floorplan: array, tile and chip dimensions from their components' areas, and the wire lengths
the interconnect is priced and timed by.

* An **array block** is the cell array, ``cols x sqrt(cell area)`` wide and ``rows x sqrt(cell area)``
  high (cells taken square), with its periphery (its share of the tile's converters, sample-and-holds,
  drivers and shift-adds) as strips of the array's width below it.
* A **tile** is square (assumption): its side is ``sqrt(component area / fill_factor)``
  (``techlib/circuits/<library>/wire.yaml``: the components' share of the footprint, 1 where they abut).
  Its arrays sit in a ``g x g`` grid, ``g = ceil(sqrt(arrays_per_tile))``, fed from the tile buffer at the
  centre by an H-tree whose root-to-leaf path is ``side x (1 - 1/g)`` (half the side less half a
  leaf's pitch, in each direction): the length one bit crosses from the buffer to an array.
* The **mesh** places every tile at one pitch, the side of the chip's mean tile footprint (tiles sized
  per layer differ; their mean keeps the chip's area their sum): a hop's link is one pitch long, the
  chip ``mesh cols x pitch`` by ``mesh rows x pitch``.

Prices by length (:func:`bus_bit_energy`, :func:`hop_energy`): energy per bit per metre of the tile bus
and of the mesh links (``wire.yaml``) times the length, plus the router's own energy per bit for a hop.
Time by length (:func:`wire_rate`): a repeated wire of delay ``t_wire x length`` carries one word per
``max(clock period, wire delay)`` (a wire slower than a clock is not pipelined), so long links and long
buses lower the bandwidth the pipeline's stage times use (:mod:`archsim.cost.pipeline`).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from archsim.cost.components import Prices, fixed_buffer_bits, tile_area, tile_counts
from archsim.mapping.layout import Mapping
from archsim.model.arch import Architecture


@dataclass(frozen=True)
class Floorplan:
    """Dimensions (m, m2) of one mapping's chip; per-layer arrays in mapping order."""

    tile_areas: tuple          # component area by part (dict) of one tile of each layer
    idle_tile_area: dict       # component area by part of a tile that holds no layer
    tiles: np.ndarray          # tiles per layer
    idle_tiles: int
    tile_side: np.ndarray      # m, side of each layer's tile footprint
    bus_length: np.ndarray     # m, root-to-leaf of each layer's tile H-tree
    pitch: float               # m, mesh pitch = one link's length
    mesh: tuple                # (rows, cols)
    array_w: float             # m, an array block's width (the cells')
    array_h: float             # m, its height with its periphery strips

    @property
    def chip_w(self) -> float:
        return self.mesh[1] * self.pitch

    @property
    def chip_h(self) -> float:
        return self.mesh[0] * self.pitch

    def component_area(self) -> dict:
        """m2 by part over the chip: every tile's components (idle tiles included)."""
        n = self.tiles.tolist()
        return {k: float(sum(map(operator.mul, n, [t[k] for t in self.tile_areas])))
                + self.idle_tiles * self.idle_tile_area[k] for k in self.idle_tile_area}


def tile_side(area_m2, fill_factor: float) -> np.ndarray:
    """Side of a square tile whose components of ``area_m2`` fill ``fill_factor`` of its footprint."""
    return np.sqrt(np.asarray(area_m2, dtype=float) / fill_factor)


def htree_length(side_m, arrays) -> np.ndarray:
    """Root-to-leaf length of an H-tree over ``arrays`` leaves in a square grid of side ``side_m``."""
    g = np.ceil(np.sqrt(np.maximum(np.asarray(arrays, dtype=float), 1.0)))
    return np.asarray(side_m, dtype=float) * (1.0 - 1.0 / g)


def array_block(arch: Architecture, prices: Prices) -> tuple[float, float]:
    """(width, height) of one array with its periphery strips: the cells' width, their height plus the
    array's share of the tile's converters, drivers and shift-adds laid as strips of that width."""
    cell = np.sqrt(prices.a_cell)
    w = arch.cols * cell
    area = tile_area(arch, prices, 0.0)
    periphery = (area["adc"] + area["adder_tree"] + area["dac"] + area["digital"] - prices.a_tile_digital)
    return float(w), float(arch.rows * cell + periphery / tile_counts(arch, prices)["arrays"] / w)


def bus_bit_energy(prices: Prices, length_m) -> np.ndarray:
    """J per bit carried ``length_m`` over the tile bus."""
    return prices.e_bus_bit_m * np.asarray(length_m, dtype=float)


def hop_energy(prices: Prices, pitch_m) -> np.ndarray:
    """J per bit per hop: one router traversal and one link of ``pitch_m``."""
    return prices.e_router_bit + prices.e_link_bit_m * np.asarray(pitch_m, dtype=float)


def wire_rate(prices: Prices, length_m) -> np.ndarray:
    """Words per second one wire of ``length_m`` carries: the clock, or one per wire delay when slower."""
    return 1.0 / np.maximum(1.0 / prices.clock_Hz, prices.t_wire_m * np.asarray(length_m, dtype=float))


def hop_time(prices: Prices, pitch_m) -> np.ndarray:
    """Seconds for a flit's head to cross one hop: the router's cycles and the link's wire delay."""
    return prices.router_cycles / prices.clock_Hz + prices.t_wire_m * np.asarray(pitch_m, dtype=float)


def _tile_area(memo: dict, arch: Architecture, prices: Prices, buffer_bits) -> dict:
    k = (id(arch), id(prices), buffer_bits)
    if k not in memo:
        memo[k] = tile_area(arch, prices, buffer_bits)
    return memo[k]


def floorplan(m: Mapping, prices: Prices, per_layer_prices: list | None = None) -> Floorplan:
    """The floorplan of mapping ``m`` priced with ``prices`` (``per_layer_prices``: each layer's own,
    ``layer_overrides``)."""
    arch = m.arch
    per = per_layer_prices or [prices] * len(m.layers)
    areas: dict = {}    # layers whose tiles are alike (architecture, prices, buffer) share one record
    tas = tuple(_tile_area(areas, m.layer_arch(l.layer), p, l.buffer_bits_per_tile) for l, p in zip(m.layers, per))
    idle_ta = tile_area(arch, prices, fixed_buffer_bits(arch))
    tiles = np.array([l.tiles for l in m.layers], dtype=float)
    idle = m.tiles_total - m.tiles_used
    area = np.array([sum(t.values()) for t in tas])
    side = tile_side(area, prices.fill_factor)
    total = float((tiles * area).sum()) + idle * sum(idle_ta.values())
    pitch = float(tile_side(total / max(m.tiles_total, 1), prices.fill_factor))
    w, h = array_block(arch, prices)
    return Floorplan(tas, idle_ta, tiles, idle, side, htree_length(side, arch.arrays_per_tile), pitch,
                     tuple(m.mesh), w, h)


@dataclass(frozen=True)
class Floorplans:
    """The floorplans of many architectures that share one mapping (:func:`floorplans`): what pricing reads
    of :class:`Floorplan`, one row (or element) per architecture."""

    bus_length: np.ndarray     # m, points x layers
    pitch: np.ndarray          # m, per point
    chip_w: np.ndarray         # m, per point
    chip_h: np.ndarray         # m, per point
    component_area: dict       # part -> m2 per point (Floorplan.component_area of each point)

    def point(self, i: int) -> "Floorplans":
        """Point ``i`` alone (its bus lengths one row): what :func:`archsim.cost.price.unit_prices` reads."""
        return Floorplans(self.bus_length[i], float(self.pitch[i]), self.chip_w[i:i + 1], self.chip_h[i:i + 1],
                          {k: v[i:i + 1] for k, v in self.component_area.items()})


def floorplans(m: Mapping, archs: list, prices: list) -> Floorplans:
    """:func:`floorplan` of ``replace(m, arch=a)`` priced with ``p`` for every ``(a, p)`` (no ``layer_overrides``),
    as arrays over the points: each element computed by the same operations, in the same order, as
    :func:`floorplan` computes it for one point (sums over layers taken in layer order, as there), so every
    number is the same (tests/explore/test_batch.py)."""
    n_layers = len(m.layers)
    bits = np.array([l.buffer_bits_per_tile for l in m.layers], dtype=float)
    tiles = np.array([l.tiles for l in m.layers], dtype=float)
    idle = m.tiles_total - m.tiles_used
    # one tile's areas by part: every part but the buffer is the same for each layer's tiles
    tas = [tile_area(a, p, bits) for a, p in zip(archs, prices)]
    idle_tas = [tile_area(a, p, fixed_buffer_bits(a)) for a, p in zip(archs, prices)]
    part = {}
    for k in idle_tas[0]:
        col = np.empty((len(tas), n_layers))
        for i, t in enumerate(tas):
            col[i] = t[k]                       # a number (every layer alike) or the layers' buffer areas
        part[k] = col
    area = sum(part.values())                                   # points x layers, parts added in order
    fill = np.array([p.fill_factor for p in prices])
    side = tile_side(area, fill[:, None])
    total = np.array([float((tiles * row).sum()) for row in area]) + idle * np.array([sum(t.values()) for t in idle_tas])
    pitch = np.sqrt((total / max(m.tiles_total, 1)) / fill)
    g = np.ceil(np.sqrt(np.maximum(np.array([a.arrays_per_tile for a in archs], dtype=float), 1.0)))
    bus = side * (1.0 - 1.0 / g)[:, None]
    comp = {k: np.cumsum(tiles * v, axis=1)[:, -1] + idle * np.array([t[k] for t in idle_tas])
            for k, v in part.items()}
    return Floorplans(bus, pitch, m.mesh[1] * pitch, m.mesh[0] * pitch, comp)

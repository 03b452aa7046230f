"""Tile buffer bandwidth from how the tile's buffers are built (NeuroSim V1.4's register-file cores).

A circuit library whose buffer file has a ``tile_buffer`` block (today ``neurosim``) times each layer's
buffer traffic with the organisation of its tile's input and output buffers instead of one access width
(:func:`widths`; ``buffer_width_bits`` set on the architecture still overrides both with one width):

* inputs: the tile's input buffer holds one input bit per row of each of its ``g`` PE groups and input bit,
  ``g x input_bits x rows`` bits, in cores of ``core_bits`` read ``core_width`` bits per clock; its cores work
  at once, so inputs move ``core_width x ceil(g x input_bits x rows / core_bits)`` bits per clock (a buffer
  smaller than one core: its whole width, ``g x rows``).  A tile whose PEs share inputs (NeuroSim's novel
  tile: one PE per kernel position, ``sqrt(g)`` of them read the same input) loads each input once per group
  of sharers;
* outputs: partial sums of ``word`` bits, the subarray's result ``log2 L + ceil(log2 chunks) + input_bits +
  (slices - 1) x bits_per_cell + sign`` plus ``ceil(sqrt(arrays per PE))`` bits of the PE's adder tree and
  ``ceil(log2 g)`` of the tile's, buffered for the ``g x cols / cols_per_adc`` results of one clock: one line of
  ``word x g`` bits when that fits a core, else ``core_width`` bits per core;
* both limited by the tile bus: ``bus / line`` cores at once (``bus = g x PE side x cols``).

``g`` is the tile's PE grouping: NeuroSim's conventional tile (2 x 2 PEs, ``g`` = 2, Tile.cpp's numPECM) holds
dense layers and convolutions whose receptive field ``K`` is smaller than a subarray's rows or whose kernel is
not the network's common one; its novel tile (``g`` = 9 PEs, numPENM) holds the others.  The time of a layer is
``bits_in / w_in + bits_out / w_out`` clocks over its tiles (:func:`archsim.cost.pipeline.timing`).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from archsim.mapping.layout import Mapping
from archsim.model.arch import ConvMapping


@dataclass(frozen=True)
class TileBuffer:
    """The organisation constants of one library's tile buffers (``buffer.yaml`` ``tile_buffer``)."""

    core_bits: float        # bits of one register-file core
    core_width: float       # bits one core reads or writes per clock
    pe_side: int            # arrays on a side of one PE (its adder tree sums pe_side^2 arrays)
    conventional_groups: int
    novel_groups: int
    sign_bits: int          # the sign bit of the subarray's shift-add result

    @classmethod
    def from_record(cls, rec) -> "TileBuffer | None":
        if rec.get("tile_buffer.core_bits") is None:
            return None
        return cls(core_bits=float(rec["tile_buffer.core_bits"]), core_width=float(rec["tile_buffer.core_width"]),
                   pe_side=int(rec["tile_buffer.pe_side"]),
                   conventional_groups=int(rec["tile_buffer.conventional_groups"]),
                   novel_groups=int(rec["tile_buffer.novel_groups"]), sign_bits=int(rec["tile_buffer.sign_bits"]))


def novel_layers(m: Mapping) -> np.ndarray:
    """Which layers sit on novel (one PE per kernel position) tiles: convolutions mapped by kernel position
    whose kernel is the network's most common one (larger than 1 x 1) and whose receptive field fills a
    subarray's rows (NeuroSim Chip.cpp:103-131); the rest on conventional tiles."""
    a = m.arch
    if a.conv_mapping != ConvMapping.KERNEL_POSITION:
        return np.zeros(len(m.layers), dtype=bool)
    wl = {l.name: l for l in m.workload.weighted_layers()}
    areas = [wl[l.layer].kernel[0] * wl[l.layer].kernel[1] for l in m.layers if l.kind == "conv"]
    common = Counter(x for x in areas if x > 1).most_common(1)
    k_common = common[0][0] if common else 0
    return np.array([l.kind == "conv" and wl[l.layer].kernel[0] * wl[l.layer].kernel[1] == k_common
                     and l.K >= a.rows for l in m.layers], dtype=bool)


def word_bits(m: Mapping, org: TileBuffer, groups: int) -> float:
    """Bits of one partial sum in the tile's output buffer (see the module docstring)."""
    a = m.arch
    slices = max(l.slices for l in m.layers)
    sub = (a.adc_bits + math.ceil(math.log2(max(a.row_chunks, 1))) + a.input_bits
           + (slices - 1) * m.bits_per_cell + org.sign_bits)
    return sub + math.ceil(math.sqrt(org.pe_side ** 2)) + math.ceil(math.log2(groups))


def _width(total_bits: float, line_bits: float, bus_bits: float, org: TileBuffer) -> float:
    """Bits per clock of a buffer of ``total_bits`` whose natural line is ``line_bits``: one line when it fits
    a core, else ``core_width`` per core, as many cores at once as the bus carries."""
    if total_bits < org.core_bits:
        return line_bits
    cores = math.ceil(total_bits / org.core_bits)
    return org.core_width * min(cores, math.ceil(bus_bits / org.core_width))


def widths(m: Mapping, org: TileBuffer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per layer: input bits per clock, output bits per clock, and output bits per partial sum."""
    a = m.arch
    novel = novel_layers(m)
    w_in, w_out, word = (np.zeros(len(m.layers)) for _ in range(3))
    for i, nm in enumerate(novel):
        g = org.novel_groups if nm else org.conventional_groups
        bus = g * org.pe_side * a.cols
        share = math.sqrt(g) if nm else 1.0          # PEs of one kernel row read the same inputs
        w_in[i] = share * _width(g * a.input_bits * a.rows, g * a.rows, bus, org)
        word[i] = word_bits(m, org, g)
        w_out[i] = _width(word[i] * g * a.cols / a.cols_per_adc, word[i] * g, bus, org)
    return w_in, w_out, word

"""Pipeline timing: stage time per layer and what bounds it, throughput, latency per inference.

Every weighted layer is a pipeline stage; its replicas split its input vectors, and compute, buffer
traffic and network traffic overlap (double-buffered), so a stage takes the longest of three times
per inference (:func:`timing`):

* compute: ``ceil(vectors / replication) * t_vector`` (:func:`t_vector`; training: forward, backward
  and update from the device's tile table);
* buffer: the bits one replica reads from and writes to its tile buffers, ``vectors_per_replica x
  (K x groups + N) x input_bits`` (each vector reads its receptive field and writes its outputs: the
  counts the energy side prices), over ``access_width x clock x tiles of a replica`` (one buffer line
  per clock per tile, as NeuroSim counts buffer cycles; replicas sharing a tile share its buffer; a library
  with a ``tile_buffer`` organisation times inputs and partial sums over their own widths instead,
  :mod:`archsim.cost.tilebuffer`); the
  same bits also cross the tile bus, ``bus_wires`` wide, one word per ``max(clock period, wire delay of
  the floorplan's H-tree)`` (:mod:`archsim.cost.floorplan`): the slower of the two bounds the buffer time;
* link: the bits arriving into the layer over ``link_width_bits x rate x tiles`` (one network link
  per tile; rate the clock, or one flit per wire delay of a link one tile pitch long when that is slower), and likewise the bits it sends; links carry both directions at once, so the larger
  counts.  The chip's I/O port is one link: the network input and output also take ``bits /
  (link_width_bits x clock)`` there.

Training moves activations forward and errors back: buffer and link bits count twice.  ``bound``
names the largest of the three.  In steady state a new inference enters every ``max(stage)`` seconds
(training: one sample per latency, as the update needs the whole pass).  The latency of one inference
is the longest path through the layer graph, each stage counted in full plus the network transfer into
it: the longest route's hops x the router delay, plus the edge's bits serialized over the links of
the narrower side (sender's or receiver's tiles, one for the port), a hop taking the router's cycles and
the link's wire delay; an upper bound, since real tiles
start a layer once its first rows arrive.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.cost import tilebuffer
from archsim.cost.components import Prices, lut_entry, shift_add_width
from archsim.cost.floorplan import Floorplan, floorplan, hop_time, wire_rate
from archsim.mapping.layout import Mapping
from archsim.model.arch import Accumulation, Architecture, CostModel, StageTiming

BOUNDS = ("compute", "buffer", "link")
PORT = ("input", "output")


def t_vector(arch: Architecture, prices: Prices) -> float:
    """Seconds for one input vector through one array (all arrays of a layer work in parallel)."""
    if arch.cost_model == CostModel.LUT:
        return lut_entry(prices, "vmm")[1]
    if not prices.converts:   # an adder tree per column, no conversion: one read window per pulse
        return arch.input_pulses * prices.t_pulse
    t_adc = arch.cols_per_adc * arch.row_chunks * prices.t_adc   # every mux phase of every row chunk
    if arch.input_accumulation == Accumulation.ANALOG:
        # pulses integrate on the column, then one conversion sweep; a double-buffered
        # sample-and-hold lets the sweep of one vector overlap the integration of the next
        return max(arch.input_pulses * prices.t_pulse, t_adc)
    return arch.input_pulses * max(prices.t_pulse, t_adc)


def vector_time(arch: Architecture, prices: Prices, task: str = "inference") -> float:
    """Seconds per input vector through a layer's arrays for ``task`` (training: forward, backward and
    update from the device's tile table, one after another)."""
    if task == "training":
        return sum(lut_entry(prices, op)[1] for op in ("vmm", "mvm", "opu"))
    return t_vector(arch, prices)


@dataclass(frozen=True)
class Timing:
    """Seconds per inference of every stage (in mapping order) and what bounds it, per-edge transfer
    times, latency and period."""

    stages: np.ndarray      # s per layer: max(compute, buffer, link)
    compute: np.ndarray     # s per layer
    buffer: np.ndarray      # s per layer
    link: np.ndarray        # s per layer
    bound: tuple            # 'compute' | 'buffer' | 'link' per layer
    transfer: dict          # (src, dst) -> s
    latency: float          # s
    period: float           # s between inferences in steady state

    @property
    def period_bound(self) -> str:
        """What bounds the slowest stage (training: the latency bounds the period; its slowest stage)."""
        return self.bound[int(np.argmax(self.stages))]


def buffer_bits(m: Mapping, passes: int = 1, out_bits: float | None = None) -> np.ndarray:
    """Bits one replica of each layer reads from and writes to its tile buffers per inference: its inputs at the
    activation width, its outputs at ``out_bits`` (default the activation width; a library whose tile buffers
    hold partial sums gives the shift-add width)."""
    ib = m.arch.input_bits
    ob = ib if out_bits is None else out_bits
    return np.array([passes * l.vectors_per_replica * (l.K * l.groups * ib + l.N * ob) for l in m.layers], dtype=float)


def link_times(m: Mapping, clock_Hz: float, passes: int = 1, word_rate: float | None = None) -> np.ndarray:
    """Seconds per inference each layer's links need for the bits it receives and, separately, sends
    (``word_rate``: flits per second over one link, default the clock)."""
    a = m.arch
    rate = a.link_width_bits * (clock_Hz if word_rate is None else word_rate)   # bits per second over one link
    index = {l.layer: i for i, l in enumerate(m.layers)}
    links = np.array([l.tiles for l in m.layers], dtype=float)
    into = np.zeros(len(m.layers))
    out = np.zeros(len(m.layers))
    port_in = np.zeros(len(m.layers))    # the I/O port's one link, each direction
    port_out = np.zeros(len(m.layers))
    for e in m.edges:
        bits = passes * e.bits
        if e.dst in index:
            into[index[e.dst]] += bits
        if e.src in index:
            out[index[e.src]] += bits
        if e.src in PORT:
            port_in[index[e.dst]] += bits
        if e.dst in PORT:
            port_out[index[e.src]] += bits
    return np.maximum.reduce([into / links, out / links, port_in, port_out]) / rate


def transfer_times(m: Mapping, router_cycles: float, clock_Hz: float, t_hop: float | None = None,
                   word_rate: float | None = None) -> dict:
    """Seconds per edge (src, dst): the longest route's hops x the hop delay (default ``router_cycles``
    clocks), plus the bits serialized over the links of the narrower side (one link per tile; one for the
    I/O port) at ``word_rate`` flits per second (default the clock)."""
    a = m.arch
    t_hop = router_cycles / clock_Hz if t_hop is None else t_hop
    rate = clock_Hz if word_rate is None else word_rate
    tiles = {l.layer: l.tiles for l in m.layers}
    out = {}
    for e in m.edges:
        links = min(tiles.get(e.src, 1), tiles.get(e.dst, 1))
        out[(e.src, e.dst)] = e.max_hops * t_hop + e.bits / (a.link_width_bits * links * rate)
    return out


def critical_path(m: Mapping, stages: np.ndarray, transfer: dict) -> float:
    """Longest input-to-output path: stage times plus the transfers between them."""
    finish: dict[str, float] = {"input": 0.0}
    into: dict[str, list] = {}
    for e in m.edges:
        into.setdefault(e.dst, []).append(e.src)
    for l, t in zip(m.layers, stages):  # layers are in topological order
        start = max((finish[s] + transfer[(s, l.layer)] for s in into.get(l.layer, ["input"])), default=0.0)
        finish[l.layer] = start + t
    return max(finish[s] + transfer[(s, "output")] for s in into["output"])


def timing(m: Mapping, prices: Prices, task: str, t_vector: float | np.ndarray, plan: Floorplan | None = None,
           access_bits: float | None = None) -> Timing:
    """Stage times bounded by compute, buffer bandwidth and link bandwidth; latency and period of ``m``
    (``plan``: its floorplan, default computed; ``access_bits``: the buffer's width, default the library's)."""
    a = m.arch
    plan = plan if plan is not None else floorplan(m, prices)
    width = prices.buf_access_bits if access_bits is None else access_bits
    passes = 2 if task == "training" else 1
    # t_vector: one number, or one per layer (layers with their own ADC bits, ``layer_overrides``)
    compute = np.array([l.vectors_per_replica for l in m.layers], dtype=float) * t_vector
    per_replica_tiles = np.array([l.tiles_per_replica for l in m.layers], dtype=float)
    out_bits = shift_add_width(m) if prices.psum_outputs else None
    bits = buffer_bits(m, passes, out_bits)
    if access_bits is None and prices.buf_org is not None:   # the library's tile buffer organisation
        w_in, w_out, word = tilebuffer.widths(m, prices.buf_org)
        ins = buffer_bits(m, passes, 0.0)
        outs = passes * np.array([l.vectors_per_replica * l.N for l in m.layers], dtype=float) * word
        clocks = ins / w_in + outs / w_out
    else:
        clocks = bits / width
    buffer = np.maximum(clocks / (prices.clock_Hz * per_replica_tiles),
                        bits / (prices.bus_wires * wire_rate(prices, plan.bus_length) * per_replica_tiles))
    link_rate = float(wire_rate(prices, plan.pitch))
    link = link_times(m, prices.clock_Hz, passes, link_rate)
    parts = np.stack([compute, buffer, link])
    stages = parts.sum(axis=0) if a.stage_timing == StageTiming.SERIAL else parts.max(axis=0)
    bound = tuple(BOUNDS[i] for i in parts.argmax(axis=0))   # ties go to compute, then buffer
    transfer = transfer_times(m, prices.router_cycles, prices.clock_Hz, float(hop_time(prices, plan.pitch)), link_rate)
    latency = float(critical_path(m, stages, transfer))
    period = float(stages.max()) if task == "inference" else latency
    return Timing(stages, compute, buffer, link, bound, transfer, latency, period)

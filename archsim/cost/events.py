"""What happens on the chip per inference: events counted per layer and component, no prices.

:func:`events` walks a :class:`~archsim.mapping.layout.Mapping` and counts, for every weighted
layer (the stage whose tiles do the work), how many times each component acts: cell reads (scaled
by the input bit density), row drives, ADC conversions and samples, shift-adds, offset
subtractions, output adds, array pulses (the data-independent part of an array's row
drivers), result and output-register writes, buffer, bus and register bits,
network bit-hops and digital operations of the layers that run in the tile's digital units.  In
``lut`` mode (Marinella et al.'s tile table) the array work is counted in MACs per operation kind instead.
:mod:`archsim.cost.price` multiplies the counts by the prices of :mod:`archsim.cost.components`.

Each event name maps to the energy part it is reported under (:data:`EVENT_PARTS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping as TMapping

import numpy as np

from archsim.io import techlib
from archsim.mapping.layout import Mapping
from archsim.model.arch import CostModel, SignedMapping
from archsim.model.errors import ArchsimError
from archsim.model.kinds import KINDS

from archsim.cost import table as _table
from archsim.cost.table import ENERGY_PARTS, EVENT_PARTS  # noqa: E402,F401  (the component table)
TASKS = ("inference", "training")


@dataclass(frozen=True)
class Activity:
    """The data statistics events depend on, each one number for every layer or one per weighted layer
    (in mapping order): ``input_bit_density``, the fraction of input bits that are 1 (averaged over the
    bit planes of a pulse train), and ``mean_conductance_fraction``, the mean programmed conductance as
    a fraction of the way from g_min to g_max.  ``bit_planes`` (optional, per layer, LSB first) keeps
    the density of each input bit plane for reports; ``source`` says where the numbers come from."""

    input_bit_density: float | tuple
    mean_conductance_fraction: float | tuple
    source: str = "default"
    bit_planes: tuple | None = None

    def __post_init__(self):
        for k in ("input_bit_density", "mean_conductance_fraction"):
            v = np.asarray(getattr(self, k), dtype=float)
            if v.ndim > 1 or not np.all((v >= 0.0) & (v <= 1.0)):
                raise ArchsimError(f"activity '{k}' = {getattr(self, k)!r} is not allowed; allowed a number or "
                                   f"one number per weighted layer, each 0 to 1")

    def per_layer(self, name: str, n: int) -> np.ndarray:
        """``name`` ('input_bit_density' or 'mean_conductance_fraction') as one value per layer."""
        v = np.asarray(getattr(self, name), dtype=float)
        if v.ndim == 1 and len(v) != n:
            raise ArchsimError(f"activity '{name}' has {len(v)} values for {n} weighted layers")
        return np.broadcast_to(v, (n,)).astype(float)


def default_activity(library: str = "default") -> Activity:
    """The assumed statistics of ``techlib/circuits/activity.yaml``."""
    act = techlib.circuit("activity", library)
    return Activity(float(act["input_bit_activity"]), float(act["mean_conductance_fraction"]),
                    f"assumed ({act.file})")


@dataclass(frozen=True)
class EventCounts:
    """Per weighted layer (in mapping order), how many events of each kind one inference (or training
    sample) causes; the counts are already scaled by ``activity``."""

    layers: tuple
    counts: TMapping[str, np.ndarray]
    task: str
    activity: Activity

    def __getitem__(self, event: str) -> np.ndarray:
        return self.counts[event]

    def total(self, event: str) -> float:
        return float(self.counts[event].sum())


def _digital_work(m: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Element operations and activation evaluations of every layer, charged to the weighted layer whose
    tiles compute them (a digital layer to the nearest weighted layer upstream); once per graph where the
    workload memoizes its views."""
    names = tuple(l.layer for l in m.layers)
    memo = getattr(m.workload, "memo", None)
    return memo("digital_work", _count_digital_work, m.workload, names) if memo else \
        _count_digital_work(m.workload, names)


def _count_digital_work(wl, names: tuple) -> tuple[np.ndarray, np.ndarray]:
    index = {n: i for i, n in enumerate(names)}
    ops = np.zeros(len(names))
    acts = np.zeros(len(names))
    for lay in wl.layers():
        spec = KINDS[lay.kind]
        if lay.kind == "input":
            continue
        if lay.weighted:
            owner = index[lay.name]
        else:
            srcs = [s for s in wl.weighted_sources(lay.name) if s in index]
            owner = index[srcs[-1]] if srcs else 0
            ops[owner] += spec.digital_ops(lay, len(wl.predecessors(lay.name)))
        if spec.activation or lay.activation:
            acts[owner] += lay.out_size
    ops.flags.writeable = acts.flags.writeable = False
    return ops, acts


def events(m: Mapping, task: str = "inference", activity: Activity | None = None) -> EventCounts:
    """Count every event of one inference (or, with ``task='training'``, one training sample)."""
    if task not in TASKS:
        raise ArchsimError(f"task '{task}' is unknown; allowed: {', '.join(TASKS)}")
    arch = m.arch
    lut_mode = arch.cost_model == CostModel.LUT
    if task == "training" and not lut_mode:
        raise ArchsimError("task 'training' needs cost_model: lut (the device tile table prices forward VMM, "
                           "backward MVM and outer-product update)")
    act = activity or default_activity(arch.circuits)
    converts = m.device.behaviour.converts
    n = len(m.layers)
    V = np.array([l.vectors for l in m.layers], dtype=float)
    macs = np.array([l.macs for l in m.layers], dtype=float)
    P = arch.input_pulses
    ib = arch.input_bits
    row_drives = np.array([l.row_drives for l in m.layers], dtype=float)
    col_reads = np.array([l.col_reads for l in m.layers], dtype=float)
    cells = np.array([l.cells_used for l in m.layers], dtype=float)
    KG = np.array([l.K * l.groups for l in m.layers], dtype=float)
    N = np.array([l.N for l in m.layers], dtype=float)
    arrays = np.array([l.arrays for l in m.layers], dtype=float)
    zero = np.zeros(n)
    c = {k: zero for k in EVENT_PARTS}
    density = act.per_layer("input_bit_density", n)
    if lut_mode:
        c["mac_vmm"] = macs
        if task == "training":
            c["mac_mvm"] = macs
            c["mac_opu"] = macs
    elif not converts:
        # digital SRAM compute-in-memory: each cell ANDs its bit with the input bit, an adder tree per
        # column sums the array's rows (about 2 x rows full-adder bits, toggling with the input bits),
        # and the tree's sum is shift-added across input pulses and weight slices; no converter
        pulses = V * P
        c["cell_read"] = pulses * cells * density
        c["row_drive"] = pulses * row_drives * density
        c["adder_bit"] = pulses * 2.0 * cells * density
        c["shift_add"] = pulses * col_reads
        c["output_add"] = V * N
    else:
        chunks = arch.row_chunks
        conv = V * arch.conversions_per_vector * col_reads * chunks   # each row chunk converted on its own
        c["partial_add"] = conv * (chunks - 1) / chunks
        c["cell_read"] = V * P * cells * density
        c["row_drive"] = V * P * row_drives * density     # a row is driven only when its digit is not 0
        c["array_pulse"] = V * P * arrays                 # every array of the layer, every pulse, whatever its data
        c["conversion"] = conv
        c["sample"] = conv
        c["shift_add"] = conv
        c["result_write"] = conv
        c["output_add"] = V * N
    if not lut_mode and arch.mapping == SignedMapping.OFFSET:
        c["offset_subtract"] = V * N
    ops, acts = _digital_work(m)
    repeat = 3 if task == "training" else 1   # forward, backward and update passes of the digital layers
    c["digital_op"] = ops * repeat
    c["activation_op"] = acts * repeat
    passes = 2 if task == "training" else 1   # training moves activations forward and errors back
    c["buffer_bit"] = passes * V * (KG + N) * ib
    c["bus_bit"] = c["buffer_bit"]
    c["register_bit"] = passes * V * row_drives * ib
    c["output_register_write"] = passes * V * N
    hops = {l.layer: 0.0 for l in m.layers}
    for ed in m.edges:
        hops[ed.dst if ed.dst != "output" else ed.src] += ed.bit_hops
    c["bit_hop"] = passes * np.array([hops[l.layer] for l in m.layers])
    for comp in _table.added():       # components added to the table count their own events
        for event, _ in comp.events:
            c[event] = np.array([float(comp.count(l, arch)) for l in m.layers])
    return EventCounts(tuple(l.layer for l in m.layers), MappingProxyType(c), task, act)

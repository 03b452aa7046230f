"""Energy, area and timing of a :class:`~archsim.mapping.Mapping`.

Two ways to price the tiles, one output schema:

* ``circuit`` (bottom-up, the ISAAC way): per input pulse each used cell is
  read (``activity * V^2 * G_mean * t_read``), each driven row costs a DAC
  pulse, each read column an ADC conversion, a sample-and-hold and a
  shift-and-add; buffers, registers, the network and leakage on top.
* ``lut`` (the seed 002 way): the device's tile lookup table gives energy per
  operation (one MAC) and array latency per vector for VMM (forward), MVM
  (backward) and outer-product update; its energy includes the tile's
  periphery, so the ADC, DAC and shift-add columns are zero.  Buffers,
  network, digital layers and leakage are added as in ``circuit``.

All numbers come from ``techlib``; this module holds formulas only.
Operations count 2 per MAC (multiply + add) in every TOPS figure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

import techlib

from archsim.cost import pipeline
from archsim.model.arch import Architecture
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError
from archsim.mapping.layout import Mapping, ceil_div

OPS_PER_MAC = 2
ENERGY_PARTS = ("array", "adc", "dac", "digital", "buffer", "noc", "leakage", "io")
AREA_PARTS = ("array", "adc", "dac", "digital", "buffer", "noc", "io")


def _interp_table(rec: techlib.Record, key: str, bits: int, what: str) -> float:
    xs = np.asarray(rec["bits"], dtype=float)
    ys = np.asarray(rec[key], dtype=float)
    if bits < xs[0] or bits > xs[-1]:
        raise ArchsimError(f"{rec.file}: {what} is tabulated for {int(xs[0])} to {int(xs[-1])} bits, not {bits}")
    return float(np.exp(np.interp(bits, xs, np.log(ys))))


def node_scale(node_nm: int, ref_nm: float, library: str = "default") -> tuple[float, float]:
    """(energy, area) factor from the circuits' reference node to ``node_nm``."""
    if int(round(ref_nm)) == int(node_nm):
        return 1.0, 1.0
    sc = techlib.circuit("scaling", library)
    nodes = [int(round(n)) for n in sc["nodes"]]
    if int(node_nm) not in nodes or int(round(ref_nm)) not in nodes:
        raise ArchsimError(f"architecture key 'node_nm' = {node_nm} has no scaling factors in {sc.file}; allowed: "
                           f"{', '.join(map(str, nodes))}")
    e = dict(zip(nodes, sc["energy"]))
    a = dict(zip(nodes, sc["area"]))
    r = int(round(ref_nm))
    return e[int(node_nm)] / e[r], a[int(node_nm)] / a[r]


@dataclass(frozen=True)
class Tech:
    """Every number the cost model uses, in SI, for one (device, architecture)."""

    device: str
    kind: str
    e_cell: float          # J per used cell per input pulse (average input activity)
    e_cell_peak: float     # J per cell per input pulse with every input active
    t_read: float          # s, array integration per input pulse
    a_cell: float          # m2
    e_adc: float
    a_adc: float
    e_dac: float
    a_dac: float
    e_sh: float
    a_sh: float
    e_shift_add: float
    a_shift_add: float
    shift_add_per_adc: float
    e_buf_bit: float
    e_bus_bit: float
    e_reg_bit: float
    a_buf_per_kB: float
    a_bus: float
    a_reg_per_array: float
    p_leak_per_kB: float
    e_noc_bit_hop: float
    a_router: float
    tiles_per_router: float
    router_cycles: float
    p_leak_router: float
    e_digital_op: float
    e_act_op: float
    a_tile_digital: float
    e_oreg_result: float   # IMA output register write per ADC result
    e_tile_shift_add: float  # per output element of a layer
    e_oreg_tile: float     # per output element of a layer
    p_io: float            # W, chip-level links, always on
    a_io: float            # m2
    buf_access_bits: float
    bus_wires: float
    router_ports: float
    activation_units: float
    pool_units: float
    lut: dict = field(compare=False)


@lru_cache(maxsize=256)
def tech_for(arch: Architecture) -> Tech:
    dev = load_device(arch.device)
    lib = arch.circuits
    act, adc, dac, sh, sa, buf, noc, dig, io = (techlib.circuit(n, lib) for n in (
        "activity", "adc", "dac", "sample_hold", "shift_add", "buffer", "noc", "digital", "io"))

    kind = str(dev.kind)
    t_read = dev.read_pulse
    if dev.read_energy_per_cell is not None:
        e_peak = dev.read_energy_per_cell
    else:
        g_mean = dev.g_min + act["mean_conductance_fraction"] * (dev.g_max - dev.g_min)
        e_peak = dev.read_voltage ** 2 * g_mean * t_read
    es, as_ = node_scale(arch.node_nm, adc["node"], lib)
    dac_scale = dac["energy_scaling_per_bit"] ** (arch.dac_bits - 1)
    lut = {op: (entry.energy_per_op, entry.latency) for op, entry in dev.lut.items()}
    return Tech(
        device=dev.name, kind=kind, e_cell=act["input_bit_activity"] * e_peak, e_cell_peak=e_peak, t_read=t_read,
        a_cell=dev.cell_area_m2(arch.node_nm),
        e_adc=es * _interp_table(adc, "energy_per_conversion", arch.adc_bits, "ADC energy"),
        a_adc=as_ * _interp_table(adc, "area", arch.adc_bits, "ADC area"),
        e_dac=es * dac["energy_per_conversion_1bit"] * dac_scale, a_dac=as_ * dac["area_1bit"] * dac_scale,
        e_sh=es * sh["energy_per_sample"], a_sh=as_ * sh["area"],
        e_shift_add=es * sa["energy_per_op"], a_shift_add=as_ * sa["area_per_unit"],
        shift_add_per_adc=sa["units_per_adc"],
        e_buf_bit=es * buf["energy_per_bit"], e_bus_bit=es * buf["bus_energy_per_bit"],
        e_reg_bit=es * buf["register_energy_per_bit"],
        a_buf_per_kB=as_ * buf["area_per_kB"], a_bus=as_ * buf["bus_area"],
        a_reg_per_array=as_ * buf["register_area_per_array"], p_leak_per_kB=es * buf["leakage_per_kB"],
        e_noc_bit_hop=es * noc["energy_per_bit_hop"], a_router=as_ * noc["router_area"],
        tiles_per_router=noc["tiles_per_router"], router_cycles=noc["router_latency"],
        p_leak_router=es * noc["leakage_per_router"],
        e_digital_op=es * dig["energy_per_op"], e_act_op=es * dig["activation_energy_per_op"],
        a_tile_digital=as_ * dig["tile_area"],
        e_oreg_result=es * sa["output_register_energy_per_op"],
        e_tile_shift_add=es * dig["tile_shift_add_energy_per_op"], e_oreg_tile=es * dig["output_register_energy_per_op"],
        p_io=io["power"], a_io=io["area"], buf_access_bits=buf["access_width"], bus_wires=buf["bus_wires"],
        router_ports=noc["ports"], activation_units=dig["activation_units"], pool_units=dig["pool_units"],
        lut=lut,
    )


def _lut(tech: Tech, op: str, arch: Architecture) -> tuple[float, float]:
    if op not in tech.lut:
        raise ArchsimError(
            f"device '{tech.device}' has no lookup table entry 'lut.{op}' in techlib/devices/{tech.device}.yaml; "
            f"use cost_model: circuit or a device with a lut ({', '.join(d for d in techlib.device_names() if op in load_device(d).lut)})")
    return tech.lut[op]


def t_vector(arch: Architecture, tech: Tech) -> float:
    """Seconds for one input vector through one array (all arrays of a layer work in parallel)."""
    if arch.cost_model == "lut":
        return _lut(tech, "vmm", arch)[1]
    t_adc = arch.cols_per_adc / arch.adc_rate_Hz
    if arch.input_accumulation == "analog":
        # pulses integrate on the column, then one conversion sweep; a double-buffered
        # sample-and-hold lets the sweep of one vector overlap the integration of the next
        return max(arch.input_pulses * tech.t_read, t_adc)
    return arch.input_pulses * max(tech.t_read, t_adc)


def tile_area(arch: Architecture, tech: Tech) -> dict:
    """Area of one tile by component (m2)."""
    # a differential pair subtracted in analog shares its ADCs between the pair's two arrays
    n_adc = ceil_div(arch.cols, arch.cols_per_adc) * arch.conversions_per_pair / arch.copies
    a = arch.arrays_per_tile
    return dict(
        array=a * arch.rows * arch.cols * tech.a_cell,
        adc=a * (n_adc * tech.a_adc + arch.cols * tech.a_sh * arch.conversions_per_pair / arch.copies),
        dac=a * arch.rows * tech.a_dac,
        digital=a * n_adc * tech.shift_add_per_adc * tech.a_shift_add + tech.a_tile_digital,
        buffer=arch.buffer_kB * tech.a_buf_per_kB + tech.a_bus + a * tech.a_reg_per_array,
        noc=tech.a_router / tech.tiles_per_router,
        io=0.0,
    )


def tile_static_power(arch: Architecture, tech: Tech) -> float:
    return arch.buffer_kB * tech.p_leak_per_kB + tech.p_leak_router / tech.tiles_per_router


def _digital_ops(m: Mapping, tech: Tech) -> dict:
    """Energy of the non-crossbar layers, charged to the weighted layer whose tiles compute them."""
    wl = m.workload
    names = {l.layer for l in m.layers}
    out = {l.layer: 0.0 for l in m.layers}
    for lay in wl.layers():
        if lay.kind == "input":
            continue
        if lay.weighted:
            owner = lay.name
            e = lay.out_size * tech.e_act_op if lay.activation else 0.0
        else:
            srcs = [s for s in wl.weighted_sources(lay.name) if s in names]
            if not srcs:
                owner = m.layers[0].layer
            else:
                owner = srcs[-1]
            if lay.kind in ("maxpool", "avgpool"):
                ops = lay.out_size * lay.kernel[0] * lay.kernel[1]
            elif lay.kind == "globalavgpool":
                ops = lay.in_size
            elif lay.kind in ("flatten", "identity", "concat"):
                ops = 0
            elif lay.kind == "add":
                ops = lay.out_size * (len(wl.predecessors(lay.name)) - 1)
            else:
                ops = 0
            e = ops * tech.e_digital_op
            if lay.kind in ("relu", "sigmoid", "clip", "softmax") or lay.activation:
                e += lay.out_size * tech.e_act_op
        out[owner] += e
    return out


@dataclass(frozen=True)
class Estimate:
    """Per-layer table and chip totals for one mapping and task."""

    mapping: Mapping
    task: str
    layers: pd.DataFrame
    summary: dict

    def totals(self) -> pd.DataFrame:
        return pd.DataFrame([self.summary])

    def run_energy_J(self, inferences: int) -> float:
        """Energy of a run of back-to-back inferences: dynamic energy per inference times the count,
        plus the chip's leakage over the run's duration (pipeline fill, then one period each)."""
        if inferences < 0:
            raise ArchsimError(f"inferences = {inferences}; allowed 0 or more")
        if inferences == 0:
            return 0.0
        s = self.summary
        dynamic = s["energy_per_inference_J"] - s["energy_leakage_J"]
        period = 1.0 / s["inferences_per_s"]
        duration = s["latency_s"] + (inferences - 1) * period
        return inferences * dynamic + s["static_power_W"] * duration


def evaluate(m: Mapping, task: str = "inference") -> Estimate:
    """Price a mapping: energy per inference (or training sample), area, timing, efficiency."""
    arch = m.arch
    tech = tech_for(arch)
    if task not in ("inference", "training"):
        raise ArchsimError(f"task '{task}' is unknown; allowed: inference, training")
    lut_mode = arch.cost_model == "lut"
    if task == "training" and not lut_mode:
        raise ArchsimError("task 'training' needs cost_model: lut (the device tile table prices forward VMM, "
                           "backward MVM and outer-product update)")

    n = len(m.layers)
    V = np.array([l.vectors for l in m.layers], dtype=float)
    macs = np.array([l.macs for l in m.layers], dtype=float)
    P = arch.input_pulses
    e = {k: np.zeros(n) for k in ENERGY_PARTS}
    ib = arch.input_bits
    row_drives = np.array([l.row_drives for l in m.layers], dtype=float)
    col_reads = np.array([l.col_reads for l in m.layers], dtype=float)
    cells = np.array([l.cells_used for l in m.layers], dtype=float)
    KG = np.array([l.K * l.groups for l in m.layers], dtype=float)
    N = np.array([l.N for l in m.layers], dtype=float)

    if lut_mode:
        e_vmm, t_vmm = _lut(tech, "vmm", arch)
        e["array"] = macs * e_vmm
        t_vec = t_vmm
        if task == "training":
            e_mvm, t_mvm = _lut(tech, "mvm", arch)
            e_opu, t_opu = _lut(tech, "opu", arch)
            e["array"] = macs * (e_vmm + e_mvm + e_opu)
            t_vec = t_vmm + t_mvm + t_opu
    else:
        t_vec = t_vector(arch, tech)
        C = arch.conversions_per_vector
        e["array"] = V * P * cells * tech.e_cell
        e["dac"] = V * P * row_drives * tech.e_dac
        e["adc"] = V * C * col_reads * (tech.e_adc + tech.e_sh)
        e["digital"] = V * C * col_reads * tech.e_shift_add + V * N * tech.e_tile_shift_add
        e["buffer"] = V * C * col_reads * tech.e_oreg_result
        if arch.mapping == "offset":
            e["digital"] += V * N * tech.e_digital_op  # subtract offset x sum(inputs) per output

    dig = _digital_ops(m, tech)
    e["digital"] += np.array([dig[l.layer] for l in m.layers]) * (3 if task == "training" else 1)
    passes = 2 if task == "training" else 1  # training moves activations forward and errors back
    e["buffer"] += passes * (V * (KG + N) * ib * (tech.e_buf_bit + tech.e_bus_bit) + V * row_drives * ib * tech.e_reg_bit
                             + V * N * tech.e_oreg_tile)
    noc_bits = {l.layer: 0.0 for l in m.layers}
    for ed in m.edges:
        noc_bits[ed.dst if ed.dst != "output" else ed.src] += ed.bit_hops
    e["noc"] = passes * np.array([noc_bits[l.layer] for l in m.layers]) * tech.e_noc_bit_hop

    stages = pipeline.stage_latencies(m, t_vec)
    transfer = pipeline.noc_latency(m, tech.router_cycles)
    latency = float(pipeline.critical_path(m, stages, transfer))
    period = float(stages.max()) if task == "inference" else latency
    tiles = np.array([l.tiles for l in m.layers], dtype=float)
    p_static_tile = tile_static_power(arch, tech)
    # the whole chip leaks for one period per inference; unused tiles are shared out by tile count
    e["leakage"] = p_static_tile * m.tiles_total * period * tiles / tiles.sum()
    e["io"] = tech.p_io * period * tiles / tiles.sum()

    ta = tile_area(arch, tech)
    cap = arch.arrays_per_tile * arch.rows * arch.cols
    reps = np.array([l.replication for l in m.layers], dtype=float)
    energy = sum(e[k] for k in ENERGY_PARTS)
    df = pd.DataFrame({
        "layer": [l.layer for l in m.layers],
        "kind": [l.kind for l in m.layers],
        "macs": macs.astype(np.int64),
        "vectors": V.astype(np.int64),
        "arrays": [l.arrays for l in m.layers],
        "replication": reps.astype(np.int64),
        "tiles": tiles.astype(np.int64),
        **{f"energy_{k}_J": e[k] for k in ENERGY_PARTS},
        "energy_J": energy,
        **{f"area_{k}_mm2": tiles * ta[k] * 1e6 for k in AREA_PARTS},
        "area_mm2": tiles * sum(ta.values()) * 1e6,
        "stage_latency_s": stages,
        "utilization": cells * reps / (tiles * cap),
    })

    E = float(energy.sum())
    chip_area_mm2 = (m.tiles_total * sum(ta.values()) + tech.a_io) * 1e6
    ops = OPS_PER_MAC * float(macs.sum()) * (3 if task == "training" else 1)
    rate = 1.0 / period
    summary = dict(
        workload=m.workload.name, device=tech.device, cost_model=arch.cost_model, task=task,
        macs=int(macs.sum()), weights=int(m.workload.total_weights),
        energy_per_inference_J=E, latency_s=latency, inferences_per_s=rate,
        area_mm2=chip_area_mm2, tiles=m.tiles_total, tiles_used=m.tiles_used, mesh=f"{m.mesh[0]}x{m.mesh[1]}",
        arrays=int(sum(l.arrays * l.replication for l in m.layers)), bits_per_cell=m.bits_per_cell,
        tops=ops * rate / 1e12, tops_per_W=ops / E / 1e12, tops_per_mm2=ops * rate / 1e12 / chip_area_mm2,
        power_W=E * rate, static_power_W=p_static_tile * m.tiles_total + tech.p_io,
        utilization=float((cells * reps).sum() / (m.tiles_total * cap)),
        **{f"energy_{k}_J": float(e[k].sum()) for k in ENERGY_PARTS},
        **{f"area_{k}_mm2": m.tiles_total * ta[k] * 1e6 for k in AREA_PARTS if k != "io"},
        area_io_mm2=tech.a_io * 1e6,
    )
    return Estimate(m, task, df, summary)

"""Component prices: one law per circuit, its constants read from ``techlib`` (no numbers here).

:func:`prices_for` turns an architecture (device, circuit library, node) into a :class:`Prices`
record: energy per event of every component (cell read, row drive, conversion, sample, shift-add,
buffer bit, bus bit, register bit, bit-hop, digital op), area per unit and static power.  Periphery
circuits scale from the library's reference node to ``node_nm`` (``techlib/circuits/scaling.yaml``);
device cells do not (their area is in F^2 of the node).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

import techlib
from archsim.mapping.layout import ceil_div
from archsim.model.arch import Architecture, CostModel
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError


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
class Prices:
    """Every price the cost model uses, in SI, for one (device, architecture): J per event, m2 per unit, W."""

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
def prices_for(arch: Architecture) -> Prices:
    """The prices of every component of ``arch`` (its device, circuit library and node), from techlib."""
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
    return Prices(
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


def lut_entry(prices: Prices, op: str) -> tuple[float, float]:
    if op not in prices.lut:
        raise ArchsimError(
            f"device '{prices.device}' has no lookup table entry 'lut.{op}' in techlib/devices/{prices.device}.yaml; "
            f"use cost_model: circuit or a device with a lut ({', '.join(d for d in techlib.device_names() if op in load_device(d).lut)})")
    return prices.lut[op]


def tile_area(arch: Architecture, prices: Prices) -> dict:
    """Area of one tile by component (m2)."""
    # a differential pair subtracted in analog shares its ADCs between the pair's two arrays
    n_adc = ceil_div(arch.cols, arch.cols_per_adc) * arch.conversions_per_pair / arch.copies
    a = arch.arrays_per_tile
    return dict(
        array=a * arch.rows * arch.cols * prices.a_cell,
        adc=a * (n_adc * prices.a_adc + arch.cols * prices.a_sh * arch.conversions_per_pair / arch.copies),
        dac=a * arch.rows * prices.a_dac,
        digital=a * n_adc * prices.shift_add_per_adc * prices.a_shift_add + prices.a_tile_digital,
        buffer=arch.buffer_kB * prices.a_buf_per_kB + prices.a_bus + a * prices.a_reg_per_array,
        noc=prices.a_router / prices.tiles_per_router,
        io=0.0,
    )


def tile_static_power(arch: Architecture, prices: Prices) -> float:
    return arch.buffer_kB * prices.p_leak_per_kB + prices.p_leak_router / prices.tiles_per_router



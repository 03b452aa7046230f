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

from archsim.io import techlib
from archsim.mapping.layout import ceil_div
from archsim.cost.adc import adc_law
from archsim.model.arch import AUTO, Architecture
from archsim.io import load
from archsim.model.device import Device
from archsim.model.errors import ArchsimError


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
    """Every price the cost model uses, in SI, for one (device, architecture): J per event, m2 per unit, W.

    Each circuit is scaled from its own file's reference ``node`` to the architecture's ``node_nm``."""

    device: str
    kind: str              # analog | digital | charge (the device file's kind)
    converts: bool         # columns read by ADCs (False: digital adder trees; archsim.model.device_kinds)
    converter_part: str    # what the 'adc' energy part holds, in words
    t_read: float          # s, the integration (sensing) window of one input pulse
    e_cell_gmin: float     # J per active cell read at g_min over the window (or the device's energy per read)
    e_cell_span: float     # J per active cell read per unit conductance fraction (g_max - g_min over the window)
    a_cell: float          # m2
    adc_type: str
    e_adc: float
    a_adc: float
    t_adc: float           # s per conversion (ramp: 2^b steps of its clock)
    e_dac: float           # J per driven row per pulse
    e_dac_array: float     # J per array per pulse: the row-driver block's fixed part (clocked registers), data-independent
    a_dac: float
    e_sh: float
    a_sh: float
    e_add_bit: float       # J per bit of an adder's width (shift-add, adder tree)
    shift_add_fixed: float  # J per shift-add when the library prices it flat (0: priced per bit)
    a_shift_add: float
    a_add_bit: float       # m2 per bit of an adder (digital SRAM adder trees)
    shift_add_per_adc: float
    e_buf_bit_ref: float   # J per bit moved in a buffer of buf_ref_bits
    buf_ref_bits: float
    buf_exponent: float    # energy per bit grows as (size / reference)^exponent
    e_bus_bit: float
    e_reg_bit: float
    a_buf_per_bit: float
    a_bus: float
    a_reg_per_array: float
    p_leak_per_bit: float
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

    def cell_read_energy(self, conductance_fraction) -> np.ndarray:
        """J per active cell read when the mean programmed conductance sits ``fraction`` of the way up."""
        return self.e_cell_gmin + np.asarray(conductance_fraction, dtype=float) * self.e_cell_span

    def buffer_bit_energy(self, buffer_bits) -> np.ndarray:
        """J per bit moved in buffers of ``buffer_bits`` (the capacity law; 0 bits: the reference size)."""
        size = np.maximum(np.asarray(buffer_bits, dtype=float), 1.0)
        return self.e_buf_bit_ref * (size / self.buf_ref_bits) ** self.buf_exponent

    def shift_add_energy(self, width_bits: float) -> float:
        return self.shift_add_fixed if self.shift_add_fixed > 0 else self.e_add_bit * width_bits


def _scaled(arch: Architecture, rec: techlib.Record) -> tuple[float, float]:
    """(energy, area) factors from the circuit file's own reference node to the architecture's node."""
    return node_scale(arch.node_nm, rec["node"], arch.circuits)


@lru_cache(maxsize=256)
def prices_for(arch: Architecture, dev: Device) -> Prices:
    """The prices of every component of ``arch`` (circuit library and node) built of device ``dev`` (the
    mapping's, :attr:`Mapping.device`), from techlib."""
    lib = arch.circuits
    dac, sh, sa, buf, noc, dig, io = (techlib.circuit(n, lib) for n in (
        "dac", "sample_hold", "shift_add", "buffer", "noc", "digital", "io"))
    t_read = dev.read_pulse if arch.integration_time_s == AUTO else float(arch.integration_time_s)
    if dev.read_energy_per_cell is not None:
        e_gmin, e_span = dev.read_energy_per_cell, 0.0
    else:
        v2t = dev.read_voltage ** 2 * t_read
        e_gmin, e_span = v2t * dev.g_min, v2t * (dev.g_max - dev.g_min)
    law = adc_law(lib)
    adc_type = None if arch.adc_type == AUTO else str(arch.adc_type)
    e_dac_s, a_dac_s = _scaled(arch, dac)
    e_sh_s, a_sh_s = _scaled(arch, sh)
    e_sa_s, a_sa_s = _scaled(arch, sa)
    e_buf_s, a_buf_s = _scaled(arch, buf)
    e_noc_s, a_noc_s = _scaled(arch, noc)
    e_dig_s, a_dig_s = _scaled(arch, dig)
    dac_scale = dac["energy_scaling_per_bit"] ** (arch.dac_bits - 1)
    lut = {op: (entry.energy_per_op, entry.latency) for op, entry in dev.lut.items()}
    kb = 8.0 * 1024
    return Prices(
        device=dev.name, kind=str(dev.kind), converts=dev.behaviour.converts,
        converter_part=dev.behaviour.converter_part, t_read=t_read, e_cell_gmin=e_gmin, e_cell_span=e_span,
        a_cell=dev.cell_area_m2(arch.node_nm),
        adc_type=adc_type or law.default,
        e_adc=law.energy(arch.adc_bits, arch.adc_rate_Hz, arch.node_nm, adc_type),
        a_adc=law.area(arch.adc_bits, arch.adc_rate_Hz, arch.node_nm, adc_type),
        t_adc=law.conversion_time(arch.adc_bits, arch.adc_rate_Hz, adc_type),
        e_dac=(arch.cols * dev.input_line_energy_per_cell if dev.behaviour.input_line_rows
               else e_dac_s * dac["energy_per_row_drive"] * dac_scale),
        e_dac_array=e_dac_s * float(dac.get("energy_per_array_pulse", 0.0)),
        a_dac=a_dac_s * dac["area_1bit"] * dac_scale,
        e_sh=e_sh_s * sh["energy_per_sample"], a_sh=a_sh_s * sh["area"],
        e_add_bit=e_sa_s * sa["energy_per_bit"],
        shift_add_fixed=e_sa_s * float(sa.get("energy_per_op", 0.0)),
        a_shift_add=a_sa_s * sa["area_per_unit"], a_add_bit=a_sa_s * sa["area_per_bit"],
        shift_add_per_adc=sa["units_per_adc"],
        e_buf_bit_ref=e_buf_s * buf["energy_per_bit"], buf_ref_bits=buf["reference_size"],
        buf_exponent=buf["size_exponent"],
        e_bus_bit=e_buf_s * buf["bus_energy_per_bit"], e_reg_bit=e_buf_s * buf["register_energy_per_bit"],
        a_buf_per_bit=a_buf_s * buf["area_per_kB"] / kb, a_bus=a_buf_s * buf["bus_area"],
        a_reg_per_array=a_buf_s * buf["register_area_per_array"], p_leak_per_bit=e_buf_s * buf["leakage_per_kB"] / kb,
        e_noc_bit_hop=e_noc_s * noc["energy_per_bit_hop"], a_router=a_noc_s * noc["router_area"],
        tiles_per_router=noc["tiles_per_router"], router_cycles=noc["router_latency"],
        p_leak_router=e_noc_s * noc["leakage_per_router"],
        e_digital_op=e_dig_s * dig["energy_per_op"], e_act_op=e_dig_s * dig["activation_energy_per_op"],
        a_tile_digital=a_dig_s * dig["tile_area"],
        e_oreg_result=e_sa_s * sa["output_register_energy_per_op"],
        e_tile_shift_add=e_dig_s * dig["tile_shift_add_energy_per_op"],
        e_oreg_tile=e_dig_s * dig["output_register_energy_per_op"],
        p_io=io["power"], a_io=io["area"], buf_access_bits=buf["access_width"], bus_wires=buf["bus_wires"],
        router_ports=noc["ports"], activation_units=dig["activation_units"], pool_units=dig["pool_units"],
        lut=lut,
    )


def lut_entry(prices: Prices, op: str) -> tuple[float, float]:
    if op not in prices.lut:
        raise ArchsimError(
            f"device '{prices.device}' has no lookup table entry 'lut.{op}' in techlib/devices/{prices.device}.yaml; "
            f"use cost_model: circuit or a device with a lut ({', '.join(d for d in techlib.device_names() if op in load.device(d).lut)})")
    return prices.lut[op]


def tile_area(arch: Architecture, prices: Prices, buffer_bits: float) -> dict:
    """Area of one tile by component (m2), its buffer holding ``buffer_bits``.

    Analog and charge-domain arrays: an ADC per ``cols_per_adc`` columns (a differential pair subtracted
    in analog shares its ADCs between the pair's arrays), a sample-and-hold per column and a driver per
    row.  Digital SRAM arrays have no converters: an adder tree per column takes the ADC's place."""
    a = arch.arrays_per_tile
    if not prices.converts:
        adc = a * arch.cols * 2 * arch.rows * prices.a_add_bit   # an adder tree of about 2 x rows full-adder bits
        n_adc = arch.cols
    else:
        n_adc = ceil_div(arch.cols, arch.cols_per_adc) * arch.conversions_per_pair / arch.copies
        adc = a * (n_adc * prices.a_adc + arch.cols * prices.a_sh * arch.conversions_per_pair / arch.copies)
    return dict(
        array=a * arch.rows * arch.cols * prices.a_cell,
        adc=adc,
        dac=a * arch.rows * prices.a_dac,
        digital=a * n_adc * prices.shift_add_per_adc * prices.a_shift_add + prices.a_tile_digital,
        buffer=buffer_bits * prices.a_buf_per_bit + prices.a_bus + a * prices.a_reg_per_array,
        noc=prices.a_router / prices.tiles_per_router,
        io=0.0,
    )


def tile_static_power(prices: Prices, buffer_bits: float) -> float:
    """Leakage of one tile: its buffer and its share of a router."""
    return buffer_bits * prices.p_leak_per_bit + prices.p_leak_router / prices.tiles_per_router


def fixed_buffer_bits(arch: Architecture) -> float:
    """The buffer of a tile that holds no layer: the architecture's fixed size, or none when sized per layer."""
    return 0.0 if arch.buffer_kB == AUTO else float(arch.buffer_kB) * 8.0 * 1024

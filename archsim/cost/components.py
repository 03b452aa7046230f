"""Component prices: one law per circuit, its constants read from ``techlib`` (no numbers here).

:func:`prices_for` turns an architecture (device, circuit library, node) into a :class:`Prices`
record: energy per event of every component (cell read, row drive, conversion, sample, shift-add,
buffer bit, bus bit, register bit, bit-hop, digital op), area per unit, static power and the stage times
(:mod:`archsim.cost.readpath`: row select, settling, conversion, clock).  Periphery circuits scale from their
file's reference node to ``node_nm`` by their circuit class (:mod:`archsim.cost.scaling`); device cells do not
(their area is in F^2 of the node, their energy is the device's).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from archsim.io import techlib
from archsim.mapping.layout import Mapping, ceil_div
from archsim.cost import scaling, static, subarray
from archsim.cost.scaling import node_scaling
from archsim.cost.adc import adc_law
from archsim.cost.readpath import read_path
from archsim.cost.tilebuffer import TileBuffer
from archsim.model.arch import AUTO, Architecture, CostModel
from archsim.io import load
from archsim.model.device import Device
from archsim.model.errors import ArchsimError


def node_scale(node_nm: int, ref_nm: float, library: str = "default", cls: str = "logic") -> tuple[float, float]:
    """(energy, area) factor of circuit class ``cls`` from ``ref_nm`` to ``node_nm``."""
    sc = node_scaling(library)
    where = "architecture key 'node_nm'"
    return (sc.factor(cls, "energy", node_nm, ref_nm, where), sc.factor(cls, "area", node_nm, ref_nm, where))


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
    e_bus_bit_m: float     # J per bit per metre of tile bus (floorplan: the bus length)
    e_reg_bit: float
    a_buf_per_bit: float
    a_bus: float
    a_reg_per_array: float
    p_leak_per_bit: float
    e_router_bit: float    # J per bit per router traversal (the link beside it is priced by length)
    e_link_bit_m: float    # J per bit per metre of mesh link (floorplan: one tile pitch per hop)
    t_wire_m: float        # s per metre of repeated wire
    fill_factor: float     # components' share of a tile's footprint (floorplan)
    buf_wl_fraction: float  # word-line share of a buffer access at the reference width (width law)
    p_leak_adc: float      # W per ADC
    p_leak_sh: float       # W per sample-and-hold
    p_leak_dac: float      # W per row driver
    p_leak_shift_add: float  # W per shift-add unit
    p_leak_digital: float  # W per tile's digital units
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
    clock_Hz: float = 0.0  # digital clock: the architecture's, or (clock_Hz auto) the sensing cycle of the subarray laws
    t_sense: float = 0.0   # s, subarray laws: the sense amplifier's sensing time
    chunks: int = 1        # conversions per column per input pulse: ceil(rows / parallel_rows)
    e_partial_add: float = 0.0  # J per partial sum added (partial parallel read)
    r_on: float = 0.0      # ohm, the device's lowest resistance (subarray laws)
    r_off: float = 0.0     # ohm, its highest
    v_read: float = 0.0    # V
    sub: object = field(default=None, compare=False)   # SubarrayLaws of the library, or None
    psum_outputs: bool = False   # tile buffers carry outputs as partial sums (shift-add width), not activations
    p_leak_array: float = 0.0    # W per array (subarray periphery leakage)
    p_leak_reg_array: float = 0.0  # W per array's input/output registers
    p_leak_add_bit: float = 0.0  # W per adder bit (digital SRAM adder trees)
    t_break_even: float = 0.0    # s of leakage one wake-up of a tile's power gate costs
    t_pulse: float = 0.0         # s per input pulse through an array: row select, then the read window or settling
    buf_org: object = field(default=None, compare=False)   # TileBuffer (tile buffer organisation) or None

    def cell_read_energy(self, conductance_fraction) -> np.ndarray:
        """J per active cell read when the mean programmed conductance sits ``fraction`` of the way up."""
        return self.e_cell_gmin + np.asarray(conductance_fraction, dtype=float) * self.e_cell_span

    def buffer_bit_energy(self, buffer_bits, access_bits=None) -> np.ndarray:
        """J per bit moved in buffers of ``buffer_bits`` read ``access_bits`` at a time (default: the library's
        reference width).  Capacity law: (size / reference)^exponent (bit lines and the array's wires grow
        with the side of the array); width law: the word line's share ``f`` of an access is paid per access,
        so per bit it is ``f x reference width / access width`` (0 bits: the reference size)."""
        size = np.maximum(np.asarray(buffer_bits, dtype=float), 1.0)
        width = self.buf_access_bits if access_bits is None else np.asarray(access_bits, dtype=float)
        f = self.buf_wl_fraction
        return (self.e_buf_bit_ref * (size / self.buf_ref_bits) ** self.buf_exponent
                * (1.0 - f + f * self.buf_access_bits / np.maximum(width, 1.0)))

    def shift_add_energy(self, width_bits: float) -> float:
        return self.shift_add_fixed if self.shift_add_fixed > 0 else self.e_add_bit * width_bits


def _scaled(arch: Architecture, rec: techlib.Record, key: str | None = None) -> tuple[float, float]:
    """(energy, area) factors of the file's circuit class (or ``key``'s, ``key_class``) from the file's own
    reference node to the architecture's node (a pure function of the file, the key, the node and the
    library: kept per process, as techlib keeps the files)."""
    k = (rec, key, arch.node_nm, arch.circuits)     # a record is hashed by identity (one per file read)
    got = _SCALED.get(k)
    if got is None:
        got = _SCALED[k] = scaling.scale(rec, arch.node_nm, arch.circuits, key)
    return got


_SCALED: dict = {}


def _energy(arch: Architecture, rec: techlib.Record, key: str) -> float:
    """``rec[key]`` moved to the architecture's node by the energy factor of the key's class."""
    return _scaled(arch, rec, key)[0] * rec[key]


def _area(arch: Architecture, rec: techlib.Record, key: str) -> float:
    return _scaled(arch, rec, key)[1] * rec[key]


@lru_cache(maxsize=256)
def prices_for(arch: Architecture, dev: Device) -> Prices:
    """The prices of every component of ``arch`` (circuit library and node) built of device ``dev`` (the
    mapping's, :attr:`Mapping.device`), from techlib."""
    lib = arch.circuits
    _check_device_node(dev, arch)
    dac, sh, sa, buf, noc, dig, io, wire, leak = (techlib.circuit(n, lib) for n in (
        "dac", "sample_hold", "shift_add", "buffer", "noc", "digital", "io", "wire", "leakage"))
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
    e_wire_s, _ = _scaled(arch, wire)
    per_m = 1e3    # the wire file's figures are per mm
    dac_scale = dac["energy_scaling_per_bit"] ** (arch.dac_bits - 1)
    lut = {op: (entry.energy_per_op, entry.latency) for op, entry in dev.lut.items()}
    kb = 8.0 * 1024
    chunks = subarray.chunks(arch)
    sub = subarray.laws(lib, arch.node_nm) if subarray.has_laws(lib) else None
    if sub is None:
        # stage times from geometry, bits and node (archsim.cost.readpath): clock, conversion, row, settling, mux
        rp = read_path(lib)
        clock = rp.clock(arch.node_nm) if arch.clock_Hz == AUTO else float(arch.clock_Hz)
        if arch.adc_rate_Hz == AUTO:
            t_adc = law.auto_conversion_time(arch.adc_bits, arch.node_nm, adc_type)
            rate = 1.0 / t_adc
        else:
            rate = float(arch.adc_rate_Hz)
            t_adc = law.conversion_time(arch.adc_bits, rate, adc_type)
        e_adc = law.energy(arch.adc_bits, rate, arch.node_nm, adc_type) + rp.mux_energy(arch.cols_per_adc, arch.node_nm)
        a_adc = law.area(arch.adc_bits, rate, arch.node_nm, adc_type)
        pitch = dev.cell_area_m2(arch.node_nm) ** 0.5
        t_pulse = float(rp.pulse_time(t_read, arch.rows, arch.cols, arch.adc_bits if dev.behaviour.converts else 1,
                                      pitch, arch.node_nm))
        e_row = (arch.cols * dev.input_line_energy_per_cell if dev.behaviour.input_line_rows
                 else e_dac_s * dac["energy_per_row_drive"] * dac_scale)
        e_arr = e_dac_s * float(dac.get("energy_per_array_pulse", 0.0))
        t_sense, extra = 0.0, {"t_pulse": t_pulse}
        e_partial = e_sa_s * sa["energy_per_bit"] * (arch.adc_bits + max(0, (chunks - 1).bit_length()))
    else:
        subarray.check_node(arch, sub)
        r_on, r_off = 1.0 / dev.g_max, 1.0 / dev.g_min
        v_read = dev.read_voltage * sub.v_read_ratio      # NeuroSim lowers its read voltage with the node
        c_col = sub.bitline_cap(arch.rows, arch.node_nm, dev.cell_area_m2(arch.node_nm) / (arch.node_nm * 1e-9) ** 2)
        t_sense = sub.sense_time(arch.adc_bits, subarray.parallel_rows(arch), r_on, c_col)
        t_re = sub.row_encoder_delay(arch.cols, arch.cols_per_adc, subarray.parallel_rows(arch), arch.adc_bits,
                                     arch.node_nm, r_on, r_off)
        clock = 1.0 / sub.clock_period(t_sense, t_re) if arch.clock_Hz == AUTO else float(arch.clock_Hz)
        t_adc = 1.0 / clock                     # one conversion per clock
        t_read = t_sense if arch.integration_time_s == AUTO else t_read
        act = techlib.circuit("activity", lib)
        e_adc = float(sub.conversion_energy(
            arch.adc_bits, subarray.parallel_rows(arch), r_on, v_read,
            sub.column_resistance(subarray.parallel_rows(arch), float(act["input_bit_activity"]),
                                  float(act["mean_conductance_fraction"]), r_on, r_off), t_sense, arch.rows))
        a_adc = sub.adc_area(arch.adc_bits)
        e_row = sub.row_drive_energy(arch.cols, arch.cols_per_adc, arch.node_nm)
        e_arr = sub.array_pulse_energy(arch.rows, arch.cols_per_adc)
        e_partial = sub.partial_add_energy(arch.adc_bits, chunks)
        extra = dict(r_on=r_on, r_off=r_off, v_read=v_read, sub=sub, p_leak_array=sub.p_leak_array,
                     t_pulse=t_read)   # the sensing clock already holds the row switch and encoder delay
    if static.law(leak) == "active_power_fraction":
        leak_fields = _unit_leakage(
            float(leak["active_power_fraction"]), e_adc, e_sh_s * sh["energy_per_sample"], t_adc, e_row,
            max(t_read, arch.cols_per_adc * chunks * t_adc), e_sa_s * sa["energy_per_bit"] * (arch.adc_bits + arch.input_bits),
            clock, e_dig_s * (dig["activation_units"] * dig["activation_energy_per_op"]
                              + dig["pool_units"] * dig["energy_per_op"] + dig["tile_shift_add_energy_per_op"]))
        leak_fields.update(p_leak_per_bit=e_buf_s * buf["leakage_per_kB"] / kb,
                           p_leak_router=e_noc_s * noc["leakage_per_router"])
    else:
        d = static.density(leak, arch.node_nm)
        cls = scaling.circuit_class
        leak_fields = dict(
            p_leak_adc=a_adc * d.of(cls(techlib.circuit("adc", lib))), p_leak_sh=a_sh_s * sh["area"] * d.of(cls(sh)),
            p_leak_dac=a_dac_s * dac["area_1bit"] * dac_scale * d.of(cls(dac)),
            p_leak_shift_add=a_sa_s * sa["area_per_unit"] * d.of(cls(sa)),
            p_leak_digital=a_dig_s * dig["tile_area"] * d.of(cls(dig)), p_leak_per_bit=d.per_bit,
            p_leak_router=a_noc_s * noc["router_area"] * d.of(cls(noc)),
            p_leak_reg_array=_area(arch, buf, "register_area_per_array") * d.of(cls(buf, "register_area_per_array")),
            p_leak_add_bit=a_sa_s * sa["area_per_bit"] * d.of(cls(sa)))
        if sub is None:   # cells that leak while unbiased (SRAM bit cells): the device file's leaking width
            rec = dev.record
            w = float(rec.get("cell.leaking_width", 0.0)) if rec is not None else 0.0
            leak_fields["p_leak_array"] = arch.rows * arch.cols * w * d.per_width
    return Prices(
        device=dev.name, kind=str(dev.kind), converts=dev.behaviour.converts,
        converter_part=dev.behaviour.converter_part, t_read=t_read, e_cell_gmin=e_gmin, e_cell_span=e_span,
        a_cell=dev.cell_area_m2(arch.node_nm),
        adc_type=adc_type or law.default,
        e_adc=e_adc, a_adc=a_adc, t_adc=t_adc, e_dac=e_row, e_dac_array=e_arr,
        a_dac=a_dac_s * dac["area_1bit"] * dac_scale,
        e_sh=e_sh_s * sh["energy_per_sample"], a_sh=a_sh_s * sh["area"],
        e_add_bit=e_sa_s * sa["energy_per_bit"],
        shift_add_fixed=e_sa_s * float(sa.get("energy_per_op", 0.0)),
        a_shift_add=a_sa_s * sa["area_per_unit"], a_add_bit=a_sa_s * sa["area_per_bit"],
        shift_add_per_adc=sa["units_per_adc"],
        e_buf_bit_ref=e_buf_s * buf["energy_per_bit"], buf_ref_bits=buf["reference_size"],
        buf_exponent=buf["size_exponent"],
        e_bus_bit_m=e_wire_s * wire["bus_energy_per_bit_mm"] * per_m,
        e_reg_bit=_energy(arch, buf, "register_energy_per_bit"),
        a_buf_per_bit=a_buf_s * buf["area_per_kB"] / kb, a_bus=_area(arch, buf, "bus_area"),
        a_reg_per_array=_area(arch, buf, "register_area_per_array"),
        e_router_bit=e_noc_s * noc["router_energy_per_bit"],
        e_link_bit_m=e_wire_s * wire["link_energy_per_bit_mm"] * per_m,
        t_wire_m=wire["delay_per_mm"] * per_m, fill_factor=wire["fill_factor"],
        buf_wl_fraction=buf["wordline_fraction"],
        **leak_fields,
        a_router=a_noc_s * noc["router_area"],
        tiles_per_router=noc["tiles_per_router"], router_cycles=noc["router_latency"],
        e_digital_op=e_dig_s * dig["energy_per_op"], e_act_op=e_dig_s * dig["activation_energy_per_op"],
        a_tile_digital=a_dig_s * dig["tile_area"],
        e_oreg_result=e_sa_s * sa["output_register_energy_per_op"],
        e_tile_shift_add=e_dig_s * dig["tile_shift_add_energy_per_op"],
        e_oreg_tile=_energy(arch, dig, "output_register_energy_per_op"),   # a wire in some libraries (key_class)
        p_io=io["power"], a_io=io["area"], buf_access_bits=buf["access_width"], bus_wires=buf["bus_wires"],
        buf_org=TileBuffer.from_record(buf),
        router_ports=noc["ports"], activation_units=dig["activation_units"], pool_units=dig["pool_units"],
        psum_outputs=buf.field("outputs", "activation") == "partial_sum",
        t_break_even=static.break_even_time(lib, clock),
        lut=lut, clock_Hz=clock, t_sense=t_sense, chunks=chunks, e_partial_add=e_partial, **extra,
    )


def _unit_leakage(fraction: float, e_adc: float, e_sh: float, t_adc: float, e_row: float, t_pulse: float,
                  e_shift_add: float, clock: float, e_digital_cycle: float) -> dict:
    """W per unit: ``fraction`` of each unit's active power at full use (an ADC, its sample-and-hold and a
    shift-add unit once per conversion time, a row driver once per input pulse ``t_pulse``, the longer of
    the read window and the column conversions sharing an ADC, the tile's digital units every clock; the
    shift-add at the ADC's plus the input's bits)."""
    return dict(p_leak_adc=fraction * e_adc / t_adc, p_leak_sh=fraction * e_sh / t_adc,
                p_leak_dac=fraction * e_row / t_pulse, p_leak_shift_add=fraction * e_shift_add / t_adc,
                p_leak_digital=fraction * e_digital_cycle * clock)


#: what a design outside a device's ``nodes`` gets: refused, or priced and flagged in the report's assumptions
NODE_POLICIES = ("flag", "refuse")


@lru_cache(maxsize=64)
def device_nodes(rec) -> tuple[tuple[int, ...], str] | None:
    """(nodes, policy) a device file states (``nodes``, ``outside_nodes``), or None where it states none (kept per
    file: a record is hashed by identity, one per file read)."""
    if rec is None or not rec.has("nodes"):
        return None
    policy = rec.field("outside_nodes", "flag")
    if policy not in NODE_POLICIES:
        raise ArchsimError(f"{rec.file}: key 'outside_nodes' = {policy!r}; allowed: {', '.join(NODE_POLICIES)}")
    return tuple(int(round(n)) for n in np.atleast_1d(rec["nodes"])), policy


def outside_nodes_note(rec, node_nm) -> str | None:
    """The report's flag for a design at ``node_nm`` outside the nodes the device file lists, or None."""
    got = device_nodes(rec)
    if got is None or int(round(node_nm)) in got[0]:
        return None
    return (f"node_nm = {node_nm} is outside the nodes this device is demonstrated at "
            f"({', '.join(map(str, got[0]))} nm): its cells are priced as if they existed there")


def _check_device_node(dev, arch: Architecture) -> None:
    """A device file may list the nodes its cells exist at (``nodes``).  A design at another node is refused
    where the file says ``outside_nodes: refuse`` (NeuroSim's RRAM: NeuroSim itself refuses it), else priced
    and flagged (:func:`outside_nodes_note`, in the report's assumptions).  A design priced from the device's
    tile table (``cost_model: lut``) is not checked: the table carries its own node."""
    got = device_nodes(dev.record)
    if got is None or arch.cost_model == CostModel.LUT:
        return
    nodes, policy = got
    if policy == "refuse" and int(round(arch.node_nm)) not in nodes:
        raise ArchsimError(f"{arch.source}: key 'node_nm' = {arch.node_nm}: device '{dev.name}' exists at "
                           f"{', '.join(map(str, nodes))} nm only ({dev.record.file}, key 'nodes'); allowed node_nm: "
                           + _nodes_allowed(nodes, arch.circuits))


def _nodes_allowed(nodes: tuple, library: str) -> str:
    """The device's nodes that the circuit library also scales to, as the refusal's "allowed" list: a node the
    device exists at but the library has no factors for would only be refused next, by the library."""
    try:
        sc = node_scaling(library)
    except ArchsimError:          # the library's own problem is reported when it is priced
        return ", ".join(map(str, nodes))
    both = [n for n in nodes if n in sc.nodes]     # both lists are whole nanometres (rounded when read)
    if both == list(nodes):
        return ", ".join(map(str, nodes))
    if not both:
        return f"none: circuit library '{library}' scales to {', '.join(map(str, sc.nodes))} nm only ({sc.file})"
    return f"{', '.join(map(str, both))} (of those, the nodes circuit library '{library}' scales to, {sc.file})"


def lut_entry(prices: Prices, op: str) -> tuple[float, float]:
    if op not in prices.lut:
        raise ArchsimError(
            f"device '{prices.device}' has no lookup table entry 'lut.{op}' in techlib/devices/{prices.device}.yaml; "
            f"use cost_model: circuit or a device with a lut ({', '.join(d for d in techlib.device_names() if op in load.device(d).lut)})")
    return prices.lut[op]


def shift_add_width(m: Mapping, layer: str | None = None) -> float:
    """Bits of the accumulated result a shift-add writes: the converted (or adder-tree) sum plus the input
    pulses and weight slices shifted in (``mapping: pairs``: ``ceil(log2 F)`` bits for the gain F); a column
    read in row chunks sums ``ceil(rows / parallel_rows)`` partial results, log2 of that more bits.  The unit
    is sized for the chip's most slices.  ``layer``: with that layer's ADC bits and bits per cell
    (``layer_overrides``)."""
    a = m.arch if layer is None else m.layer_arch(layer)
    converts = m.device.behaviour.converts
    base = (a.adc_bits + int(np.ceil(np.log2(a.row_chunks))) if converts
            else int(np.ceil(np.log2(a.rows))) + 1)
    pulses = a.input_pulses if (a.conversions_per_vector > 1 or not converts) else 1
    slices = max(l.slices for l in m.layers)
    # conductance pairs: the more significant pair's result is scaled by F (a shift and add) before the sum
    bpc = m.bits_per_cell if layer is None else m.layer_bits_per_cell(layer)
    shift = int(np.ceil(np.log2(a.pair_gain))) if a.pairs else bpc
    return base + (pulses - 1) * a.dac_bits + (slices - 1) * shift


def tile_counts(arch: Architecture, prices: Prices) -> dict:
    """How many of each periphery unit one tile holds.

    Analog and charge-domain arrays: an ADC per ``cols_per_adc`` columns (a differential pair subtracted
    in analog shares its ADCs between the pair's arrays), a sample-and-hold per column and a driver per
    row.  Digital SRAM arrays have no converters: an adder tree per column takes the ADC's place (and a
    shift-add unit per column)."""
    a = arch.arrays_per_tile
    per_array = (arch.cols if not prices.converts
                 else ceil_div(arch.cols, arch.cols_per_adc) * arch.conversions_per_pair / arch.copies)
    return dict(arrays=a, adc=a * per_array * prices.converts,
                sample_hold=a * arch.cols * arch.conversions_per_pair / arch.copies * prices.converts,
                row_driver=a * arch.rows, shift_add=a * per_array * prices.shift_add_per_adc,
                adder_tree_cols=a * arch.cols * (not prices.converts))


def tile_area(arch: Architecture, prices: Prices, buffer_bits: float) -> dict:
    """Area of one tile by component (m2), its buffer holding ``buffer_bits`` (units: :func:`tile_counts`)."""
    n = tile_counts(arch, prices)
    return dict(
        array=n["arrays"] * arch.rows * arch.cols * prices.a_cell,
        adc=n["adc"] * prices.a_adc + n["sample_hold"] * prices.a_sh,
        adder_tree=n["adder_tree_cols"] * 2 * arch.rows * prices.a_add_bit,   # about 2 x rows full-adder bits
        dac=n["row_driver"] * prices.a_dac,
        digital=n["shift_add"] * prices.a_shift_add + prices.a_tile_digital,
        buffer=buffer_bits * prices.a_buf_per_bit + prices.a_bus + n["arrays"] * prices.a_reg_per_array,
        noc=prices.a_router / prices.tiles_per_router,
        io=0.0,
    )


def tile_leakage(arch: Architecture, prices: Prices, buffer_bits) -> dict:
    """Static power of one tile by component (W): each unit's own figure (:mod:`archsim.cost.static`: its area
    times its class's leakage density, a buffer bit's SRAM cell, a subarray library's per array) times the
    tile's count of it."""
    n = tile_counts(arch, prices)
    return dict(
        array=n["arrays"] * prices.p_leak_array,
        adc=n["adc"] * prices.p_leak_adc + n["sample_hold"] * prices.p_leak_sh,
        adder_tree=n["adder_tree_cols"] * 2 * arch.rows * prices.p_leak_add_bit,   # as tile_area: 2 x rows bits
        dac=n["row_driver"] * prices.p_leak_dac,
        digital=n["shift_add"] * prices.p_leak_shift_add + prices.p_leak_digital,
        buffer=np.asarray(buffer_bits, dtype=float) * prices.p_leak_per_bit + n["arrays"] * prices.p_leak_reg_array,
        noc=prices.p_leak_router / prices.tiles_per_router,
    )


def tile_static_power(arch: Architecture, prices: Prices, buffer_bits) -> np.ndarray:
    """Leakage of one tile (W): the sum of :func:`tile_leakage` over its components."""
    return sum(tile_leakage(arch, prices, buffer_bits).values())


def fixed_buffer_bits(arch: Architecture) -> float:
    """The buffer of a tile that holds no layer: the architecture's fixed size, or none when sized per layer."""
    return 0.0 if arch.buffer_kB == AUTO else float(arch.buffer_kB) * 8.0 * 1024

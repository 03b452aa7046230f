"""Subarray read-path laws: energy and time of one array read as functions of its geometry and data.

A circuit library that has a ``subarray`` file (``techlib/circuits/<library>/subarray.yaml``; today the
``neurosim`` library, NeuroSim V1.4's read path of a 1T1R array sensed by multilevel current sense
amplifiers) prices the array's periphery with these laws instead of flat per-event numbers.  With
``R`` rows, ``C`` columns, ``M`` columns per ADC (read one after another), ``P`` rows read at once,
``b`` ADC bits (``L = 2^b`` levels), feature size ``F``, supply ``Vdd``:

- word line: ``C_WL = C (w_cell F c_wire + C_gate)``; a selected row costs ``C_WL Vdd^2`` per mux
  cycle, so ``M C_WL Vdd^2`` per input pulse (grows with columns and columns per ADC);
- switch matrix: ``M e_row`` per selected row and pulse, plus its ``R`` DFFs clocked every mux cycle
  whatever the data: ``R M e_DFF`` per array and pulse (grows with rows);
- sense amplifier (per conversion): ``(L - 1) e_level + (L - 1) / L R (c_col V_read^2 + c_ref Vdd^2)
  + (P_col(R_col) + P_ref) t_sense``: each comparator level's own switching, and per level ``1 / L`` of the
  sensed column's capacitance and of a reference column's activation (a cell's share of the word line for each
  of the ``R`` rows), so the switching grows with rows; the column
  current term from NeuroSim's fitted current-mirror power at the column's resistance ``R_col`` (the
  ``P x density`` conducting cells of the conversion, each ``R_cell + R_access``, in parallel, looked up
  at ``R_col x 0.5 / V_read``), the reference columns' share at the reference resistances
  ``R_i = (R_on / P) / (1 - i / L)``, and ``t_sense`` the longest sensing time of the extreme references
  (grows with bits, and with fewer rows read at once);
- column mux: ``e_mux`` per conversion; shift-adds: a ``b + W`` bit weight shift-add per weight bit
  and a ``b + W + I`` bit input shift-add per weight, priced by adder bits and DFF bits;
- clock: ``beta (t_sense + t_re)`` (the sensing cycle) with ``t_re = max(t_row, t_mux) + t_enc``
  (:meth:`SubarrayLaws.row_encoder_delay`): the row switch charging the word line (Elmore: its pass gate into
  ``C_WL`` plus the line's own ``R_wire C_WL / 2``, grows with columns), the column mux (pass gate sized to the
  column's resistance, ``2.3 RC``) behind its decoder (minimum gates, then a driver loading the
  ``C / M`` selected pass gates: grows with columns and rows read at once, shrinks with columns per ADC), and the
  encoder (an inverter, a NAND2 and a NAND of ``L / 2`` inputs: grows with ADC bits), each gate of a chain
  ``sqrt((ln 2 RC)^2 + RC t_prev)`` after a gate of delay ``t_prev`` (Horowitz's ramp input, :func:`gate_chain`)
  with NeuroSim's transistors at the node (on-resistance per width, gate and drain capacitance per width, the
  mux driver's sizing: ``subarray.yaml`` by_node); an input pulse
  through an array takes ``M ceil(R / P)`` clocks (:func:`pulse_cycles`).

Every constant is read from the library's ``subarray`` file, with its source.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from archsim.io import techlib
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError


def has_laws(library: str) -> bool:
    """Whether the circuit library prices its arrays with subarray laws (it has a ``subarray`` file)."""
    return library != "default" and (techlib.CIRCUIT_DIR / library / "subarray.yaml").exists()


def gate_chain(taus) -> float:
    """s through a chain of gates of time constants ``taus`` (s), each driven by the one before: Horowitz's
    ramp-input delay as NeuroSim evaluates it (formula.cpp:1411-1420, beta 0.5, switching at half swing), a gate
    after a gate of delay ``t`` taking ``sqrt((ln 2 tau)^2 + tau t)`` (``ln 2 tau`` from a step).  A slow stage
    (a small driver loaded by many gates, as NeuroSim's 32 and 45 nm mux decoder) slows the next one too."""
    ln2, t, total = math.log(2.0), 0.0, 0.0
    for tau in taus:
        t = math.sqrt((ln2 * tau) ** 2 + tau * t)
        total += t
    return total


@dataclass(frozen=True)
class SubarrayLaws:
    """The constants of one library's subarray laws, in SI."""

    file: str
    node_nm: float
    nodes: tuple             # the nodes the library has its per-node tables at (by_node.node)
    vdd: float
    v_read_ratio: float      # NeuroSim's read voltage at this node over its first node's (moves the device's)
    c_wire: float            # F per m
    cell_w_F: float
    c_gate: float            # F per cell on a word line
    c_drain: float           # F per cell on a bit line
    e_sm_row: float          # J per selected row per mux cycle
    e_dff: float             # J per DFF bit per clock
    dff_activity: float
    e_add_bit: float
    e_add_fixed: float
    e_mux: float             # J per conversion
    beta: float
    delay: tuple             # row_encoder_delay's constants (SI): Rn, Rp, Rn_lin, Rp_lin per 1 um; Cg, Cd per m of
                             # width; wire ohm per m; widths in F: switch matrix, encoder inverter and NAND, mux
                             # driver; decoder gates' height
    v_sim: float
    r_access_frac: float
    e_level: float           # J per comparator level (sense amp, latch, encoder interface)
    c_col_row: float         # F of the sensed column per row
    c_ref_cell: float        # F of a reference column's activation per row (a cell's share of the word line)
    pw: tuple                # power fit: low slope, low intercept, mid slope, mid intercept, high slope, high intercept
    pw_breaks: tuple         # (low, high) ohm
    lt: tuple                # latency fit: low slope, low intercept, high slope, high intercept
    lt_break: float
    cap_thr: float
    cap_r2: float
    cap_dc: float
    cap_ref: float
    a_level: float           # m2 per comparator level (sense amp and encoder)
    a_mux: float             # m2 per ADC (column mux and its decoder)
    p_leak_array: float      # W per array

    # ---- geometry -------------------------------------------------------------------------------
    def wordline_cap(self, cols: int, node_nm: float) -> float:
        """F of one word line across ``cols`` cells: wire (cols x cell width) and the access gates."""
        return cols * (self.cell_w_F * node_nm * 1e-9 * self.c_wire + self.c_gate)

    def bitline_cap(self, rows: int, node_nm: float, cell_area_F2: float) -> float:
        """F of one bit line down ``rows`` cells: wire (rows x cell height) and the access drains."""
        height_F = cell_area_F2 / self.cell_w_F
        return rows * (height_F * node_nm * 1e-9 * self.c_wire + self.c_drain)

    # ---- word line and switch matrix ------------------------------------------------------------
    def row_drive_energy(self, cols: int, cols_per_adc: int, node_nm: float) -> float:
        """J per selected row per input pulse: the word line and the switch matrix's row part, once per mux cycle."""
        return cols_per_adc * (self.wordline_cap(cols, node_nm) * self.vdd ** 2 + self.e_sm_row)

    def array_pulse_energy(self, rows: int, cols_per_adc: int) -> float:
        """J per array per input pulse: the switch matrix's ``rows`` DFFs clocked every mux cycle."""
        return rows * cols_per_adc * self.e_dff

    # ---- sense amplifier ------------------------------------------------------------------------
    def column_power(self, r: np.ndarray) -> np.ndarray:
        """W per comparator level of a column (or reference) at resistance ``r`` (already scaled to 0.5 V)."""
        r = np.asarray(r, dtype=float)
        a0, b0, a1, b1, a2, b2 = self.pw
        lo, hi = self.pw_breaks
        with np.errstate(divide="ignore"):
            lr = np.log(np.maximum(r, 1e-30))
        return np.where(r < lo, a0 * r + b0, np.where(r < hi, a1 * lr + b1, a2 * lr + b2))

    def references(self, bits: int, parallel_rows: int, r_on: float) -> np.ndarray:
        """Reference resistances of the ``2^bits - 1`` comparators: ``(R_on / P) / (1 - i / L)``."""
        L = 2 ** bits
        i = np.arange(L - 1)
        return (r_on / parallel_rows) / (1.0 - i / L)

    def _latency(self, r: float, c_col: float, levels: int) -> float:
        a0, b0, a1, b1 = self.lt
        t = a0 * math.log(r) + b0 if r < self.lt_break else a1 * r + b1
        if r > self.cap_thr:     # above the threshold the column capacitance slows the comparison
            c = c_col + self.c_gate * (levels - 2)
            t += self.cap_dc / (self.cap_r2 - self.cap_thr) * (r - self.cap_thr) * (c - self.cap_ref) / self.cap_ref
        return t

    def sense_time(self, bits: int, parallel_rows: int, r_on: float, c_col: float) -> float:
        """s to sense one conversion: the slower of the lowest and the highest reference."""
        ref = self.references(bits, parallel_rows, r_on)
        L = 2 ** bits
        return max(self._latency(float(ref[-1]), c_col, L), self._latency(float(ref[1]), c_col, L))

    def switching_energy(self, bits: int, rows: int, v_read: float) -> float:
        """J per conversion charged by the ``L - 1`` comparators: their own levels, and per level ``1 / L`` of
        the sensed column (``rows`` cells at ``V_read``) and of a reference column's activation (``rows`` cells'
        share of the word line at ``Vdd``): both grow with the rows of the array."""
        L = 2 ** bits
        shared = rows * (self.c_col_row * v_read ** 2 + self.c_ref_cell * self.vdd ** 2)
        return (L - 1) * self.e_level + (L - 1) / L * shared

    def conversion_energy(self, bits: int, parallel_rows: int, r_on: float, v_read: float,
                          r_col: np.ndarray, t_sense: float, rows: int) -> np.ndarray:
        """J per conversion of a column of resistance ``r_col`` (one value per layer) in an array of ``rows``."""
        L = 2 ** bits
        scale = self.v_sim / v_read
        ref = self.references(bits, parallel_rows, r_on)
        p_ref = float(self.column_power(ref[1:] * scale).sum()) * (L - 1) / L
        p_col = self.column_power(np.asarray(r_col, dtype=float) * scale) * (L - 1)
        return self.switching_energy(bits, rows, v_read) + (p_col + p_ref) * t_sense + self.e_mux

    def column_resistance(self, rows_read: np.ndarray, density: np.ndarray, on_fraction: np.ndarray,
                          r_on: float, r_off: float) -> np.ndarray:
        """Ohm of a column whose ``rows_read x density`` selected cells conduct in parallel, a fraction
        ``on_fraction`` of them at R_on and the rest at R_off, each behind its access transistor."""
        ra = self.r_access_frac * r_on
        g_cell = on_fraction / (r_on + ra) + (1.0 - on_fraction) / (r_off + ra)
        g = np.asarray(rows_read, dtype=float) * np.asarray(density, dtype=float) * g_cell
        return 1.0 / np.maximum(g, 1e-30)

    def adc_area(self, bits: int) -> float:
        """m2 of one sense amplifier with its encoder and column mux: ``(L - 1)`` levels and the mux."""
        return (2 ** bits - 1) * self.a_level + self.a_mux

    # ---- shift-adds -----------------------------------------------------------------------------
    def adder_energy(self, bits: float) -> float:
        return self.e_add_bit * bits + self.e_add_fixed

    def shift_add_energy(self, adc_bits: int, weight_slices: int, weight_bits: int, input_bits: int) -> float:
        """J per conversion: ``(S - 1)`` weight shift-adds of ``b`` bit adds into ``b + W`` DFFs and one input
        shift-add of ``b + W`` bits into ``b + W + I`` DFFs per ``S`` columns of a weight."""
        S = max(1, weight_slices)
        g = self.e_dff * self.dff_activity
        b, W, I = adc_bits, weight_bits, input_bits
        weight = (S - 1) * (self.adder_energy(b) + (b + W) * g)
        inp = self.adder_energy(b + W) + (b + W + I) * g
        return (weight + inp) / S

    def partial_add_energy(self, adc_bits: int, chunks: int) -> float:
        """J per partial sum added when a column is read in ``chunks`` passes (partial parallel read)."""
        width = adc_bits + math.ceil(math.log2(max(chunks, 1)))
        return self.adder_energy(width) + width * self.e_dff * self.dff_activity

    # ---- time -----------------------------------------------------------------------------------
    def row_encoder_delay(self, cols: int, cols_per_adc: int, parallel_rows: int, bits: int, node_nm: float,
                          r_on: float, r_off: float) -> float:
        """s of the sensing cycle outside the sense amplifier: ``max(row switch, mux) + encoder`` (module
        docstring).  Widths in feature sizes ``F``; a gate's PMOS is ``pn`` times wider (``pn`` the NMOS over the
        PMOS on-current, NeuroSim's pnSizeRatio)."""
        rn, rp, rn_lin, rp_lin, cg, cd, r_wire, w_sm, w_inv, w_nand, w_drv, h_dec = self.delay
        F = node_nm * 1e-9
        pn = rp / rn
        ln2 = math.log(2.0)
        um = 1e-6
        cg, cd = cg / um, cd / um          # F per metre of width

        def r_n(w_m, lin=False):            # ohm of an NMOS w_m metres wide
            return (rn_lin if lin else rn) * um / w_m

        inv, nand = w_inv * F * (1 + pn), w_nand * F * (1 + pn / 2)   # total gate widths (m)
        # encoder: inverter into two NAND2 inputs, NAND2 (two NMOS in series) into the L/2-input NAND's inputs
        t_enc = gate_chain((r_n(w_inv * F) * (cd * inv + 2 * cg * nand),
                            2 * r_n(w_nand * F) * (cd * nand + (2 ** bits / 2) * cg * nand)))
        # row switch: NMOS and PMOS-sized pass gates (both as NMOS) into the word line and its wire
        sm = w_sm * F * (1 + pn)
        r_sm = 1.0 / (1.0 / r_n(w_sm * F, True) + 1.0 / r_n(w_sm * pn * F, True))
        c_wl = self.wordline_cap(cols, node_nm)
        r_wl = r_wire / um * cols * self.cell_w_F * F
        t_row = ln2 * (r_sm * ((2 * cd + cg / 2) * sm + c_wl) + r_wl * c_wl / 2)
        # column mux: a pass gate of R_tg = f R_avg / P (Mux.cpp:69-75), widths from that resistance
        ra = self.r_access_frac * r_on
        r_tg = self.r_access_frac * 2.0 / (1.0 / (r_on + ra) + 1.0 / (r_off + ra)) / parallel_rows
        w_n, w_p = rn_lin * um / (2 * r_tg), rp_lin * um / (2 * r_tg)
        t_tg = 2.3 * r_tg * (cd + cg / 2) * (w_n + w_p)
        # its decoder (RowDecoder.cpp:60-130, 330-420): a = log2(cols_per_adc) address bits; an inverter, a NAND2
        # predecoder and, above 2 bits, a NOR of a/2 inputs, each enlarged to fill the decoder's cell height in its
        # own N:P ratio; then an enable NAND and the sized driver (P then N stage) loading the NMOS, then the PMOS
        # gates of the cols / cols_per_adc pass gates it selects.  With 2 bits or fewer there is no NOR: the NAND2
        # (1 bit: the inverter) itself drives those NMOS gates, which slows a mux of few columns per ADC.
        a = max(1, math.ceil(math.log2(max(cols_per_adc, 2))))
        n_sel, drv = cols / cols_per_adc, w_drv * F * (1 + pn)
        load1, load2 = n_sel * cg * w_n, n_sel * cg * w_p

        def fill(n_F, p_F):                 # (N, P) metres of a gate enlarged to the decoder's cell height
            return h_dec * F * n_F / (n_F + p_F), h_dec * F * p_F / (n_F + p_F)

        inv_n, inv_p = fill(2, 2 * pn)
        nand_n, nand_p = fill(4, 2 * pn)
        nor_n, nor_p = fill(2, 2 * pn * math.ceil(a / 2))
        c_in = lambda n, p: cg * (n + p)    # noqa: E731 - input (gate) and output (drain) capacitance of a gate
        c_out = lambda n, p: cd * (n + p)   # noqa: E731
        taus = [r_n(inv_n) * (c_out(inv_n, inv_p) + (2 * c_in(nand_n, nand_p) if a >= 2 else load1))]
        if a >= 2:
            taus.append(2 * r_n(nand_n) * (c_out(nand_n, nand_p) + (c_in(nor_n, nor_p) * 2 ** a / 4 if a > 2 else load1)))
        if a > 2:
            taus.append(2 * rp * um / nor_p * (c_out(nor_n, nor_p) + c_in(nand_n, nand_p)))
        taus.append(r_n(nand_n) * (c_out(nand_n, nand_p) + c_in(inv_n, inv_p)))   # NeuroSim loads it so (l. 395)
        taus += [rp * um / (w_drv * pn * F) * ((cd + cg) * drv + load1), r_n(w_drv * F) * (cd * drv + load2)]
        t_dec = gate_chain(taus)
        return max(t_row, t_tg + t_dec) + t_enc

    def clock_period(self, t_sense: float, t_re: float) -> float:
        """s: the sensing cycle, beta x (sensing + row switch or mux, and encoder)."""
        return self.beta * (t_sense + t_re)


def parallel_rows(arch: Architecture) -> int:
    """Rows read at once per conversion: the key, or all rows."""
    return arch.read_rows


def chunks(arch: Architecture) -> int:
    """Conversions per column per input pulse: NeuroSim's ``numAdd = ceil(rows / parallel_rows)``."""
    return arch.row_chunks


def pulse_cycles(arch: Architecture) -> int:
    """Clocks one input pulse takes through an array: each mux phase, each row chunk."""
    return arch.cols_per_adc * arch.row_chunks


@lru_cache(maxsize=16)
def laws(library: str, node_nm: float | None = None) -> SubarrayLaws:
    """The library's laws at ``node_nm`` (its first ``by_node.node``, the node of its scalars, when None).

    NeuroSim's per-node tables (``by_node``) give the supply, read voltage, the sense amplifier's fits, the
    transistors' on-currents and gate capacitance, the wire resistance and two sizings; every capacitance sized
    in F moves with ``C_g,um x F`` (wires with ``F``), every switched energy with ``C_g,um x F x Vdd^2``, areas
    with ``F^2`` and the leakage with ``I_off x F x Vdd``, as NeuroSim computes them from the same transistors."""
    rec = techlib.circuit("subarray", library)
    nodes = [int(round(n)) for n in rec["by_node.node"]]
    ref = nodes[0]
    node = ref if node_nm is None else int(round(node_nm))
    return _laws_at(rec, nodes.index(node) if node in nodes else 0)    # another node: check_node refuses it


def _laws_at(rec, i: int) -> SubarrayLaws:
    def n(key, j=i):
        return float(rec[f"by_node.{key}"][j])

    F = n("node") / n("node", 0)
    cg_r = n("gate_capacitance_per_um") / n("gate_capacitance_per_um", 0)
    cap = F * cg_r                                           # a capacitance sized in F
    energy = cap * (n("vdd") / n("vdd", 0)) ** 2             # its C V^2 at the node's supply
    w_col, w_ref = rec["by_node.column_wire_fraction"], rec["by_node.reference_wire_fraction"]
    mult, vdd = rec["by_node.effective_resistance_multiplier"], n("vdd")
    um = 1e-6
    ion_n, ion_p = n("nmos_on_current") * um, n("pmos_on_current") * um     # A of a 1 um wide device
    fit = [n(f"mlsa_power_fit.{k}") for k in ("low_slope", "low_intercept", "mid_slope", "mid_intercept",
                                              "high_slope", "high_intercept")]
    lt = [n(f"mlsa_latency_fit.{k}") for k in ("low_slope", "low_intercept", "high_slope", "high_intercept")]
    w_sm = n("switch_matrix_width_F")
    return SubarrayLaws(
        file=rec.file, node_nm=n("node"), nodes=tuple(int(round(x)) for x in rec["by_node.node"]), vdd=vdd,
        v_read_ratio=n("read_voltage") / n("read_voltage", 0), c_wire=rec["wire_capacitance"],
        cell_w_F=rec["cell_width_in_F"], c_gate=rec["access_gate_capacitance"] * cap,
        c_drain=rec["access_drain_capacitance"] * cap,
        e_sm_row=rec["switch_matrix_energy_per_row"] * energy * w_sm / n("switch_matrix_width_F", 0),
        e_dff=rec["dff_energy_per_bit"] * energy, dff_activity=rec["dff_activity"],
        e_add_bit=rec["adder_energy_per_bit"] * energy, e_add_fixed=rec["adder_energy_fixed"] * energy,
        e_mux=rec["mux_energy_per_conversion"] * energy, beta=rec["latency_factor"],
        delay=(mult * vdd / ion_n, mult * vdd / ion_p, vdd / ion_n, vdd / ion_p, n("gate_capacitance_per_um"),
               rec["delay.drain_capacitance_per_um"] * cg_r, n("wire_resistance_per_um"), w_sm,
               rec["delay.encoder_inverter_width_F"], rec["delay.encoder_nand_width_F"], n("mux_driver_width_F"),
               rec["delay.decoder_gate_height_F"]),
        v_sim=rec["mlsa.simulation_read_voltage"],
        r_access_frac=rec["mlsa.access_resistance_fraction"], e_level=rec["mlsa.switching_energy_per_level"] * energy,
        c_col_row=rec["mlsa.column_capacitance_per_row"] * F * (w_col + (1 - w_col) * cg_r),
        c_ref_cell=rec["mlsa.reference_capacitance_per_cell"] * F * (w_ref + (1 - w_ref) * cg_r),
        pw=tuple(fit), pw_breaks=(rec["mlsa.power_fit.low_break"], rec["mlsa.power_fit.high_break"]),
        lt=tuple(lt), lt_break=rec["mlsa.latency_fit.break"], cap_thr=n("mlsa_latency_fit.cap_threshold"),
        cap_r2=rec["mlsa.latency_fit.cap_R2"], cap_dc=n("mlsa_latency_fit.cap_dC"),
        cap_ref=n("mlsa_latency_fit.cap_reference"), a_level=rec["mlsa.area_per_level"] * F ** 2,
        a_mux=rec["mux_area_per_adc"] * F ** 2,
        p_leak_array=rec["leakage_per_array"] * F * vdd / n("vdd", 0) * n("off_current") / n("off_current", 0))


def check_node(arch: Architecture, law: SubarrayLaws) -> None:
    if int(round(arch.node_nm)) not in law.nodes:
        raise ArchsimError(f"{arch.source}: key 'node_nm' = {arch.node_nm}: circuit library '{arch.circuits}' has its "
                           f"subarray laws at {', '.join(map(str, law.nodes))} nm only ({law.file}, by_node.node); "
                           f"allowed node_nm: {', '.join(map(str, law.nodes))}")

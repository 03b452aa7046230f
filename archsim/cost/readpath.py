"""Read-path timing of the default circuit library: stage times from geometry, bits and node, not presets.

With ``R`` rows, ``C`` columns, ``M`` columns per ADC, ``b`` ADC bits, cell pitch ``p`` (the square root
of the device's cell area at the node), node ``n`` and the constants of ``techlib/circuits/read_path.yaml``
at its reference node ``n0`` (wire capacitance ``c_w`` per length, access capacitance ``C_a``, gate delay
``t_g``, driver and sense resistances, supply ``V``):

- line capacitance: ``C_row = C (p c_w + C_a n/n0)``, ``C_col = R (p c_w + C_a n/n0)`` (wire along the line
  and one access device per cell, its width proportional to the feature size);
- row time: ``t_row = ceil(log2 R) t_g d(n) + ln 2 R_drv C_row``: the decoder's gate stages (``d`` the logic
  delay factor of ``techlib/circuits/scaling.yaml``) and the row line charged to half swing;
- settling: ``t_settle = ln 2 (b + 1) R_sense C_col``: the column line within half an LSB of ``b`` bits;
- time per input pulse: ``t_pulse = t_row + max(t_read, t_settle)``, ``t_read`` the device's integration window
  (the cell conducts for the window whatever the node: its energy is the device's);
- column multiplexer: ``M C_a (n/n0) V^2`` per conversion (the shared node sees ``M`` access devices);
- clock (``clock_Hz: auto``): the reference clock divided by ``d(n)``.

Every function broadcasts over numpy arrays of its arguments (a batch of design points in one call).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from archsim.cost.scaling import delay
from archsim.io import techlib


@dataclass(frozen=True)
class ReadPath:
    """The constants of one library's read-path timing, in SI at ``node_nm``."""

    file: str
    library: str
    node_nm: float
    c_wire: float         # F per m
    c_access: float       # F per cell at node_nm
    t_gate: float         # s at node_nm
    r_driver: float       # ohm
    r_sense: float        # ohm
    vdd: float            # V
    clock_ref: float      # Hz at node_nm

    def _per_cell(self, pitch_m, node_nm):
        return np.asarray(pitch_m, dtype=float) * self.c_wire + self.c_access * np.asarray(node_nm, dtype=float) / self.node_nm

    def row_capacitance(self, cols, pitch_m, node_nm):
        """F of one row line across ``cols`` cells."""
        return np.asarray(cols, dtype=float) * self._per_cell(pitch_m, node_nm)

    def column_capacitance(self, rows, pitch_m, node_nm):
        """F of one column line down ``rows`` cells."""
        return np.asarray(rows, dtype=float) * self._per_cell(pitch_m, node_nm)

    def gate_delay(self, node_nm):
        return self.t_gate * delay(node_nm, self.node_nm, self.library)

    def row_time(self, rows, cols, pitch_m, node_nm):
        """s to select a row and charge its line: the decoder's ceil(log2 rows) gates plus ln 2 R_drv C_row."""
        stages = np.ceil(np.log2(np.maximum(np.asarray(rows, dtype=float), 2.0)))
        return stages * self.gate_delay(node_nm) + np.log(2.0) * self.r_driver * self.row_capacitance(cols, pitch_m, node_nm)

    def settle_time(self, rows, bits, pitch_m, node_nm):
        """s for the column line to settle within half an LSB of ``bits``: ln 2 (bits + 1) R_sense C_col."""
        return (np.log(2.0) * (np.asarray(bits, dtype=float) + 1.0) * self.r_sense
                * self.column_capacitance(rows, pitch_m, node_nm))

    def pulse_time(self, t_read, rows, cols, bits, pitch_m, node_nm):
        """s per input pulse: the row time, then the longer of the device's window and the column settling."""
        return self.row_time(rows, cols, pitch_m, node_nm) + np.maximum(
            t_read, self.settle_time(rows, bits, pitch_m, node_nm))

    def mux_energy(self, cols_per_adc, node_nm):
        """J per conversion on the column multiplexer's shared node: cols_per_adc access devices charged to V."""
        return (np.asarray(cols_per_adc, dtype=float) * self.c_access * np.asarray(node_nm, dtype=float) / self.node_nm
                * self.vdd ** 2)

    def clock(self, node_nm):
        """Hz of the digital clock at ``node_nm`` (clock_Hz auto): the reference clock over the delay factor."""
        return self.clock_ref / delay(node_nm, self.node_nm, self.library)


@lru_cache(maxsize=16)
def read_path(library: str = "default") -> ReadPath:
    rec = techlib.circuit("read_path", library)
    return ReadPath(file=rec.file, library=library, node_nm=rec["node"], c_wire=rec["wire_capacitance"],
                    c_access=rec["access_capacitance"], t_gate=rec["gate_delay"], r_driver=rec["driver_resistance"],
                    r_sense=rec["sense_resistance"], vdd=rec["supply_voltage"], clock_ref=rec["digital_clock"])

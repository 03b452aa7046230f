"""What a programmed matrix's shape implies: arrays, conversion units, scales, and views for reports.

A mixin of :class:`archsim.sim.tilesim.programmed.ProgrammedMatrix`: properties derived from its fields
(nothing here is stored), and read-only views of the programmed cells for tests and reports.
"""
from __future__ import annotations

import numpy as np

from archsim.mapping.layout import LayerMap
from archsim.model.errors import ArchsimError
from archsim.sim.tilesim.support import _ir_drop_on


def row_partition(lm: LayerMap, arch) -> tuple[tuple, tuple]:
    """``(arrays, chunks)``: the ``(r0, r1)`` row range (array order, :meth:`LayerMap.row_order`) of each physical
    row block (:meth:`LayerMap.row_ranges`), and of each row chunk converted on its own: every array is read
    ``arch.row_chunks`` times, ``parallel_rows`` rows at a time (``parallel_rows`` auto: once, all its rows).  The
    chunks of array ``i`` are ``chunks[i * row_chunks:(i + 1) * row_chunks]``; a chunk past the array's used rows
    is empty (``r0 == r1``): the hardware still converts it (the cost model counts it); it carries no current and its
    conversions read 0, so the simulator counts it without computing it."""
    arrays = lm.row_ranges(arch.rows)
    n, pr = arch.row_chunks, arch.read_rows
    chunks = tuple((min(a1, a0 + q * pr), min(a1, a0 + (q + 1) * pr)) for a0, a1 in arrays for q in range(n))
    return arrays, chunks


class MatrixGeometry:
    """Derived quantities of a programmed matrix (the fields live on the dataclass that inherits this)."""

    # ------------------------------------------------------------------ shape helpers
    @property
    def groups(self) -> int:
        return self.lm.groups

    @property
    def K(self) -> int:
        return self.lm.K

    @property
    def Ng(self) -> int:
        return self.lm.N // self.lm.groups

    @property
    def N(self) -> int:
        return self.lm.N

    @property
    def slices(self) -> int:
        return self.lm.slices

    @property
    def n_units(self) -> int:
        """Conversion units per (group, row block, slice): 2 for a pair read digitally, else 1."""
        return len(self.signs)

    @property
    def ir_drop(self) -> bool:
        """Whether the arrays are read through their effective matrices (parasitics on)."""
        return _ir_drop_on(self.cfg, self.arch, self.device)

    @property
    def analog_pair(self) -> bool:
        return self.lm.copies == 2 and self.lm.conversions == 1

    @property
    def row_chunks(self) -> int:
        """Row chunks each array is read in (``arch.row_chunks``; 1 without ``parallel_rows``)."""
        return len(self.row_bounds) // len(self.array_bounds)

    @property
    def n_arrays(self) -> int:
        """Arrays simulated (equals ``lm.arrays``)."""
        return len(self.blocks)

    @property
    def conv_mode(self) -> int:
        """0: digital pulses; 1: pulses accumulated in analog, one conversion; 2: ideal DAC."""
        if self.cfg.ideal_dac:
            return 2
        return 1 if self.arch.input_accumulation == "analog" else 0

    @property
    def n_conv(self) -> int:
        """Conversions per column per vector."""
        return self.arch.input_pulses if self.conv_mode == 0 else 1

    @property
    def conversions_per_vector(self) -> int:
        """ADC conversions per input vector over all arrays (``lm.col_reads x row chunks x conversions per
        vector``: one per column, row chunk, unit and pulse)."""
        return self.groups * len(self.row_bounds) * self.slices * self.n_units * self.Ng * self.n_conv

    @property
    def conv_coef(self) -> np.ndarray:
        """Shift-and-add weight of each conversion."""
        if self.conv_mode == 0:
            return np.array([float(1 << (self.arch.dac_bits * p)) for p in range(self.n_conv)])
        return np.ones(1)

    @property
    def x_code_max(self) -> int:
        n = self.arch.input_bits
        return (1 << (n - 1)) - 1 if self.x_signed else (1 << n) - 1

    @property
    def x_scale(self) -> float:
        """Input value -> DAC code units."""
        return self.x_code_max / self.x_max if self.calibrated else 1.0

    @property
    def v_max(self) -> float:
        """Largest |pulse code| of one conversion (the DAC full scale)."""
        if self.conv_mode == 0:
            return float((1 << self.arch.dac_bits) - 1)
        return float(self.x_code_max) if self.calibrated else 1.0

    @property
    def slice_weights(self) -> tuple:
        """Weight of each slice in the digital sum, least significant first: ``2^(b s)`` for bit slices;
        ``(1, F)`` for conductance pairs (``mapping: pairs``: the LSP, then the MSP with its gain)."""
        if self.arch.pairs:
            return (1.0, float(self.arch.pair_gain))
        return tuple(float(1 << (self.bits_per_cell * s)) for s in range(self.slices))

    @property
    def out_scale(self) -> float:
        return (self.w_scale / self.wmax_code) / self.x_scale

    def unit_index(self, g: int, rb: int, s: int, cu: int) -> int:
        return ((g * len(self.row_bounds) + rb) * self.slices + s) * self.n_units + cu

    @property
    def input_rows(self) -> np.ndarray:
        """The array row (int64) of each matrix row: the inverse of ``row_order`` (the identity without one)."""
        if self.row_order is None:
            return np.arange(self.K, dtype=np.int64)
        return np.argsort(self.row_order).astype(np.int64)

    # ------------------------------------------------------------------ views for tests and reports
    def _matrix_order(self, a: np.ndarray) -> np.ndarray:
        """``a`` (..., K, Ng) with its rows back in matrix order (the cells are held in array order)."""
        return a if self.row_order is None else a[..., self.input_rows, :]

    def quantized_weights(self) -> np.ndarray:
        """The weights the codes represent, (groups, K, Ng): what an exact analog array computes."""
        sl = np.array(self.slice_weights)
        mag = np.tensordot(sl, self.codes.astype(np.float64), axes=([0], [1]))  # (C, G, K, Ng)
        q = mag[0] - mag[1] if self.lm.copies == 2 else mag[0] - self.offset_code
        return self._matrix_order(q * (self.w_scale / self.wmax_code))

    def conductances(self, which: str = "programmed") -> np.ndarray:
        """Cell conductances in S, (copies, slices, groups, K, Ng) (rows in matrix order): ``programmed`` or
        ``target``."""
        if which == "target":
            return self._matrix_order((self.gmin_u + self.codes.astype(np.float64)) * self.g_unit)
        if which == "programmed":
            return self._matrix_order(self.G * self.g_unit)
        raise ArchsimError(f"conductances: which = {which!r} is not allowed; allowed: programmed, target")

    def read_sigma(self) -> np.ndarray:
        """Per-cell read-noise standard deviation in S (zeros without read noise; rows in matrix order)."""
        return np.zeros(self.G.shape) if self.S2 is None else \
            self._matrix_order(np.sqrt(self.S2.astype(np.float64)) * self.g_unit)

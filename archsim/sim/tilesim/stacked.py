"""The matrices a programmed matrix's column-current products read, and the precision they run in.

A mixin of :class:`archsim.sim.tilesim.programmed.ProgrammedMatrix` (the fields live on the dataclass that
inherits it): the float32 error bound behind ``precision='auto'``, and the conductance (and read-noise variance)
matrices of every conversion unit stacked side by side per (group, row block), built once and cached.
"""
from __future__ import annotations

import numpy as np


class StackedMatrices:
    """Compute precision and stacked matrices of a programmed matrix (cached in its ``_stacked``)."""

    def float32_error_bound(self) -> np.ndarray:
        """Worst-case error of a float32 column current, in units of that column's ADC step, per
        (group, row block, slice, unit, column): shape like ``adc_step``.

        A float32 dot product of ``n`` terms (inputs and conductances rounded to float32 first, any
        summation order, with or without fused multiply-add) is within ``gamma_{n+2} sum_i |v_i g_ij|``
        of the exact sum, ``gamma_m = m u / (1 - m u)``, ``u = 2^-24`` (Higham, *Accuracy and Stability
        of Numerical Algorithms*, 2nd ed., eq. 3.5, one extra ``u`` for each operand's rounding);
        ``sum_i |v_i g_ij| <= v_max sum_i |g_ij|`` (``v_max`` the largest pulse code)."""
        u = 2.0 ** -24
        out = np.empty_like(self.adc_step)
        absG = np.abs(self.Gfast)
        for rb, (r0, r1) in enumerate(self.row_bounds):
            m = (r1 - r0) + 2
            gamma = m * u / (1.0 - m * u)
            colsum = absG[:, :, :, r0:r1].sum(axis=3)          # (CU, S, G, Ng)
            bound = gamma * self.v_max * colsum.transpose(2, 1, 0, 3)   # (G, S, CU, Ng)
            out[:, rb] = bound / self.adc_step[:, rb]
        return out

    #: ``precision='auto'`` computes the column currents in float32 where the float32 error bound
    #: (:meth:`float32_error_bound`) of every conversion is below this fraction of its ADC step
    AUTO_FLOAT32_STEP_FRACTION = 1.0 / 64

    @property
    def compute_dtype(self) -> np.dtype:
        """The dtype of the column-current products: ``cfg.precision``, or for ``auto`` float32 where
        :meth:`float32_error_bound` stays below ``AUTO_FLOAT32_STEP_FRACTION`` of every ADC step (with
        an ADC, a finite DAC, and no IR-drop solve needed), float64 otherwise."""
        p = self.cfg.precision
        if p != "auto":
            return np.dtype(p)
        key = ("dtype",)
        dt = self._stacked.get(key)
        if dt is None:
            ok = (self.calibrated and not self.cfg.ideal_adc and not self.cfg.ideal_dac
                  and float(self.float32_error_bound().max()) <= self.AUTO_FLOAT32_STEP_FRACTION)
            dt = self._stacked[key] = np.dtype(np.float32 if ok else np.float64)
        return dt

    @property
    def _v2_is_v(self) -> bool:
        """Whether every pulse code is 0 or 1 (unsigned inputs, 1-bit pulses): then ``v^2 = v`` and the
        read-noise variance product can ride in the current product."""
        if self.x_signed or self.conv_mode == 2:
            return False
        if self.conv_mode == 1:
            return self.x_code_max == 1
        return self.arch.dac_bits == 1 or self.x_code_max == 1

    def _stack(self, dt, g: int, rb: int, fuse_var: bool) -> np.ndarray:
        """(rows of the block, U * Ng [+ U * Ng]) matrix of every unit (slice-major, then unit) of row
        block ``rb``, with the variance matrices appended when ``fuse_var``."""
        key = (dt.str, g, rb, fuse_var)
        A = self._stacked.get(key)
        if A is None:
            r0, r1 = self.row_bounds[rb]
            parts = [self.Gfast[cu, s, g, r0:r1] for s in range(self.slices) for cu in range(self.n_units)]
            if fuse_var:
                parts += [self.S2fast[cu, s, g, r0:r1] for s in range(self.slices) for cu in range(self.n_units)]
            A = np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=dt)
            A.flags.writeable = False
            self._stacked[key] = A
        return A

    def _stack_var(self, g: int, rb: int) -> np.ndarray:
        key = ("var", g, rb)
        A = self._stacked.get(key)
        if A is None:
            r0, r1 = self.row_bounds[rb]
            A = np.ascontiguousarray(np.concatenate(
                [self.S2fast[cu, s, g, r0:r1] for s in range(self.slices) for cu in range(self.n_units)], axis=1),
                dtype=np.float32)
            A.flags.writeable = False
            self._stacked[key] = A
        return A

    def _transposed(self, A: np.ndarray) -> np.ndarray:
        """A C-ordered copy of the stacked matrix ``A``'s transpose, kept beside it."""
        key = ("T", id(A))
        T = self._stacked.get(key)
        if T is None:
            T = np.ascontiguousarray(A.T)
            T.flags.writeable = False
            self._stacked[key] = T
        return T

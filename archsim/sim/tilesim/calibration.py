"""Calibrating a programmed matrix: its input range and the ADC ranges of every conversion unit.

A mixin of :class:`archsim.sim.tilesim.programmed.ProgrammedMatrix` (the fields live on the dataclass that
inherits it): :meth:`Calibration.calibrate` and :meth:`Calibration.with_shared_adc_range` return copies with the
ranges set by the converter policies of :mod:`archsim.sim.tilesim.ranges`.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from archsim.model.errors import ArchsimError
from archsim.sim.tilesim.ranges import adc_policy, calibration_stats, dac_full_scale


class Calibration:
    """The converter ranges of a programmed matrix, set from calibration inputs (frozen style: copies)."""

    def calibrate(self, X: np.ndarray) -> "ProgrammedMatrix":
        """A copy with the input range (``dac_range``) and (``adc_range`` array or layer) the ADC ranges
        set from ``X``.  The sign of the inputs (unsigned or signed DAC codes) is always taken from ``X``.

        The original object is unchanged (frozen style)."""
        X3, _ = self._inputs3(X, check_finite=True)
        x_max = dac_full_scale(self.arch, X3)
        signed = bool(X3.size and (X3 < 0).any())
        if signed and self.arch.input_bits < 2:
            raise ArchsimError(f"layer '{self.layer}': signed calibration inputs need input_bits >= 2 "
                               f"({self.arch.source}); allowed: non-negative inputs or input_bits >= 2")
        pm = dataclasses.replace(self, calibrated=True, x_max=x_max if x_max > 0 else 1.0, x_signed=signed)
        stats = None
        if adc_policy(self.arch, self.cfg)[0] in ("array", "layer") and not self.cfg.ideal_adc and X3.shape[1] > 0:
            stats = calibration_stats(pm, X3)
        return pm._with_ranges(stats)

    def with_shared_adc_range(self, full: float) -> "ProgrammedMatrix":
        """A copy whose calibrated arrays all get the full scale ``full`` (in the units of ``adc_full``): how
        ``adc_range: layer`` shares one range over the groups of a grouped layer, each programmed on its own."""
        if self.adc_full is None:
            raise ArchsimError(f"layer '{self.layer}': no calibrated ADC ranges to share (adc_range "
                               f"'{adc_policy(self.arch, self.cfg)[0]}'); allowed after calibrate() with "
                               f"adc_range array or layer")
        return self._with_ranges(np.full_like(self.adc_full, float(full)))

    def _with_ranges(self, stats: np.ndarray | None) -> "ProgrammedMatrix":
        """ADC (lo, step, 1/step) per column of every conversion unit, by the ``adc_range`` policy:
        ``stats`` (calibrated full scale per array, :func:`~archsim.sim.tilesim.ranges.calibration_stats`) for array, their max over
        the layer's arrays for layer; fixed: ``adc_full_scale x arch.rows x v_max x g_top``."""
        RB = len(self.row_bounds)
        bits = self.arch.adc_bits
        signed = self.x_signed or self.analog_pair
        per_code = float((1 << (bits - 1)) - 1) if signed else float((1 << bits) - 1)
        step = np.ones((self.groups, RB, self.slices, self.n_units, self.Ng))
        policy = adc_policy(self.arch, self.cfg)[0]
        if policy == "layer" and stats is not None:
            stats = np.full_like(stats, stats.max())
        if policy != "granular":
            g_top = (self.gmax_u - self.gmin_u) if self.analog_pair else self.gmax_u
            for rb, (r0, r1) in enumerate(self.row_bounds):
                for cb, (q0, q1) in enumerate(self.col_bounds):
                    if policy == "max":
                        full = np.full(step.shape[:1] + step.shape[2:4], (r1 - r0) * self.v_max * g_top)
                    elif policy == "fixed":
                        full = np.full(step.shape[:1] + step.shape[2:4],
                                       self.arch.adc_full_scale * self.arch.read_rows * self.v_max * g_top)
                    elif stats is None:
                        continue  # not calibrated yet: granular placeholder, matmul refuses to run
                    else:
                        full = stats[:, rb, :, :, cb]
                    st = np.where(full > 0, full / per_code, 1.0)
                    step[:, rb, :, :, q0:q1] = st[..., None]
        lo = -float(1 << (bits - 1)) * step if signed else np.zeros_like(step)
        inv = 1.0 / step
        for a in (lo, step, inv):
            a.flags.writeable = False
        if stats is not None:
            stats.flags.writeable = False
        return dataclasses.replace(self, adc_lo=lo, adc_step=step, adc_inv=inv, adc_full=stats)

"""Converter range policies: which ADC and DAC full scales a simulation uses, and how it says so.

The policies are architecture keys (:class:`archsim.model.arch.Architecture`: ``adc_range``,
``adc_percentile``, ``adc_full_scale``, ``dac_range``, ``dac_percentile``, ``dac_full_scale``);
``SimConfig.adc_range`` / ``SimConfig.calib_percentile`` may override the ADC's for one simulation.
:class:`~archsim.sim.tilesim.programmed.ProgrammedMatrix` applies them when it calibrates.
"""
from __future__ import annotations

import numpy as np

from archsim.sim.tilesim import support
from archsim.sim.tilesim.config import SimConfig


def adc_policy(arch, cfg: SimConfig) -> tuple[str, float]:
    """``(scope, percentile)`` of the ADC ranges: the architecture's ``adc_range`` / ``adc_percentile``
    unless ``cfg`` overrides them (``calibrated`` reads as ``array``)."""
    scope = str(arch.adc_range) if cfg.adc_range is None else cfg.adc_range
    pct = float(arch.adc_percentile) if cfg.calib_percentile is None else float(cfg.calib_percentile)
    return ("array" if scope == "calibrated" else scope), pct


def range_policy(arch, cfg: SimConfig, digital: bool = False) -> dict:
    """The converter ranges in force, in words: ``{"adc_range": ..., "dac_range": ...}`` (what the accuracy
    results and reports print); ``digital``: the device is digital compute-in-memory (no ADC)."""
    scope, pct = adc_policy(arch, cfg)
    stat = "max" if pct >= 100.0 else f"p{pct:g}"
    if digital:
        adc = "none: digital adder trees sum the columns exactly (no ADC)"
    elif cfg.ideal_adc:
        adc = "ideal ADC (no quantization)"
    elif scope == "array":
        adc = f"array: {stat} of calibration |I| per array"
    elif scope == "layer":
        adc = f"layer: largest array {stat} of calibration |I|"
    elif scope == "fixed":
        adc = f"fixed: {arch.adc_full_scale:g} x worst-case array current"
    elif scope == "max":
        adc = "max: worst-case current"
    else:
        adc = "granular: one LSB per conductance step"
    if cfg.ideal_dac:
        dac = "ideal DAC (exact inputs)"
    elif str(arch.dac_range) == "fixed":
        dac = f"fixed: {arch.dac_full_scale:g} at the top code"
    else:
        dps = float(arch.dac_percentile)
        dac = "calibrated: " + ("max |x|" if dps >= 100.0 else f"p{dps:g} of |x|") + " per layer"
    return {"adc_range": adc, "dac_range": dac}


def dac_full_scale(arch, X: np.ndarray) -> float:
    """The input value at the DAC's top code: ``dac_full_scale`` (``dac_range: fixed``), else the
    ``dac_percentile`` percentile of ``|x|`` over every element of the calibration batch ``X`` (100: the max;
    a percentile of 0, as when most inputs are zero, falls back to the max; 0 for an empty batch)."""
    if str(arch.dac_range) == "fixed":
        return float(arch.dac_full_scale)
    if not X.size:
        return 0.0
    A = np.abs(X)
    top = float(A.max())
    p = float(arch.dac_percentile)
    if p >= 100.0:
        return top
    q = float(np.percentile(A, p))
    return q if q > 0 else top


def calibration_stats(pm, X3: np.ndarray) -> np.ndarray:
    """Full scale per (group, row block, slice, unit, column block): percentile of |I|, no noise, no ADC."""
    RB, CB = len(pm.row_bounds), len(pm.col_bounds)
    stats = np.zeros((pm.groups, RB, pm.slices, pm.n_units, CB))
    pct = adc_policy(pm.arch, pm.cfg)[1]
    keep: dict = {}
    B = X3.shape[1]
    bc = max(1, min(B, pm.cfg.chunk_elements // (pm.n_conv * max(pm.Ng, pm.K))))
    # BLAS on one thread: these products are small, and a multi-threaded BLAS that waits for a
    # descheduled worker on every call made calibration 5-7x slower on a busy machine (same sums:
    # OpenBLAS splits rows and columns across threads, never the inner dimension)
    with support.blas_single_thread():
        for c0 in range(0, B, bc):
            c1 = min(B, c0 + bc)
            for g in range(pm.groups):
                V, _, V2d, _ = pm._quantize(X3[g, c0:c1], False)
                for rb, (r0, r1) in enumerate(pm.row_bounds):
                    if r1 == r0:
                        continue          # an empty row chunk (parallel_rows): no current, granular step
                    for s in range(pm.slices):
                        for cu in range(pm.n_units):
                            I = np.abs(V2d[:, r0:r1] @ pm.Gfast[cu, s, g, r0:r1])
                            for cb, (q0, q1) in enumerate(pm.col_bounds):
                                blk = I[:, q0:q1]
                                if pct >= 100.0:
                                    stats[g, rb, s, cu, cb] = max(stats[g, rb, s, cu, cb], float(blk.max()))
                                else:
                                    keep.setdefault((g, rb, s, cu, cb), []).append(blk.ravel())
    for k, parts in keep.items():
        stats[k] = float(np.percentile(np.concatenate(parts), pct))
    return stats

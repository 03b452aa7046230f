"""What a Monte Carlo tile simulation includes: :class:`SimConfig`."""
from __future__ import annotations

import math
from dataclasses import dataclass

from archsim.model.errors import ArchsimError

#: ``SimConfig.adc_range`` overrides: the architecture's choices (``adc_range`` key) and ``calibrated``,
#: the former name of ``array``
ADC_RANGES = ("array", "layer", "fixed", "max", "granular", "calibrated")
PRECISIONS = ("auto", "float64", "float32")


@dataclass(frozen=True)
class SimConfig:
    """Error sources and converter policies of one simulation.

    Device quantities come from the techlib record; the fields here switch them on or off or
    override them.

    - ``prog_error``: programming error from the device's ``programming_error`` section.
    - ``read_noise``: fresh per-cell read noise on every MVM (``read_noise`` section; none if absent).
    - ``time_s``: time after programming for drift (``drift`` section; none if absent) and for the
      1/f read-noise window.
    - ``stuck_on_rate`` / ``stuck_off_rate``: fraction of cells stuck at g_max / g_min; ``None``: the
      device's ``stuck.on_rate`` / ``stuck.off_rate`` (0 if absent).
    - ``d2d_sigma_rel``: static per-cell relative variation N(1, sigma); ``None``: device's
      ``d2d.sigma_rel`` (0 if absent).
    - ``adc_range``: ``None`` (default): the architecture's ``adc_range`` key; else an override of it:
      ``array`` (full scale from a calibration batch, per array; ``calibrated`` is its former name),
      ``layer`` (one full scale shared by all arrays of a layer), ``fixed`` (the architecture's
      ``adc_full_scale``), ``max`` (worst-case full scale: every row at full input on a g_max cell),
      ``granular`` (one LSB = the current of one input step on one conductance step).
    - ``calib_percentile``: ``None`` (default): the architecture's ``adc_percentile``; else an override
      of it: the percentile of the calibration currents taken as full scale.
    The policies in force are stated by :func:`archsim.sim.tilesim.ranges.range_policy` (and in every
    accuracy result).
    - ``ideal_adc`` / ``ideal_dac``: skip output / input quantization.
    - ``ir_drop``: model IR drop where the architecture sets parasitics (``r_wire_ohm``, ``r_in_ohm``,
      ``r_out_ohm``): every programmed array is replaced by its effective matrix
      (:func:`archsim.sim.crossbar.effective_matrix`); ``False`` keeps ideal wires whatever the
      architecture says.  Read noise is drawn on the cells' own conductances (its spread is not
      passed through the wires: a second-order effect, stated as an assumption).
    - ``precision``: dtype of the column-current matrix products: ``float64``, ``float32``, or ``auto``
      (default): float32 where its proven worst-case rounding error stays below 1/64 of every ADC
      step (:meth:`ProgrammedMatrix.float32_error_bound`), float64 otherwise; the read-noise
      variance product always runs in float32 (only its square root scales the noise).
    - ``parallel``: run the Numba kernels with ``prange`` over the batch where a call has enough work
      (results are identical either way).  It pays only where the OpenMP threads of the kernels and
      the BLAS threads do not spin after their work (``OMP_WAIT_POLICY=PASSIVE`` and
      ``OPENBLAS_THREAD_TIMEOUT=4`` set before numpy and numba load); otherwise the two thread pools
      steal each other's cores and it is several times slower than the serial default on a small
      machine (see ``benchmarks/bench_tilesim.py``).
    - ``threads``: threads that split the rows (images) of one MVM, each with a single-threaded BLAS;
      0 (default): the usable cores when threadpoolctl is installed (``pip install archsim[fast]``),
      else 1.  Results do not depend on it (every random number is keyed by its global row).
    - ``chunk_elements``: bound on the elements of one block of column currents; batches are cut
      into row chunks to keep memory bounded (results do not depend on it).
    """

    prog_error: bool = True
    read_noise: bool = True
    time_s: float = 0.0
    stuck_on_rate: float | None = None
    stuck_off_rate: float | None = None
    d2d_sigma_rel: float | None = None
    adc_range: str | None = None
    calib_percentile: float | None = None
    ideal_adc: bool = False
    ideal_dac: bool = False
    ir_drop: bool = True
    precision: str = "auto"
    parallel: bool = False
    chunk_elements: int = 1 << 19
    threads: int = 0

    def __post_init__(self):
        def bad(key, allowed):
            return ArchsimError(f"SimConfig: key '{key}' = {getattr(self, key)!r} is not allowed; {allowed}")

        for key in ("prog_error", "read_noise", "ideal_adc", "ideal_dac", "ir_drop", "parallel"):
            if not isinstance(getattr(self, key), bool):
                raise bad(key, "allowed true or false")
        if not _finite(self.time_s) or not 0 <= self.time_s <= MAX_TIME_S:
            raise bad("time_s", f"allowed a time of 0 to {MAX_TIME_S:g} s (100 years)")
        for key in ("stuck_on_rate", "stuck_off_rate"):
            v = getattr(self, key)
            if v is not None and (not _finite(v) or not 0.0 <= v <= 1.0):
                raise bad(key, "allowed None (device value) or 0 to 1")
        if (self.stuck_on_rate or 0.0) + (self.stuck_off_rate or 0.0) > 1.0:
            raise ArchsimError("SimConfig: stuck_on_rate + stuck_off_rate exceeds 1; allowed a sum of 0 to 1")
        if self.d2d_sigma_rel is not None and (not _finite(self.d2d_sigma_rel) or self.d2d_sigma_rel < 0):
            raise bad("d2d_sigma_rel", "allowed None (device value) or >= 0")
        if self.adc_range is not None and self.adc_range not in ADC_RANGES:
            raise bad("adc_range", f"allowed: None (the architecture's), {', '.join(ADC_RANGES)}")
        if self.calib_percentile is not None and (not _finite(self.calib_percentile)
                                                  or not 0.0 < self.calib_percentile <= 100.0):
            raise bad("calib_percentile", "allowed None (the architecture's adc_percentile) or above 0 up to 100")
        if self.precision not in PRECISIONS:
            raise bad("precision", f"allowed: {', '.join(PRECISIONS)}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 0:
            raise bad("threads", "allowed an integer >= 0 (0: the usable cores)")
        if (isinstance(self.chunk_elements, bool) or not isinstance(self.chunk_elements, int)
                or self.chunk_elements < 1):
            raise bad("chunk_elements", "allowed an integer >= 1")


#: the longest time after programming a drift law is evaluated at (s): 100 years, ten times the usual 10-year
#: retention specification (a limit of the tool, not a physical figure: the power-law drift of a PCM cell is
#: finite there, while 1e300 years underflows to NaN)
MAX_TIME_S = 100 * 365.25 * 86400.0


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

"""Monte Carlo tile simulator: a weight matrix programmed on crossbar arrays, read with noise.

Usage::

    from archsim.sim import tilesim
    m = archsim.map_workload(workload, arch)               # the mapping decides the device and the split
    pm = tilesim.ProgrammedMatrix.program(W, m.layer(name), arch, m.device,
                                          tilesim.SimConfig(time_s=86400), seed=(seed, trial, layer))
    pm = pm.calibrate(X_calibration)                       # input range and ADC ranges
    Y = pm.matmul(X, key=(batch,), first_row=row0)         # ~ X @ W, with every modelled error

The matrix is split exactly as ``LayerMap.blocks`` enumerates the arrays; each array digitizes its
own partial sums.  :mod:`.programmed` holds the programmed matrix (construction, inputs, the MVM),
:mod:`.geometry` what its shape implies, :mod:`.calibration` its converter ranges and :mod:`.stacked` the
matrices its products read and their precision (the three are mixins it inherits); :mod:`.support` programs the cells with every device error
(laws in :mod:`archsim.model.device_laws`) and holds seeds, scratch buffers and IR drop;
:mod:`.pairs` the closed-loop programming of conductance pairs;
:mod:`.kernels` the Numba kernels and :mod:`.rng` the counter-based random numbers, each with a numpy
twin; :mod:`.reference` the plain-numpy twin of the whole pipeline.  The model is below.

The model
---------
Model (each choice stated where the sources are silent):

Split.  The ``K x N`` matrix of a layer (per group) is cut exactly as
:meth:`archsim.mapping.layout.LayerMap.blocks` enumerates it: row blocks of ``arch.rows``, column blocks of
``arch.cols``, ``lm.slices`` bit slices, ``lm.copies`` arrays per slice (G+ and G- of a differential
pair, or one offset array).  With ``conv_mapping: kernel_position`` the rows are first put in array order
(:meth:`~archsim.mapping.layout.LayerMap.row_order`: each kernel position's input channels together, each
position starting a new, possibly partly filled, array); the cells are programmed in matrix order and then
placed, and the inputs are gathered into the same order.  Every array digitizes its own column currents (per
input pulse and per row chunk: ``parallel_rows`` rows read at once, ``arch.row_chunks`` reads per array), so
partial sums are rounded where the hardware rounds them.

Weights.  Symmetric quantization with one scale per layer, ``w_scale = max|W|``.  Differential
mapping: ``q = rint(W / w_scale * (2^m - 1))`` with ``m = weight_bits - 1`` magnitude bits (at least
1, as in the mapping); ``q > 0`` is stored in G+, ``-q`` in G-, the other array of the pair holds 0
(its cells sit at ``g_min``).  Offset mapping: ``q = rint(W / w_scale * Q)``, ``Q = 2^(weight_bits-1)
- 1``, stores ``u = q + Q`` in ``[0, 2Q]`` (``weight_bits`` bits) in one array; ``Q * sum(x)`` is
subtracted digitally; with ``weight_bits = 1`` the weights are binary, ``W = (2u - 1) w_scale`` with
``u = 1`` where ``W >= 0`` (the XNOR-like +-1 encoding of SRAM macros: codes about an offset of 1/2).  A magnitude is cut into ``lm.slices`` cells of ``b = bits_per_cell`` bits
(:func:`archsim.mapping.layout.resolve_bits_per_cell`), slice 0 least significant; slice value
``s in [0, 2^b - 1]`` is programmed to ``g_min + s (g_max - g_min) / (2^b - 1)``.

Conductance pairs (``mapping: pairs``, Narayanan et al. (IBM 2019)): ``W = F (G+ - G-) + (g+ - g-)``; the two "slices" are
the less significant pair (slice 0, weight 1) and the more significant one (slice 1, weight ``F =
arch.pair_gain``), every cell with ``2^b - 1`` levels (the LSP up to ``floor(lsp_range (2^b - 1))``);
``q = W / w_scale * (F L + L_lsp)`` is programmed in the closed loop of :mod:`.pairs` (MSP first, then
the LSP correcting the residual the verify read finds), so ``codes`` are the targets that loop chose.

Internally conductances are held in units of that step ``dg = (g_max - g_min) / (2^b - 1)`` and
inputs in integer DAC codes, so a column current is ``sum_i v_i g_ij`` in units of one input step
on one conductance step: the granular ADC's LSB.

Device errors (laws in :mod:`archsim.model.device_laws`), applied in this order to every cell:
device-to-device variation ``g *= 1 + d2d * N(0, 1)``; programming error ``g += sigma_prog(g_T) N(0, 1)``
(``g_T`` the target); clip to ``[0, clip_max]``; drift ``g *= ((t + t0)/t0)^-nu`` (``nu`` drawn per cell
from ``g_T``); stuck cells (stuck-on: ``g_max``, stuck-off: ``g_min``; they neither drift nor carry
programming error); read noise per read with ``sigma_read(g)`` of the drifted state.  A
``kind: digital`` device (SRAM) is exact; explicit stuck rates still apply to it.

Inputs.  ``calibrate(X)`` sets the input range ``x_max`` by the architecture's ``dac_range``:
``calibrated``: the ``dac_percentile`` percentile of ``|X|`` over a calibration batch (100: ``max|X|``);
``fixed``: ``dac_full_scale``; larger inputs clip to the top code.  Inputs
are unsigned when that batch is non-negative (``2^n - 1`` codes, negative inputs later clip to 0),
signed otherwise (``2^(n-1) - 1`` magnitude codes, the sign applied to the pulse voltage).  Bit
serial: the magnitude is applied in ``arch.input_pulses`` pulses of ``arch.dac_bits`` bits, least
significant first; each pulse is converted and shift-added (``x 2^(dac_bits p)``).  With
``input_accumulation: analog`` the pulses' charges add on the column (binary weighted) and one
conversion per vector digitizes the sum.  ``ideal_dac`` applies the exact value ``x / x_max`` as one
analog pulse (and without calibration the raw ``x``).

ADC.  Per array and per conversion: ``code = clip(rint((I - lo) / step), 0, 2^adc_bits - 1)``, the
value ``lo + code * step``.  A range is unsigned (``lo = 0``, full scale ``(2^B - 1) step``) when no
negative current can occur (unsigned inputs, each array read on its own) and signed otherwise (two's
complement codes ``-2^(B-1) .. 2^(B-1) - 1``, zero exact, ``step = full / (2^(B-1) - 1)``).  Full
scale per array by the architecture's ``adc_range`` (or ``SimConfig.adc_range``): ``array``: the
``adc_percentile`` percentile of ``|I|`` over the calibration batch (every column and conversion of
that array, programmed conductances, no read noise); ``layer``: the largest of those over the layer's
arrays, shared by all of them; ``fixed``: ``adc_full_scale x arch.read_rows x (largest pulse code) x g_max``;
``max``:
``rows x (largest pulse code) x g_max`` (``g_max - g_min`` for an analog pair); ``granular``:
``step = 1`` (exact whenever currents are whole multiples of the step: ``g_min`` a multiple of ``dg``
or cancelled in a pair).  An array whose calibration currents are all zero gets the granular step.
With ``differential_readout: analog`` the pair's currents are subtracted before one conversion
(``LayerMap.conversions == 1``); with ``digital`` each array of the pair is converted and the
difference taken digitally.  Conversions are shift-added (``x 2^(b s)`` per slice), row blocks
summed, the offset (and, for offset mapping, the ``g_min`` current) subtracted, and the result
scaled back to weight x input units.

Read noise fast path.  Per-cell Gaussian noise ``n_ij ~ N(0, sigma_ij^2)`` read with pulse codes
``v_i`` sums on column ``j`` to ``N(0, sum_i v_i^2 sigma_ij^2)``; instead of a noisy copy of the matrix
per vector the simulator computes the variance with one matrix product ``(v^2) @ sigma^2`` (float32)
and draws one normal per (vector, column, conversion, array).  Random numbers are counter-based
(``rng``): the normal for vector row ``first_row + b``, column ``j`` of group
``g``, conversion ``p`` of array-set ``(g, row block, slice, copy)`` is a pure function of ``(seed,
key, g, row block, slice, copy, p, first_row + b, j)``; so results do not depend on chunking or
threads.  (The column identifies the array's column block.)

Programming randomness uses numpy Generators seeded from ``SeedSequence(seed, spawn_key=(..., source))``
with one independent stream per error source, drawn for the whole matrix at once.

Products.  Per chunk of rows and row block one BLAS product covers every conversion (the pulses'
code planes stacked as rows) and every conversion unit (slices x arrays of the pair side by side as
columns; when every pulse code is 0 or 1, ``v^2 = v`` and the read-noise variance matrices ride in
the same product); one fused kernel adds the read noise, converts and shift-adds.  Rows (images) are
split across threads (``SimConfig.threads``; BLAS held to one thread each through threadpoolctl):
every random number is keyed by its global row, so results do not depend on the thread count.

Precision: column currents are computed in ``cfg.precision`` and accumulated in float64.  ``auto``
(default) uses float32 where its proven error bound (``ProgrammedMatrix.float32_error_bound``:
``gamma_{n+2} v_max sum_i |g_ij|``, ``gamma_m = m u / (1 - m u)``, ``u = 2^-24``, ``n`` rows of the
block) is below 1/64 of every ADC step, float64 otherwise.  A code can then differ from the float64
one only for a current within that bound of a decision level (by one code).
Inputs of float32 or float64 are read in place in either memory order (im2col's column-major output
included); batches are cut into row chunks of at most ``cfg.chunk_elements`` currents, and the
scratch buffers are reused between calls (``support._Workspace``).

Read-noise keys: ``matmul(X)`` without ``key`` draws fresh noise on every call (keys ``(FRESH_KEY,
0), (FRESH_KEY, 1), ...`` per programmed object, so the sequence follows the programming seed); a
given ``key`` pins it.
"""
from __future__ import annotations

from archsim.io import techlib

from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from archsim.mapping.layout import LayerMap, map_workload
from archsim.model.workload import GraphBuilder
from archsim.sim.tilesim.config import ADC_RANGES, SimConfig
from archsim.sim.tilesim.ranges import range_policy
from archsim.sim.tilesim.programmed import ProgrammedMatrix
from archsim.sim.tilesim.reference import reference_matmul

__all__ = ["ADC_RANGES", "ProgrammedMatrix", "SimConfig", "range_policy",
           "layer_map", "reference_matmul"]


def layer_map(K: int, N: int, arch: Architecture, device: techlib.Record | None = None, groups: int = 1,
              name: str = "fc") -> LayerMap:
    """The :class:`LayerMap` of one ``K x N`` matrix (``groups`` groups of ``K x N/groups``) on ``arch``.

    Built through the public path (a one-layer workload and :func:`archsim.map_workload`), so the split
    is the one the cost model prices."""
    for label, v in (("K", K), ("N", N), ("groups", groups)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ArchsimError(f"layer_map: {label} = {v!r} is not allowed; allowed an integer >= 1")
    if N % groups:
        raise ArchsimError(f"layer_map: groups = {groups} must divide N = {N}")
    if groups == 1:
        b = GraphBuilder(f"{name}_{K}x{N}", (K,))
        b.dense(name, N, relu=False, bias=False)
    else:
        b = GraphBuilder(f"{name}_{K}x{N}_g{groups}", (K * groups, 1, 1))
        b.conv(name, N, 1, groups=groups, relu=False)
    m = map_workload(b.build(), arch.replace(replicate=False, mesh="auto", tiles="auto"), device)
    return m.layer(name)

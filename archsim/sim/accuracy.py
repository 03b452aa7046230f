"""Network accuracy on the simulated hardware: Monte Carlo over programmed chips.

Every weighted layer of the workload is programmed onto its arrays exactly as
:func:`archsim.map_workload` splits it (:class:`archsim.sim.tilesim.ProgrammedMatrix`,
one per group); the rest of the network (pooling, residual adds, activations,
biases) runs digitally (:func:`archsim.sim.forward.run`).  One *trial* is one
independently programmed chip: its own programming errors, stuck cells,
device-to-device variation and drift; read noise is fresh on every MVM.

Calibration: a calibration batch ``x_cal`` runs through the chip once; each layer
programs and sets its input and ADC ranges on the inputs it actually receives
(already carrying the upstream layers' errors).  The measured set then runs
through the same calibrated chip.  The calibration batch should not overlap the
scored images (the CLI takes it from the data set's training split, from a file,
or holds out the first images of ``--data``); ``x_cal=None`` falls back to the
first ``calib`` scored images, and the result says so (``AccuracyResult.calibration``).  Calibration happens when the chip is
programmed: with a drift time ``cfg.time_s > 0`` the ranges are set on the
fresh cells and the measured set is read from the same cells drifted to
``time_s`` (no drift compensation).

With labels the metric is top-1 accuracy; without (networks with no trained
weights) it is *fidelity*: top-1 agreement with the exact digital network on the
same inputs and the relative logit error, labelled as fidelity, never accuracy.

Statistics: with ``T`` trials over ``n`` images the result reports the mean ``p`` of the
per-trial metric, the standard deviation ``s`` over trials (ddof 1) and a 95% interval
``p +- h`` (clipped to [0, 1]) whose half-width combines chip-to-chip variation and image
sampling error in quadrature::

    h = sqrt( (t_{0.975, T-1} * s / sqrt(T))**2 + (1.96 * sqrt(p (1 - p) / n))**2 )

the first term (Student t over trials) is absent for ``T = 1``; the second is the binomial
(normal approximation) error of scoring ``n`` images, which more chips do not reduce.  Two devices
scored on the same images are compared by their paired difference (:mod:`archsim.sim.stats`), which
cancels most of that image term; the result keeps every chip's per-image outcomes (``correct``) for it.

Seeds: trial ``t``, layer ``i``, group ``g`` programs with seed ``(seed, t, i, g)``
and reads with noise keys ``(t, i, g, pass)`` and the global row index of each
vector, so results are the same whatever the chunking or the thread count.
"""
from __future__ import annotations

import copy
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


from archsim.sim import forward
from archsim.model.errors import ArchsimError
from archsim.model.weights import weight_matrix
from archsim.mapping.layout import Mapping
from archsim.model.device import Device
from archsim.sim.tilesim import ProgrammedMatrix, SimConfig, range_policy
from archsim.sim.tilesim.ranges import adc_policy
from archsim.sim.tilesim.support import blas_single_thread, matmul_threads, stuck_rates
from archsim.model.workload import Workload

CAL_PASS, TEST_PASS = 0, 1
#: the standard normal's 97.5% quantile (two-sided 95% intervals)
Z975 = 1.959963984540054


@dataclass(frozen=True)
class AccuracyResult:
    workload: str
    device: str
    metric: str                  # "accuracy" or "fidelity"
    per_trial: np.ndarray        # metric per trial
    reference: float             # the exact digital network's accuracy (1.0 for fidelity)
    logit_error: np.ndarray      # relative logit error per trial (analog vs exact)
    per_layer: pd.DataFrame      # relative output error per weighted layer, mean over trials
    samples: int
    seed: int
    config: dict = field(default_factory=dict)
    calibration: str = ""        # where the calibration batch came from (see the module docstring)
    calib_samples: int = 0       # images in the calibration batch
    correct: np.ndarray | None = None   # (trials, samples) bool: image right (accuracy) or agreeing (fidelity)

    @property
    def mean(self) -> float:
        return float(self.per_trial.mean())

    @property
    def std(self) -> float:
        return spread(self.per_trial)

    @property
    def ci95(self) -> tuple[float, float]:
        """The 95% interval of the mean (:func:`ci95`: chip-to-chip and image sampling error)."""
        return ci95(self.per_trial, self.samples)

    def summary(self) -> dict:
        lo, hi = self.ci95
        return {"workload": self.workload, "device": self.device, "metric": self.metric,
                f"{self.metric}_mean": self.mean, f"{self.metric}_std": self.std,
                "digital_reference": self.reference, "relative_logit_error": float(self.logit_error.mean()),
                "ci95_low": lo, "ci95_high": hi,
                "trials": len(self.per_trial), "samples": self.samples, "seed": self.seed,
                "calibration": self.calibration,
                **self.config.get("ranges", {})}


def spread(per_trial) -> float:
    """Standard deviation over trials (ddof 1; 0 for one trial), taken about the first trial's value: the
    same number in exact arithmetic, and exactly 0 where every chip scored the same (as exact SRAM chips
    do), where a plain ``std`` leaves the rounding of the mean (about 1e-16)."""
    v = np.asarray(per_trial, dtype=np.float64).ravel()
    return float((v - v[0]).std(ddof=1)) if len(v) > 1 else 0.0


def ci95_halfwidth(per_trial, n: int) -> float:
    """Half-width of the 95% interval of the mean of ``per_trial`` (one proportion per chip, each over
    the same ``n`` images): ``sqrt((t_{0.975,T-1} s / sqrt(T))^2 + (1.96 sqrt(p(1-p)/n))^2)``, ``p`` the
    mean, ``s`` the standard deviation over the ``T`` trials (ddof 1); the chip term is absent for T = 1."""
    from scipy.stats import t as student_t
    v = np.asarray(per_trial, dtype=np.float64).ravel()
    T = len(v)
    if T == 0 or n < 1:
        return float("nan")
    p = float(v.mean())
    chip = float(student_t.ppf(0.975, T - 1) * spread(v) / np.sqrt(T)) if T > 1 else 0.0
    images = Z975 * np.sqrt(max(p * (1.0 - p), 0.0) / n)
    return float(np.hypot(chip, images))


def ci95(per_trial, n: int) -> tuple[float, float]:
    """``(low, high)``: the mean of ``per_trial`` -+ :func:`ci95_halfwidth`, clipped to [0, 1]."""
    p = float(np.mean(per_trial))
    h = ci95_halfwidth(per_trial, n)
    return max(0.0, p - h), min(1.0, p + h)


def format_ci(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    """``"0.991 ± 0.004"``: the mean and the larger side of its (possibly clipped) 95% interval."""
    return f"{mean:.{digits}f} ± {max(mean - lo, hi - mean):.{digits}f}"


class _Chip:
    """One trial: the programmed matrices of every weighted layer, and the matmul hook."""

    def __init__(self, m: Mapping, device: Device, cfg: SimConfig, seed: int, trial: int):
        self.wl, self.arch, self.device, self.cfg = m.workload, m.arch, device, cfg
        self.seed, self.trial = seed, trial
        self.lms = {lm.layer: lm for lm in m.layers}
        self.index = {lm.layer: i for i, lm in enumerate(m.layers)}
        self.pms: dict = {}
        self.rows: dict = {}
        self.phase = CAL_PASS
        self.threads: int | None = None    # threads splitting one large product (None: cfg.threads)
        self.img0 = 0                      # first image of the pass this object reads (see block())

    @staticmethod
    def _images(layer, rows: int) -> int:
        """Images in a call of ``rows`` vectors: a convolution reads one vector per output position."""
        return rows // (layer.out_shape[1] * layer.out_shape[2]) if layer.kind == "conv" else rows

    def _program(self, layer, group, cols):
        lm = self.lms[layer.name]
        Wg = weight_matrix(layer, dtype=np.float64)[group]
        lm_g = dataclasses.replace(lm, groups=1, N=lm.N // lm.groups, macs=lm.macs // lm.groups)
        seed = (self.seed, self.trial, self.index[layer.name], group)
        arch = self.arch.for_layer(layer.name)      # its own ADC bits and bits per cell (layer_overrides)
        if self.cfg.time_s == 0:
            return ProgrammedMatrix.program(Wg, lm_g, arch, self.device, self.cfg, seed=seed).calibrate(cols)
        # the chip is calibrated when it is programmed (t = 0) and read later: same cells (same seed),
        # drifted to time_s, with the input and ADC ranges set at t = 0
        fresh = ProgrammedMatrix.program(Wg, lm_g, arch, self.device,
                                         dataclasses.replace(self.cfg, time_s=0.0), seed=seed).calibrate(cols)
        aged = ProgrammedMatrix.program(Wg, lm_g, arch, self.device, self.cfg, seed=seed)
        return dataclasses.replace(aged, calibrated=True, x_max=fresh.x_max, x_signed=fresh.x_signed,
                                   adc_lo=fresh.adc_lo, adc_step=fresh.adc_step, adc_inv=fresh.adc_inv,
                                   adc_full=fresh.adc_full)

    def share_layer_ranges(self):
        """``adc_range: layer``: a grouped layer is programmed one group at a time; after the calibration
        pass every group gets the largest full scale over the layer's groups (one range for all its arrays)."""
        if adc_policy(self.arch, self.cfg)[0] != "layer" or self.cfg.ideal_adc:
            return
        by_layer: dict = {}
        for (name, g), pm in self.pms.items():
            by_layer.setdefault(name, []).append((g, pm))
        for name, parts in by_layer.items():
            if len(parts) > 1 and all(pm.adc_full is not None for _, pm in parts):
                full = max(float(pm.adc_full.max()) for _, pm in parts)
                for g, pm in parts:
                    self.pms[name, g] = pm.with_shared_adc_range(full)

    def _first_row(self, k, rows: int, images: int) -> int:
        """Global index of the first of ``rows`` vectors (of ``images`` images) this call reads: the calls of a
        pass run in order, from image ``img0`` on (a block's view, :meth:`block`)."""
        row0 = self.rows.get((self.phase,) + k)
        if row0 is None:
            row0 = self.img0 * (rows // images) if images else 0
        self.rows[(self.phase,) + k] = row0 + rows
        return row0

    def block(self, img0: int) -> "_Chip":
        """This chip seen by a forward pass of the images from ``img0`` on: the same programmed (read-only)
        matrices, its own row counters, one thread per product (the blocks are the threads)."""
        view = copy.copy(self)
        view.rows, view.img0, view.threads = {}, int(img0), 1
        return view

    def __call__(self, layer, cols, group):
        k = (layer.name, group)
        if k not in self.pms:
            if self.phase != CAL_PASS:
                raise ArchsimError(f"layer '{layer.name}' was not calibrated")
            self.pms[k] = self._program(layer, group, cols)
        row0 = self._first_row(k, cols.shape[0], self._images(layer, cols.shape[0]))
        y = self.pms[k].matmul(cols, key=(self.trial, self.index[layer.name], group, self.phase), first_row=row0,
                               threads=self.threads, dtype=cols.dtype)
        return y.astype(cols.dtype, copy=False)

    def conv_maps(self, layer, x, group):
        """A convolution's products read from its input maps (:meth:`ProgrammedMatrix.matmul_maps`, the same
        numbers as the im2col matrix gives); ``None`` (the forward pass then builds the matrix) while calibrating."""
        k = (layer.name, group)
        if self.phase == CAL_PASS or k not in self.pms:
            return None
        cg = x.shape[1] // layer.groups
        xs = x[:, group * cg:(group + 1) * cg] if layer.groups > 1 else x
        _, Ho, Wo = layer.out_shape
        row0 = self._first_row(k, x.shape[0] * Ho * Wo, x.shape[0])
        y = self.pms[k].matmul_maps(xs, layer.kernel, layer.stride, layer.padding, (Ho, Wo), first_row=row0,
                                    threads=self.threads, key=(self.trial, self.index[layer.name], group, self.phase),
                                    dtype=x.dtype)
        return y.astype(x.dtype, copy=False)


def chips_alike(device: Device, cfg: SimConfig) -> bool:
    """Whether every programmed chip is the same: cells of exact bits (SRAM: no programming error, drift,
    device-to-device spread or read noise) and no stuck cells (device or ``cfg`` rates)."""
    on, off = stuck_rates(device, cfg)
    return bool(device.exact and not on and not off)


def _rel(a, b):
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def simulate(m: Mapping, x: np.ndarray, y: np.ndarray | None = None, *, x_cal: np.ndarray | None = None,
             calibration: str | None = None, trials: int = 10, seed: int = 0, cfg: SimConfig = SimConfig(),
             calib: int = 128, chunk: int | None = None, layer_sample: int = 64,
             progress: bool = False, chip=None, exact: dict | None = None) -> AccuracyResult:
    """Accuracy (with labels ``y``) or fidelity (without) of the mapped network over ``trials`` chips.

    Every weighted layer is programmed exactly as the mapping ``m`` splits it (its workload must carry
    weights); the mapping is never recomputed here.  Replicas of a layer hold the same weights, so one
    programmed copy per layer stands for all of them.

    ``x_cal``: the calibration batch (never scored); ``calibration`` says where it came from (recorded in
    the result).  ``x_cal=None``: the first ``calib`` images of ``x`` calibrate (they are also scored;
    the result says so).  ``progress``: a bar (tqdm, if installed) counting scored images over all trials,
    ``trials * len(x)``, updated per chunk.  ``chip``: what builds each trial's chip, ``chip(m, device, cfg,
    seed, trial)`` (default :class:`_Chip`; :mod:`archsim.explore.simcache` passes one sharing programmed
    arrays across the designs of a search, with the same numbers); ``exact``: a dict the exact (float)
    outputs of ``x`` are kept in and read from, for a search simulating many designs on the same inputs."""
    if not isinstance(m, Mapping):
        raise ArchsimError(f"simulate: expected a Mapping (archsim.map_workload(workload, arch)), "
                           f"got {type(m).__name__}")
    workload, chip_factory = m.workload, chip
    if not workload.has_weights:
        missing = [l.name for l in workload.weighted_layers() if l.weights is None][:3]
        raise ArchsimError(f"workload {workload.name}: layers {missing} have no weights; attach trained weights "
                           f"(workloads.get(name, weights=True)) or random ones (archsim.model.weights.random_weights)")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ArchsimError(f"trials = {trials!r}; allowed an integer >= 1")
    x = np.asarray(x)
    if y is not None and len(y) != len(x):
        raise ArchsimError(f"labels: {len(y)} labels for {len(x)} inputs")
    if x_cal is None:
        n_cal = min(calib, len(x))
        x_cal = x[:n_cal]
        calibration = calibration or f"the first {n_cal} scored images (not held out)"
    else:
        x_cal = np.asarray(x_cal)
        n_cal = len(x_cal)
        if n_cal < 1:
            raise ArchsimError("x_cal: an empty calibration batch; give at least one image")
        calibration = calibration or f"a separate batch of {n_cal} images"
    step = _chunk(workload, chunk)
    # the exact passes with BLAS as it is, whatever the thread count (a BLAS on one thread rounds some of
    # these products differently, which would move the logit errors with the thread count); ``exact``
    # keeps them for the next design of a search on the same inputs
    memo = exact if exact is not None else {}
    if "out" not in memo:
        memo["out"] = forward.run(workload, x, chunk=chunk)
    ls = x[: min(layer_sample, len(x))]
    names = [l.name for l in workload.weighted_layers()]
    if memo.get("layers", (None,))[0] != len(ls):
        memo["layers"] = (len(ls), forward.run(workload, ls, collect=names, chunk=chunk)[1])
    return _simulate(m, x, y, x_cal, n_cal, calibration, trials, seed, cfg, chunk, step, matmul_threads(cfg),
                     progress, memo["out"], ls, names, memo["layers"][1], chip_factory)


def _simulate(m, x, y, x_cal, n_cal, calibration, trials, seed, cfg, chunk, step, threads, progress,
              exact, ls, names, exact_layers, chip_factory=None):
    """:func:`simulate`'s chips, given the exact network's outputs (all images) and layer outputs (``ls``)."""
    workload, arch, device = m.workload, m.arch, m.device
    exact_top = exact.reshape(len(x), -1).argmax(axis=1)
    ref = float((exact_top == np.asarray(y)).mean()) if y is not None else 1.0
    per_trial, logit_err, layer_err, correct = [], [], [], []
    bar = _progress(progress_total(trials, len(x)), progress, f"{workload.name} on {arch.device}")
    alike = chips_alike(device, cfg)
    for t in range(trials):
        if alike and t > 0:
            # exact cells, no stuck cells: chip t is chip 0 bit for bit (no random draw reaches them), so
            # its outcomes are copied rather than simulated again
            per_trial.append(per_trial[0])
            correct.append(correct[0])
            logit_err.append(logit_err[0])
            layer_err.append(layer_err[0])
            bar.update(len(x))
            continue
        chip = (chip_factory or _Chip)(m, device, cfg, seed, t)
        forward.run(workload, x_cal, matmul=chip, chunk=n_cal)
        chip.share_layer_ranges()
        chip.phase = TEST_PASS
        parts = scored_pass(chip, workload, x, step, threads, bar)
        out = np.concatenate(parts) if len(parts) != 1 else parts[0]
        top = out.reshape(len(x), -1).argmax(axis=1)
        correct.append(top == (np.asarray(y) if y is not None else exact_top))
        per_trial.append(float(correct[-1].mean()))
        logit_err.append(_rel(out, exact))
        chip.phase = 2  # a separate read pass (fresh noise) for the per-layer errors
        _, got = forward.run(workload, ls, matmul=chip, collect=names, chunk=chunk)
        layer_err.append([_rel(got[n], exact_layers[n]) for n in names])
    bar.close()
    per_layer = pd.DataFrame({"layer": names, "relative_error": np.mean(layer_err, axis=0)})
    return AccuracyResult(workload=workload.name, device=arch.device,
                          metric="accuracy" if y is not None else "fidelity", per_trial=np.array(per_trial),
                          reference=ref, logit_error=np.array(logit_err), per_layer=per_layer, samples=len(x),
                          seed=seed, config=dict(cfg=dataclasses.asdict(cfg), trials=trials, calib=n_cal,
                                                 ranges=range_policy(arch, cfg, not device.behaviour.converts)),
                          calibration=calibration, calib_samples=n_cal, correct=np.array(correct, dtype=bool))


def in_blocks(fn, n: int, step: int, threads: int, bar=None) -> list:
    """``[fn(a, b) for (a, b) in image_chunks(n, step)]`` with BLAS on one thread (a multi-threaded BLAS rounds
    some small products differently, and beside the blocks' threads it oversubscribed the cores and spun: 2
    threads took 1.7x the wall time of 1 on the busy 2-core machine, 0.8x with BLAS held to one thread), the
    blocks on ``threads`` threads where there are several; ``bar`` counts the images done."""
    blocks = image_chunks(n, step)
    bar = bar or _NoBar()
    if threads <= 1 or len(blocks) < 2:
        parts = []
        with blas_single_thread():
            for a, b in blocks:
                parts.append(fn(a, b))
                bar.update(b - a)
        return parts
    parts = []
    with blas_single_thread(), ThreadPoolExecutor(min(threads, len(blocks))) as ex:
        for (a, b), part in zip(blocks, ex.map(lambda ab: fn(*ab), blocks)):
            parts.append(part)
            bar.update(b - a)
    return parts


def scored_pass(chip: _Chip, workload: Workload, x: np.ndarray, step: int, threads: int, bar=None) -> list:
    """The outputs of the images ``x`` through ``chip``, one array per block of ``step`` images.  Every row keeps
    its global index (its read noise is keyed by it), so neither the blocks nor the threads change a number:
    with ``threads > 1`` the blocks run on that many threads (:func:`in_blocks`), each through its own view of
    the chip (:meth:`_Chip.block`)."""
    if threads > 1:
        for pm in chip.pms.values():      # fill the lazy caches before the threads share them
            _ = pm.compute_dtype
        return in_blocks(lambda a, b: forward.run(workload, x[a:b], matmul=chip.block(a), chunk=step), len(x), step,
                         threads, bar)
    return in_blocks(lambda a, b: forward.run(workload, x[a:b], matmul=chip, chunk=step), len(x), step, 1, bar)


def _chunk(workload: Workload, chunk: int | None) -> int:
    """Images per forward chunk: ``chunk``, else :func:`archsim.sim.forward.run`'s own default."""
    if chunk is not None:
        if isinstance(chunk, bool) or int(chunk) < 1:
            raise ArchsimError(f"chunk must be a positive number of images, got {chunk}")
        return int(chunk)
    return min(forward.DEFAULT_MAX_CHUNK, forward.chunk_size(workload))


def image_chunks(n: int, step: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the chunks of ``n`` images, ``step`` at a time (the progress updates)."""
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def progress_total(trials: int, n: int) -> int:
    """What the progress bar counts to: scored images over all trials."""
    return int(trials) * int(n)


def ideal_references(m: Mapping, x: np.ndarray, y: np.ndarray | None, x_cal: np.ndarray | None = None,
                     chunk: int | None = None, calibration: str | None = None) -> dict:
    """The two error-free references of a network, without the Monte Carlo:

    - ``float``: the exact digital forward pass (float32);
    - ``quantized``: the same architecture with inputs quantized by its DAC (``input_bits``, range from
      the calibration batch) and weights by its ``weight_bits`` conductance levels, and no analog error:
      no programming error, read noise, drift, stuck cells, device variation or IR drop, an ideal ADC.

    Top-1 accuracy with labels ``y``; without, agreement with the exact network (1.0 for ``float``)."""
    q = SimConfig(prog_error=False, read_noise=False, time_s=0.0, stuck_on_rate=0.0, stuck_off_rate=0.0,
                  d2d_sigma_rel=0.0, ideal_adc=True, ideal_dac=False, ir_drop=False, parallel=False)
    r = simulate(m, x, y, x_cal=x_cal, calibration=calibration, trials=1, cfg=q, chunk=chunk, layer_sample=1)
    return {"float": r.reference, "quantized": r.mean, "metric": r.metric, "samples": r.samples,
            "calibration": r.calibration}


def synthetic_inputs(workload: Workload, n: int, seed: int = 0) -> np.ndarray:
    """Non-negative random inputs (uniform in [0, 1)) of the workload's input shape, for fidelity studies."""
    rng = np.random.default_rng(seed)
    return rng.random((n,) + tuple(workload.input_layer.out_shape), dtype=np.float32)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total, enabled, desc):
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="img", unit_scale=True)

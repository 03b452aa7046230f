"""One layer's weights held in analog devices that learn by pulses: :class:`AnalogTile`.

A tile is a ``(K, N)`` matrix of devices (a second ``(K, N)`` matrix of minus devices for a
potentiation-only pair) with their device-to-device parameters drawn once from the seed.  The weight of
a device is ``gain * x`` (``gain * (x+ - x-) / 2`` for a pair).  Reads (forward ``x @ W`` and backward
``d @ W.T``) go through the converters of :func:`read`; updates go through the pulse kernels.

Counters (for the cost model and the report): pulses per device, coincidences, row and column pulses
fired, reads, refreshes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.model.update_laws import BOUND_FLOOR, UpdateModel, c2c_mean_factor
from archsim.sim.training import kernels as KN
from archsim.sim.training.fused import stochastic_update, uniform_steps
from archsim.sim.tilesim.rng import mix64_py, normals_nb, normals_np

#: spawn tags of the device-to-device draws
_D2D = 101


@dataclass
class Counters:
    """What a tile did, summed over training (each a count of events)."""

    coincidences: int = 0        # device pulses applied by coincidence of row and column trains
    transfer_pulses: int = 0     # device pulses applied by counts (mixed-precision transfers)
    row_pulses: int = 0          # pulses fired on row lines (sum of train bits)
    col_pulses: int = 0          # pulses fired on column lines
    update_cycles: int = 0       # rank-1 update cycles (one per sample, or per transfer)
    forward_reads: int = 0       # vectors read forward (x @ W)
    backward_reads: int = 0      # vectors read backward (d @ W.T)
    refreshes: int = 0           # pair refreshes (devices reset and reprogrammed)
    programmed: int = 0          # devices programmed by write-verify (carry, refresh)

    def add(self, other: "Counters") -> "Counters":
        return Counters(**{k: getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__})


@dataclass
class AnalogTile:
    """``(K, N)`` devices of one update model; ``K`` includes the bias row when the layer has one."""

    K: int
    N: int
    model: UpdateModel
    gain: float
    seed: tuple
    use_numba: bool = True
    dwu: np.ndarray = field(init=False, repr=False)
    asym: np.ndarray = field(init=False, repr=False)
    bp: np.ndarray = field(init=False, repr=False)
    bm: np.ndarray = field(init=False, repr=False)
    pulses: np.ndarray = field(init=False, repr=False)
    counters: Counters = field(init=False)
    _streams: int = field(init=False, default=0, repr=False)

    def __post_init__(self):
        m = self.model
        rng = np.random.default_rng(np.random.SeedSequence(list(self.seed) + [_D2D]))
        shape = (self.K, self.N)
        # a parametric law's step is proportional to dwu: dividing by the mean of the cut c2c factor keeps the
        # mean step the law's (a jump table carries its own spread instead)
        norm = 1.0 if m.law == "table" or m.c2c_signed else c2c_mean_factor(m.c2c)
        # the device-to-device factor max(1 + dw_d2d N, 0) is the same cut normal: dividing by its mean keeps the
        # array's mean step the law's (uncorrected, a spread of 3 raised it by 76% and trained faster)
        norm *= c2c_mean_factor(m.dw_d2d)
        self.dwu = m.dw * np.maximum(1.0 + m.dw_d2d * rng.standard_normal(shape), 0.0) / norm
        self.asym = np.clip(m.asymmetry + m.asymmetry_d2d * rng.standard_normal(shape), -0.99, 0.99)
        self.bp = np.maximum(1.0 + m.bound_d2d * rng.standard_normal(shape), BOUND_FLOOR)
        self.bm = -np.maximum(1.0 + m.bound_d2d * rng.standard_normal(shape), BOUND_FLOOR)
        self._version = 0            # state changes (the read weights' cache is of one version)
        self._w_version = -1
        self._w = self._w_view = None
        self.Xp = np.zeros(shape) if not m.potentiation_only else self.bm.copy()
        self.Xm = self.bm.copy() if m.potentiation_only else np.zeros((1, 1))
        self.pulses = np.zeros(shape, dtype=np.int64)
        self.counters = Counters()
        self._table = m.table_arrays()
        self._root = int(np.random.SeedSequence(list(self.seed) + [_D2D + 1]).generate_state(1, np.uint64)[0])
        self._root_u64 = np.uint64(self._root)
        self._no_w = np.zeros((1, 1))
        self._no_steps = np.zeros(0)
        self._same = self._same_key = None

    # ---------------------------------------------------------------- state
    # The states are the tile's: its methods change them (and count a version), and so does assigning
    # ``Xp`` or ``Xm``; code outside that writes into them in place must call :meth:`touched`.
    @property
    def Xp(self) -> np.ndarray:
        """States of the (plus) devices, ``(K, N)``."""
        return self._xp

    @Xp.setter
    def Xp(self, value):
        self._xp = value
        self.touched()

    @property
    def Xm(self) -> np.ndarray:
        """States of the minus devices of a pair (``(1, 1)`` zeros otherwise)."""
        return self._xm

    @Xm.setter
    def Xm(self, value):
        self._xm = value
        self.touched()

    def touched(self) -> None:
        """The states changed: the cached read weights are stale."""
        self._version += 1

    @property
    def pair(self) -> bool:
        return self.model.potentiation_only

    def weights(self) -> np.ndarray:
        """The weights the devices hold now, ``(K, N)`` (a new array)."""
        if self.pair:
            return self.gain * 0.5 * (self.Xp - self.Xm)
        return self.gain * self.Xp

    def _weight_factor(self) -> float:
        return self.gain * 0.5 if self.pair else self.gain

    def read_weights(self) -> np.ndarray:
        """:meth:`weights` for the reads, read-only and valid until the states change: kept from one
        update to the next (the fused update rewrites the devices it moved, with the same expression),
        computed afresh after any other change."""
        if self._w_version != self._version:
            self._w = self.weights()
            self._w_view = self._w.view()
            self._w_view.flags.writeable = False
            self._w_version = self._version
        return self._w_view

    def next_stream(self) -> int:
        """A fresh 64-bit stream key: the n-th of this tile (a pure function of the seed and n)."""
        self._streams += 1
        return mix64_py(self._root + 0x9E3779B97F4A7C15 * self._streams)

    def program(self, W: np.ndarray, sigma: float = 0.0, rng: np.random.Generator | None = None) -> None:
        """Set the devices to hold ``W`` (write-verify; ``sigma`` a normal error in state units), clipped
        to each device's bounds.  A pair puts the magnitude on one device, the other at its lower bound."""
        x = np.asarray(W, dtype=np.float64) / self.gain
        if sigma > 0 and rng is not None:
            x = x + sigma * rng.standard_normal(x.shape)
        if self.pair:
            span = self.bp - self.bm
            mag = np.clip(np.abs(2.0 * x), 0.0, span)
            self.Xp = np.where(x > 0, self.bm + mag, self.bm)
            self.Xm = np.where(x < 0, self.bm + mag, self.bm)
        else:
            self.Xp = np.clip(x, self.bm, self.bp)
        self.counters.programmed += x.size

    def _params(self):
        return (self.dwu, self.asym, self.bp, self.bm, self.model)

    # ---------------------------------------------------------------- updates
    def update_trains(self, xm, dm, sx, sd, sample0: int) -> int:
        """Apply rank-1 updates given by pulse trains (see :func:`archsim.sim.training.kernels.pulse_outer`)."""
        m = self.model
        stream = np.uint64(self.next_stream())
        if self.use_numba:
            n = KN.pulse_outer(self.Xp, self.Xm, self.pair, xm, dm, sx, sd, self.dwu, self.asym, self.bp, self.bm,
                               m.law_id, m.gamma, m.kernel_c2c, self._table, m.dw, stream, sample0, self.pulses,
                               *KN.ZIG)
        else:
            n = KN.pulse_outer_np(self.Xp, self.Xm, self.pair, xm, dm, sx, sd, self._params(), stream, sample0,
                                  self.pulses)
        self.touched()
        c = self.counters
        c.coincidences += int(n)
        c.row_pulses += int(KN.popcount_sum(xm))
        c.col_pulses += int(KN.popcount_sum(dm))
        c.update_cycles += xm.shape[0]
        self._refresh()
        return int(n)

    def update_stochastic(self, x, d, c: float, um: bool, BL: int, sample0: int) -> int:
        """The stochastic-train update of ``x``, ``d`` in one fused kernel
        (:func:`archsim.sim.training.fused.stochastic_update`); the same streams, in the same order, and
        so the same numbers as trains drawn by ``learners.train_pulses`` then :meth:`update_trains`."""
        m = self.model
        if x.dtype != np.float64 or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=np.float64)
        if d.dtype != np.float64 or not d.flags.c_contiguous:
            d = np.ascontiguousarray(d, dtype=np.float64)
        w_ok = self._w_version == self._version       # the read weights follow the kernel's moves
        n, nrow, ncol = stochastic_update(self._xp, self._xm, self.pair, x, d, c, um, self._root_u64, self._streams,
                                          BL, self.dwu, self.asym, self.bp, self.bm, m.law_id, m.gamma, m.kernel_c2c,
                                          self._table, m.dw, sample0, self.pulses,
                                          self._w if w_ok else self._no_w, self._weight_factor(), w_ok,
                                          self._uniform_steps(), *KN.ZIG)
        self._streams += 3
        self._version += 1
        if w_ok:
            self._w_version = self._version
        c = self.counters
        c.coincidences += n
        c.row_pulses += nrow
        c.col_pulses += ncol
        c.update_cycles += x.shape[0]
        self._refresh()
        return n

    def _uniform_steps(self) -> np.ndarray:
        """The fused kernel's scalars of a constant-step tile without device-to-device spread (found again if
        the device-to-device arrays were replaced); empty otherwise."""
        if self.model.law_id != 0:
            return self._no_steps
        key = (id(self.dwu), id(self.asym), id(self.bm), id(self.bp))
        if self._same_key != key:
            self._same = uniform_steps(self.dwu, self.asym, self.bm, self.bp)
            self._same_key = key
        return self._same

    def update_counts(self, n_signed: np.ndarray) -> int:
        """Apply ``|n|`` pulses per device, up where ``n > 0`` (mixed-precision transfer)."""
        m = self.model
        stream = np.uint64(self.next_stream())
        n_signed = np.ascontiguousarray(n_signed, dtype=np.int64)
        if self.use_numba:
            n = KN.pulse_counts(self.Xp, self.Xm, self.pair, n_signed, self.dwu, self.asym, self.bp, self.bm,
                                m.law_id, m.gamma, m.kernel_c2c, self._table, m.dw, stream, self.pulses, *KN.ZIG)
        else:
            n = KN.pulse_counts_np(self.Xp, self.Xm, self.pair, n_signed, self._params(), stream, self.pulses)
        self.touched()
        self.counters.transfer_pulses += int(n)
        self._refresh()
        return int(n)

    def _refresh(self) -> None:
        """Pairs: reset and reprogram every pair whose larger device passed the refresh threshold and whose
        smaller device is off its lower bound (only then does a refresh free room)."""
        if not self.pair:
            return
        lim = self.bm + self.model.refresh_threshold * (self.bp - self.bm)
        floor = self.bm + 0.5 * self.dwu
        hot = ((self.Xp > lim) | (self.Xm > lim)) & (np.minimum(self.Xp, self.Xm) > floor)
        if not hot.any():
            return
        x = 0.5 * (self.Xp[hot] - self.Xm[hot])
        lo = self.bm[hot]
        span = self.bp[hot] - lo
        mag = np.minimum(np.abs(2.0 * x), span)
        self.Xp[hot] = np.where(x > 0, lo + mag, lo)
        self.Xm[hot] = np.where(x < 0, lo + mag, lo)
        self.touched()
        k = int(hot.sum())
        self.counters.refreshes += k
        self.counters.programmed += 2 * k


def read_noise_normals(stream: int, row0: int, B: int, N: int, use_numba: bool) -> np.ndarray:
    """Standard normals for B output vectors of N columns (counter-based, keyed by global row)."""
    if use_numba:
        return normals_nb(np.uint64(stream), row0, B, N, 0, N)
    return normals_np(np.uint64(stream), np.arange(row0, row0 + B), N, np.arange(N))

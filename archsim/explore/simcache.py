"""Programmed arrays shared across the designs of one search, with the same numbers.

A search simulates many designs of one network that differ in a few keys: the per-layer search changes
one layer at a time (its ADC bits or bits per cell), the sizing search changes the ADC resolution of arrays
otherwise alike.  The simulator (:func:`archsim.sim.accuracy.simulate`) draws every random number from
keys that name the chip, the layer and the group, ``(seed, trial, layer index, group)`` for programming
and ``(trial, layer index, group, pass)`` plus the global row for read noise, never from a stream shared
between layers.  So in a design that differs from an earlier one only in layer ``L``:

* every layer programs the same cells as before unless its own keys changed: the programmed arrays
  (:class:`~archsim.sim.tilesim.ProgrammedMatrix` before calibration) are kept, keyed on the layer, group,
  chip, its matrix split and its own simulated architecture keys; ADC bits do not enter the cells (they set
  the converter's ranges, recomputed from the same cells), so designs differing only in ADC bits share them;
* the layers before ``L`` receive the same calibration inputs, bit for bit, so their calibration is the
  same: it is kept too, keyed on a digest (BLAKE2b) of those inputs.

:class:`ArrayCache` holds them under a memory budget (least recently used out first) and
:meth:`ArrayCache.chip` gives :func:`~archsim.sim.accuracy.simulate` a chip that reads them.  A design
simulated through the cache gives the numbers the plain simulator gives to the last bit
(``tests/explore/test_simcache.py`` checks it on designs changing one layer, the ADC bits and the cells).
Drift (``time_s > 0``) is left to the plain chip.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict

import numpy as np

from archsim.model import arch as _arch
from archsim.model.weights import weight_matrix
from archsim.sim.accuracy import _Chip
from archsim.sim.tilesim import ProgrammedMatrix

#: keys that do not change a layer's programmed cells: the ADC resolution (it sets the converter ranges,
#: recomputed from the cells), the overrides (already applied by ``for_layer``) and the placement keys
CELLS_FREE_KEYS = ("adc_bits", "layer_overrides", "mesh", "tiles", "replicate", "cols_per_adc")
#: keys that change neither the cells nor the converter ranges of a layer
CALIBRATION_FREE_KEYS = tuple(k for k in CELLS_FREE_KEYS if k != "adc_bits")
#: share of the memory available that the cache may hold at most, and its ceiling in bytes
BUDGET_FRACTION, BUDGET_MAX = 0.3, 4e9
#: calibrated copies kept per programmed layer (the start design's inputs and the latest other)
CALIBRATIONS_PER_LAYER = 2


def digest(*arrays) -> bytes:
    """A 16-byte BLAKE2b digest of arrays (their dtype, shape and bytes) and plain values."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        if isinstance(a, np.ndarray):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.view(np.uint8).reshape(-1))
        else:
            h.update(repr(a).encode())
            h.update(b"\0")
    return h.digest()


def _arch_key(a: _arch.Architecture, free=CELLS_FREE_KEYS) -> tuple:
    return tuple((k.name, repr(getattr(a, k.name))) for k in _arch.KEYS if k.name not in free)


def _split(lm) -> tuple:
    """How a layer's matrix is cut and sliced (not where its tiles sit, which other layers move)."""
    return (lm.K, lm.N, lm.groups, lm.row_blocks, lm.col_blocks, lm.bits_per_cell, lm.slices, lm.copies,
            lm.conversions, lm.positions)


def _pm_bytes(pm: ProgrammedMatrix) -> int:
    return int(sum(a.nbytes for a in (pm.codes, pm.G, pm.S2, pm.Gfast, pm.S2fast) if a is not None))


def default_budget() -> float:
    from archsim.explore.fidelity import available_bytes
    have = available_bytes()
    return BUDGET_MAX if have is None else min(BUDGET_MAX, BUDGET_FRACTION * have)


class ArrayCache:
    """Programmed layers (with up to :data:`CALIBRATIONS_PER_LAYER` calibrations each), least recently used
    out first beyond ``budget`` bytes (default :func:`default_budget`)."""

    def __init__(self, budget: float | None = None):
        self.budget = float(default_budget() if budget is None else budget)
        self._cells: OrderedDict = OrderedDict()     # key -> [pm, {cal digest: calibrated pm}, bytes]
        self._cells_bytes = 0
        self._weights: dict = {}                     # id(weights) -> (weights, digest): the array held, so
                                                     # its id is never another array's
        self.programmed = self.reused = 0

    # ---- programmed layers
    def calibrated(self, key: tuple, arch: _arch.Architecture, program, cols: np.ndarray) -> ProgrammedMatrix:
        """The layer ``key`` programmed (``program()`` on a miss) for ``arch`` and calibrated on ``cols``."""
        e = self._cells.get(key)
        if e is None:
            pm = program()
            e = [pm, OrderedDict(), 2 * _pm_bytes(pm)]     # x2: the stacked matrices matmul builds
            self._cells[key] = e
            self._cells_bytes += e[2]
            self.programmed += 1
        else:
            self._cells.move_to_end(key)
            self.reused += 1
        ck = (_arch_key(arch, CALIBRATION_FREE_KEYS), digest(cols))
        pm = e[1].get(ck)
        if pm is None:
            base = e[0]
            if base.arch != arch:    # another ADC resolution on the same cells: the ranges follow the arch
                base = dataclasses.replace(base, arch=arch)._with_ranges(None)
            pm = base.calibrate(cols)
            e[1][ck] = pm
            while len(e[1]) > CALIBRATIONS_PER_LAYER:
                e[1].pop(next(iter(k for k in e[1] if k != ck)))
        self._shrink()
        return pm

    def _shrink(self):
        while self._cells_bytes > self.budget and len(self._cells) > 1:
            _, e = self._cells.popitem(last=False)
            self._cells_bytes -= e[2]

    def weights_digest(self, w) -> bytes:
        e = self._weights.get(id(w))
        if e is None or e[0] is not w:
            e = self._weights[id(w)] = (w, digest(*(np.asarray(a) for a in (w if isinstance(w, (tuple, list))
                                                                             else (w,)))))
        return e[1]

    def chip(self):
        """The chip factory for :func:`archsim.sim.accuracy.simulate` (its ``chip`` argument)."""
        cache = self

        def make(m, device, cfg, seed, trial):
            return _CachedChip(m, device, cfg, seed, trial, cache) if cfg.time_s == 0 else \
                _Chip(m, device, cfg, seed, trial)
        return make

    def stats_text(self) -> str:
        return (f"programmed arrays: {self.programmed} layers programmed, {self.reused} reused (designs differing "
                f"in one layer share the others' cells)")


class _CachedChip(_Chip):
    """A chip whose layers come from an :class:`ArrayCache` (same seeds, same numbers); it reads and
    converts exactly as the plain chip does."""

    def __init__(self, m, device, cfg, seed, trial, cache: ArrayCache):
        super().__init__(m, device, cfg, seed, trial)
        self.cache = cache
        self._ckey = digest(device.name, repr(device), repr(cfg), seed, trial)

    def _program(self, layer, group, cols):
        lm = self.lms[layer.name]
        arch = self.arch.for_layer(layer.name)
        idx = self.index[layer.name]
        lm_g = dataclasses.replace(lm, groups=1, N=lm.N // lm.groups, macs=lm.macs // lm.groups)
        key = (self._ckey, self.cache.weights_digest(layer.weights), layer.name, idx, group, _split(lm),
               _arch_key(arch))

        def program():
            Wg = weight_matrix(layer, dtype=np.float64)[group]
            return ProgrammedMatrix.program(Wg, lm_g, arch, self.device, self.cfg,
                                            seed=(self.seed, self.trial, idx, group))
        return self.cache.calibrated(key, arch, program, cols)

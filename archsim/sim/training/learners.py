"""The update algorithms of analog training, one learner per layer (table :data:`LEARNERS`).

Every learner answers ``view()`` (the weights the arrays present to a read, their full-scale gain and
read-noise spread) and ``update(x, d, sample0)`` (apply ``W -= lr x^T d`` summed over the batch's samples,
in its own way):

- ``float``: the exact float update (archsim's own floating-point training of the same network).
- ``sgd``: each sample's rank-1 update as coincidences of pulse trains on one tile (Gokmen and Vlasov,
  Front. Neurosci. 2016).
- ``mixed``: the exact update accumulates in a digital matrix ``chi``; where ``|chi|`` reaches one
  nominal device step, that many pulses are sent (open loop) and subtracted from ``chi`` (Nandakumar et
  al., ISCAS 2018 / Front. Neurosci. 2020).
- ``tiki-taka``: pulses go to a tile A; every ``transfer_every`` samples one row of A is read (through the
  converters) and added to tile C by a pulsed rank-1 update with rate ``transfer_lr``; reads use C (Gokmen
  and Haensch, Front. Neurosci. 2020, with gamma = 0).
- ``carry``: pulses go to a less significant tile ``g``; the weight is ``F W_G + W_g``; every
  ``carry_every`` samples ``g`` is carried into ``G`` (``G`` reprogrammed by write-verify to
  ``G + g / F`` with the device's programming error, ``g`` reset), as the periodic carry of Ambrogio et
  al., Nature 2018 (Narayanan, Burr et al.'s (IBM 2019) conductance pairs of different significance).
"""
from __future__ import annotations

import math

import numpy as np

from archsim.model.device import Device
from archsim.sim.training import kernels as KN
from archsim.sim.training.network import read_sigma
from archsim.sim.training.tile import AnalogTile


def train_pulses(x, d, lr, dw_w, cfg, tile: AnalogTile, sample0: int):
    """Row and column trains (uint64 bits), signs, for ``W -= lr x^T d`` on ``tile``.

    Probabilities ``p_x = C_x |x|``, ``p_d = C_d |d|`` (clipped to 1) with ``C_x C_d = lr / (BL dw)`` so
    the expected coincidences are ``lr |x d| / dw``; with update management ``C_x / C_d = sqrt(max|d| /
    max|x|)`` per sample (Gokmen et al. 2017), else ``C_x = C_d``."""
    BL = cfg.bl
    c = math.sqrt(lr / (BL * dw_w))
    ax, ad = np.abs(x), np.abs(d)
    if cfg.update_management:
        xm = ax.max(axis=1, keepdims=True)
        dm = ad.max(axis=1, keepdims=True)
        ok = (xm > 0) & (dm > 0)
        r = np.sqrt(np.where(ok, dm, 1.0) / np.where(ok, xm, 1.0))
        cx, cd = c * r, c / r
    else:
        cx = cd = c
    px = np.clip(cx * ax, 0.0, 1.0)
    pd = np.clip(cd * ad, 0.0, 1.0)
    if cfg.trains == "stochastic":
        mx = KN.stochastic_trains(px, np.uint64(tile.next_stream()), sample0, BL) if tile.use_numba else \
            KN.stochastic_trains_np(px, tile.next_stream(), sample0, BL)
        md = KN.stochastic_trains(pd, np.uint64(tile.next_stream()), sample0, BL) if tile.use_numba else \
            KN.stochastic_trains_np(pd, tile.next_stream(), sample0, BL)
    else:
        mx = KN.deterministic_trains(px, BL, spread=False)
        md = KN.deterministic_trains(pd, BL, spread=True)
    sx = np.where(x < 0, -1, 1).astype(np.int8)
    sd = np.where(d < 0, -1, 1).astype(np.int8)
    return mx, md, sx, sd


def pulse_update(tile: AnalogTile, x, d, lr, cfg, sample0: int) -> int:
    """Apply ``W -= lr x^T d`` on ``tile`` by pulse trains: stochastic trains on the Numba path in one fused
    kernel (the same numbers as :func:`train_pulses` then ``update_trains``), else those two steps."""
    if tile.use_numba and cfg.trains == "stochastic":
        return tile.update_stochastic(x, d, math.sqrt(lr / (cfg.bl * weight_step(tile))), cfg.update_management,
                                      cfg.bl, sample0)
    return tile.update_trains(*train_pulses(x, d, lr, weight_step(tile), cfg, tile, sample0), sample0)


def weight_step(tile: AnalogTile) -> float:
    """Nominal weight change of one pulse: ``gain dw`` (a pair: half of it)."""
    return tile.gain * tile.model.dw * (0.5 if tile.pair else 1.0)


class FloatLearner:
    def __init__(self, W, cfg, **_):
        self.W, self.cfg = np.array(W, dtype=np.float64), cfg

    def view(self):
        return self.W, 1.0, None

    def update(self, x, d, sample0):
        self.W -= self.cfg.lr * (x.T @ d)

    def tiles(self):
        return []


class SGDLearner:
    def __init__(self, W, cfg, make_tile, device: Device, **_):
        self.cfg, self.device = cfg, device
        self.tile = make_tile("w")
        self.tile.program(W)

    def view(self):
        t = self.tile
        return t.read_weights(), t.gain, read_sigma(t, self.device) if self.cfg.read_noise else None

    def update(self, x, d, sample0):
        pulse_update(self.tile, x, d, self.cfg.lr, self.cfg, sample0)

    def tiles(self):
        return [self.tile]


class MixedLearner(SGDLearner):
    def __init__(self, W, cfg, make_tile, device, **kw):
        super().__init__(W, cfg, make_tile, device)
        self.chi = np.zeros_like(self.tile.Xp)
        self.accumulations = 0      # digital multiply-accumulates into chi

    def update(self, x, d, sample0):
        self.chi -= self.cfg.lr * (x.T @ d)
        self.accumulations += x.shape[0] * self.chi.size
        step = weight_step(self.tile)
        n = np.trunc(self.chi / step)
        if n.any():
            self.tile.update_counts(n.astype(np.int64))
            self.chi -= n * step


def symmetric_point(tile: AnalogTile, iters: int = 40) -> np.ndarray:
    """Per device, the state where an up and a down pulse have equal mean steps (bisection on the law);
    a device whose up step stays above (below) its down step over the whole range: its upper (lower)
    bound; a symmetric device with equal steps everywhere: 0."""
    from archsim.model.update_laws import step_sizes
    m = tile.model
    args = (tile.dwu, tile.asym, tile.bp, tile.bm)

    def diff(x):
        return step_sizes(m, x, True, *args) - step_sizes(m, x, False, *args)

    lo, hi = tile.bm.copy(), tile.bp.copy()
    flo, fhi = diff(lo), diff(hi)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        fm = diff(mid)
        left = (fm > 0) == (flo > 0)
        lo = np.where(left, mid, lo)
        flo = np.where(left, fm, flo)
        hi = np.where(left, hi, mid)
    sp = 0.5 * (lo + hi)
    d0, d1 = diff(tile.bm), diff(tile.bp)
    same = (d0 > 0) == (d1 > 0)
    sp = np.where(same & (d0 > 0), tile.bp, np.where(same & (d0 < 0), tile.bm, sp))
    return np.where((d0 == 0) & (d1 == 0), 0.0, sp)


class TikiTakaLearner:
    """A is read against a reference at each device's symmetric point (zero shifting, Kim et al. 2020,
    as Gokmen and Haensch 2020 assume): A starts there and its read is ``gain (x - sp)``."""

    def __init__(self, W, cfg, make_tile, device, **_):
        self.cfg, self.device = cfg, device
        self.A = make_tile("a")
        self.C = make_tile("c")
        self.C.program(W)
        self.sp = symmetric_point(self.A) if not self.A.pair else np.zeros((self.A.K, self.A.N))
        if not self.A.pair:
            self.A.Xp = self.sp.copy()
        self.row = 0
        self.seen = 0
        self.transfers = 0

    def view(self):
        t = self.C
        return t.read_weights(), t.gain, read_sigma(t, self.device) if self.cfg.read_noise else None

    def update(self, x, d, sample0, reader=None):
        A = self.A
        pulse_update(A, x, d, self.cfg.lr, self.cfg, sample0)
        self.seen += x.shape[0]
        while self.seen >= self.cfg.transfer_every:
            self.seen -= self.cfg.transfer_every
            i = self.row
            self.row = (self.row + 1) % A.K
            e = np.zeros((1, A.K))
            e[0, i] = 1.0
            v = reader(A.weights() - A.gain * self.sp, A.gain, e) if reader is not None else \
                e @ (A.weights() - A.gain * self.sp)
            A.counters.forward_reads += 1
            C = self.C
            pulse_update(C, e, -v, self.cfg.transfer_lr, self.cfg, self.transfers)
            self.transfers += 1

    def tiles(self):
        return [self.A, self.C]


class CarryLearner:
    def __init__(self, W, cfg, make_tile, device, rng=None, **_):
        self.cfg, self.device = cfg, device
        self.F = cfg.carry_gain
        self.G = make_tile("msp")
        self.g = make_tile("lsp")
        self.G.program(np.asarray(W) / self.F)
        self.g.program(np.zeros_like(W))
        self.seen = 0
        self.carries = 0
        self.rng = rng
        # write-verify error of a carry in state units: the device's programming error at mid-range
        span = device.g_max - device.g_min
        self.sigma = float(device.prog.sigma(np.array([device.g_min + 0.5 * span]))[0] / span * 2.0)

    def view(self):
        W = self.F * self.G.read_weights() + self.g.read_weights()
        sig = None
        if self.cfg.read_noise:
            a, b = read_sigma(self.G, self.device), read_sigma(self.g, self.device)
            if a is not None:
                sig = np.hypot(self.F * a, b) / (self.F + 1.0)
        return W, self.G.gain * (self.F + 1.0), sig

    def update(self, x, d, sample0):
        g = self.g
        pulse_update(g, x, d, self.cfg.lr, self.cfg, sample0)
        self.seen += x.shape[0]
        if self.seen >= self.cfg.carry_every:
            self.seen = 0
            self.G.program(self.G.weights() + g.weights() / self.F, self.sigma, self.rng)
            g.program(np.zeros((g.K, g.N)))
            self.carries += 1

    def tiles(self):
        return [self.G, self.g]


#: algorithm name -> learner class
LEARNERS = {"float": FloatLearner, "sgd": SGDLearner, "mixed": MixedLearner, "tiki-taka": TikiTakaLearner,
            "carry": CarryLearner}

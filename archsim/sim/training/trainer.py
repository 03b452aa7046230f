"""Train a dense chain on analog tiles: :func:`fit` (one trial) and :func:`run_trials` (mean and 95% interval).

One step on a batch of ``B`` samples: forward reads through every layer (:func:`network.read`, inputs
with a bias column of ones where the layer has a bias), softmax cross-entropy error ``d = p - onehot``
per sample, backward reads ``d @ W.T`` through the same arrays (the bias row dropped) times the
activation's derivative, then each layer's learner applies ``W -= lr sum_b x_b^T d_b`` (the learning rate
is per sample, as in batch-1 SGD: Gokmen and Vlasov 2016 train with one sample per update).  The float
reference (``algorithm="float"``) runs the same loop with exact reads and exact updates.

Seeds: the initial weights are :func:`archsim.sim.train.init_params` of ``seed`` (the float trainer's);
the sample order of each epoch is ``default_rng(seed).permutation``; device-to-device draws, pulse trains,
cycle-to-cycle and read noise come from streams keyed by ``(seed, trial, layer, role)`` and global
sample counters: the same seed gives the same numbers, whatever the thread count.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from archsim.model.arch import Architecture
from archsim.model.device import Device, load_device
from archsim.model.errors import ArchsimError
from archsim.model.update_laws import UpdateModel
from archsim.model.workload import Workload
from archsim.sim.accuracy import ci95_halfwidth
from archsim.sim.train import init_params
from archsim.sim.training import kernels as KN
from archsim.sim.training.learners import LEARNERS
from archsim.sim.training.network import ACTIVATIONS, Periphery, dense_chain, read
from archsim.sim.training.tile import AnalogTile, Counters
from archsim.sim.tilesim.rng import mix64_py
from archsim.sim.tilesim.support import blas_single_thread

ALGORITHMS = ("sgd", "mixed", "tiki-taka", "carry", "float")
TRAINS = ("stochastic", "deterministic")
_ROLES = {"w": 1, "a": 2, "c": 3, "msp": 4, "lsp": 5}


@dataclass(frozen=True)
class AnalogTrainConfig:
    """Settings of one training run (every field is reported with the result)."""

    algorithm: str = "sgd"
    epochs: int = 1
    batch_size: int = 10
    lr: float = 0.01
    bl: int = 31                      # pulse-train length (bits)
    trains: str = "stochastic"        # or "deterministic"
    update_management: bool = True
    weight_gain: float = 0.6          # weight of a device at its nominal upper bound (|w| <= 0.6: Gokmen 2016)
    converters: bool = True
    adc_full_scale: float = 0.1       # ADC full scale per row of an array, in full input x full device
    read_noise: bool = True
    transfer_every: int = 2           # tiki-taka: samples between row transfers A -> C
    transfer_lr: float = 0.1          # tiki-taka: rate of the transfer update
    carry_every: int = 1000           # carry: samples between carries g -> G
    carry_gain: float = 3.0           # carry: significance F of the G pair
    seed: int = 0
    use_numba: bool = True
    #: step changes of the learning rate: ((epoch, lr), ...), epochs counted from 1 and rising; from that epoch
    #: on the rate is that lr (before the first, ``lr``).  () keeps ``lr`` throughout.  It applies to the
    #: gradient update of every algorithm (the float one too), not to tiki-taka's ``transfer_lr``.
    lr_schedule: tuple = ()

    def __post_init__(self):
        def bad(k, allowed):
            return ArchsimError(f"training: '{k}' = {getattr(self, k)!r} is not allowed; allowed {allowed}")
        if self.algorithm not in ALGORITHMS:
            raise bad("algorithm", ", ".join(ALGORITHMS))
        if self.trains not in TRAINS:
            raise bad("trains", ", ".join(TRAINS))
        for k in ("epochs", "batch_size", "transfer_every", "carry_every"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(k, "an integer >= 1")
        if isinstance(self.bl, bool) or not isinstance(self.bl, int) or not 1 <= self.bl <= KN.MAX_BL:
            raise bad("bl", f"an integer 1 to {KN.MAX_BL}")
        for k in ("lr", "weight_gain", "adc_full_scale", "transfer_lr", "carry_gain"):
            v = getattr(self, k)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise bad(k, "a finite number > 0")
        object.__setattr__(self, "lr_schedule", _schedule(self.lr_schedule, self.epochs))

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (counted from 1): the last schedule step at or before it, else ``lr``."""
        rate = self.lr
        for e, r in self.lr_schedule:
            if e <= epoch:
                rate = r
        return rate


def _schedule(steps, epochs: int) -> tuple:
    """``steps`` as a tuple of (epoch, lr) pairs, checked: epochs whole numbers from 2 to ``epochs``, rising;
    rates finite and > 0."""
    allowed = (f"pairs (epoch, lr) with epochs whole numbers from 2 to epochs ({epochs}), rising, and each lr a "
               f"finite number > 0, e.g. ((11, 0.005), (21, 0.0025))")
    try:
        pairs = tuple((e, r) for e, r in steps)
    except (TypeError, ValueError):
        raise ArchsimError(f"training: 'lr_schedule' = {steps!r} is not allowed; allowed {allowed}") from None
    last = 1
    for e, r in pairs:
        ok_e = isinstance(e, (int, np.integer)) and not isinstance(e, bool) and last < e <= epochs
        ok_r = isinstance(r, (int, float, np.floating)) and not isinstance(r, bool) and math.isfinite(r) and r > 0
        if not (ok_e and ok_r):
            raise ArchsimError(f"training: 'lr_schedule' step ({e!r}, {r!r}) is not allowed; allowed {allowed}")
        last = e
    return tuple((int(e), float(r)) for e, r in pairs)


@dataclass
class TrainResult:
    """One trial: accuracy per epoch, the counters of every tile and pulses per device."""

    device: str
    config: AnalogTrainConfig
    history: list = field(default_factory=list)  # dicts: epoch, lr, loss, test_accuracy, seconds (wall), cpu_seconds
    layers: list = field(default_factory=list)       # dicts: name, K, N, counters, pulses stats
    extra: dict = field(default_factory=dict)        # algorithm events: accumulations, transfers, carries

    @property
    def final_accuracy(self) -> float:
        return self.history[-1]["test_accuracy"]


def _softmax_error(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    loss = float(np.mean(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-300))))
    p[np.arange(len(y)), y] -= 1.0
    return loss, p


class _Net:
    def __init__(self, workload, device: Device | None, cfg: AnalogTrainConfig, arch: Architecture, trial: int):
        self.specs = dense_chain(workload)
        self.cfg = cfg
        self.device = device
        self.per = Periphery(cfg.converters and cfg.algorithm != "float", arch.input_bits, arch.adc_bits,
                             cfg.adc_full_scale, arch.rows, cfg.read_noise, arch.read_rows)
        params = init_params(workload, cfg.seed, dtype=np.float64)
        model = device.update if device is not None else None
        rng = np.random.default_rng([cfg.seed, trial, 77])
        self.learners = []
        for li, s in enumerate(self.specs):
            W = params[f"{s.name}.weight"].T                      # (K, N)
            if s.bias:
                W = np.vstack([W, params[f"{s.name}.bias"][None, :]])

            def make(role, K=W.shape[0], N=W.shape[1], li=li):
                return AnalogTile(K, N, model, cfg.weight_gain, (cfg.seed, trial, li, _ROLES[role]), cfg.use_numba)
            self.learners.append(LEARNERS[cfg.algorithm](W, cfg, make_tile=make, device=device, rng=rng))
        for lr in self.learners:          # the initial programming is not a training event
            for t in lr.tiles():
                t.counters = Counters()
        self.root = mix64_py(int(np.random.SeedSequence([cfg.seed, trial, 91]).generate_state(1, np.uint64)[0]))
        self._streams = {}

    def set_lr(self, rate: float):
        """Every learner updates with learning rate ``rate`` from now on (its settings with ``lr`` replaced)."""
        for lr in self.learners:
            if lr.cfg.lr != rate:
                lr.cfg = dataclasses.replace(lr.cfg, lr=rate)

    def _read(self, li, x, transpose, tag, row0):
        lr = self.learners[li]
        key = li * 8 + tag + 1
        stream = self._streams.get(key)
        if stream is None:          # the read streams of a layer and role: fixed for the run
            stream = self._streams[key] = mix64_py(self.root + 0x9E3779B97F4A7C15 * key)
        return read(lr.view(), x, self.per, transpose, stream, row0, self.cfg.use_numba)

    def forward(self, x, row0, tag=0):
        ins, outs = [], []
        h = x
        for li, s in enumerate(self.specs):
            if s.bias:              # the inputs and a bias column of ones (np.hstack's values, one allocation)
                xin = np.empty((h.shape[0], h.shape[1] + 1), dtype=np.result_type(h.dtype, np.float64))
                xin[:, :-1] = h
                xin[:, -1] = 1.0
            else:
                xin = h
            z = self._read(li, xin, False, tag, row0)
            h = ACTIVATIONS[s.activation][0](z)
            ins.append(xin)
            outs.append(h)
        return h, ins, outs

    def step(self, x, y, sample0):
        logits, ins, outs = self.forward(x, sample0, tag=0)
        loss, d = _softmax_error(logits, y)
        deltas = [None] * len(self.specs)
        for li in range(len(self.specs) - 1, -1, -1):
            s = self.specs[li]
            d = d * ACTIVATIONS[s.activation][1](outs[li]) if li < len(self.specs) - 1 else d
            deltas[li] = d
            if li > 0:
                back = self._read(li, d, True, 2, sample0)
                d = back[:, :-1] if s.bias else back
        for li, lr in enumerate(self.learners):
            if hasattr(lr, "A"):
                lr.update(ins[li], deltas[li], sample0,
                          reader=lambda W, gain, e, li=li: read((W, gain, None), e, self.per, False,
                                                             mix64_py(self.root + 7 * li + 5), lr.transfers,
                                                             self.cfg.use_numba))
            else:
                lr.update(ins[li], deltas[li], sample0)
        for li in range(len(self.specs)):
            for t in self.learners[li].tiles():
                t.counters.forward_reads += x.shape[0]
                if li > 0:
                    t.counters.backward_reads += x.shape[0]
        return loss

    def accuracy(self, x, y, chunk=1000):
        right = 0
        for c0 in range(0, len(x), chunk):
            out, _, _ = self.forward(x[c0:c0 + chunk], c0, tag=4)
            right += int(np.sum(out.argmax(axis=1) == y[c0:c0 + chunk]))
        return right / len(x)


def resolve_device(device) -> Device:
    dm = load_device(device)
    if dm.update is None:
        raise ArchsimError(f"device '{dm.name}' ({dm.file}) has no 'update' section: it cannot be trained by "
                           f"pulses; devices with one: {', '.join(trainable_devices())}")
    return dm


def trainable_devices() -> list[str]:
    from archsim.io import techlib
    return [n for n in techlib.device_names() if load_device(n).update is not None]


def fit(workload: Workload, device, data, cfg: AnalogTrainConfig = AnalogTrainConfig(), *, trial: int = 0,
        arch: Architecture | None = None, progress=None, update_model: UpdateModel | None = None) -> TrainResult:
    """Train ``workload`` on ``device`` with ``data = (x_train, y_train, x_test, y_test)``; one trial.

    ``update_model`` replaces the device file's update section (sweeps); ``progress(n)`` is called with
    the samples of every step."""
    dm = None
    if cfg.algorithm != "float":
        dm = resolve_device(device)
        if update_model is not None:
            dm = dataclasses.replace(dm, update=update_model)
    name = dm.name if dm is not None else "float"
    arch = arch or Architecture(device="sram" if dm is None else "ecram")
    x_tr, y_tr, x_te, y_te = data
    x_tr = np.asarray(x_tr, dtype=np.float64).reshape(len(x_tr), -1)
    x_te = np.asarray(x_te, dtype=np.float64).reshape(len(x_te), -1)
    y_tr, y_te = np.asarray(y_tr, dtype=np.int64), np.asarray(y_te, dtype=np.int64)
    net = _Net(workload, dm, cfg, arch, trial)
    if x_tr.shape[1] != net.specs[0].K:
        raise ArchsimError(f"workload {workload.name}: data has {x_tr.shape[1]} features, the first layer takes "
                           f"{net.specs[0].K}")
    res = TrainResult(name, cfg, extra={"samples_per_epoch": len(x_tr)})
    # small products, many of them: a multi-threaded BLAS only waits for its threads here
    with blas_single_thread():
        _epochs(net, res, cfg, x_tr, y_tr, x_te, y_te, progress)
    _tally(net, res, dm)
    return res


def _epochs(net, res, cfg, x_tr, y_tr, x_te, y_te, progress):
    order = np.random.default_rng(cfg.seed)
    n = len(x_tr)
    for epoch in range(cfg.epochs):
        net.set_lr(cfg.lr_at(epoch + 1))
        t0, c0 = time.perf_counter(), time.process_time()
        perm = order.permutation(n)
        losses = []
        for s in range(0, n, cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            losses.append(net.step(x_tr[idx], y_tr[idx], epoch * n + s))
            if progress is not None:
                progress(len(idx))
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        res.history.append(dict(epoch=epoch + 1, lr=cfg.lr_at(epoch + 1), loss=float(np.mean(losses)),
                                test_accuracy=net.accuracy(x_te, y_te), seconds=sec, cpu_seconds=cpu))


def _tally(net, res, dm):
    for s, lr in zip(net.specs, net.learners):
        tiles = lr.tiles()
        c = Counters()
        for t in tiles:
            c = c.add(t.counters)
        pulses = np.concatenate([t.pulses.ravel() for t in tiles]) if tiles else np.zeros(1)
        res.layers.append(dict(name=s.name, K=s.K + (1 if s.bias else 0), N=s.N, tiles=len(tiles),
                               counters=asdict(c), pulses_mean=float(pulses.mean()), pulses_max=int(pulses.max()),
                               accumulations=getattr(lr, "accumulations", 0), transfers=getattr(lr, "transfers", 0),
                               carries=getattr(lr, "carries", 0)))
    if dm is not None:
        res.extra["endurance"] = dm.update.endurance
        res.extra["worn_fraction"] = float(np.mean([l["pulses_max"] > dm.update.endurance for l in res.layers]))


@dataclass(frozen=True)
class TrialSummary:
    """Test accuracy per epoch over trials: mean and 95% half-width (:func:`archsim.sim.accuracy.ci95_halfwidth`)."""

    device: str
    algorithm: str
    epochs: tuple
    mean: tuple
    halfwidth: tuple
    per_trial: tuple            # (trials, epochs)
    pulses_per_device: float    # mean over devices and trials
    pulses_max: int
    results: tuple = field(repr=False, default=())

    @property
    def final(self) -> float:
        return self.mean[-1]


def summarize(results: list[TrainResult], n_test: int) -> TrialSummary:
    acc = np.array([[h["test_accuracy"] for h in r.history] for r in results])
    hw = [ci95_halfwidth(acc[:, e], n_test) for e in range(acc.shape[1])]
    pm = float(np.mean([np.average([l["pulses_mean"] for l in r.layers], weights=[l["K"] * l["N"] for l in r.layers])
                        for r in results]))
    return TrialSummary(results[0].device, results[0].config.algorithm, tuple(range(1, acc.shape[1] + 1)),
                        tuple(acc.mean(axis=0)), tuple(hw), tuple(map(tuple, acc)), pm,
                        int(max(l["pulses_max"] for r in results for l in r.layers)), tuple(results))


def run_trials(workload, device, data, cfg: AnalogTrainConfig = AnalogTrainConfig(), trials: int = 1, **kw) -> TrialSummary:
    """``trials`` independent trials (device draws and noise streams keyed by the trial; same init and order)."""
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ArchsimError(f"training: trials = {trials!r} is not allowed; allowed an integer >= 1")
    res = [fit(workload, device, data, cfg, trial=t, **kw) for t in range(trials)]
    return summarize(res, len(data[3]))

"""Hybrid training (Yao et al., Nature 2020): program the network, retrain chosen layers in
software on the programmed chip's own outputs, reprogram them.

Per trial (one independently programmed chip, as in :func:`archsim.sim.accuracy.simulate`):

1. **transfer**: every weighted layer is programmed (seed ``(seed, trial, layer, group)``, the same cells
   :func:`~archsim.sim.accuracy.simulate` programs), input and ADC ranges are calibrated on the
   calibration batch, and the test images are scored;
2. **tuning**: a subset of the training split (``train_fraction`` of it, drawn with the trial's own seed;
   never a scored image) runs through the chip up to the *cut*, the tensor that feeds the first hybrid
   layer; the network from the cut on is trained in software (:func:`archsim.sim.train.fit`) on those
   chip outputs, starting from the transferred weights, with only the hybrid layers' weights and biases
   updated (the other layers after the cut keep their weights, as programmed);
3. **hybrid**: the hybrid layers are reprogrammed with the new weights (a fresh programming-error draw:
   seed ``(seed, trial, layer, group, 1)``) and calibrated again on the calibration batch; the layers
   before the cut keep their cells; the test images are scored (the layers before the cut are read once
   per image in step 1 and their outputs reused: their cells did not change);
4. **drift** (``cfg.time_s > 0``): every cell, the reprogrammed ones included, read ``time_s`` after
   programming (ranges kept from programming, no drift compensation), all test images scored again.

The cut must be a single tensor: every layer from the first hybrid layer on reads only layers after the
cut (sequential networks always qualify; a residual block cut in its middle does not).

Tuning energy: the cells whose target level changes (both arrays of a differential pair, every slice)
are reprogrammed; each costs the device's update energy per cell where its tile table has one
(``lut.opu.energy_per_op``, Marinella et al. (Sandia 2022)), else its write figures (``write`` section: voltage x current x
pulse x pulses), else it is not priced (``energy_per_cell`` None, said in ``energy_source``).

Statistics: per stage the mean over trials and the 95% interval of :func:`archsim.sim.accuracy.ci95`
(chip-to-chip variation and image sampling error).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from archsim.mapping.layout import Mapping
from archsim.model.device import Device
from archsim.model.errors import ArchsimError, ParameterError
from archsim.model.weights import attach_weights, weight_matrix
from archsim.model.workload import Layer, Workload
from archsim.sim import forward
from archsim.sim import train as T
from archsim.sim.accuracy import _chunk, ci95, image_chunks
from archsim.sim.tilesim import ProgrammedMatrix, SimConfig
from archsim.sim.tilesim.support import slice_codes, weight_scale

__all__ = ["HybridResult", "hybrid_train", "resolve_layers", "tail_workload", "tuning_energy_per_cell",
           "TUNE_EPOCHS", "TUNE_LR", "TUNE_BATCH", "TRAIN_FRACTION"]

#: defaults of the software retraining (a few epochs of Adam from the transferred weights, cosine schedule)
TUNE_EPOCHS, TUNE_LR, TUNE_BATCH = 10, 1e-3, 32
#: default share of the training split used for tuning (Yao et al., Nature 2020: 3% of CIFAR-10's for ResNet-56)
TRAIN_FRACTION = 0.03
#: spawn tags of the per-trial random choices (beside the programming seeds)
_TAG_SELECT, _TAG_FIT = 11, 12
#: read-pass numbers; 0 and 1 are the calibration and test passes of accuracy.simulate (same read noise)
_CAL, _TEST, _TUNE, _RECAL, _RETEST, _AGED = 0, 1, 3, 4, 5, 6


def resolve_layers(wl: Workload, spec) -> tuple[str, ...]:
    """Layer names from ``spec``: names (a list or comma-separated text) of weighted layers, or ``last``
    (the last weighted layer), in the workload's order."""
    weighted = [l.name for l in wl.weighted_layers()]
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    items = [s for s in items if s]
    if not items:
        raise ParameterError(f"{{param}}: no layer named; allowed: last or weighted layers of {wl.name}: "
                             f"{', '.join(weighted)}", "layers")
    out = []
    for s in items:
        name = weighted[-1] if s.lower() == "last" else s
        if name not in weighted:
            raise ParameterError(f"{{param}}: '{s}' is not a weighted layer of {wl.name}; allowed: last or "
                                 f"{', '.join(weighted)}", "layers")
        if name not in out:
            out.append(name)
    return tuple(n for n in weighted if n in out)


def _cut(wl: Workload, layers: tuple[str, ...]) -> tuple[str, set]:
    """``(boundary, tail)``: the layer whose output feeds the first hybrid layer, and every layer from that
    hybrid layer on; refuses a cut that is not one tensor."""
    order = [l.name for l in wl.layers()]
    first = min(layers, key=order.index)
    tail = {first} | nx.descendants(wl.graph, first)
    preds = wl.predecessors(first)
    if len(preds) != 1:
        raise ParameterError(f"{{param}} {','.join(layers)}: layer '{first}' reads {len(preds)} layers; the cut "
                             f"before the first hybrid layer must be one tensor", "layers")
    b = preds[0]
    for n in sorted(tail, key=order.index):
        bad = [p for p in wl.predecessors(n) if p not in tail and p != b]
        if bad:
            raise ParameterError(f"{{param}} {','.join(layers)}: layer '{n}' after the cut at '{b}' also reads "
                                 f"'{bad[0]}' from before it; choose hybrid layers after the last branch point "
                                 f"(e.g. last)", "layers")
    missing = [n for n in layers if n not in tail]
    if missing:
        raise ParameterError(f"{{param}} {','.join(layers)}: layer '{missing[0]}' does not follow '{first}'; "
                             f"hybrid layers must lie after one cut", "layers")
    return b, tail


def tail_workload(wl: Workload, boundary: str, tail: set) -> Workload:
    """The network from the cut on: an input layer shaped like ``boundary``'s output, then ``tail``."""
    g = nx.DiGraph()
    shape = tuple(wl.layer(boundary).out_shape)
    g.add_node(boundary, layer=Layer(boundary, "input", shape, shape), order=-1)
    for n in tail:
        g.add_node(n, **wl.graph.nodes[n])
    for u, v in wl.graph.edges:
        if v in tail and (u in tail or u == boundary):
            g.add_edge(u, v)
    return Workload(f"{wl.name}[{boundary}:]", g, f"{wl.name} after '{boundary}'", wl.dataset)


def tuning_energy_per_cell(device: Device) -> tuple[float | None, str]:
    """``(J per reprogrammed cell, where it comes from)``: the tile table's update energy, else the write
    figures, else ``None``."""
    if "opu" in device.lut:
        return device.lut["opu"].energy_per_op, f"{device.name} tile table, outer-product update energy per cell"
    if device.write_energy_per_cell is not None:
        return device.write_energy_per_cell, f"{device.name} write figures (voltage x current x pulse x pulses)"
    return None, f"{device.name} has no update or write figures: tuning energy not priced"


@dataclass(frozen=True)
class HybridResult:
    workload: str
    device: str
    layers: tuple
    stages: dict                 # stage -> per-trial accuracy (transfer, hybrid[, drift])
    samples: int                 # scored images
    seed: int
    train_images: int            # tuning images per trial
    train_fraction: float
    time_s: float
    cells_total: int             # cells of the hybrid layers (both arrays of a pair, every slice)
    cells_written: np.ndarray    # per trial: cells whose target level changed
    energy_per_cell: float | None
    energy_source: str
    reference: float             # the exact digital network's accuracy
    calibration: str = ""
    tune: dict = field(default_factory=dict)   # the retraining settings

    @property
    def trials(self) -> int:
        return len(self.stages["transfer"])

    @property
    def tuning_energy_J(self) -> float:
        """Mean energy per chip to reprogram the changed cells (NaN where the device has no figures)."""
        if self.energy_per_cell is None:
            return float("nan")
        return float(self.cells_written.mean() * self.energy_per_cell)

    def frame(self) -> pd.DataFrame:
        """One row per stage: mean, std over trials, 95% interval (:func:`archsim.sim.accuracy.ci95`)."""
        rows = []
        for stage, v in self.stages.items():
            lo, hi = ci95(v, self.samples)
            rows.append(dict(stage=stage, accuracy_mean=float(v.mean()),
                             accuracy_std=float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                             ci95_low=lo, ci95_high=hi, error_rate_pct=100.0 * (1.0 - float(v.mean())),
                             trials=len(v), samples=self.samples))
        return pd.DataFrame(rows)


class _TuneChip:
    """One trial's chip: programmed matrices per (layer, group), a programming round per layer, read passes."""

    def __init__(self, m: Mapping, device: Device, cfg: SimConfig, seed: int, trial: int):
        self.arch, self.device, self.cfg = m.arch, device, cfg
        self.seed, self.trial = seed, trial
        self.lms = {lm.layer: lm for lm in m.layers}
        self.index = {lm.layer: i for i, lm in enumerate(m.layers)}
        self.pms: dict = {}
        self.made: dict = {}         # (layer, group) -> (W, layer map, seed): what was programmed
        self.rounds: dict = {}       # layer -> programming round (0: the transfer)
        self.rows: dict = {}
        self.pass_no, self.calibrating = _CAL, True

    def start(self, pass_no: int, calibrating: bool = False) -> "_TuneChip":
        self.pass_no, self.calibrating = pass_no, calibrating
        return self

    def reprogram(self, layers) -> None:
        """Forget the cells of ``layers``: their next calibration pass programs them anew (next round)."""
        for name in layers:
            self.rounds[name] = self.rounds.get(name, 0) + 1
        for k in [k for k in self.pms if k[0] in layers]:
            del self.pms[k]

    def __call__(self, layer, cols, group):
        k = (layer.name, group)
        if k not in self.pms:
            if not self.calibrating:
                raise ArchsimError(f"layer '{layer.name}' was not calibrated")
            lm = self.lms[layer.name]
            lm_g = dataclasses.replace(lm, groups=1, N=lm.N // lm.groups, macs=lm.macs // lm.groups)
            W = weight_matrix(layer, dtype=np.float64)[group]
            r = self.rounds.get(layer.name, 0)
            seed = (self.seed, self.trial, self.index[layer.name], group) + ((r,) if r else ())
            self.made[k] = (W, lm_g, seed)
            self.pms[k] = ProgrammedMatrix.program(W, lm_g, self.arch, self.device, self.cfg, seed=seed).calibrate(cols)
        row0 = self.rows.get((self.pass_no,) + k, 0)
        self.rows[(self.pass_no,) + k] = row0 + cols.shape[0]
        y = self.pms[k].matmul(cols, key=(self.trial, self.index[layer.name], group, self.pass_no), first_row=row0)
        return y.astype(cols.dtype, copy=False)

    def aged(self, time_s: float) -> "_TuneChip":
        """The same cells read ``time_s`` after programming, with the ranges set when they were programmed."""
        cfg = dataclasses.replace(self.cfg, time_s=time_s)
        new = _TuneChip.__new__(_TuneChip)
        new.__dict__.update(self.__dict__)
        new.cfg, new.rows, new.pms = cfg, {}, {}
        for k, fresh in self.pms.items():
            W, lm_g, seed = self.made[k]
            aged = ProgrammedMatrix.program(W, lm_g, self.arch, self.device, cfg, seed=seed)
            new.pms[k] = dataclasses.replace(aged, calibrated=True, x_max=fresh.x_max, x_signed=fresh.x_signed,
                                             adc_lo=fresh.adc_lo, adc_step=fresh.adc_step, adc_inv=fresh.adc_inv)
        return new.start(_AGED)


def _changed_cells(old: np.ndarray, new: np.ndarray, arch, bpc: int) -> int:
    """Cells (every array of the pair, every slice) whose target level differs between two weight matrices,
    each cell holding ``bpc`` bits."""
    a = slice_codes(old, weight_scale(old), arch, bpc)
    b = slice_codes(new, weight_scale(new), arch, bpc)
    return int(np.count_nonzero(a != b))


def _sub_seed(*parts) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _score(out: np.ndarray, y: np.ndarray) -> float:
    return float((out.reshape(len(y), -1).argmax(axis=1) == np.asarray(y)).mean())


def hybrid_train(m: Mapping, x: np.ndarray, y: np.ndarray, x_train: np.ndarray, y_train: np.ndarray, *,
                 layers=("last",), train_fraction: float = TRAIN_FRACTION, x_cal: np.ndarray | None = None,
                 calibration: str | None = None, trials: int = 5, seed: int = 0, cfg: SimConfig = SimConfig(),
                 epochs: int = TUNE_EPOCHS, lr: float = TUNE_LR, batch_size: int = TUNE_BATCH,
                 chunk: int | None = None, log=None, tune_noise: bool = False) -> HybridResult:
    """Hybrid training of the mapped network over ``trials`` chips (module docstring).

    ``x, y``: the scored test images; ``x_train, y_train``: the pool the tuning images are drawn from
    (``round(train_fraction * len(x_train))`` per trial, at least one); ``x_cal``: the calibration batch
    (default: the first 128 images of ``x_train``).  ``log(text)``: one line per trial.  ``tune_noise``: the
    software retraining injects the device's programming error into the weights after the cut
    (:mod:`archsim.sim.noise_aware`), so the retrained layers expect the error their reprogramming draws."""
    wl, arch = m.workload, m.arch
    if not wl.has_weights:
        raise ArchsimError(f"workload {wl.name}: hybrid training needs trained weights")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ArchsimError(f"trials = {trials!r}; allowed an integer >= 1")
    if not (isinstance(train_fraction, (int, float)) and 0.0 < train_fraction <= 1.0):
        raise ParameterError(f"{{param}} {train_fraction!r}: allowed a fraction above 0 up to 1", "train_fraction")
    if y is None or y_train is None:
        raise ArchsimError(f"workload {wl.name}: hybrid training needs labelled test and training images")
    names = resolve_layers(wl, layers)
    b, tail = _cut(wl, names)
    device = m.device
    x, y = np.asarray(x), np.asarray(y)
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    if x_cal is None:
        x_cal = x_train[:128]
        calibration = calibration or f"the first {len(x_cal)} images of the training pool"
    n_tune = max(1, int(round(train_fraction * len(x_train))))
    cfg0 = dataclasses.replace(cfg, time_s=0.0)
    step = _chunk(wl, chunk)
    sub = tail_workload(wl, b, tail)
    exact = forward.run(wl, x, chunk=chunk)
    reference = _score(exact, y)
    hyb_keys = [k for n in names for k in (f"{n}.weight", f"{n}.bias")]
    start = {}
    for lay in sub.weighted_layers():
        start[f"{lay.name}.weight"] = np.asarray(lay.weights, dtype=np.float32)
        if lay.bias is not None:
            start[f"{lay.name}.bias"] = np.asarray(lay.bias, dtype=np.float32)
    cells_total = 0
    for n in names:
        lm = m.layer(n)
        cells_total += lm.K * lm.N * arch.copies * lm.slices
    noise = None
    if tune_noise:
        from archsim.sim.noise_aware import programming_noise
        noise = programming_noise(sub, m)
    stages = {"transfer": [], "hybrid": []}
    if cfg.time_s > 0:
        stages["drift"] = []
    written = []
    for t in range(trials):
        chip = _TuneChip(m, device, cfg0, seed, t)
        _, got = forward.run(wl, x_cal, matmul=chip, collect=[b], chunk=len(x_cal))
        cal_b = got[b]
        chip.start(_TEST)
        outs, bs = [], []
        for a0, a1 in image_chunks(len(x), step):
            o, got = forward.run(wl, x[a0:a1], matmul=chip, collect=[b], chunk=step)
            outs.append(o)
            bs.append(got[b])
        stages["transfer"].append(_score(np.concatenate(outs), y))
        test_b = np.concatenate(bs)
        # tuning: the chip's own outputs at the cut, on a training subset of this trial's choosing
        pick = np.sort(np.random.default_rng([seed, t, _TAG_SELECT]).choice(len(x_train), n_tune, replace=False))
        chip.start(_TUNE)
        _, got = forward.run(wl, x_train[pick], matmul=chip, collect=[b], chunk=step)
        tcfg = T.TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=_sub_seed(seed, t, _TAG_FIT))
        params, _ = T.fit(sub, got[b], y_train[pick], tcfg, params=start, trainable=names, log=None,
                          weight_noise=noise)
        tuned = {k: v for k, v in params.items() if k in hyb_keys}
        sub_t = attach_weights(sub, {**start, **tuned})
        written.append(sum(_changed_cells(weight_matrix(wl.layer(n), np.float64), weight_matrix(sub_t.layer(n),
                                          np.float64), arch, m.bits_per_cell) for n in names))
        # reprogram the hybrid layers, calibrate them on the calibration batch's cut tensor, score
        chip.reprogram(names)
        forward.run(sub_t, cal_b, matmul=chip.start(_RECAL, calibrating=True), chunk=len(cal_b))
        chip.start(_RETEST)
        outs = [forward.run(sub_t, test_b[a0:a1], matmul=chip, chunk=step) for a0, a1 in image_chunks(len(x), step)]
        stages["hybrid"].append(_score(np.concatenate(outs), y))
        if cfg.time_s > 0:
            wl_t = attach_weights(wl, {**_params_of(wl), **tuned})
            aged = chip.aged(cfg.time_s)
            outs = [forward.run(wl_t, x[a0:a1], matmul=aged, chunk=step) for a0, a1 in image_chunks(len(x), step)]
            stages["drift"].append(_score(np.concatenate(outs), y))
        if log:
            log(f"trial {t}: " + ", ".join(f"{s} {v[-1]:.4f}" for s, v in stages.items()))
    e_cell, e_src = tuning_energy_per_cell(device)
    return HybridResult(wl.name, arch.device, names, {k: np.array(v) for k, v in stages.items()}, len(x), seed,
                        n_tune, float(train_fraction), float(cfg.time_s), int(cells_total), np.array(written),
                        e_cell, e_src, reference, calibration or f"a separate batch of {len(x_cal)} images",
                        dict(epochs=epochs, lr=lr, batch_size=batch_size, optimizer="adam", schedule="cosine",
                             noise_aware=bool(tune_noise)))


def _params_of(wl: Workload) -> dict:
    out = {}
    for lay in wl.weighted_layers():
        out[f"{lay.name}.weight"] = lay.weights
        if lay.bias is not None:
            out[f"{lay.name}.bias"] = lay.bias
    return out

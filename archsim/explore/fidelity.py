"""Checking a sized design by Monte Carlo: accuracy or fidelity of one candidate, and the floor it must meet.

:mod:`archsim.explore.sizing` simulates every candidate of its Pareto front with :func:`check_design`
(the public :func:`archsim.sim.accuracy.simulate` on the candidate's own mapping) and never recommends
one below the floor.

* A network with shipped trained weights (``workloads.trained()``: lenet5, mlp, mnist_cnn5, ...) is
  scored on its real test images: **accuracy**, with a 95% interval
  (:func:`archsim.sim.accuracy.ci95`).  Default floor: the float network's accuracy on the same
  images minus :data:`DEFAULT_ACCURACY_DROP` (1 point); ``min_accuracy`` replaces it.
* Any other network gets **fidelity**: top-1 agreement with the exact digital (float) network and the
  relative logit error ``||z_analog - z_float|| / ||z_float||``, on *seeded* weights and inputs
  (:func:`seeded_weights`, :func:`seeded_inputs`).  Default floor: agreement
  >= :data:`DEFAULT_MIN_AGREEMENT` (see there for why).

Large inputs are simulated at a reduced size (:func:`reduced_input`, default :data:`REDUCED_HW` x
:data:`REDUCED_HW` for inputs above :data:`REDUCE_ABOVE` pixels): every weighted layer keeps its rows
and columns, hence its arrays, ADC ranges per column and the candidate's mapping; convolutions see fewer
vectors.  The report says so.

What the check depends on: the architecture keys the simulator reads.  Columns per ADC (time sharing
of one converter), the mesh and the tile budget (replicas hold the same weights) do not enter it, so
:func:`sim_key` drops them and one simulation serves every design that differs only in them.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys
from dataclasses import dataclass

import networkx as nx
import numpy as np

from archsim.mapping.layout import map_workload
from archsim.model import arch as _arch
from archsim.model.errors import ArchsimError, ParameterError
from archsim.model.kinds import KINDS
from archsim.sim.tilesim import SimConfig
from archsim.model.weights import attach_weights
from archsim.model.workload import Layer, Workload

#: default floor for trained networks: float accuracy on the same images minus one point
DEFAULT_ACCURACY_DROP = 0.01
#: default floor for fidelity, top-1 agreement with the float network on seeded weights and inputs.  A
#: seeded network has no trained margins (VGG-16: its top-two logits differ by a median 0.24 standard
#: deviations of the logit vector), so agreement falls far faster than a trained network's accuracy.
#: Measured on LeNet-5, 500 images, one SONOS / ReRAM / PCM chip each (128-row arrays with an 8-bit ADC,
#: 1024-row 7-bit-cell arrays with a 4-bit ADC): the trained network kept its accuracy within 0.2 points
#: of float on every design while the same network with seeded weights agreed on 50% to 84% of inputs,
#: with 3x to 4.4x the relative logit error.  Half the inputs keeping their top-1 class is therefore the
#: floor: it rejects what is plainly broken (mnist_cnn3 on 1024-row 7-bit-cell arrays with a 4-bit ADC:
#: 0.245; VGG-16 at 32 x 32: 0.0) and keeps what a trained network tolerates; passing it is a sign, not a
#: proof, and a stricter --min-agreement makes the check stricter
DEFAULT_MIN_AGREEMENT = 0.5
#: scored images and chips per candidate, and calibration images (never scored): trained networks
ACCURACY_SAMPLES, ACCURACY_TRIALS, ACCURACY_CALIB = 500, 1, 64
#: fidelity on seeded networks: scored inputs per design from a budget of FIDELITY_MACS multiply-accumulates
#: of the simulated network (one input of VGG-16 at 32 x 32 is 0.44 GMAC: 11 inputs; mnist_cnn3: the cap),
#: within [FIDELITY_SAMPLES_MIN, FIDELITY_SAMPLES_MAX]; one chip; calibrated on FIDELITY_CALIB other inputs
FIDELITY_MACS, FIDELITY_SAMPLES_MIN, FIDELITY_SAMPLES_MAX = 5e9, 8, 200
FIDELITY_TRIALS, FIDELITY_CALIB = 1, 2
#: memory of one simulated chip per weight and bit slice, measured: VGG-16 (138 M weights) on 1024 x 1024
#: arrays with 7 bits per cell (one slice) peaked at 14.8 GB resident (``/usr/bin/time -v``): 107 bytes
BYTES_PER_WEIGHT_SLICE = 110
#: inputs larger than REDUCE_ABOVE pixels a side are simulated at REDUCED_HW x REDUCED_HW
REDUCE_ABOVE, REDUCED_HW = 64, 32
#: the ``floor`` of a candidate whose simulated chip would not fit the memory available (never recommended)
TOO_LARGE = "too large to simulate"
#: architecture keys the simulation does not read (each key's ``steps`` in archsim/model/arch.py: sharing an
#: ADC is time multiplexing, replicas hold the same weights, clocks, buffers and nodes are priced, not
#: simulated); :func:`sim_key` drops them
NOT_SIMULATED_KEYS = tuple(k.name for k in _arch.KEYS if "simulator" not in k.steps)


@dataclass(frozen=True)
class CheckSpec:
    """How candidates are checked.  ``None`` fields: the defaults above for the network's kind."""
    samples: int | None = None
    trials: int | None = None
    seed: int = 0
    input_hw: int | None = None          # fidelity only: simulated input size (None: reduce large inputs)
    min_accuracy: float | None = None    # absolute floor (trained networks); None: float - max_accuracy_drop
    max_accuracy_drop: float = DEFAULT_ACCURACY_DROP
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    every_design: bool = False           # check every feasible design, not only the front
    sim: SimConfig = SimConfig()         # the simulator's error sources and converter policies

    def validated(self) -> "CheckSpec":
        for name, v in (("samples", self.samples), ("trials", self.trials), ("input_hw", self.input_hw)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ParameterError(f"{{param}} {v!r}: allowed a whole number of 1 or more", f"check.{name}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ParameterError(f"{{param}} {self.seed!r}: allowed a whole number of 0 or more", "seed")
        for name, v in (("min_accuracy", self.min_accuracy), ("max_accuracy_drop", self.max_accuracy_drop),
                        ("min_agreement", self.min_agreement)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1):
                raise ParameterError(f"{{param}} {v!r}: allowed a fraction from 0 to 1", f"check.{name}")
        return self


@dataclass(frozen=True)
class CheckData:
    """What every candidate is scored on, prepared once per search."""
    workload: Workload       # carrying weights (trained or seeded), perhaps at a reduced input size
    x: np.ndarray
    y: np.ndarray | None
    x_cal: np.ndarray
    metric: str              # "accuracy" | "fidelity"
    reference: float         # the float network's accuracy on x (1.0 for fidelity)
    floor: float             # accuracy or agreement a candidate must reach (its mean)
    floor_text: str
    source: str              # weights, inputs, calibration and input size, in words
    trials: int
    seed: int
    sim: SimConfig = SimConfig()

    @property
    def column(self) -> str:
        """The table column of the checked figure: ``accuracy`` or ``agreement``."""
        return "accuracy" if self.metric == "accuracy" else "agreement"


def prepare(workload: str, spec: CheckSpec = CheckSpec()) -> CheckData:
    """The images, weights and floor for checking candidates of ``workload`` (a built-in name)."""
    import workloads as W
    from archsim.io import data as D
    from archsim.sim import forward
    spec = spec.validated()
    base = W.get(workload)
    trained = W.weights_path(base.name).exists() and base.dataset in D.DATASETS
    if trained:
        if spec.input_hw is not None:
            raise ParameterError(f"{{param}} {spec.input_hw}: {base.name} has trained weights and is scored on its "
                                 f"own images at their size; the option is for networks checked by fidelity", "input_hw")
        wl = W.with_weights(base)
        n, trials = spec.samples or ACCURACY_SAMPLES, spec.trials or ACCURACY_TRIALS
        x, y = D.for_workload(wl, "test", limit=n)
        x_cal, _ = D.for_workload(wl, "train", limit=ACCURACY_CALIB)
        ref = float((forward.run(wl, x).reshape(len(x), -1).argmax(axis=1) == y).mean())
        if spec.min_accuracy is not None:
            floor, ftext = float(spec.min_accuracy), f"accuracy >= {spec.min_accuracy:g} (--min-accuracy)"
        else:
            floor = ref - spec.max_accuracy_drop
            ftext = (f"accuracy >= {floor:.4f}: the float network's {ref:.4f} on the same images minus "
                     f"{spec.max_accuracy_drop:g} (--max-accuracy-drop)")
        source = (f"trained weights, {len(x)} {wl.dataset} test images x {trials} chip(s), calibrated on "
                  f"{len(x_cal)} training images (never scored)")
        return CheckData(wl, x, y, x_cal, "accuracy", ref, floor, ftext, source, trials, int(spec.seed), spec.sim)
    if spec.min_accuracy is not None:
        raise ParameterError(f"{{param}} {spec.min_accuracy:g}: workload {base.name} has no trained weights, so "
                             f"its accuracy is not simulated; its fidelity is: use {{param}} (networks with "
                             f"weights: {', '.join(W.trained())})", "min_accuracy", "check.min_agreement")
    shape = tuple(base.input_layer.out_shape)
    hw = spec.input_hw
    if hw is None and len(shape) == 3 and max(shape[1:]) > REDUCE_ABOVE:
        hw = REDUCED_HW
    own = W.weights_path(base.name).exists()       # trained weights but no data set of its own: keep them
    if own:
        base = W.with_weights(base)
    wl = base if hw is None or (len(shape) == 3 and shape[1:] == (hw, hw)) else reduced_input(base, hw)
    wl = wl if own else seeded_weights(wl, spec.seed)
    n = spec.samples or int(np.clip(FIDELITY_MACS // max(wl.total_macs, 1), FIDELITY_SAMPLES_MIN,
                                    FIDELITY_SAMPLES_MAX))
    trials = spec.trials or FIDELITY_TRIALS
    x = seeded_inputs(wl, n, [spec.seed, 1])
    x_cal = seeded_inputs(wl, FIDELITY_CALIB, [spec.seed, 2])      # a stream of its own: never scored
    size = "x".join(map(str, wl.input_layer.out_shape))
    reduced = f", input reduced to {size} from {'x'.join(map(str, shape))} (every weighted layer keeps its " \
              f"rows and columns)" if wl.input_layer.out_shape != shape else ""
    weights = "its trained weights" if own else f"seeded weights (He-normal, standardised per output, seed {spec.seed})"
    source = (f"{weights} and {n} seeded standard-"
              f"normal inputs x {trials} chip(s){reduced}, calibrated on {len(x_cal)} other seeded inputs")
    ftext = f"top-1 agreement >= {spec.min_agreement:g} with the float network (--min-agreement)"
    return CheckData(wl, x, None, x_cal, "fidelity", 1.0, float(spec.min_agreement), ftext, source, trials,
                     int(spec.seed), spec.sim)


def sim_key(config: dict) -> tuple:
    """What the simulation of ``config`` depends on: every key but :data:`NOT_SIMULATED_KEYS`."""
    return tuple(sorted((k, repr(v)) for k, v in config.items() if k not in NOT_SIMULATED_KEYS))


def chip_bytes(wl: Workload, config: dict) -> float:
    """About the memory one simulated chip of ``config`` takes: :data:`BYTES_PER_WEIGHT_SLICE` per weight
    and bit slice (the weight's magnitude bits over the bits per cell)."""
    a = _arch.Architecture(**{k: config[k] for k in _arch.KEY_BY_NAME if k in config})
    bpc = [a.bits_per_cell] + [d["bits_per_cell"] for _, d in ((n, dict(o)) for n, o in a.layer_overrides)
                               if "bits_per_cell" in d]   # the layer with the fewest bits per cell, as if all
    slices = -(-a.magnitude_bits // int(min(b for b in bpc if isinstance(b, int)))) \
        if any(isinstance(b, int) for b in bpc) else a.magnitude_bits
    return float(BYTES_PER_WEIGHT_SLICE) * wl.total_weights * slices


def available_bytes() -> float | None:
    """Memory available now (Linux ``MemAvailable``); None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_guard(data: CheckData, config: dict) -> None:
    """Fail in one line, before simulating, when one chip of ``config`` would not fit the memory available."""
    need, have = chip_bytes(data.workload, config), available_bytes()
    if have is not None and need > have:
        raise ParameterError(f"the floor check: simulating {data.workload.name} ({data.workload.total_weights / 1e6:.0f} M "
                             f"weights) on {config['rows']}x{config['cols']} arrays, {config['bits_per_cell']} bits/cell "
                             f"needs about {need / 1e9:.1f} GB ({BYTES_PER_WEIGHT_SLICE} bytes per weight and bit slice, "
                             f"measured), {have / 1e9:.1f} GB available; free memory, or turn the simulation off "
                             f"({{param}}: accuracy then not checked)", "check")


def check_design(data: CheckData, config: dict) -> dict:
    """Simulate one design (``config``: a sizing point's flat configuration) on ``data``: the figure, its
    95% interval, the relative logit error and whether it meets the floor."""
    from archsim.sim.accuracy import simulate
    ov = {n: {k: v for k, v in d.items() if k != "replication"} for n, d in config.get("layer_overrides", {}).items()}
    a = _arch.Architecture(**{k: config[k] for k in _arch.KEY_BY_NAME if k in config and k != "layer_overrides"},
                           layer_overrides={n: d for n, d in ov.items() if d})   # replicas: the same weights
    m = map_workload(data.workload, a.replace(replicate=False, mesh=_arch.AUTO, tiles=_arch.AUTO))
    r = simulate(m, data.x, data.y, x_cal=data.x_cal, calibration="separate", trials=data.trials,
                 seed=data.seed, cfg=data.sim, layer_sample=1)
    lo, hi = r.ci95
    return {data.column: r.mean, f"{data.column}_ci95_low": lo, f"{data.column}_ci95_high": hi,
            "logit_error": float(np.mean(r.logit_error)), "floor": "pass" if r.mean >= data.floor else "below floor"}


# ---------------------------------------------------------------------------------------------------------------------
# seeded networks

def seeded_weights(wl: Workload, seed: int = 0) -> Workload:
    """``wl`` with seeded weights whose logits are not degenerate, and zero biases.

    He-normal weights (``std = sqrt(2 / fan_in)``, He et al. 2015) standardised per output neuron: each
    output's fan-in weights have zero mean and the He variance exactly (weight standardisation, Qiao et
    al. 2019).  Plain He-normal weights on a deep ReLU network send every input to nearly the same
    logits (VGG-16: correlation 0.996 between inputs, the same top-1 class for all); zero-mean rows
    cancel the positive mean that ReLU outputs share, and the logits of different inputs decorrelate
    (VGG-16 at 32 x 32: correlation 0.39, 16 inputs over 11 classes).  Not a trained network: results
    with it are fidelity, never accuracy."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    params = {}
    for lay in wl.weighted_layers():
        shape = lay.matrix_view.weight_shape(lay)
        w = rng.standard_normal(shape).reshape(shape[0], -1)
        w -= w.mean(axis=1, keepdims=True)
        sd = w.std(axis=1, keepdims=True)
        w = w / np.where(sd > 0, sd, 1.0) * np.sqrt(2.0 / lay.K)
        params[f"{lay.name}.weight"] = w.reshape(shape).astype(np.float32)
        if lay.has_bias:
            params[f"{lay.name}.bias"] = np.zeros(lay.N, dtype=np.float32)
    return attach_weights(wl, params, source=f"seeded weights, seed {seed}")


def seeded_inputs(wl: Workload, n: int, seed) -> np.ndarray:
    """``n`` standard-normal inputs of ``wl``'s input shape: a standardised image (zero mean, unit
    variance per channel, as after the usual per-channel normalisation)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(n),) + tuple(wl.input_layer.out_shape), dtype=np.float32)


def reduced_input(wl: Workload, hw: int) -> Workload:
    """``wl`` rebuilt for ``hw`` x ``hw`` inputs, every weighted layer keeping its rows ``K`` and columns
    ``N`` (so its arrays and the mapping of every layer are those of the full-size network).

    Shapes are derived again layer by layer (the kind table's shape rules).  Where the features reaching
    a dense layer shrank by a whole factor ``r`` (VGG-16's 512 x 1 x 1 where 512 x 7 x 7 was), they are
    replicated ``r`` times before the flatten, as torchvision's ``AdaptiveAvgPool2d(7)`` does to a 1 x 1
    map (the replicas join along channels, not interleaved: with seeded weights the order of a dense
    layer's rows does not matter).  A network that cannot be rebuilt so fails with one line."""
    if isinstance(hw, bool) or not isinstance(hw, (int, np.integer)) or hw < 1:
        raise ParameterError(f"{{param}} {hw!r}: allowed a whole number of pixels of 1 or more", "input_hw")
    g0, g = wl.graph, nx.DiGraph()
    shapes: dict[str, tuple] = {}
    old = {l.name: l for l in wl.layers()}
    order = itertools.count()

    def add(layer: Layer, srcs) -> None:
        g.add_node(layer.name, layer=layer, order=next(order))
        for s in srcs:
            g.add_edge(s, layer.name)
        shapes[layer.name] = tuple(layer.out_shape)

    def fail(why: str):
        return ParameterError(f"{{param}} {hw}: {wl.name} cannot be simulated at {hw}x{hw} ({why}); "
                              f"give a larger {{param}}", "input_hw", "input_hw")

    for lay in wl.layers():
        preds = sorted(g0.predecessors(lay.name), key=lambda n: g0.nodes[n].get("order", 0))
        if lay.kind == "input":
            if len(lay.out_shape) != 3:
                raise fail("its input is not an image")
            s = (lay.out_shape[0], int(hw), int(hw))
            add(dataclasses.replace(lay, in_shape=s, out_shape=s), [])
            continue
        ins = [shapes[p] for p in preds]
        if lay.kind == "dense" and int(np.prod(ins[0])) != lay.K:
            if lay.weights is not None:   # its rows follow the full-size map's order, not the replicas'
                raise fail(f"layer '{lay.name}' carries weights laid out for the full-size input")
            ins = [_replicate_before(g, shapes, old, preds[0], lay.K, add, fail)]
        try:
            out = tuple(KINDS[lay.kind].shape(dataclasses.replace(lay, in_shape=ins[0]), ins))
        except ArchsimError as e:
            raise fail(str(e)) from None
        if any(d <= 0 for d in out):
            raise fail(f"layer '{lay.name}' would have no output")
        add(dataclasses.replace(lay, in_shape=ins[0], out_shape=out), preds)
    new = Workload(wl.name, g, wl.description, wl.dataset)
    if [(l.K, l.N) for l in new.weighted_layers()] != [(l.K, l.N) for l in wl.weighted_layers()]:
        raise fail("a weighted layer would change its rows or columns")
    return new


def _replicate_before(g, shapes, old, flat: str, K: int, add, fail) -> tuple:
    """Replace the flatten ``flat`` feeding a dense layer of ``K`` rows by: its source's features copied
    ``r`` times along channels, then the flatten; returns the flatten's new output shape."""
    if old[flat].kind != "flatten":
        raise fail(f"the features reaching a dense layer shrank and '{flat}' is not a flatten")
    (src,) = list(g.predecessors(flat))
    s = shapes[src]
    r, rem = divmod(K, int(np.prod(s)))
    if rem or r < 1:
        raise fail(f"{int(np.prod(s))} features where {K} were is not a whole factor")
    g.remove_node(flat)
    copies = [f"{flat}_copy{i}" for i in range(r)]
    for c in copies:
        add(Layer(c, "identity", s, s), [src])
    cat = (s[0] * r,) + tuple(s[1:])
    add(Layer(f"{flat}_replicate", "concat", cat, cat), copies)
    add(dataclasses.replace(old[flat], in_shape=cat, out_shape=(K,)), [f"{flat}_replicate"])
    return (K,)


# ---------------------------------------------------------------------------------------------------------------------
# checking the candidates of a search

@dataclass
class CheckRun:
    """What a search's check did: simulations run, designs scored, rounds, designs below the floor."""
    data: CheckData
    candidates: int = 0      # designs meeting every constraint
    simulations: int = 0
    scored: int = 0
    rounds: int = 0
    below: int = 0
    seconds: float = 0.0
    too_large: int = 0       # designs whose chip would not fit the memory available: not simulated, not kept


def check_candidates(df, candidates: np.ndarray, configs: dict, data: CheckData, senses_cols: list,
                     every_design: bool = False, progress: bool = False) -> CheckRun:
    """Score the candidates of a sizing table ``df`` in place (columns ``data.column``, its 95% interval,
    ``logit_error`` and ``floor``: pass, below floor or not simulated).

    ``candidates``: the rows meeting every constraint.  Each round takes the Pareto front (over
    ``senses_cols``: ``[(column, sense), ...]``) of the candidates not yet found below the floor and
    simulates its members not yet simulated; it ends when the whole front has been simulated and meets
    the floor, so the front finally shown, and the recommended design on it, are all checked.
    ``every_design``: simulate every candidate at once instead.  Designs sharing a :func:`sim_key`
    share one simulation."""
    import time
    from archsim.report.pareto import pareto_mask
    col = data.column
    for c in (col, f"{col}_ci95_low", f"{col}_ci95_high", "logit_error"):
        df[c] = np.nan
    df["floor"] = "not simulated"
    df["metric"] = data.metric          # what the figure is: accuracy, or fidelity (agreement, logit error)
    run, done, t0 = CheckRun(data, int(np.sum(candidates))), {}, time.perf_counter()
    keys = df["key"].tolist()
    cols = [c for c, _ in senses_cols]
    senses = [s for _, s in senses_cols]
    have = available_bytes()
    while True:
        open_ = candidates & ~df["floor"].isin(("below floor", TOO_LARGE)).to_numpy()
        if every_design:
            want = open_
        else:
            want = np.zeros(len(df), dtype=bool)
            if open_.any():
                want[np.flatnonzero(open_)] = pareto_mask(df.loc[open_, cols].to_numpy(dtype=float), senses)
        todo = np.flatnonzero(want & (df["floor"] == "not simulated").to_numpy())
        if not len(todo):
            break
        run.rounds += 1
        for i in todo:
            k = sim_key(configs[keys[i]])
            if k not in done and have is not None and chip_bytes(data.workload, configs[keys[i]]) > have:
                done[k] = {"floor": TOO_LARGE}    # never recommended, and the front is taken again without it
                run.too_large += 1
            if k not in done:
                if progress:
                    print(f"checking {_design_text(configs[keys[i]])} ({data.metric})", file=sys.stderr, flush=True)
                done[k] = check_design(data, configs[keys[i]])
                run.simulations += 1
            for c, v in done[k].items():
                df.iat[i, df.columns.get_loc(c)] = v
            run.scored += 1
    run.below = int((df["floor"] == "below floor").sum())
    run.seconds = time.perf_counter() - t0
    return run


def _design_text(c: dict) -> str:
    return f"{c['rows']}x{c['cols']} arrays, {c['bits_per_cell']} bits/cell, {c['adc_bits']}-bit ADC"

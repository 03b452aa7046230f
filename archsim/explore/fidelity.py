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

* ``CheckSpec(method="layers")`` (``"auto"``: ImageNet networks without weights, as ``compare --best``
  does) checks the full-size network by the layer proxy of :mod:`archsim.explore.layer_proxy` instead:
  **output SNR**, each layer simulated on its own arrays and real inputs, the errors added in quadrature.

Otherwise large inputs are simulated at a reduced size (:func:`reduced_input`, default :data:`REDUCED_HW` x
:data:`REDUCED_HW` for inputs above :data:`REDUCE_ABOVE` pixels): every weighted layer keeps its rows
and columns, hence its arrays, ADC ranges per column and the candidate's mapping; convolutions see fewer
vectors.  The report says so.

What the check depends on: the architecture keys the simulator reads.  Columns per ADC (time sharing
of one converter), the mesh and the tile budget (replicas hold the same weights) do not enter it, so
:func:`sim_key` drops them and one simulation serves every design that differs only in them.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

import numpy as np

from archsim.explore.seeded import reduced_input, seeded_inputs, seeded_weights  # noqa: F401 (re-exported)
from archsim.mapping.layout import map_workload
from archsim.model import arch as _arch
from archsim.model.errors import ParameterError
from archsim.sim.tilesim import SimConfig
from archsim.model.workload import Workload

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


#: how a design is checked (``CheckSpec.method``)
METHODS = ("simulate", "layers", "auto")


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
    #: "simulate": the whole network on every design (at a reduced input for large ones); "layers": the layer
    #: proxy of :mod:`archsim.explore.layer_proxy` at full size; "auto": "layers" where the whole network would
    #: be simulated at a reduced input (no trained weights, input above REDUCE_ABOVE), else "simulate"
    method: str = "simulate"
    min_snr_db: float | None = None      # layer proxy floor (None: layer_proxy.DEFAULT_MIN_SNR_DB)

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
        if self.method not in METHODS:
            raise ParameterError(f"{{param}} {self.method!r}: allowed {', '.join(METHODS)}", "check.method")
        v = self.min_snr_db
        from archsim.explore.layer_proxy import MIN_FLOOR_DB
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not MIN_FLOOR_DB <= v <= 200):
            raise ParameterError(f"{{param}} {v!r}: allowed a number of dB from {MIN_FLOOR_DB:g} (the layer proxy is "
                                 f"validated from there up) to 200", "check.min_snr_db")
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
    #: the float network's outputs on ``x``, computed by the first design simulated and read by the others
    exact: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)
    #: the layer proxy's inputs (:class:`archsim.explore.layer_proxy.ProxyInputs`) where it checks the designs
    proxy: object = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def column(self) -> str:
        """The table column of the checked figure: ``accuracy``, ``agreement`` or (layer proxy) ``snr_db``."""
        return COLUMNS.get(self.metric, "agreement")


#: the table column of each metric's figure
COLUMNS = {"accuracy": "accuracy", "fidelity": "agreement", "output SNR": "snr_db"}


def uses_layer_proxy(workload: str, spec: CheckSpec) -> bool:
    """Whether ``spec`` checks ``workload`` (a built-in name) by the layer proxy."""
    import workloads as W
    if spec.method != "auto":
        return spec.method == "layers"
    base = W.get(workload)
    shape = tuple(base.input_layer.out_shape)
    return (spec.input_hw is None and not W.weights_path(base.name).exists() and len(shape) == 3
            and max(shape[1:]) > REDUCE_ABOVE)


def prepare(workload: str, spec: CheckSpec = CheckSpec(), base: _arch.Architecture | None = None) -> CheckData:
    """The images, weights and floor for checking candidates of ``workload`` (a built-in name); ``base``: the
    architecture of the search (the layer proxy's digital reference reads its input and weight resolution)."""
    import workloads as W
    from archsim.io import data as D
    from archsim.sim import forward
    spec = spec.validated()
    arch, base = base or _arch.Architecture(), W.get(workload)
    trained = W.weights_path(base.name).exists() and base.dataset in D.DATASETS
    if uses_layer_proxy(workload, spec):
        return _prepare_layers(base, trained, spec, arch)
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


def _prepare_layers(base: Workload, trained: bool, spec: CheckSpec, arch: _arch.Architecture) -> CheckData:
    """:func:`prepare` for the layer proxy (:mod:`archsim.explore.layer_proxy`): the full-size network, its float
    passes and sampled layer inputs (kept for the next device of a comparison), the floor and how it is
    checked, in words."""
    import workloads as W
    from archsim.explore import layer_proxy as P
    from archsim.io import data as D
    if spec.min_accuracy is not None or spec.input_hw is not None:
        what = "min_accuracy" if spec.min_accuracy is not None else "input_hw"
        raise ParameterError(f"{{param}}: {base.name} is checked by the layer proxy at its own input size, on the "
                             f"output SNR (use {{param}})", what, "check.min_snr_db")
    own = W.weights_path(base.name).exists()
    wl = W.with_weights(base) if own else seeded_weights(base, spec.seed)
    n = spec.samples or P.IMAGES
    if trained:
        x, _ = D.for_workload(wl, "test", limit=n)
        x_cal, _ = D.for_workload(wl, "train", limit=ACCURACY_CALIB)
        inputs = f"{len(x)} {wl.dataset} test images (calibration: {len(x_cal)} training images)"
    else:
        x, x_cal = seeded_inputs(wl, n, [spec.seed, 1]), seeded_inputs(wl, FIDELITY_CALIB, [spec.seed, 2])
        inputs = f"{n} seeded standard-normal inputs (calibration: {FIDELITY_CALIB} others)"
    floor = P.DEFAULT_MIN_SNR_DB if spec.min_snr_db is None else float(spec.min_snr_db)
    weights = "its trained weights" if own else f"seeded weights (He-normal, standardised per output, seed {spec.seed})"
    size = "x".join(map(str, wl.input_layer.out_shape))
    source = (f"layer proxy at the full {size} input: every weighted layer simulated on the design's arrays ({P.COLUMNS} "
              f"of its columns, every row block) on {P.VECTORS} of its real input vectors from a float pass of "
              f"{weights} on {inputs}; E = root sum of squares of the layers' relative errors (each layer's error "
              f"reaching the output at unit gain), SNR = -20 log10 E (a design whose first layers already put it clearly below the floor is not measured "
              f"further: its SNR is then an upper bound); 1 chip")
    ftext = (f"output SNR >= {floor:g} dB (E <= {10 ** (-floor / 20):.3g}; --min-snr-db), predicted by the layer proxy "
             f"(full simulation / proxy {P.BAND[0]:g} to {P.BAND[1]:g} on the validated designs)")
    key = (base.name, own, n, int(spec.seed), arch.input_bits, arch.dac_bits, arch.magnitude_bits, repr(arch.dac_range),
           arch.dac_percentile, arch.dac_full_scale)
    if key not in P._PREPARED:
        P._PREPARED.clear()
        proxy = P.prepare(wl, x, x_cal, int(spec.seed))
        P._PREPARED[key] = (proxy, P.reference_snr(proxy, arch))
    proxy, ref = P._PREPARED[key]
    if spec.min_snr_db is None and ref - P.REFERENCE_MARGIN_DB < floor:
        floor = max(ref - P.REFERENCE_MARGIN_DB, P.MIN_FLOOR_DB)      # never below the validated range
        ftext = (f"output SNR >= {floor:.1f} dB (E <= {10 ** (-floor / 20):.3g}): {P.REFERENCE_MARGIN_DB:g} dB under the "
                 f"exact digital chip's {ref:.1f} dB (at least {P.MIN_FLOOR_DB:g} dB) at the same input and weight bits (error-free cells, ideal ADC), "
                 f"which the absolute {P.DEFAULT_MIN_SNR_DB:g} dB would leave no room: the cells and converters may add at most "
                 f"the error power of that chip's own rounding; predicted by the layer proxy "
                 f"(full simulation / proxy {P.BAND[0]:g} to {P.BAND[1]:g} on the validated designs); --min-snr-db "
                 f"sets it")
    else:
        ftext += f"; the exact digital chip at the same input and weight bits: {ref:.1f} dB"
    return CheckData(wl, x, None, x_cal, "output SNR", 1.0, floor, ftext, source, 1, int(spec.seed), spec.sim,
                     proxy=proxy)


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
    if have is not None and need > have and data.proxy is None:
        raise ParameterError(f"the floor check: simulating {data.workload.name} ({data.workload.total_weights / 1e6:.0f} M "
                             f"weights) on {config['rows']}x{config['cols']} arrays, {config['bits_per_cell']} bits/cell "
                             f"needs about {need / 1e9:.1f} GB ({BYTES_PER_WEIGHT_SLICE} bytes per weight and bit slice, "
                             f"measured), {have / 1e9:.1f} GB available; free memory, or turn the simulation off "
                             f"({{param}}: accuracy then not checked)", "check")


def check_design(data: CheckData, config: dict, cache=None) -> dict:
    """Simulate one design (``config``: a sizing point's flat configuration) on ``data``: the figure, its
    95% interval, the relative logit error and whether it meets the floor.  ``cache``: an
    :class:`archsim.explore.simcache.ArrayCache` shared by the designs of one search (the same numbers,
    fewer arrays programmed and layers computed)."""
    from archsim.sim.accuracy import simulate
    ov = {n: {k: v for k, v in d.items() if k != "replication"} for n, d in config.get("layer_overrides", {}).items()}
    a = _arch.Architecture(**{k: config[k] for k in _arch.KEY_BY_NAME if k in config and k != "layer_overrides"},
                           layer_overrides={n: d for n, d in ov.items() if d})   # replicas: the same weights
    if data.proxy is not None:
        from archsim.explore import layer_proxy
        return layer_proxy.check(data.proxy, a, None, data.sim, data.floor, cache.chip() if cache is not None else None)
    m = map_workload(data.workload, a.replace(replicate=False, mesh=_arch.AUTO, tiles=_arch.AUTO))
    r = simulate(m, data.x, data.y, x_cal=data.x_cal, calibration="separate", trials=data.trials,
                 seed=data.seed, cfg=data.sim, layer_sample=1, chip=cache.chip() if cache is not None else None,
                 exact=data.exact)
    lo, hi = r.ci95
    return {data.column: r.mean, f"{data.column}_ci95_low": lo, f"{data.column}_ci95_high": hi,
            "logit_error": float(np.mean(r.logit_error)), "floor": "pass" if r.mean >= data.floor else "below floor"}


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
    first: bool = False      # checked in order of the objective until the first design at the floor
    screened: int = 0        # designs not simulated: a kinder design was below the floor (``_first_at_floor``)
    probes: int = 0          # kinder designs simulated ahead of the order to screen others


def check_candidates(df, candidates: np.ndarray, configs: dict, data: CheckData, senses_cols: list,
                     every_design: bool = False, progress: bool = False, first: bool = False,
                     cache=None) -> CheckRun:
    """Score the candidates of a sizing table ``df`` in place (columns ``data.column``, its 95% interval,
    ``logit_error`` and ``floor``: pass, below floor or not simulated).

    ``candidates``: the rows meeting every constraint.  Each round takes the Pareto front (over
    ``senses_cols``: ``[(column, sense), ...]``) of the candidates not yet found below the floor and
    simulates its members not yet simulated; it ends when the whole front has been simulated and meets
    the floor, so the front finally shown, and the recommended design on it, are all checked.
    ``every_design``: simulate every candidate at once instead.  ``first``: only the best design at the
    floor is wanted (``compare --best``, ``size --per-layer``): the candidates are simulated one at a time in
    order of ``senses_cols`` (the first column first, ties by the next) and the check stops at the first that
    meets the floor; every design before it was simulated and found below it, so none better on that order
    is left unchecked.  Designs sharing a :func:`sim_key` share one simulation; ``cache``
    (:class:`archsim.explore.simcache.ArrayCache`) shares programmed arrays between them."""
    import time
    from archsim.report.pareto import pareto_mask
    col = data.column
    for c in (col, f"{col}_ci95_low", f"{col}_ci95_high", "logit_error"):
        df[c] = np.nan
    df["floor"] = "not simulated"
    df["metric"] = data.metric          # what the figure is: accuracy, or fidelity (agreement, logit error)
    run, done, t0 = CheckRun(data, int(np.sum(candidates)), first=first), {}, time.perf_counter()
    keys = df["key"].tolist()
    cols = [c for c, _ in senses_cols]
    senses = [s for _, s in senses_cols]
    have = available_bytes() if data.proxy is None else None    # the proxy programs one layer sample at a time

    def score(i) -> dict:
        k = sim_key(configs[keys[i]])
        if k not in done and have is not None and chip_bytes(data.workload, configs[keys[i]]) > have:
            done[k] = {"floor": TOO_LARGE}    # never recommended, and the front is taken again without it
            run.too_large += 1
        if k not in done:
            if progress:
                print(f"checking {_design_text(configs[keys[i]])} ({data.metric})", file=sys.stderr, flush=True)
            done[k] = check_design(data, configs[keys[i]], cache)
            run.simulations += 1
            if progress:
                r = done[k]
                print(f"  {data.column} {r[data.column]:.3f} (95% interval {r[f'{data.column}_ci95_low']:.3f} to "
                      f"{r[f'{data.column}_ci95_high']:.3f}): {r['floor']}", file=sys.stderr, flush=True)
        for c, v in done[k].items():
            if c not in df:             # a figure only this check gives (the layer proxy's layers measured)
                df[c] = np.nan
            df.iat[i, df.columns.get_loc(c)] = v
        run.scored += 1
        return done[k]

    if first:
        pos = np.flatnonzero(candidates)
        if len(pos):
            x = [df[c].to_numpy(dtype=float)[pos] * (1 if s == "min" else -1) for c, s in senses_cols]
            run.rounds = 1
            _first_at_floor(df, list(pos[np.lexsort(tuple(reversed(x)))]), [configs[k] for k in keys], score, run)
        run.below = int((df["floor"] == "below floor").sum())
        run.seconds = time.perf_counter() - t0
        return run
    while True:
        open_ = candidates & ~df["floor"].isin(("below floor", TOO_LARGE, SCREENED)).to_numpy()
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
            score(i)
    run.below = int((df["floor"] == "below floor").sum())
    run.seconds = time.perf_counter() - t0
    return run


#: the keys along which a design is less favourable to accuracy: more rows summed on one column, more bits
#: per cell (closer levels), fewer ADC bits (coarser conversion); ``_favour`` orders them so smaller is kinder
MONOTONE_KEYS = ("rows", "cols", "bits_per_cell", "adc_bits")
#: the ``floor`` of a design not simulated because a kinder design was found below the floor
SCREENED = "screened out"
#: a probe is simulated ahead of the order only where its failure would screen out this many designs or more
PROBE_MIN_SCREENED = 2


def _favour(c: dict) -> tuple:
    return (c["rows"], c["cols"], c["bits_per_cell"], -c["adc_bits"])


def _kinder(a: tuple, b: tuple) -> bool:
    """Whether a design of ``_favour`` ``a`` is at least as favourable to accuracy as one of ``b``, key by key."""
    return all(u <= v for u, v in zip(a, b))


def _first_at_floor(df, order: list, configs: list, score, run: CheckRun) -> None:
    """The ordered check with screening: simulate the designs in ``order`` until one meets the floor.

    A design is **screened out** (not simulated, never recommended) when another with the same keys but at
    most its rows, columns and bits per cell and at least its ADC bits was simulated **clearly** below the
    floor, its whole 95% interval under it: the simulated figure tends to fall with each of those (more rows
    summed per conversion, closer conductance levels, a coarser converter), so the kinder design's failure
    predicts its own.  A failure inside the interval screens nothing: on a 256-256-256-10 network a 128-row
    design at 0.78 +- 0.10 was below a 0.8 floor that the 256-row design with the same cells met.  To use that, before simulating a
    design the check may first simulate a **probe**, a pending design with the same ADC bits that is kinder
    than it, the one whose failure would screen out the most designs per weight slice it simulates, where that
    is at least :data:`PROBE_MIN_SCREENED` designs.
    Screening only ever removes designs, so the design returned was simulated and met the floor; what it
    may cost is a cheaper design that would have passed against the trend (counted in the notes)."""
    floor = df.columns.get_loc("floor")
    col, floor_value = run.data.column, run.data.floor
    rids: dict = {}
    rest = np.array([rids.setdefault(tuple((k, v) for k, v in sim_key(c) if k not in MONOTONE_KEYS), len(rids))
                     for c in configs])
    fav = np.array([_favour(c) for c in configs], dtype=float)
    failed: list = []

    def screened(i) -> bool:
        return any(r == rest[i] and _kinder(f, fav[i]) for r, f in failed)

    def run_one(i) -> str:
        r = score(i)
        if r["floor"] == "below floor" and r[f"{col}_ci95_high"] < floor_value:
            failed.append((rest[i], fav[i]))      # clearly below: its whole 95% interval is
            return "clearly below"
        return r["floor"]

    idx = np.asarray(order)
    for i in order:
        st = df.iat[i, floor]
        if st == "pass":
            return                  # a probe simulated earlier, now first in the order
        if st != "not simulated":
            continue
        if screened(i):
            df.iat[i, floor] = SCREENED
            run.screened += 1
            continue
        open_ = idx[(df["floor"].to_numpy()[idx] == "not simulated") & (rest[idx] == rest[i])]
        F = fav[open_]
        kinder = open_[(F <= fav[i]).all(axis=1) & (F[:, 3] == fav[i][3]) & (open_ != i)]
        if len(kinder):
            ufav, UF = np.unique(fav[kinder], axis=0), np.unique(F, axis=0)   # one per simulation (sim_key)
            power = np.array([int((UF >= u).all(axis=1).sum()) - 1 for u in ufav])
            firsts = [int(kinder[np.flatnonzero((fav[kinder] == u).all(axis=1))[0]]) for u in ufav]
            # designs screened per unit of simulation work (a chip's cells: weight slices)
            best = int(np.argmax(power / np.array([chip_bytes(run.data.workload, configs[j]) for j in firsts])))
            if power[best] >= PROBE_MIN_SCREENED:
                p = firsts[best]
                run.probes += 1
                if run_one(p) == "clearly below" and screened(i):
                    df.iat[i, floor] = SCREENED
                    run.screened += 1
                    continue
        if run_one(i) == "pass":
            return


def _design_text(c: dict) -> str:
    return f"{c['rows']}x{c['cols']} arrays, {c['bits_per_cell']} bits/cell, {c['adc_bits']}-bit ADC"

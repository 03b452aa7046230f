"""What a sized design is checked on, and the floor it must meet: the check's spec, its prepared data, its defaults.

:mod:`archsim.explore.fidelity` simulates candidates on the :class:`CheckData` that :func:`prepare` returns
(one per search) and never recommends one below its floor.

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
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from archsim.explore.seeded import reduced_input, seeded_inputs, seeded_weights
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
#: inputs larger than REDUCE_ABOVE pixels a side are simulated at REDUCED_HW x REDUCED_HW
REDUCE_ABOVE, REDUCED_HW = 64, 32


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
                 f"which the absolute {P.DEFAULT_MIN_SNR_DB:g} dB would leave no room: the cells and converters may add at "
                 f"most the error power of that chip's own rounding; predicted by the layer proxy "
                 f"(full simulation / proxy {P.BAND[0]:g} to {P.BAND[1]:g} on the validated designs); --min-snr-db "
                 f"sets it")
    else:
        ftext += f"; the exact digital chip at the same input and weight bits: {ref:.1f} dB"
    return CheckData(wl, x, None, x_cal, "output SNR", 1.0, floor, ftext, source, 1, int(spec.seed), spec.sim,
                     proxy=proxy)

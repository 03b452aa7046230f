"""Training runs pinned bit for bit: the final device states, pulse counts, losses and accuracies of small
runs (every learner, trains kind, kernel path, and the converters/read-noise reads) hash to the values
main's code gave before the training kernels were made faster (benchmarks/bench_train.py), so a speed-up
cannot move a study's numbers.  The hashes hold where float products round as they did when pinned: a
matrix-product canary of the same shapes guards the BLAS (another CPU kernel or library rounds products
otherwise, and every number after it moves); where it differs the pins are skipped with that reason."""
import hashlib

import numpy as np
import pytest

import workloads
from archsim.io.data import load_dataset
from archsim.model.update_laws import UpdateModel
from archsim.model.workload import GraphBuilder
from archsim.sim.training import AnalogTrainConfig, fit
from archsim.sim.training import trainer as TR

NOISELESS = UpdateModel("constant", states=1200)
CONSTANT = UpdateModel("constant", states=1200, c2c=0.3, dw_d2d=0.3, asymmetry_d2d=0.01, bound_d2d=0.3)
SOFT = UpdateModel("soft_bounds", states=200, asymmetry=0.05, c2c=0.3, dw_d2d=0.2)
PAIR = UpdateModel("constant", states=40, asymmetry=-0.3, c2c=0.2, potentiation_only=True)
SIGNED = UpdateModel("constant", states=100, c2c=0.5, c2c_signed=True, dw_d2d=0.2)
EXACT = dict(converters=False, read_noise=False, bl=10, update_management=True)

#: name -> (network, device, update model, config, training images)
CASES = {
    "rpu_noiseless": ("rpu", "ideal", NOISELESS, AnalogTrainConfig(**EXACT), 60),
    "rpu_constant": ("rpu", "ideal", CONSTANT, AnalogTrainConfig(**EXACT), 60),
    "rpu_ecram_converters": ("rpu", "ecram", None, AnalogTrainConfig(bl=10, update_management=False), 60),
    "rpu_reram_converters": ("rpu", "reram", None, AnalogTrainConfig(bl=10), 60),
    "tiny_soft_bounds": ("tiny", "ideal", SOFT, AnalogTrainConfig(lr=0.05), 200),
    "tiny_pair_refresh": ("tiny", "ideal", PAIR, AnalogTrainConfig(lr=0.05, **EXACT), 200),
    "tiny_deterministic": ("tiny", "ideal", SOFT, AnalogTrainConfig(lr=0.05, trains="deterministic"), 200),
    "tiny_mixed": ("tiny", "ideal", SOFT, AnalogTrainConfig(algorithm="mixed", lr=0.05), 200),
    "tiny_tiki_taka": ("tiny", "ideal", SOFT, AnalogTrainConfig(algorithm="tiki-taka", lr=0.05), 200),
    "tiny_carry": ("tiny", "ecram", None, AnalogTrainConfig(algorithm="carry", lr=0.05, carry_every=50), 200),
    "tiny_numpy_twins": ("tiny", "ideal", SOFT, AnalogTrainConfig(lr=0.05, use_numba=False), 60),
    "tiny_signed_c2c": ("tiny", "ideal", SIGNED, AnalogTrainConfig(lr=0.05, **EXACT), 200),
}

#: sha256 prefixes of main's code (commit 5fa71a2: the training code before the faster kernels)
PINS = {
    "rpu_constant": "0c1a5e087fb281c5",
    "rpu_ecram_converters": "345e5f3b5ed3d8b2",
    "rpu_noiseless": "eac40c8f9a9da4c3",
    "rpu_reram_converters": "7a2d3f41b3bb16eb",
    "tiny_carry": "87c1e899480bf596",
    "tiny_deterministic": "52ff7ba3d8da33b0",
    "tiny_mixed": "65cc937038e700b6",
    "tiny_numpy_twins": "f3bd3ad958a265fd",
    "tiny_pair_refresh": "e096fe26c016a1a7",
    "tiny_signed_c2c": "692cc9810c2311d8",
    "tiny_soft_bounds": "8112b318d0f046f9",
    "tiny_tiki_taka": "15436152abec9040",
}

#: the products' canary when pinned
CANARY = "d753094cb7dc2e33"


def _canary() -> str:
    rng = np.random.default_rng(0)
    h = hashlib.sha256()
    for m, k, n in ((10, 785, 256), (10, 257, 128), (10, 129, 10), (10, 10, 129), (10, 197, 32)):
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        h.update((a @ b).tobytes())
    return h.hexdigest()[:16]


def _tiny():
    b = GraphBuilder("tiny", (196,))
    b.dense("fc1", 32, relu=True)
    b.dense("fc2", 10, relu=False)
    return b.build()


def _data(net, n):
    x, y = load_dataset("mnist", "train", limit=n)
    xt, yt = load_dataset("mnist", "test", limit=100)
    if net == "tiny":
        x = x.reshape(n, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(n, -1)
        xt = xt.reshape(100, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(100, -1)
    return x, y, xt, yt


def run_case(name) -> str:
    """Train one case; the sha256 prefix of its final states, pulses, counters, losses and accuracies."""
    net, dev, model, cfg, n = CASES[name]
    wl = workloads.get("rpu_mlp") if net == "rpu" else _tiny()
    nets = []
    tally = TR._tally

    def keep(netobj, res, dm):
        nets.append(netobj)
        return tally(netobj, res, dm)
    TR._tally = keep
    try:
        res = fit(wl, dev, _data(net, n), cfg, update_model=model)
    finally:
        TR._tally = tally
    h = hashlib.sha256()
    for lr in nets[0].learners:
        for t in lr.tiles():
            for a in (t.Xp, t.Xm, t.pulses):
                h.update(np.ascontiguousarray(a).tobytes())
        for k in ("chi", "W"):
            if hasattr(lr, k):
                h.update(np.ascontiguousarray(getattr(lr, k)).tobytes())
    h.update(np.array([[e["loss"], e["test_accuracy"]] for e in res.history]).tobytes())
    h.update(repr([l["counters"] for l in res.layers]).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_is_bit_identical_to_the_pinned_run(name):
    if _canary() != CANARY:
        pytest.skip("this BLAS rounds the reads' matrix products otherwise than where the pins were taken")
    assert run_case(name) == PINS[name]


if __name__ == "__main__":      # print the pins (python -m tests.sim.test_training_pins)
    print(f'CANARY = "{_canary()}"')
    for k in sorted(CASES):
        print(f'    "{k}": "{run_case(k)}",')

"""Seed 002's training ordering on MNIST (slow: run with ``-m slow``): ECRAM trains the 784-256-128-10
network within 2 points of archsim's float training of the same loop; TaOx ReRAM with plain SGD does not.
The full study with trials is benchmarks/study_training.py (reports/training.md)."""
import pytest

import workloads
from archsim.io.data import load_dataset
from archsim.sim.training import AnalogTrainConfig, fit

pytestmark = pytest.mark.slow


def test_ecram_near_float_reram_not():
    x, y = load_dataset("mnist", "train", limit=12000)     # the budget of reports/training.md (a)
    xt, yt = load_dataset("mnist", "test", limit=2000)
    wl = workloads.get("rpu_mlp")
    cfg = dict(lr=0.01, bl=10, batch_size=10, update_management=False, epochs=3)
    data = (x, y, xt, yt)
    acc = {name: fit(wl, dev, data, AnalogTrainConfig(algorithm=alg, **cfg)).final_accuracy
           for name, dev, alg in (("float", None, "float"), ("ecram", "ecram", "sgd"), ("reram", "reram", "sgd"))}
    assert acc["float"] - acc["ecram"] <= 0.02
    assert acc["float"] - acc["reram"] > 0.02

"""The learning-rate schedule of analog training (AnalogTrainConfig.lr_schedule): the rate changes at the
epoch boundary and nowhere else, float SGD with a schedule is hand-written two-phase SGD, bad schedules are
refused in one line, and the same seed gives the same numbers."""
import math

import numpy as np
import pytest

from archsim.io.data import load_dataset
from archsim.model.errors import ArchsimError
from archsim.model.update_laws import UpdateModel
from archsim.model.workload import GraphBuilder
from archsim.sim.train import init_params
from archsim.sim.training import AnalogTrainConfig, fit


@pytest.fixture(scope="module")
def small():
    b = GraphBuilder("tiny", (196,))
    b.dense("fc1", 24, relu=True)
    b.dense("fc2", 10, relu=False)

    def images(split, n):
        x, y = load_dataset("mnist", split, limit=n)
        return x.reshape(n, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(n, -1).astype(np.float64), y
    xtr, ytr = images("train", 300)
    xte, yte = images("test", 200)
    return b.build(), (xtr, ytr, xte, yte)


def _hand_sgd(wl, data, rates, batch, seed=0):
    """Per-sample-rate SGD of a relu -> linear chain with softmax cross-entropy, written out: epoch e uses
    rates[e]; the init and the sample order are the trainer's (init_params, default_rng(seed).permutation)."""
    xtr, ytr, _, _ = data
    p = init_params(wl, seed, dtype=np.float64)
    W1 = np.vstack([p["fc1.weight"].T, p["fc1.bias"][None, :]])
    W2 = np.vstack([p["fc2.weight"].T, p["fc2.bias"][None, :]])
    order = np.random.default_rng(seed)
    losses = []
    for rate in rates:
        perm = order.permutation(len(xtr))
        ep = []
        for s in range(0, len(xtr), batch):
            i = perm[s:s + batch]
            x1 = np.hstack([xtr[i], np.ones((len(i), 1))])
            h = np.maximum(x1 @ W1, 0.0)
            x2 = np.hstack([h, np.ones((len(i), 1))])
            z = x2 @ W2
            z = z - z.max(axis=1, keepdims=True)
            q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            ep.append(float(np.mean(-np.log(q[np.arange(len(i)), ytr[i]]))))
            q[np.arange(len(i)), ytr[i]] -= 1.0
            d1 = (q @ W2[:-1].T) * (h > 0)
            W2 = W2 - rate * x2.T @ q
            W1 = W1 - rate * x1.T @ d1
        losses.append(float(np.mean(ep)))
    return losses


def test_float_sgd_with_a_schedule_is_two_phase_sgd(small):
    wl, data = small
    cfg = AnalogTrainConfig(algorithm="float", epochs=3, batch_size=10, lr=0.02, lr_schedule=((2, 0.005), (3, 0.001)))
    res = fit(wl, None, data, cfg)
    want = _hand_sgd(wl, data, [0.02, 0.005, 0.001], 10)
    # the same float64 arithmetic in another order of operations: equal to rounding (1e-9 relative)
    np.testing.assert_allclose([h["loss"] for h in res.history], want, rtol=1e-9)
    assert [h["lr"] for h in res.history] == [0.02, 0.005, 0.001]
    # the schedule matters: a constant rate gives other losses from epoch 2 on
    const = _hand_sgd(wl, data, [0.02, 0.02, 0.02], 10)
    assert const[0] == pytest.approx(want[0], rel=1e-12) and abs(const[2] - want[2]) > 1e-6


def test_the_rate_changes_at_the_epoch_boundary_only(small):
    """An ideal device: the epochs before the first step are those of the constant-rate run bit for bit; a
    step to the same rate changes nothing; a smaller rate fires fewer pulses (expected coincidences are
    lr |x d| / dw per sample)."""
    wl, data = small
    dev = UpdateModel("constant", states=200)
    base = dict(epochs=2, lr=0.05, bl=10)
    a = fit(wl, "ideal", data, AnalogTrainConfig(**base), update_model=dev)
    same = fit(wl, "ideal", data, AnalogTrainConfig(**base, lr_schedule=((2, 0.05),)), update_model=dev)
    assert same.history[1]["test_accuracy"] == a.history[1]["test_accuracy"] and same.layers == a.layers
    low = fit(wl, "ideal", data, AnalogTrainConfig(**base, lr_schedule=((2, 0.005),)), update_model=dev)
    assert low.history[0]["test_accuracy"] == a.history[0]["test_accuracy"]
    assert low.history[0]["loss"] == a.history[0]["loss"]
    one = fit(wl, "ideal", data, AnalogTrainConfig(**dict(base, epochs=1)), update_model=dev)
    def pulses(r):
        return sum(l["pulses_mean"] * l["K"] * l["N"] for l in r.layers)
    first = pulses(one)                                   # epoch 1 alone, the same in every run
    # epoch 2 at a tenth of the rate fires about a tenth of the pulses of epoch 2 at the full rate (measured
    # 0.089; the two runs' second epochs see other gradients, so a factor 2 either way is allowed)
    assert 0.05 < (pulses(low) - first) / (pulses(a) - first) < 0.2
    again = fit(wl, "ideal", data, AnalogTrainConfig(**base, lr_schedule=((2, 0.005),)), update_model=dev)
    assert again.history == [dict(h, seconds=g["seconds"], cpu_seconds=g["cpu_seconds"])
                             for h, g in zip(low.history, again.history)] and again.layers == low.layers


@pytest.mark.parametrize("sched, match", [
    (((1, 0.1),), r"step \(1, 0.1\)"),                # epoch 1 is lr itself
    (((4, 0.1),), r"step \(4, 0.1\)"),                # beyond epochs = 3
    (((3, 0.1), (2, 0.1)), r"step \(2, 0.1\)"),       # not rising
    (((2, 0.0),), r"step \(2, 0.0\)"),
    (((2, math.nan),), r"step \(2, nan\)"),
    (((2, True),), r"step \(2, True\)"),
    (((2.5, 0.1),), r"step \(2.5, 0.1\)"),
    ("abc", "'lr_schedule' = 'abc'"),
    ((2, 0.1), "'lr_schedule' = \\(2, 0.1\\)"),        # a pair, not a tuple of pairs
])
def test_bad_schedules_are_refused_in_one_line(sched, match):
    with pytest.raises(ArchsimError, match=match) as e:
        AnalogTrainConfig(epochs=3, lr_schedule=sched)
    assert "\n" not in str(e.value) and "allowed pairs (epoch, lr)" in str(e.value)


def test_a_schedule_read_back_from_json_is_the_same_config():
    """The study stores configs as JSON (lists): they read back as the same frozen config."""
    cfg = AnalogTrainConfig(epochs=30, lr_schedule=[[11, 0.005], [21, 0.0025]])
    assert cfg == AnalogTrainConfig(epochs=30, lr_schedule=((11, 0.005), (21, 0.0025)))
    assert [cfg.lr_at(e) for e in (1, 10, 11, 20, 21, 30)] == [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]

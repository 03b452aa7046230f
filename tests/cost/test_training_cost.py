"""Energy and latency of a training step (archsim/cost/training.py): every event's count against the
network's shapes, and the prices' laws."""
import math

import numpy as np
import pytest

from archsim.io import techlib
from archsim.cost.components import prices_for
from archsim.cost.training import epoch_totals, layer_counts, training_cost
from archsim.io.data import load_dataset
from archsim.model.arch import Architecture
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError
from archsim.model.workload import GraphBuilder
from archsim.sim.training import AnalogTrainConfig, fit

SAMPLES = 60


@pytest.fixture(scope="module")
def runs():
    b = GraphBuilder("two", (784,))
    b.dense("fc1", 40, relu=True)
    b.dense("fc2", 10, relu=False)
    wl = b.build()
    x, y = load_dataset("mnist", "train", limit=SAMPLES)
    xt, yt = load_dataset("mnist", "test", limit=20)
    out = {}
    for dev, alg in (("ecram", "sgd"), ("ecram", "mixed"), ("ecram", "carry"), ("sonos", "sgd"), ("pcm", "sgd")):
        out[dev, alg] = fit(wl, dev, (x, y, xt, yt), AnalogTrainConfig(algorithm=alg, epochs=2, carry_every=50))
    return out


def test_read_counts_follow_the_shapes(runs):
    r = runs["ecram", "sgd"]
    a = Architecture(device="ecram")
    P = a.input_pulses
    (l1, l2) = [layer_counts(l, a, 2 * SAMPLES, "sgd", first=i == 0) for i, l in enumerate(r.layers)]
    assert (l1.K, l1.N, l2.K, l2.N) == (785, 40, 41, 10)                 # the bias row is a row of the array
    assert l1.fwd_cells == P * 785 * 40 and l1.fwd_rows == P * 785
    assert l1.fwd_conversions == P * 40 * math.ceil(785 / a.rows)        # each array digitizes its columns
    assert l1.fwd_array_pulses == P * math.ceil(785 / a.rows) * math.ceil(40 / a.cols)
    assert l1.bwd_cells == 0 and l1.bwd_conversions == 0                # no error goes back from the first layer
    assert l2.bwd_cells == P * 41 * 10 and l2.bwd_rows == P * 10
    assert l2.bwd_conversions == P * 41 * math.ceil(10 / a.cols)         # the transposed read
    assert l1.activations == 2 * 40


def test_update_counts_are_the_measured_ones(runs):
    r = runs["ecram", "sgd"]
    a = Architecture(device="ecram")
    for i, lay in enumerate(r.layers):
        lc = layer_counts(lay, a, 2 * SAMPLES, "sgd", first=i == 0)
        c = lay["counters"]
        assert c["update_cycles"] == 2 * SAMPLES                         # one rank-1 update per sample
        assert lc.translator_ops == lay["K"] + lay["N"]                  # every row and column value translated
        assert lc.device_pulses == pytest.approx(c["coincidences"] / (2 * SAMPLES))
        assert lc.driver_pulses == pytest.approx((c["row_pulses"] + c["col_pulses"]) / (2 * SAMPLES))
        assert c["programmed"] == 0                                       # the initial programming is not counted
    m = runs["ecram", "mixed"]
    for i, lay in enumerate(m.layers):
        lc = layer_counts(lay, a, 2 * SAMPLES, "mixed", first=i == 0)
        assert lc.accumulations == lay["K"] * lay["N"]                   # one digital MAC per device per sample
        assert lay["counters"]["coincidences"] == 0
    c = runs["ecram", "carry"]
    lc = layer_counts(c.layers[0], a, 2 * SAMPLES, "carry", first=True)
    assert lc.fwd_cells == 2 * a.input_pulses * 785 * 40                 # both pairs are read
    assert c.layers[0]["counters"]["programmed"] == 2 * 785 * 40 * 2     # 2 carries: G programmed, g reset


def test_device_energy_is_pulses_times_energy_per_pulse(runs):
    for key, r in runs.items():
        df = training_cost(r)
        e = techlib.device(key[0])["update.energy_per_pulse"]
        for lay, (_, row) in zip(r.layers, df.iterrows()):
            c = lay["counters"]
            want = (c["coincidences"] + c["transfer_pulses"]) / (2 * SAMPLES) * e
            assert row["E_device_pulse_J"] == pytest.approx(want, rel=1e-12)
        assert np.allclose(df["E_epoch_J"], df["E_sample_J"] * SAMPLES)   # an epoch is SAMPLES samples


def test_reads_priced_with_the_inference_component_laws(runs):
    r = runs["ecram", "sgd"]
    a = Architecture(device="ecram")
    pr = prices_for(a, load_device("ecram"))
    df = training_cost(r, a)
    lc = layer_counts(r.layers[0], a, 2 * SAMPLES, "sgd", first=True)
    e_conv = pr.e_adc + pr.e_sh + pr.shift_add_energy(a.adc_bits + a.input_bits)
    want = lc.fwd_cells * float(pr.cell_read_energy(0.5)) + lc.fwd_rows * pr.e_dac \
        + lc.fwd_array_pulses * pr.e_dac_array + lc.fwd_conversions * e_conv
    assert df["E_fwd_read_J"].iloc[0] == pytest.approx(want, rel=1e-12)


def test_sonos_update_is_slow(runs):
    """Seed 002: SONOS programs slowly (20 us update pulses with verify): its epoch takes far longer."""
    t_s = epoch_totals(runs["sonos", "sgd"])["time_epoch_s"]
    t_e = epoch_totals(runs["ecram", "sgd"])["time_epoch_s"]
    assert t_s > 20 * t_e


def test_float_run_cannot_be_priced():
    b = GraphBuilder("one", (784,))
    b.dense("fc", 10, relu=False)
    x, y = load_dataset("mnist", "train", limit=20)
    r = fit(b.build(), None, (x, y, x, y), AnalogTrainConfig(algorithm="float"))
    with pytest.raises(ArchsimError, match="float run"):
        training_cost(r)

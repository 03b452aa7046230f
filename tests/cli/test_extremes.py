"""Legal extremes still run and give finite, non-negative figures: 1 x 1 arrays, 1-bit inputs and weights, the
smallest ADC the architecture allows (1 bit: one comparator, priced by the flash law of techlib/circuits/adc.yaml,
which covers 1 to 8 bits; the SAR law starts at 2 bits and names flash when asked for 1), one-neuron networks, on a device of every
kind, and the longest drift time allowed.  The bounds that refuse are tested in test_badinput_limits.py; this
file checks that what they let through works."""
from __future__ import annotations

import math

import numpy as np
import pytest

from archsim.cost.price import evaluate
from archsim.mapping.layout import map_workload
from archsim.model import arch as _arch
from archsim.model.weights import random_weights
from archsim.model.workload import GraphBuilder
from archsim.sim.accuracy import simulate, synthetic_inputs
from archsim.sim.tilesim.config import MAX_TIME_S, SimConfig

#: a device of every kind, and pcm for its drift law
DEVICES = ("reram", "pcm", "sram", "sram_charge")
SMALLEST = dict(rows=_arch.KEY_BY_NAME["rows"].lo, cols=_arch.KEY_BY_NAME["cols"].lo, cols_per_adc=1,
                input_bits=1, weight_bits=1, adc_bits=int(_arch.KEY_BY_NAME["adc_bits"].lo), adc_type="flash",
                arrays_per_tile=1)


def one_neuron(inputs: int = 1):
    b = GraphBuilder(f"one_neuron_{inputs}", (inputs,))
    b.dense("fc", 1, relu=False)
    return b.build()


def _finite_non_negative(summary: dict) -> None:
    for k, v in summary.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            assert math.isfinite(v) and v >= 0, (k, v)


def test_the_smallest_keys_are_1x1_arrays_and_1_bit():
    assert (SMALLEST["rows"], SMALLEST["cols"]) == (1, 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mapping", ["differential", "offset"])
def test_one_neuron_on_1x1_arrays_prices_and_simulates(device, mapping):
    a = _arch.Architecture(**dict(SMALLEST, device=device, mapping=mapping))
    wl = random_weights(one_neuron(), seed=0)
    est = evaluate(map_workload(wl, a))
    _finite_non_negative(est.summary)
    assert est.summary["energy_per_inference_J"] > 0 and est.summary["area_mm2"] > 0
    x = synthetic_inputs(wl, 16, seed=0)
    r = simulate(map_workload(wl, a), x, None, x_cal=x, trials=2, seed=0,
                 cfg=SimConfig(time_s=MAX_TIME_S, parallel=False))
    assert 0.0 <= r.mean <= 1.0 and np.all(np.isfinite(r.per_trial))


@pytest.mark.parametrize("device", DEVICES)
def test_energy_stays_linear_in_work_at_the_extremes(device):
    """Doubling a one-neuron layer's inputs on 1 x 1 arrays doubles the arrays and the array energy: the law
    holds down to the smallest design (float sums of a few terms: 1e-9 relative)."""
    a = _arch.Architecture(**SMALLEST, device=device)
    e1 = evaluate(map_workload(one_neuron(4), a))
    e2 = evaluate(map_workload(one_neuron(8), a))
    assert e2.summary["arrays"] == 2 * e1.summary["arrays"]
    assert math.isclose(e2.summary["energy_array_J"], 2 * e1.summary["energy_array_J"], rel_tol=1e-9)


def test_extremes_through_the_command_line(capsys, tmp_path):
    from archsim.cli import main as cli
    rc = cli.main(["estimate", "-w", "mlp", "--set", "input_bits=1", "--set", "weight_bits=1", "--set", "adc_bits=4",
                   "--set", "rows=16", "--set", "cols=1", "--set", "cols_per_adc=1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rc = cli.main(["accuracy", "-w", "mlp", "--device", "pcm", "--set", "input_bits=1", "--samples", "20",
                   "--trials", "1", "--time", "100y", "--no-progress", "--calibration", "1"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "nan" not in out.lower()


@pytest.mark.parametrize("device", ["sram_charge", "sram", "reram"])
def test_offset_mapping_with_1_bit_weights_is_binary(device):
    """Offset mapping with 1-bit weights (priced by the cost model, and so simulated): binary +-1 weights,
    ``W = sign(W) max|W|``; without analog error and with ideal converters the arrays compute exactly that
    product (float64 sums of at most 300 terms: 1e-12 of the largest output)."""
    from archsim.model.device import load_device
    from archsim.sim import tilesim as ts
    rng = np.random.default_rng(3)
    W = rng.standard_normal((300, 40))
    X = rng.standard_normal((16, 300))
    a = _arch.Architecture(device=device, mapping="offset", weight_bits=1, rows=128, cols=32, cols_per_adc=1)
    dev = load_device(device)
    lm = ts.layer_map(300, 40, a, dev)
    exact = ts.SimConfig(prog_error=False, read_noise=False, ideal_adc=True, ideal_dac=True)
    pm = ts.ProgrammedMatrix.program(W, lm, a, dev, exact, seed=0)
    want = X @ (np.where(W >= 0, 1.0, -1.0) * np.abs(W).max())
    np.testing.assert_allclose(pm.matmul(X), want, rtol=0, atol=1e-12 * np.abs(want).max())

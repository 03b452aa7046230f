"""Activity from data (archsim.sim.activity): the laws of the measurement and the direction it moves the estimate.

Input bit density: the fraction of non-zero input digits per pulse after the simulator's quantization;
conductance fraction: the mean of ``(g - g_min) / (g_max - g_min)`` over the programmed cells.  Counts are
integers, so densities compare exactly except where a float mean is taken (tolerance 1e-12: summation order).
"""
import numpy as np
import pytest

import archsim
import workloads
from archsim.cli import main as cli
from archsim.cost.events import default_activity
from archsim.cost.price import evaluate
from archsim.io import data as D
from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from archsim.sim.activity import cell_fractions, conductance_fractions, digit_counts, measure_activity, \
    measure_inputs
from archsim.model.weights import attach_weights
from archsim.sim.tilesim import ProgrammedMatrix, SimConfig, layer_map
from archsim.sim.tilesim.kernels import quantize_np
from tests.support import single_dense
from archsim.model.device import load_device

ARCH = Architecture(bits_per_cell=7)   # one 7-bit cell per weight: the fractions below


def _dense(k=16, n=8, w=None, seed=0):
    wl = single_dense(k, n)
    W = np.random.default_rng(seed).standard_normal((n, k)).astype(np.float32) if w is None else w
    return attach_weights(wl, {"fc.weight": np.broadcast_to(np.float32(W), (n, k))})


def _lenet_mnist(n=32):
    wl = workloads.get("lenet5", weights=True)
    x, _ = D.for_workload(wl, "train", limit=n)
    return wl, x


# ------------------------------------------------------------------------------------------------ inputs
def test_zero_inputs_give_zero_density_and_no_array_energy():
    m = map_workload(_dense(), ARCH)
    act = measure_activity(m, np.zeros((4, 16), np.float32))
    assert act.input_bit_density == (0.0,)
    assert act.bit_planes == ((0.0,) * ARCH.input_pulses,)
    est = evaluate(m, activity=act)
    assert est.summary["energy_array_J"] == 0.0          # no input pulse opens a cell
    assert est.summary["energy_adc_J"] > 0.0             # every column is still converted


@pytest.mark.parametrize("dac_bits", [1, 2, 4])
def test_full_scale_inputs_fill_every_bit_plane(dac_bits):
    arch = ARCH.replace(dac_bits=dac_bits)
    m = map_workload(_dense(), arch)
    x = np.full((3, 16), 0.7, np.float32)                # x = x_max -> code 2^8 - 1, every digit non-zero
    act = measure_activity(m, x)
    assert act.bit_planes == ((1.0,) * arch.input_pulses,)
    assert act.input_bit_density == (1.0,)


def test_signed_inputs_pulse_the_magnitude_and_leave_the_top_plane_empty():
    # sign and magnitude, as the simulator: codes up to 2^(n-1) - 1, the sign on the pulse voltage
    x = np.tile(np.array([0.5, -0.5], np.float32), (2, 8))
    d, planes = measure_inputs(_dense(), ARCH, x)
    assert planes[0].tolist() == [1.0] * 7 + [0.0]
    assert d[0] == pytest.approx(7 / 8, abs=1e-12)


def test_digit_counts_match_the_simulators_pulses():
    # twin check against the tile simulator's quantizer (kernels.quantize_np), unsigned and signed
    rng = np.random.default_rng(1)
    for X in (rng.random((50, 12)) ** 3, rng.standard_normal((50, 12))):
        signed = bool((X < 0).any())
        top = (1 << (ARCH.input_bits - 1)) - 1 if signed else (1 << ARCH.input_bits) - 1
        x_max = float(np.abs(X).max())
        V = np.zeros((ARCH.input_pulses,) + X.shape)
        quantize_np(X, top / x_max, -top if signed else 0.0, top, 0, ARCH.dac_bits, ARCH.input_pulses, V, V, False)
        want = np.count_nonzero(V, axis=(1, 2))
        assert digit_counts(X, x_max, signed, ARCH).tolist() == want.tolist()


def test_measurement_does_not_depend_on_chunking():
    wl, x = _lenet_mnist(8)
    a, pa = measure_inputs(wl, ARCH, x, chunk=3)
    b, pb = measure_inputs(wl, ARCH, x)
    assert np.array_equal(pa, pb) and np.array_equal(a, b)


def test_lenet5_on_mnist_is_sparser_than_the_default_and_costs_less():
    wl, x = _lenet_mnist(32)
    m = map_workload(wl, ARCH)
    act = measure_activity(m, x, "measured on 32 MNIST train images")
    d0 = default_activity().input_bit_density
    assert act.input_bit_density[0] < d0                 # conv1 sees the black background and zero padding
    base, meas = evaluate(m), evaluate(m, activity=act)
    e0 = base.layers.set_index("layer")["energy_array_J"]
    e1 = meas.layers.set_index("layer")["energy_array_J"]
    assert e1["conv1"] < e0["conv1"]
    # array energy is linear in the density and in the mean conductance (V^2 G t per active cell read):
    # the ratio is the data's (1e-9: float rounding of a few products)
    from archsim.cost.components import prices_for
    p = prices_for(ARCH, load_device(ARCH.device))
    f0 = default_activity().mean_conductance_fraction
    f1 = act.mean_conductance_fraction[0]
    want = act.input_bit_density[0] / d0 * p.cell_read_energy(f1) / p.cell_read_energy(f0)
    assert e1["conv1"] / e0["conv1"] == pytest.approx(want, rel=1e-9)
    # row drives follow the density too; conversions do not depend on the data
    assert meas.summary["energy_adc_J"] == base.summary["energy_adc_J"]
    assert meas.summary["energy_dac_J"] < base.summary["energy_dac_J"]


# ------------------------------------------------------------------------------------------- conductances
@pytest.mark.parametrize("mapping", ["differential", "offset"])
def test_conductance_fractions_match_the_programmed_codes(mapping):
    arch = ARCH.replace(mapping=mapping, bits_per_cell=2)
    W = np.random.default_rng(2).standard_normal((40, 24))
    lm = layer_map(40, 24, arch)
    pm = ProgrammedMatrix.program(W, lm, arch, load_device(arch.device), SimConfig(prog_error=False, read_noise=False))
    top = (1 << pm.bits_per_cell) - 1
    want = pm.codes.reshape(pm.codes.shape[0], -1).mean(axis=1) / top
    np.testing.assert_allclose(cell_fractions(W, arch, pm.bits_per_cell), want, rtol=0, atol=1e-12)
    # the same from the conductances the simulator programs: (g - g_min) / (g_max - g_min)
    g = pm.conductances("target")
    dev = pm.device
    np.testing.assert_allclose(((g - dev.g_min) / (dev.g_max - dev.g_min)).reshape(len(want), -1).mean(axis=1),
                               want, rtol=0, atol=1e-12)


def test_zero_weights_sit_at_g_min_and_full_scale_weights_at_g_max():
    m0 = map_workload(_dense(w=0.0), ARCH)
    assert conductance_fractions(m0).tolist() == [0.0]   # both cells of every pair at g_min
    W = np.full((16, 8), 0.3)
    plus, minus = cell_fractions(W, ARCH, 7)
    assert plus == 1.0 and minus == 0.0                  # G+ at g_max, G- at g_min
    assert conductance_fractions(map_workload(_dense(w=0.3), ARCH)).tolist() == [0.5]
    # offset mapping: a zero weight is stored as the offset Q = 127 (mid-range), not at g_min
    off = ARCH.replace(mapping="offset", bits_per_cell=8)
    assert cell_fractions(np.zeros((4, 4)), off, 8).tolist() == [127 / 255]


# ------------------------------------------------------------------------------------------------ API, CLI
def test_api_activity_data_says_what_it_measured():
    est = archsim.estimate("lenet5", activity="data", samples=16)
    assert est.summary["activity"] == "measured on 16 images of mnist (train split)"
    base = archsim.estimate("lenet5")
    assert "activity" not in base.summary                # the default: the same summary as explore's
    assert est.summary["energy_array_J"] < base.summary["energy_array_J"]
    x = np.zeros((2, 1, 32, 32), np.float32)
    assert archsim.estimate("lenet5", activity="data", data=x).layers["energy_array_J"].iloc[0] == 0.0
    with pytest.raises(ArchsimError, match="network vgg16 has no weights"):
        archsim.estimate("vgg16", activity="data")
    with pytest.raises(ArchsimError, match="activity = 'measured' is not allowed"):
        archsim.estimate("lenet5", activity="measured")


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_estimate_prints_the_activity_source(capsys, tmp_path):
    code, out, _ = _cli(capsys, "estimate", "-w", "lenet5", "--activity", "data", "--activity-samples", "16",
                        "--out", str(tmp_path))
    assert code == 0
    assert "activity: measured on 16 images of mnist (train split)" in out
    assert "conv1" in out and "input_bit_density" in out
    assert "activity: measured on 16 images" in (tmp_path / "estimate_lenet5_reram.md").read_text()
    code, out, _ = _cli(capsys, "estimate", "-w", "lenet5")
    assert code == 0 and "activity: assumed (techlib/circuits/activity.yaml)" in out


def test_cli_compare_activity_per_device(capsys):
    code, out, _ = _cli(capsys, "compare", "-w", "mlp", "--devices", "reram,sram", "--activity", "data",
                        "--activity-samples", "8")
    assert code == 0
    assert "activity: measured on 8 images" in out and "conductance_fraction_sram" in out


def test_cli_onnx_model_with_weights_measures_like_the_builtin(capsys, tmp_path):
    # an ONNX file carrying the shipped weights gives the built-in's measured activity; without values: exit 2
    f, bare = tmp_path / "cnn5.onnx", tmp_path / "bare.onnx"
    assert _cli(capsys, "export", "-w", "mnist_cnn5", "-o", str(f))[0] == 0
    assert _cli(capsys, "export", "-w", "mnist_cnn5", "--weights", "none", "-o", str(bare))[0] == 0
    a = archsim.estimate(str(f), activity="data", samples=8).layers["energy_array_J"]
    b = archsim.estimate("mnist_cnn5", activity="data", samples=8).layers["energy_array_J"]
    np.testing.assert_allclose(a, b, rtol=1e-6)   # float32 forward in both; ONNX weights round-trip exactly
    code, _, err = _cli(capsys, "estimate", "-m", str(bare), "--activity", "data")
    assert code == 2 and "network bare has no weights" in err


@pytest.mark.parametrize("argv, pattern", [
    (["estimate", "-w", "vgg16", "--activity", "data"], "network vgg16 has no weights"),
    (["compare", "-w", "resnet18", "--devices", "reram", "--activity", "data"], "network resnet18 has no weights"),
    (["estimate", "-w", "lenet5", "--data", "x.npz"], "--data x.npz: applies with --activity data only"),
    (["estimate", "-w", "lenet5", "--activity", "data", "--activity-samples", "0"], "--activity-samples 0"),
    (["estimate", "-w", "lenet5", "--activity", "data", "--data", "/nonexistent/x.npz"], "does not exist"),
])
def test_cli_bad_activity_one_line_exit_2(capsys, argv, pattern):
    code, out, err = _cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("archsim: error: ")
    assert pattern in lines[0], lines[0]

"""Command line: readable tables, files written, one-line errors with exit code 2."""
import subprocess
import sys

import pytest
import numpy as np

from archsim.cli import main as cli
from tests.support import ROOT
from archsim.model.errors import ArchsimError


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in ("resnet50", "vgg16", "lenet5", "reram", "sonos", "ecram", "sram", "pcm"):
        assert name in out


def test_list_keys(capsys):
    code, out, _ = run(capsys, "list", "--keys")
    assert code == 0 and "cols_per_adc" in out and "bits_per_cell" in out


def test_estimate_prints_table(capsys):
    code, out, _ = run(capsys, "estimate", "--workload", "lenet5", "--device", "sonos", "--layers")
    assert code == 0
    for col in ("energy/inference (uJ)", "latency (us)", "inferences/s", "area (mm2)", "TOPS/W", "TOPS/mm2"):
        assert col in out
    assert "2 operations" in out and "conv1" in out


def test_compare_writes_markdown_and_csv(capsys, tmp_path):
    code, out, _ = run(capsys, "compare", "--workload", "lenet5", "--devices", "reram,sonos,pcm",
                       "--out", str(tmp_path))
    assert code == 0
    md = (tmp_path / "compare_lenet5.md").read_text()
    csv = (tmp_path / "compare_lenet5.csv").read_text()
    assert md.count("| sonos") == 1 and "2 operations" in md and "ASSUMPTION" not in md
    assert "Assumed values" in md
    assert csv.splitlines()[0].startswith("workload,device")
    assert len(csv.splitlines()) == 4


def test_set_override_and_arch_file(capsys, tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("rows: 256\ncols: 256\n")
    code, out, _ = run(capsys, "estimate", "-w", "lenet5", "--arch", str(a), "--set", "adc_bits=6",
                       "--cost-model", "lut", "--device", "ecram")
    assert code == 0 and "256x256" in out and "lut" in out


@pytest.mark.parametrize("argv, pattern", [
    (["estimate", "-w", "nosuchnet"], "unknown workload 'nosuchnet'"),
    (["estimate", "-w", "lenet5", "-d", "mram"], "unknown device 'mram'; choose one of"),
    (["compare", "-w", "lenet5", "--devices", "reram,unobtainium"], "unknown device 'unobtainium'"),
    (["estimate", "-w", "lenet5", "--set", "rows=banana"], "key 'rows' = 'banana' is not allowed"),
    (["estimate", "-w", "lenet5", "--set", "colour=red"], "unknown key 'colour'"),
    (["estimate", "-w", "lenet5", "--set", "mesh=[1,1]", "--set", "arrays_per_tile=1"],
     "layer 'conv\\w*' of lenet5 does not fit the chip"),
    (["estimate", "-w", "lenet5", "--arch", "/nonexistent/a.yaml"], "architecture file not found"),
    (["estimate", "-w", "lenet5", "-d", "pcm", "--cost-model", "lut"], "device 'pcm' has no lookup table"),
    (["estimate", "-w", "lenet5", "-d", "neurosim_rram", "--set", "node_nm=14"],
     r"key 'node_nm' = 14: device 'neurosim_rram' exists at 22, .* nm only \(techlib/devices/neurosim_rram.yaml, key "
     r"'nodes'\); allowed node_nm: 22"),
    (["estimate", "-w", "lenet5", "--preset", "isaac", "--set", "adc_rate_Hz=auto"],
     r"isaac/adc.yaml: architecture key 'adc_rate_Hz' = auto needs a converter law"),
])
def test_bad_input_one_line_exit_2(capsys, argv, pattern):
    import re
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archsim: error: ")
    assert re.search(pattern, lines[0]), lines[0]


def test_device_outside_its_nodes_is_flagged(capsys, tmp_path):
    """reram at 14 nm (demonstrated from 130 down to 22 nm): priced, and flagged on the terminal and in the notes."""
    code, out, err = run(capsys, "estimate", "-w", "lenet5", "-d", "reram", "--set", "node_nm=14", "--out",
                         str(tmp_path))
    assert code == 0, err
    flag = "flagged: techlib/devices/reram.yaml key 'nodes': node_nm = 14 is outside the nodes this device is demonstrated at"
    assert flag in out
    assert any("node_nm = 14 is outside" in p.read_text() for p in tmp_path.glob("*.md"))
    code, out, _ = run(capsys, "estimate", "-w", "lenet5", "-d", "reram", "--set", "node_nm=22")
    assert code == 0 and "flagged" not in out


def test_no_traceback_from_real_process(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rows: [1, 2\n")
    p = subprocess.run([sys.executable, "-m", "archsim.cli", "estimate", "-w", "resnet50", "--arch", str(bad)],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and "bad.yaml: line 2: not valid YAML" in p.stderr


def test_preset_and_validate(capsys, tmp_path):
    code, out, _ = run(capsys, "estimate", "-w", "resnet50", "--preset", "isaac")
    assert code == 0 and "168 tiles (14x12 mesh)" in out
    code, out, err = run(capsys, "estimate", "-w", "resnet50", "--preset", "isaac", "--arch", "x.yaml")
    assert code == 2 and "--arch and --preset both given" in err
    code, out, _ = run(capsys, "validate", "--out", str(tmp_path), "--no-accuracy")
    assert code == 0 and (tmp_path / "validation.md").exists()


def test_accuracy_ir_drop_switch(capsys):
    """The DPE preset carries seed 000's 1 ohm wires: IR drop moves the logits; --no-ir-drop removes it."""
    import workloads

    assert workloads.weights_path("dpe_softmax").exists(), "shipped dpe_softmax weights are missing"
    errs = {}
    for flag in ((), ("--no-ir-drop",)):
        code, out, _ = run(capsys, "accuracy", "--workload", "dpe_softmax", "--preset", "dpe", "--trials", "1",
                           "--samples", "200", "--no-progress", "--no-read-noise", *flag)
        assert code == 0
        line = next(l for l in out.splitlines() if l.startswith("dpe_softmax  dpe_taox"))
        errs[flag] = float(line.split()[6])          # relative_logit_error
    assert errs[()] > 3 * errs[("--no-ir-drop",)]


def test_accuracy_data_holds_out_calibration_images(tmp_path):
    """--data without --calibration: the first N images calibrate and are never scored; --calibration FILE
    leaves --data whole; a built-in's default calibration comes from its training split."""
    import workloads as W
    from archsim.cli.args import _accuracy_inputs
    from archsim.io import data as D
    wl = W.get("lenet5")
    x, y = D.for_workload(W.with_weights(wl), "test", limit=40)
    f = tmp_path / "d.npz"
    np.savez(f, x=x, y=y)
    inp = _accuracy_inputs(wl, True, 100, 0, str(f), calibration="8")
    np.testing.assert_array_equal(inp.x_cal, x[:8])
    np.testing.assert_array_equal(inp.x, x[8:])
    np.testing.assert_array_equal(inp.y, y[8:])
    assert "first 8 images" in inp.calibration and "not scored" in inp.calibration
    c = tmp_path / "cal.npz"
    np.savez(c, x=x[:5], y=y[:5])
    inp = _accuracy_inputs(wl, True, 100, 0, str(f), calibration=str(c))
    assert len(inp.x) == 40 and len(inp.x_cal) == 5 and "cal.npz" in inp.calibration
    inp = _accuracy_inputs(wl, True, 30, 0)
    xt, _ = D.for_workload(W.with_weights(wl), "train", limit=128)
    np.testing.assert_array_equal(inp.x_cal, xt)
    assert inp.calibration == "128 images of the mnist training split"
    with pytest.raises(ArchsimError, match="held out"):
        _accuracy_inputs(wl, True, 100, 0, str(f), calibration="40")


def test_accuracy_reports_calibration_and_interval(capsys, tmp_path):
    code, out, _ = run(capsys, "accuracy", "--workload", "lenet5", "--trials", "2", "--samples", "100",
                       "--calibration", "16", "--no-progress", "--out", str(tmp_path))
    assert code == 0
    assert "calibration: 16 images of the mnist training split" in out
    assert "95% interval" in out and "ci95_low" in out and "ci95_high" in out
    notes = "".join(p.read_text() for p in tmp_path.glob("*.md"))
    assert "Calibration: 16 images of the mnist training split" in notes


def test_accuracy_simulates_the_mapping_keys(capsys):
    """conv_mapping: kernel_position and parallel_rows are simulated, no longer refused (exit 0, not 2); the
    laws they follow are in tests/sim/test_mapping_keys.py."""
    code, out, err = run(capsys, "accuracy", "--workload", "lenet5", "--trials", "1", "--samples", "40",
                         "--calibration", "8", "--no-progress", "--set", "conv_mapping=kernel_position",
                         "--set", "parallel_rows=32")
    assert code == 0, err
    assert "lenet5 on reram: accuracy" in out


def test_accuracy_ideal_prints_both_references(capsys):
    code, out, _ = run(capsys, "accuracy", "--workload", "lenet5", "--ideal", "--samples", "200")
    assert code == 0
    lines = out.splitlines()
    assert any(l.startswith("float") for l in lines) and any(l.startswith("quantized") for l in lines)
    assert "8-bit inputs, 8-bit weights" in out and "128 images of the mnist training split" in out

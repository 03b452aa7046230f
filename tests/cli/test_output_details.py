"""What the commands print beside their figures: training steps, read time and drift, IR-drop wires, the
reticle, the trust of energy and area, and ``--no-progress`` on every command."""
from __future__ import annotations

import pytest

import archsim
from archsim.cli import main as cli
from archsim.report import notes


def run(capsys, *argv) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_every_command_takes_no_progress():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [name for name, sp in sub.choices.items() if "--no-progress" not in sp._option_string_actions]
    assert missing == []
    assert set(sub.choices) >= set(cli.ORDER)


def test_list_and_export_accept_no_progress(capsys, tmp_path):
    pytest.importorskip("onnx")
    assert "Workloads" in run(capsys, "list", "--no-progress")
    assert "wrote" in run(capsys, "export", "--workload", "lenet5", "-o", str(tmp_path / "l.onnx"), "--weights",
                          "none", "--no-progress")


def test_training_columns_are_per_step(capsys):
    out = run(capsys, "estimate", "--workload", "lenet5", "--device", "ecram", "--cost-model", "lut",
              "--task", "training", "--no-progress")
    assert "energy/step (uJ)" in out and "steps/s" in out
    assert "energy/inference" not in out and "inferences/s" not in out
    assert "per step: one training sample's forward pass, backward pass and weight update" in out
    out = run(capsys, "compare", "--workload", "lenet5", "--devices", "ecram,sonos", "--cost-model", "lut",
              "--task", "training", "--no-progress")
    assert "energy/step (uJ)" in out and "energy/inference" not in out


def test_estimate_states_trust_per_device_kind(capsys, tmp_path):
    out = run(capsys, "estimate", "--workload", "lenet5", "--device", "sonos", "--out", str(tmp_path))
    assert "how far to trust energy and area" in out and "analog (sonos): energy" in out
    md = (tmp_path / "estimate_lenet5_sonos.md").read_text()
    assert "How far to trust energy and area" in md and "- analog (sonos): energy" in md


def test_reticle_note_follows_the_area(capsys):
    big = archsim.estimate("resnet50", device="sonos").summary["area_mm2"]
    out = run(capsys, "estimate", "--workload", "resnet50", "--device", "sonos", "--no-progress")
    assert ("exceeds one exposure field" in out) == (big > notes.reticle_limit_mm2())
    assert "exceeds one exposure field" not in run(capsys, "estimate", "--workload", "lenet5", "--device", "sonos")


def test_accuracy_echoes_read_time_and_no_drift_law(capsys, tmp_path):
    args = ["accuracy", "--workload", "lenet5", "--trials", "1", "--samples", "40", "--calibration", "16",
            "--no-progress", "--time", "1d"]
    out = run(capsys, *args, "--device", "sonos", "--out", str(tmp_path))
    assert "read time: 1 d (86,400 s) after programming (--time); sonos has no drift law: --time changes nothing" in out
    assert "read time" in (tmp_path / "accuracy_lenet5_sonos.md").read_text()
    out = run(capsys, *args, "--device", "pcm")
    assert "read time: 1 d" in out and "drift: pcm's power law" in out and "changes nothing" not in out


def test_ir_drop_runs_print_the_wires(capsys):
    args = ["accuracy", "--workload", "mlp", "--device", "reram", "--trials", "1", "--samples", "20",
            "--calibration", "8", "--no-progress", "--set", "rows=64", "--set", "cols=64",
            "--set", "r_wire_ohm=1", "--set", "r_in_ohm=100", "--set", "r_out_ohm=100"]
    out = run(capsys, *args)
    assert "IR drop: on, every programmed array solved with r_wire_ohm=1" in out and "r_in_ohm=100" in out
    assert "IR drop: off (--no-ir-drop)" in run(capsys, *args, "--no-ir-drop")
    plain = run(capsys, "accuracy", "--workload", "lenet5", "--device", "reram", "--trials", "1", "--samples", "20",
                "--calibration", "8", "--no-progress")
    assert "IR drop" not in plain

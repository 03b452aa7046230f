"""``archsim train``, ``compare --task training`` and ``archsim.train``: output, files, one-line errors."""
import pytest

import archsim
from archsim.cli import main as cli

SMALL = ["--train-samples", "120", "--test-samples", "60", "--no-progress"]


def test_train_prints_accuracy_pulses_energy_and_writes_tables(tmp_path, capsys):
    rc = cli.main(["train", "--workload", "rpu_mlp", "--device", "ecram,ideal", "--epochs", "2", "--trials", "2",
                   "--out", str(tmp_path)] + SMALL)
    out = capsys.readouterr().out
    assert rc == 0
    assert "test accuracy per epoch" in out and "energy_epoch_J" in out and "pulses_per_device" in out
    assert (tmp_path / "train_rpu_mlp.csv").exists() and (tmp_path / "train_rpu_mlp_epochs.md").exists()
    import pandas as pd
    df = pd.read_csv(tmp_path / "train_rpu_mlp_epochs.csv")
    assert sorted(df["epoch"].unique()) == [1, 2] and set(df["device"]) == {"ecram", "ideal"}
    assert (df["ci95"] > 0).all()                      # two trials and 60 images: an interval


def test_train_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli.main(["train", "--workload", "rpu_mlp", "--out", str(tmp_path), "--plot"] + SMALL) == 0
    assert (tmp_path / "train_rpu_mlp_accuracy.png").stat().st_size > 1000


@pytest.mark.parametrize("argv, match", [
    (["--workload", "lenet5"], "chains of dense layers"),
    (["--workload", "mlp", "--device", "dpe_taox"], "no 'update' section"),
    (["--workload", "mlp", "--device", "nosuch"], "unknown device"),
    (["--workload", "mlp", "--bl", "65"], "--bl"),
    (["--workload", "mlp", "--plot"], "--plot needs"),
])
def test_bad_input_exits_2_with_one_line(argv, match, capsys):
    assert cli.main(["train"] + argv + SMALL) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1


def test_compare_task_training_ranks_devices(capsys, monkeypatch):
    import archsim.cli.train as train_cli
    monkeypatch.setattr(train_cli, "COMPARE_TRAIN_IMAGES", 100)       # the law, not the default budget
    rc = cli.main(["compare", "--workload", "rpu_mlp", "--devices", "ecram,sonos", "--task", "training",
                   "--samples", "50", "--trials", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "rank" in out and "pareto" in out and "sonos" in out


def test_api_train_returns_a_ranked_frame():
    df = archsim.train("rpu_mlp", "ecram", train_samples=100, test_samples=50)
    assert list(df["device"]) == ["ecram"] and 0 <= df["accuracy"].iloc[0] <= 1
    assert df["energy_epoch_J"].iloc[0] > 0 and df["time_epoch_s"].iloc[0] > 0

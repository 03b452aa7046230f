"""``archsim train``, ``compare --task training`` and ``archsim.train``: output, files, one-line errors."""
import pytest

import archsim
from archsim.cli import main as cli
from archsim.model.errors import ArchsimError

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
    (["--workload", "mlp", "--lr-schedule", "3:0.1,2:0.1"], "--lr-schedule '2:0.1': allowed EPOCH:LR pairs"),
    (["--workload", "mlp", "--lr-schedule", "2:0"], "--lr-schedule '2:0': allowed"),
    (["--workload", "mlp", "--lr-schedule", "2"], "--lr-schedule '2': allowed"),
    (["--workload", "mlp", "--lr-schedule", "10001:0.1"], "--lr-schedule '10001:0.1': allowed"),
    (["--workload", "mlp", "--lr-schedule", "2:11"], "--lr-schedule '2:11': allowed"),
    (["--workload", "mlp", "--epochs", "2", "--lr-schedule", "3:0.001"], "epoch 3 is beyond --epochs 2"),
])
def test_bad_input_exits_2_with_one_line(argv, match, capsys):
    assert cli.main(["train"] + argv + SMALL) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1


def test_train_lr_schedule_flag_is_the_config_schedule(capsys):
    """--lr-schedule E:LR gives the numbers of the API with lr_schedule ((E, LR),), and says the schedule."""
    argv = ["train", "--workload", "rpu_mlp", "--device", "ideal", "--epochs", "2", "--lr-schedule", "2:0.001"]
    assert cli.main(argv + SMALL) == 0
    out = capsys.readouterr().out
    assert "lr 0.01, 0.001 from epoch 2" in out
    df = archsim.train("rpu_mlp", "ideal", epochs=2, train_samples=120, test_samples=60, lr_schedule=((2, 0.001),))
    const = archsim.train("rpu_mlp", "ideal", epochs=2, train_samples=120, test_samples=60)
    assert f"{df['accuracy'].iloc[0]:.4f}" in out.split("per device, ranked")[0]   # the per-epoch table (4 decimals)
    assert df["pulses_per_device"].iloc[0] < const["pulses_per_device"].iloc[0]   # a lower rate fires fewer


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


def _no_training(*a, **k):
    raise AssertionError("trained before refusing")


@pytest.mark.parametrize("argv, match", [
    (["--workload", "rpu_mlp", "-a", "float"], "invalid choice: 'float'"),
    (["--workload", "rpu_mlp", "--plot"], "--plot needs --out"),
])
def test_refused_before_any_training(argv, match, capsys, monkeypatch):
    """Found by a bad-input sweep: -a float trained, then failed in the pricing ('a float run has no device to
    price'); --plot without --out trained, then failed.  Both now fail before any training."""
    import archsim.cli.train as ct
    monkeypatch.setattr(ct, "run_trials", _no_training)
    assert cli.main(["train"] + argv + SMALL) == 2
    err = capsys.readouterr().err.strip()
    assert match in err and len(err.splitlines()) == 1


def test_api_float_algorithm_refused_before_training(monkeypatch):
    import archsim.cli.train as ct
    monkeypatch.setattr(ct, "run_trials", _no_training)
    with pytest.raises(ArchsimError, match="algorithm 'float' trains no device"):
        archsim.train("rpu_mlp", "ideal", algorithm="float", train_samples=20, test_samples=10)

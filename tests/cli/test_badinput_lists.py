"""Comma-separated search flags (``size`` and ``compare --best``: --rows, --bits-per-cell, --adc-bits,
--cols-per-adc, --budgets, --encodings): a value given twice is refused (it used to search the same designs
twice and report twice the designs searched), and a long bad value is shown cut to 40 characters, so the
error stays one short line.  And ``compare``'s simulation flags given without ``--accuracy`` (they were
silently ignored).  Found by a bad-input sweep of the CLI.
"""
from __future__ import annotations

import pytest

from archsim.explore import sizing
from archsim.model.errors import ParameterError
from archsim.model import arch as _arch
from tests.cli.test_badinput_limits import one_line

SIZE = ["size", "--workload", "mlp", "--device", "sonos", "--no-simulate"]
BEST = ["compare", "--best", "--workload", "mlp", "--devices", "sonos", "--no-simulate"]


@pytest.mark.parametrize("argv,says", [
    (SIZE + ["--rows", "128,256,128"], "--rows 128: given twice"),
    (SIZE + ["--bits-per-cell", "2,2"], "--bits-per-cell 2: given twice"),
    (SIZE + ["--adc-bits", "4,6,4"], "--adc-bits 4: given twice"),
    (SIZE + ["--cols-per-adc", "8,8"], "--cols-per-adc 8: given twice"),
    (SIZE + ["--budgets", "1,1"], "--budgets 1: given twice"),
    (BEST + ["--encodings", "differential,differential"], "--encodings differential: given twice"),
    (BEST + ["--rows", "256,256"], "--rows 256: given twice"),
])
def test_a_value_given_twice_is_refused(capsys, argv, says):
    line = one_line(capsys, says, *argv)
    assert "allowed each value once" in line


@pytest.mark.parametrize("argv,flag", [
    (BEST + ["--encodings", "x" * 5000], "--encodings"),
    (SIZE + ["--rows", "y" * 5000], "--rows"),
])
def test_a_long_bad_value_is_shown_cut(capsys, argv, flag):
    line = one_line(capsys, flag, *argv)
    # the value is echoed at most 40 characters long (plus its quotes), not 5000
    assert len(line) < 300, len(line)


def test_design_points_refuses_duplicates_for_library_callers():
    base = _arch.Architecture(device="sonos")
    with pytest.raises(ParameterError, match="parameter 'rows' 128: given twice"):
        sizing.design_points("mlp", base, sizing.SearchSpace(rows=(128, 128)))
    # the same values once each are accepted, and adding a distinct value only adds designs
    one, _ = sizing.design_points("mlp", base, sizing.SearchSpace(rows=(128,)))
    two, _ = sizing.design_points("mlp", base, sizing.SearchSpace(rows=(128, 256)))
    assert 0 < len(one) < len(two)


CMP = ["compare", "--workload", "mlp", "--devices", "sonos,reram"]


@pytest.mark.parametrize("extra,flag", [(["--time", "1d"], "--time"), (["--trials", "5"], "--trials"),
                                        (["--samples", "5"], "--samples"), (["--calibration", "5"], "--calibration"),
                                        (["--no-read-noise"], "--no-read-noise"), (["--no-ir-drop"], "--no-ir-drop")])
def test_compare_simulation_flags_without_accuracy_refused(capsys, extra, flag, monkeypatch):
    # they used to be accepted and ignored (the same table as without them); refused before any pricing
    import archsim.cli.design as cd
    monkeypatch.setattr(cd, "_priced", lambda *a, **k: pytest.fail("priced before refusing"))
    line = one_line(capsys, flag, *CMP, *extra)
    assert f"{flag}: applies with --accuracy only" in line


def test_compare_task_training_still_reads_trials_and_samples(capsys, monkeypatch):
    import archsim.cli.train as ct
    seen = {}
    monkeypatch.setattr(ct, "compare_training", lambda args, *a: seen.update(t=args.trials, s=args.samples) or 0)
    from tests.cli.test_badinput_limits import run_cli
    rc, _, err = run_cli(capsys, *CMP, "--task", "training", "--trials", "2", "--samples", "30")
    assert rc == 0 and seen == {"t": 2, "s": 30}, err
    line = one_line(capsys, "--time", *CMP, "--task", "training", "--time", "1d")
    assert "--task training reads --trials and --samples" in line

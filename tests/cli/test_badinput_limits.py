"""Fault corpus of limits: each admissibility rule through each command, every numeric flag's bounds (read from
the parser itself, so a flag added without a bound fails here), limits checked before loading, errors that
blame the flag that caused them, start-up imports, and the exit status of sweeps with failed points.

Every refusal: exit 2, exactly one line ``archsim: error: ...`` naming the key or flag, no traceback.
"""
from __future__ import annotations

import argparse
import sys

import pytest

from archsim.cli import main as cli
from archsim.mapping import admissible
from archsim.model import arch as _arch
from archsim.model.errors import ArchsimError


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(capsys, names, *argv) -> str:
    rc, _, err = run_cli(capsys, *argv)
    lines = err.strip("\n").splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("archsim: error: "), err
    assert "Traceback" not in err
    for n in [names] if isinstance(names, str) else names:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------------------------------------------
# admissibility: one check, every command

#: rule -> (--set overrides that break it, the key its refusal names)
RULE_CASES = {
    "mesh_budget": (["mesh=[4096, 4096]"], "mesh"),
    "buffer_vector": (["buffer_kB=0"], "buffer_kB"),
    "tile_count": (["rows=2", "cols=1", "arrays_per_tile=1", "cols_per_adc=1"], "tiles"),
}


def test_every_rule_has_a_case():
    assert set(RULE_CASES) == set(admissible.RULES)


def _sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


@pytest.mark.parametrize("rule", list(RULE_CASES))
@pytest.mark.parametrize("command", ["estimate", "compare", "accuracy"])
def test_each_rule_refused_by_each_command(capsys, rule, command, tmp_path):
    overrides, key = RULE_CASES[rule]
    wl = "vgg16" if rule == "tile_count" else "mlp"
    extra = {"estimate": [], "compare": ["--devices", "reram,sram"],
             "accuracy": ["--samples", "5", "--no-progress"]}[command]
    one_line(capsys, key, command, "-w", wl, *_sets(overrides), *extra, "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists()           # refused before any work: no output folder made


def test_size_refuses_the_architecture_rules_up_front(capsys):
    for rule in ("mesh_budget",):
        overrides, key = RULE_CASES[rule]
        one_line(capsys, key, "size", "-w", "mlp", "--no-simulate", *_sets(overrides))


def test_sweep_points_breaking_a_rule_fail_with_its_message(capsys, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: s\nworkloads: [mlp]\ndevices: [reram]\ngrid:\n  buffer_kB: [0, 1e-9, 64]\n"
                 "  weight_bits: [8]\n")
    rc, out, err = run_cli(capsys, "sweep", f, "--out", tmp_path / "o", "-j", "1", "--no-progress")
    assert rc == 1, err                  # the sweep ran and wrote its table; 2 of 3 points have no figures
    assert "2 of 3 points failed (1 distinct cause" in err and "buffer_kB" in err, err
    assert (tmp_path / "o" / "s.csv").exists()


def test_sweep_whose_every_point_fails_exits_1_with_each_cause(capsys, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: s\nworkloads: [mlp]\ndevices: [reram]\npoints:\n  - {buffer_kB: 0}\n"
                 "  - {mesh: [4096, 4096]}\n  - {mesh: [1, 1]}\n  - {mesh: [1, 2]}\n")
    rc, out, err = run_cli(capsys, "sweep", f, "--out", tmp_path / "o", "-j", "1", "--no-progress")
    assert rc == 1
    head, *causes = err.strip().splitlines()
    assert head.startswith("4 of 4 points failed (3 distinct causes")
    assert len(causes) == 3 and causes[0].lstrip().startswith("2 points:")   # the two small meshes: one cause
    assert any("buffer_kB" in c for c in causes) and any("1,000,000" in c for c in causes)


def test_sweep_with_a_broken_device_file_fails_fast(capsys, tmp_path):
    dev = tmp_path / "bad.yaml"
    dev.write_text("name: bad\nkind: digital\nconductance:\n  levels: {value: 256, unit: levels, assumption: x}\n"
                   "read:\n  pulse: {value: 1, unit: ns, assumption: x}\n  energy_per_cell: {value: 1, unit: fJ, "
                   "assumption: x}\ninput_line:\n  energy_per_cell: {value: 0.1, unit: fJ, assumption: x}\n"
                   "cell:\n  area: {value: 150, unit: F2, assumption: x}\n")
    f = tmp_path / "s.yaml"
    f.write_text(f"name: s\nworkloads: [mlp, lenet5]\ndevices: [{dev}]\n")
    one_line(capsys, ["conductance.levels", "bad.yaml"], "sweep", f, "--out", tmp_path / "o", "-j", "1")
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------------------------------
# numeric flags: bounded where parsed, the bound in --help

def _numeric_flags():
    p = cli.build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    out = []
    for name, sp in sub.choices.items():
        for a in sp._actions:
            numeric = getattr(a.type, "__name__", "") in ("int", "float", "time_s") or hasattr(a.type, "allowed")
            if a.option_strings and numeric:
                out.append((name, a))
    return out


def test_every_numeric_flag_has_both_bounds_and_shows_them_in_help():
    flags = _numeric_flags()
    assert len(flags) > 20
    for command, a in flags:
        assert a.type not in (int, float), f"{command} {a.option_strings[0]}: a bare {a.type.__name__}"
        flag = a.option_strings[0]
        if flag == "--time":
            continue                                   # its own parser: a unit, bounded 0 s to 100 y (below)
        assert getattr(a.type, "bounded", False), f"{command} {flag}: no upper bound"
        assert "[allowed" in (a.help or ""), f"{command} {flag}: help shows no bound"


def _beyond(t):
    hi = t.hi * 2 + 1 if isinstance(t.hi, int) else t.hi * 10 + 1
    lo = t.lo if t.lo_open else t.lo - 1
    return [hi, lo]


@pytest.mark.parametrize("command,flag", sorted({(c, a.option_strings[0]) for c, a in _numeric_flags()
                                                 if a.option_strings[0] != "--time"}))
def test_each_numeric_flag_refuses_both_sides(capsys, command, flag):
    a = next(a for c, a in _numeric_flags() if c == command and a.option_strings[0] == flag)
    for v in _beyond(a.type):
        line = one_line(capsys, flag, command, flag, str(v))
        assert "allowed" in line


@pytest.mark.parametrize("text,says", [("1e300y", "100 y"), ("101y", "100 y"), ("-1", "0 or more"),
                                       ("1e400", "finite"), ("nan", "write a number")])
def test_time_is_bounded_with_one_line(capsys, text, says):
    one_line(capsys, ["--time", says], "accuracy", "-w", "mlp", "--device", "pcm", "--time", text)


def test_time_bound_is_a_finite_drift_on_every_device():
    """At the longest allowed time every drift law gives a finite, positive conductance factor."""
    import numpy as np
    from archsim.io import techlib
    from archsim.model.device import load_device
    from archsim.sim.tilesim.config import MAX_TIME_S, SimConfig
    SimConfig(time_s=MAX_TIME_S)
    with pytest.raises(ArchsimError, match="time_s"):
        SimConfig(time_s=MAX_TIME_S * 1.01)
    for name in techlib.device_names():
        d = load_device(name)
        if d.drift is not None:
            g = np.linspace(d.g_min, d.g_max, 5)
            f = d.drift.mean_factor(MAX_TIME_S, g)
            assert np.all(np.isfinite(f)) and np.all(f > 0), name


def test_calibration_bounded_before_loading(capsys, monkeypatch):
    from archsim.io import data as D
    loaded = []
    real = D.load_dataset
    monkeypatch.setattr(D, "load_dataset", lambda *a, **k: loaded.append(a) or real(*a, **k))
    one_line(capsys, ["--calibration 100000000", "100,000"], "accuracy", "-w", "mlp", "--calibration", "100000000")
    one_line(capsys, ["--calibration 60000", "50,000"], "accuracy", "-w", "mlp", "--calibration", "60000",
             "--no-progress")
    assert loaded == []                      # refused before any image was loaded


def test_size_blames_cols_per_adc_against_rows(capsys):
    line = one_line(capsys, ["--cols-per-adc 128", "--rows"], "size", "-w", "mlp", "--cols-per-adc", "128",
                    "--rows", "64", "--no-simulate")
    assert "holds" not in line                # not the capacity message


def test_size_budgets_bounded(capsys):
    one_line(capsys, "--budgets", "size", "-w", "mlp", "--budgets", "100000", "--no-simulate")


# ---------------------------------------------------------------------------------------------------------------------
# start-up imports: a missing package fails in one line before any work; any ImportError at the top is one line

def test_required_module_missing_fails_at_startup(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    one_line(capsys, "onnx", "export", "-w", "mlp", "-o", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    monkeypatch.setitem(sys.modules, "distributed", None)
    one_line(capsys, "--scheduler", "sweep", tmp_path / "x.yaml", "--scheduler", "tcp://127.0.0.1:1")


def test_optional_module_missing_is_left_out(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    rc, out, err = run_cli(capsys, "estimate", "-w", "mlp")
    assert rc == 0, err


def test_startup_imports_happen_before_the_command(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "STARTUP_IMPORTS", ((("estimate",), lambda a: True, lambda a: seen.append("import")),))
    real = cli.build_parser

    def parser():
        p = real()
        for sp in next(x for x in p._actions if isinstance(x, argparse._SubParsersAction)).choices.values():
            f = sp.get_default("func")
            sp.set_defaults(func=lambda args, f=f: seen.append("run") or f(args))
        return p
    monkeypatch.setattr(cli, "build_parser", parser)
    assert cli.main(["estimate", "-w", "mlp"]) == 0
    assert seen == ["import", "run"]


def test_import_error_inside_a_command_is_one_line(capsys, monkeypatch):
    import archsim.cli.design as design

    def boom(args):
        raise ImportError("cannot import name 'x' (simulated under a memory limit)")
    monkeypatch.setattr(design, "cmd_estimate", boom)
    line = one_line(capsys, ["estimate", "ImportError"], "estimate", "-w", "mlp")
    assert "memory" in line


def test_memory_error_inside_a_command_is_one_line(capsys, monkeypatch):
    import archsim.cli.design as design

    def boom(args):
        raise MemoryError()
    monkeypatch.setattr(design, "cmd_estimate", boom)
    one_line(capsys, ["estimate", "out of memory"], "estimate", "-w", "mlp")


def test_admissible_problems_lists_every_broken_rule():
    from tests.support import single_dense
    a = _arch.Architecture(buffer_kB=0, mesh=[4096, 4096])
    found = admissible.problems(a, single_dense(8, 4))
    assert len(found) == 2 and "mesh" in found[0] and "buffer_kB" in found[1]
    assert admissible.problems(a) == found[:1]               # without a network: the architecture's rules only
    assert admissible.problems(_arch.Architecture(), single_dense(8, 4)) == []


def test_offset_1_bit_weights_priced_and_simulated_alike(capsys):
    """What the cost model prices the simulator computes: offset mapping with 1-bit weights (binary +-1)
    estimates and simulates (it was priced and then refused by the simulator)."""
    for argv in (["estimate"], ["accuracy", "--samples", "10", "--trials", "1", "--no-progress"]):
        rc, out, err = run_cli(capsys, *argv, "-w", "mlp", "--device", "sram_charge", "--set", "mapping=offset",
                               "--set", "weight_bits=1")
        assert rc == 0, err


def test_input_shape_bounded(capsys, tmp_path):
    pytest.importorskip("onnx")
    from archsim.io.onnx import save_onnx
    from tests.support import single_conv
    m = save_onnx(single_conv(1, 2, 8), tmp_path / "m.onnx")
    one_line(capsys, ["--input-shape", "65536"], "estimate", "--model", m, "--input-shape", "1,100000,2")
    one_line(capsys, ["--input-shape", "values per image"], "estimate", "--model", m, "--input-shape",
             "64,4096,4096")

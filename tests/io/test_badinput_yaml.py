"""Bad input corpus: every user file and value the CLI reads, broken on purpose.

Each case runs the real command line (in-process, a few as a subprocess) and must end with exit 2 and
exactly one line on stderr, ``archsim: error: ...``, naming the file or the key: never a traceback,
never a silently wrong number, never a slow or huge failure.  The limits tested are stated where they
live: archsim/io/yaml.py (MAX_FILE_BYTES, MAX_DEPTH, MAX_NODES, MAX_INT_DIGITS), archsim/io/techlib.py
(UNIT_TABLE, EXPECTED, SIGNED, MAX_MAGNITUDE), archsim/explore/spec.py (MAX_POINTS),
archsim/io/files.py (safe_stem, MAX_STEM).
"""
from __future__ import annotations

import copy
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from archsim.cli import main as cli
from archsim.io import yaml as Y
from archsim.explore import spec
from tests.support import ROOT

RERAM = yaml.safe_load((ROOT / "techlib" / "devices" / "reram.yaml").read_text())
SRC = "test corpus"

#: a "billion laughs" file: 9 levels of 9 aliases each (9**9 = 387 million leaves when expanded)
LAUGHS = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))


def device(**changes) -> str:
    """reram.yaml with dotted keys changed (None removes a key), as YAML text."""
    d = copy.deepcopy(RERAM)
    for dotted, v in changes.items():
        *head, last = dotted.split("__")
        node = d
        for h in head:
            node = node.setdefault(h, {})
        if v is None:
            node.pop(last, None)
        else:
            node[last] = v
    return yaml.safe_dump(d, sort_keys=False)


def q(value, unit, **extra):
    return {"value": value, "unit": unit, "source": SRC, **extra}


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line(code, err, names):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("archsim: error: "), err
    assert len(lines[0]) < 1200, f"message of {len(lines[0])} characters"
    for n in names:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"


# ---------------------------------------------------------------------------------------------------------------------
# the corpus: (id, files {name: text or bytes}, argv with {tmp} for the folder, what the message must name)

EST = ["estimate", "-w", "lenet5"]

CASES = [
    # --- architecture files ---
    ("arch-deep-nesting", {"a.yaml": "[" * 10_000}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "nested deeper"]),
    ("arch-deep-mapping", {"a.yaml": "{a: " * 5_000}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "nested deeper"]),
    ("arch-billion-laughs", {"a.yaml": LAUGHS}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "aliases expanded"]),
    ("arch-recursive-alias", {"a.yaml": "mesh: &m [1, *m]\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "recursive"]),
    ("arch-duplicate-key", {"a.yaml": "rows: 64\ncols: 64\nrows: 128\n"}, EST + ["--arch", "{tmp}/a.yaml"],
     ["a.yaml", "line 3", "'rows' given twice"]),
    ("arch-nan-clock", {"a.yaml": "clock_Hz: .nan\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "clock_Hz"]),
    ("arch-nan-text-clock", {"a.yaml": "clock_Hz: nan\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "clock_Hz"]),
    ("arch-inf-adc-rate", {"a.yaml": "adc_rate_Hz: .inf\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["adc_rate_Hz"]),
    ("arch-overflow-adc-rate", {"a.yaml": "adc_rate_Hz: 1e999\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["adc_rate_Hz"]),
    ("arch-nan-buffer", {"a.yaml": "buffer_kB: .NaN\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["buffer_kB"]),
    ("arch-neg-inf-integration", {"a.yaml": "integration_time_s: -.inf\n"}, EST + ["--arch", "{tmp}/a.yaml"],
     ["integration_time_s"]),
    ("arch-nan-wire", {"a.yaml": "r_wire_ohm: .nan\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["r_wire_ohm"]),
    ("arch-negative-r-in", {"a.yaml": "r_in_ohm: -5\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["r_in_ohm"]),
    ("arch-bool-for-int", {"a.yaml": "rows: true\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["rows", "integer"]),
    ("arch-bool-for-float", {"a.yaml": "clock_Hz: yes\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["clock_Hz"]),
    ("arch-int-for-bool", {"a.yaml": "replicate: 1\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["replicate"]),
    ("arch-huge-int", {"a.yaml": "rows: " + "9" * 60 + "\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["rows", "1 to 65536"]),
    ("arch-huge-int-float-key", {"a.yaml": "clock_Hz: " + "9" * 60 + "\n"}, EST + ["--arch", "{tmp}/a.yaml"],
     ["clock_Hz"]),
    ("arch-giant-int", {"a.yaml": "rows: " + "9" * 5000 + "\n"}, EST + ["--arch", "{tmp}/a.yaml"],
     ["a.yaml", "5000 digits"]),
    ("arch-unknown-key", {"a.yaml": "rowz: 4\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "'rowz'"]),
    ("arch-long-unknown-key", {"a.yaml": "x" * 1000 + ": 4\n"}, EST + ["--arch", "{tmp}/a.yaml"],
     ["a.yaml", "unknown key", "..."]),
    ("arch-top-level-list", {"a.yaml": "- rows\n- 64\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "mapping"]),
    ("arch-mesh-bools", {"a.yaml": "mesh: [true, 2]\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["mesh"]),
    ("arch-binary", {"a.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20}, EST + ["--arch", "{tmp}/a.yaml"],
     ["a.yaml", "binary"]),
    ("arch-directory", {"d.yaml/": None}, EST + ["--arch", "{tmp}/d.yaml"], ["d.yaml", "directory"]),
    ("arch-missing", {}, EST + ["--arch", "{tmp}/nope.yaml"], ["nope.yaml", "not found"]),
    ("arch-too-large", {"a.yaml": "#" * (Y.MAX_FILE_BYTES + 10)}, EST + ["--arch", "{tmp}/a.yaml"],
     ["a.yaml", "allowed at most"]),
    ("arch-syntax", {"a.yaml": "rows: [1, 2\n"}, EST + ["--arch", "{tmp}/a.yaml"], ["a.yaml", "not valid YAML"]),
    ("arch-circuits-traversal", {"a.yaml": "circuits: ../../devices\n"}, EST + ["--arch", "{tmp}/a.yaml"],
     ["circuit library"]),
    # --- --set values ---
    ("set-nan-clock", {}, EST + ["--set", "clock_Hz=.nan"], ["clock_Hz"]),
    ("set-nan-text-adc-rate", {}, EST + ["--set", "adc_rate_Hz=nan"], ["adc_rate_Hz"]),
    ("set-inf-buffer", {}, EST + ["--set", "buffer_kB=.inf"], ["buffer_kB"]),
    ("set-bool-rows", {}, EST + ["--set", "rows=true"], ["rows"]),
    ("set-empty-value", {}, EST + ["--set", "rows="], ["--set rows", "no value"]),
    ("set-deep-value", {}, EST + ["--set", "mesh=" + "[" * 10_000], ["--set mesh", "nested deeper"]),
    ("set-unknown-key", {}, EST + ["--set", "rowz=4"], ["--set", "'rowz'"]),
    ("set-twice", {}, EST + ["--set", "rows=64", "--set", "rows=128"], ["'rows' given twice"]),
    ("set-mapping", {}, EST + ["--set", "rows={a: 1}"], ["--set rows", "mapping"]),
    ("set-zero-adc-bits", {}, ["accuracy", "-w", "lenet5", "--adc-bits", "0"], ["--adc-bits", "1 to 10"]),   # refused where parsed (robust-data), naming the flag
    # --- device files (--device PATH) ---
    ("device-levels-0", {"d.yaml": device(conductance__levels=q(0, "levels"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["d.yaml", "conductance.levels"]),
    ("device-levels-1", {"d.yaml": device(conductance__levels=q(1, "levels"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["d.yaml", "conductance.levels"]),
    ("device-levels-fraction", {"d.yaml": device(conductance__levels=q(2.5, "levels"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["conductance.levels"]),
    ("device-negative-pulse", {"d.yaml": device(read__pulse=q(-10, "ns"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["d.yaml", "read.pulse", "negative"]),
    ("device-zero-pulse", {"d.yaml": device(read__pulse=q(0, "ns"))}, EST + ["-d", "{tmp}/d.yaml"], ["read.pulse"]),
    ("device-pulse-in-volts", {"d.yaml": device(read__pulse=q(10, "V"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["d.yaml", "read.pulse", "'V' is voltage; expected time"]),
    ("device-gmax-in-volts", {"d.yaml": device(conductance__g_max=q(225, "V"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["conductance.g_max", "conductance"]),
    ("device-area-in-seconds", {"d.yaml": device(cell__area=q(12, "ns"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["cell.area", "area"]),
    ("device-lut-energy-in-watts", {"d.yaml": device(lut__vmm__energy_per_op=q(12, "mW"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["lut.vmm.energy_per_op", "energy"]),
    ("device-negative-gmin", {"d.yaml": device(conductance__g_min=q(-1, "uS"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["conductance.g_min"]),
    ("device-gmax-below-gmin", {"d.yaml": device(conductance__g_max=q(10, "uS"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["g_max"]),
    ("device-nan-voltage", {"d.yaml": device(read__voltage=q(float("nan"), "V"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["read.voltage", "finite"]),
    ("device-inf-gmax", {"d.yaml": device(conductance__g_max=q(float("inf"), "uS"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["conductance.g_max", "finite"]),
    ("device-nan-text", {"d.yaml": device(read__voltage=q("nan", "V"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["read.voltage"]),
    ("device-unknown-unit", {"d.yaml": device(read__voltage=q(0.2, "parsec"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["read.voltage", "unknown"]),
    ("device-list-unit", {"d.yaml": device(read__voltage=q(0.2, ["V"]))}, EST + ["-d", "{tmp}/d.yaml"],
     ["read.voltage", "unit"]),
    ("device-list-value", {"d.yaml": device(read__pulse=q([10, 20], "ns"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["read.pulse", "list"]),
    ("device-bare-number", {"d.yaml": device(read__pulse=10)}, EST + ["-d", "{tmp}/d.yaml"], ["read.pulse", "bare"]),
    ("device-no-source", {"d.yaml": device(read__pulse={"value": 10, "unit": "ns"})}, EST + ["-d", "{tmp}/d.yaml"],
     ["read.pulse", "source"]),
    ("device-bool-value", {"d.yaml": device(read__pulse=q(True, "ns"))}, EST + ["-d", "{tmp}/d.yaml"], ["read.pulse"]),
    ("device-huge-value", {"d.yaml": device(read__pulse=q(10 ** 40, "ns"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["read.pulse", "too large"]),
    ("device-stuck-rate-2", {"d.yaml": device(stuck={"on_rate": q(2, "1")})}, EST + ["-d", "{tmp}/d.yaml"],
     ["stuck.on_rate"]),
    ("device-stuck-rate-in-hz", {"d.yaml": device(stuck={"on_rate": q(0.1, "Hz")})}, EST + ["-d", "{tmp}/d.yaml"],
     ["stuck.on_rate", "dimensionless"]),
    ("device-negative-latency", {"d.yaml": device(lut__vmm__latency=q(-1, "us"))}, EST + ["-d", "{tmp}/d.yaml"],
     ["lut.vmm.latency"]),
    ("device-unknown-kind", {"d.yaml": device(kind="quantum")}, EST + ["-d", "{tmp}/d.yaml"], ["d.yaml", "'kind'"]),
    ("device-name-not-text", {"d.yaml": device(name=[1, 2])}, EST + ["-d", "{tmp}/d.yaml"], ["d.yaml", "'name'"]),
    ("device-unknown-model", {"d.yaml": device(programming_error__model="x" * 5000)}, EST + ["-d", "{tmp}/d.yaml"],
     ["programming_error.model"]),
    ("device-duplicate-key", {"d.yaml": device() + "name: again\n"}, EST + ["-d", "{tmp}/d.yaml"],
     ["d.yaml", "'name' given twice"]),
    ("device-deep", {"d.yaml": "name: x\nconductance: " + "{a: " * 200 + "\n"}, EST + ["-d", "{tmp}/d.yaml"],
     ["d.yaml", "nested deeper"]),
    ("device-laughs", {"d.yaml": LAUGHS}, EST + ["-d", "{tmp}/d.yaml"], ["d.yaml"]),
    ("device-directory", {"x.yaml/": None}, EST + ["-d", "{tmp}/x.yaml"], ["x.yaml", "directory"]),
    ("device-binary", {"x.yaml": bytes(range(256)) * 4}, EST + ["-d", "{tmp}/x.yaml"], ["x.yaml", "binary"]),
    ("device-empty", {"x.yaml": ""}, EST + ["-d", "{tmp}/x.yaml"], ["x.yaml", "empty"]),
    ("device-top-level-list", {"x.yaml": "- 1\n- 2\n"}, EST + ["-d", "{tmp}/x.yaml"], ["x.yaml", "mapping"]),
    ("device-missing", {}, EST + ["-d", "{tmp}/x.yaml"], ["x.yaml", "not found"]),
    ("device-unknown-name", {}, EST + ["-d", "../presets/isaac"], ["unknown device"]),
    ("compare-device-bad-file", {"x.yaml": device(read__pulse=q(10, "V"))},
     ["compare", "-w", "lenet5", "--devices", "reram,{tmp}/x.yaml"], ["x.yaml", "read.pulse"]),
    # --- preset files ---
    ("preset-empty", {"p.yaml": ""}, EST + ["--preset", "{tmp}/p.yaml"], ["p.yaml", "architecture"]),
    ("preset-unknown-key", {"p.yaml": "architecture: {rows: 64}\nfoo: 1\n"}, EST + ["--preset", "{tmp}/p.yaml"],
     ["p.yaml", "'foo'"]),
    ("preset-nan-clock", {"p.yaml": "architecture: {clock_Hz: .nan}\n"}, EST + ["--preset", "{tmp}/p.yaml"],
     ["p.yaml", "clock_Hz"]),
    ("preset-published-wrong-unit", {"p.yaml": yaml.safe_dump(
        {"architecture": {"rows": 64}, "published": {"chip_power": q(65.8, "mm2")}})},
     EST + ["--preset", "{tmp}/p.yaml"], ["p.yaml", "chip_power", "power"]),
    ("preset-sources-number", {"p.yaml": "architecture: {rows: 64}\nsources: 5\n"}, EST + ["--preset", "{tmp}/p.yaml"],
     ["p.yaml", "sources"]),
    ("preset-unknown-name", {}, EST + ["--preset", "../devices/reram"], ["unknown preset"]),
    ("preset-duplicate-key", {"p.yaml": "architecture: {rows: 64, rows: 32}\n"}, EST + ["--preset", "{tmp}/p.yaml"],
     ["p.yaml", "'rows' given twice"]),
    # --- sweep files ---
    ("sweep-billion-points", {"s.yaml": "workloads: lenet5\ngrid:\n  rows: [" + ", ".join(["64"] * 1000) +
                              "]\n  cols: [" + ", ".join(["64"] * 1000) + "]\n  adc_bits: [" +
                              ", ".join(["8"] * 1000) + "]\n"},
     ["sweep", "{tmp}/s.yaml"], ["s.yaml", "1,000,000,000 points", "100,000"]),
    ("sweep-outer-times-grid", {"s.yaml": "workloads: [lenet5, vgg8, resnet18]\ndevices: [reram, sonos, pcm, ecram]\n"
                                          "tasks: [inference, training]\ngrid: {rows: [" +
                                          ", ".join(["64"] * 5000) + "]}\n"},
     ["sweep", "{tmp}/s.yaml"], ["s.yaml", "120,000 points"]),
    ("sweep-nan-grid", {"s.yaml": "workloads: lenet5\ngrid: {clock_Hz: [1.0e9, .nan]}\n"}, ["sweep", "{tmp}/s.yaml"],
     ["s.yaml", "clock_Hz"]),
    ("sweep-inf-points", {"s.yaml": "workloads: lenet5\npoints: [{adc_rate_Hz: .inf}]\n"}, ["sweep", "{tmp}/s.yaml"],
     ["s.yaml", "adc_rate_Hz"]),
    ("sweep-nan-base", {"s.yaml": "workloads: lenet5\nbase: {buffer_kB: .nan}\n"}, ["sweep", "{tmp}/s.yaml"],
     ["s.yaml", "buffer_kB"]),
    ("sweep-duplicate-key", {"s.yaml": "workloads: lenet5\ngrid: {rows: [64]}\ngrid: {rows: [128]}\n"},
     ["sweep", "{tmp}/s.yaml"], ["s.yaml", "'grid' given twice"]),
    ("sweep-name-traversal", {"s.yaml": "name: ../../x\nworkloads: lenet5\n"}, ["sweep", "{tmp}/s.yaml"],
     ["s.yaml", "'name'"]),
    ("sweep-top-level-list", {"s.yaml": "- lenet5\n"}, ["sweep", "{tmp}/s.yaml"], ["s.yaml", "mapping"]),
    ("sweep-empty", {"s.yaml": ""}, ["sweep", "{tmp}/s.yaml"], ["s.yaml", "empty"]),
    ("sweep-bool-grid", {"s.yaml": "workloads: lenet5\ngrid: {rows: [true]}\n"}, ["sweep", "{tmp}/s.yaml"],
     ["s.yaml", "rows"]),
    ("sweep-laughs", {"s.yaml": "workloads: lenet5\n" + LAUGHS.replace("a0:", "x0:").replace("a", "k")},
     ["sweep", "{tmp}/s.yaml"], ["s.yaml"]),
    ("sweep-bad-device-file", {"s.yaml": "workloads: lenet5\ndevices: [{tmp}/x.yaml]\n",
                               "x.yaml": device(read__pulse=q(-1, "ns"))}, ["sweep", "{tmp}/s.yaml"],
     ["s.yaml", "read.pulse"]),
]


def _materialize(tmp: Path, files: dict) -> None:
    for name, content in files.items():
        p = tmp / name.rstrip("/")
        if name.endswith("/"):
            p.mkdir()
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content.replace("{tmp}", str(tmp)), encoding="utf-8")


@pytest.mark.parametrize("files, argv, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, files, argv, names):
    _materialize(tmp_path, files)
    t0 = time.perf_counter()
    code, _, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert_one_line(code, err, names)
    assert time.perf_counter() - t0 < 20, "bad input must fail before any work"


def test_corpus_is_large():
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


# ---------------------------------------------------------------------------------------------------------------------
# failing fast and small

def test_billion_laughs_fails_fast_and_small(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text(LAUGHS)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(Exception) as exc:
        Y.load_yaml(p, "architecture")
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "aliases expanded" in str(exc.value)
    assert elapsed < 1.0, elapsed            # with tracemalloc on; about 10 ms without
    assert peak < 50 * 2 ** 20, peak         # MAX_NODES nodes at most, never the 387 million leaves


def test_sweep_of_a_billion_points_is_counted_not_expanded(tmp_path):
    p = tmp_path / "s.yaml"
    vals = "[" + ", ".join(str(64 + i) for i in range(1000)) + "]"
    p.write_text(f"workloads: lenet5\ngrid:\n  rows: {vals}\n  cols: {vals}\n  tiles: {vals}\n")
    # counted, not expanded: the refusal allocates a few MiB at most (expanding a billion points would take
    # tens of GB); memory, not wall time, so the check holds on a loaded machine
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match=r"1,000,000,000 points.*at most 100,000"):
            spec.load_sweep(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


def test_a_sweep_at_the_limit_is_accepted_by_the_count(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("workloads: lenet5\ngrid: {rows: [64, 128]}\npoints: [{rows: 256}]\n")
    assert len(spec.load_sweep(p)) == 3
    assert spec.MAX_POINTS == 100_000


def test_nesting_at_the_limit_is_read():
    ok = "[" * Y.MAX_DEPTH + "]" * Y.MAX_DEPTH
    assert Y.parse_yaml(ok, "x") is not None
    with pytest.raises(Exception, match="nested deeper than 64"):
        Y.parse_yaml("[" * (Y.MAX_DEPTH + 1) + "]" * (Y.MAX_DEPTH + 1), "x")


def test_aliases_and_merge_keys_within_bounds_still_work():
    doc = Y.parse_yaml("base: &b {rows: 64, cols: 32}\nother: {<<: *b, cols: 16}\nlist: [*b, *b]\n", "x")
    assert doc["other"] == {"rows": 64, "cols": 16} and doc["list"][1]["rows"] == 64


# ---------------------------------------------------------------------------------------------------------------------
# subprocess: the real program, its real stderr

@pytest.mark.parametrize("content, argv_tail, name", [
    ("[" * 10_000, ["--arch"], "a.yaml"),
    (LAUGHS, ["--arch"], "a.yaml"),
    (bytes(range(256)), ["--device"], "a.yaml"),
], ids=["deep", "laughs", "binary-device"])
def test_subprocess_one_line(tmp_path, content, argv_tail, name):
    p = tmp_path / name
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    r = subprocess.run([sys.executable, "-m", "archsim", "estimate", "-w", "lenet5", *argv_tail, str(p)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archsim: error: ") and name in lines[0], r.stderr


# ---------------------------------------------------------------------------------------------------------------------
# output names

def test_device_name_cannot_write_outside_out(capsys, tmp_path):
    d = tmp_path / "dev"
    d.mkdir()
    (d / "x.yaml").write_text(device(name="/../../x"))
    out = tmp_path / "a" / "b" / "out"
    before = set(tmp_path.rglob("*"))
    code, stdout, err = run(capsys, "estimate", "-w", "lenet5", "-d", d / "x.yaml", "--out", out)
    assert code == 0, err
    written = set(tmp_path.rglob("*")) - before
    files = [p for p in written if p.is_file()]
    assert files and all(out in p.parents for p in files), files
    assert all(p.parent == out for p in files)
    from archsim.report.html import jinja_available
    assert sorted(p.name for p in files) == ["estimate_lenet5__.._.._x.csv", "estimate_lenet5__.._.._x.md",
                                             "estimate_lenet5__.._.._x_layers.csv", "estimate_lenet5__.._.._x_layers.md"] \
        + (["report.html"] if jinja_available() else [])


def test_write_tables_refuses_a_stem_that_leaves_out(tmp_path):
    import pandas as pd
    from archsim.report import tables
    for stem in ("../x", "/etc/x", ".hidden", "", "a/b"):
        with pytest.raises(Exception, match="not allowed"):
            tables.write_tables(tmp_path / "out", stem, pd.DataFrame({"a": [1]}), "t")
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "out").exists()


def test_safe_stem():
    from archsim.io.files import MAX_STEM, safe_stem
    assert safe_stem("/../../x") == "_.._.._x"
    assert safe_stem("..") == "out" and safe_stem("") == "out" and safe_stem("./x.yaml") == "_x.yaml"
    assert safe_stem("résumé net") == "r_sum__net"
    assert len(safe_stem("a" * 10_000)) == MAX_STEM
    assert safe_stem("lenet5") == "lenet5"


def test_accuracy_with_a_device_path_checks_out_before_simulating(capsys, tmp_path, monkeypatch):
    """``accuracy --device ./x.yaml --out DIR``: the names are built from the path's stem and checked first;
    an --out that cannot hold them fails in a moment, before data are read or a chip simulated."""
    from archsim.cli import accuracy as acc_cmd
    (tmp_path / "x.yaml").write_text(device())
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a folder")

    def never(*a, **k):
        raise AssertionError("the simulation started before the output names were checked")
    monkeypatch.setattr(acc_cmd, "_accuracy_inputs", never)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "accuracy", "-w", "lenet5", "--device", "./x.yaml", "--out", blocker)
    assert_one_line(code, err, ["--out", "out"])

    calls = {}

    def stop(*a, **k):
        calls["inputs"] = True
        raise SystemExit(0)
    monkeypatch.setattr(acc_cmd, "_accuracy_inputs", stop)
    with pytest.raises(SystemExit):
        cli.main(["accuracy", "-w", "lenet5", "--device", "./x.yaml", "--out", str(tmp_path / "res")])
    assert calls == {"inputs": True}    # ./x.yaml makes a valid name: it got past the check
    from archsim.cli.args import _device_stem, _out_stem
    assert _out_stem("accuracy", "lenet5", _device_stem("./x.yaml")) == "accuracy_lenet5_x"


# ---------------------------------------------------------------------------------------------------------------------
# the unit table

def test_every_unit_has_a_dimension_and_shipped_files_pass():
    from archsim.io import techlib
    assert set(techlib.UNITS) == set(techlib.DIMENSION)
    assert techlib.expected_dimensions("read.pulse") == ("time",)
    assert techlib.expected_dimensions("conductance.g_max") == ("conductance",)
    assert techlib.expected_dimensions("energy_per_conversion") == ("energy",)
    assert techlib.expected_dimensions("sar.anchors.rate") == ("frequency",)
    assert techlib.expected_dimensions("stuck.on_rate") == ("dimensionless",)
    assert len(techlib.all_records()) > 20     # every shipped file is read through the checks


def test_zero_is_a_value(tmp_path):
    """Zero where it is meaningful (read noise neglected, no wire resistance) is kept, not 'unset'."""
    from archsim.model.device import load_device
    p = tmp_path / "z.yaml"
    p.write_text(device(read_noise__sigma_rel=q(0, "1"), conductance__g_min=q(0, "uS")))
    d = load_device(str(p))
    assert d.g_min == 0.0 and d.read.model == "none"

"""Fault corpus of outputs: every writer onto every kind of target that is not a regular file, the sweep store
through links, ``--out`` checked before any work, and long generated names.

The rule (``archsim/io/files.py``): a target is a regular file or absent.  Each case builds the bad target in
the test's own temporary folder (a symbolic link to a file there, a dangling link, a FIFO, a folder, a Unix
socket, and, run as root, a character device node made with ``mknod`` there: never ``/dev/null`` itself),
runs one writer at it, and checks three things: the refusal is one line naming the path (exit 2 through the
command line), the target is what it was (same kind; a link's file unchanged), and no temporary file is
left in the folder.
"""
from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archsim.io.files import MAX_NAME, MAX_STEM, atomic_write, check_target, join_stem, resolve_out_folder, \
    safe_stem
from archsim.model.errors import ArchsimError

from tests.support import ROOT


def run_cli(capsys, *argv) -> tuple[int, str]:
    from archsim.cli import main as cli
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    _, err = capsys.readouterr()
    return rc, err


def one_line(capsys, names, *argv) -> str:
    rc, err = run_cli(capsys, *argv)
    lines = err.strip("\n").splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("archsim: error: "), err
    for n in [names] if isinstance(names, str) else names:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------------------------------------------
# bad targets: each maker builds one at ``p`` and returns a check that it is still what it was

def _link(p: Path):
    other = p.parent / "elsewhere.txt"
    other.write_text("keep me")
    os.symlink(other, p)
    return lambda: os.path.islink(p) and other.read_text() == "keep me"


def _dangling(p: Path):
    os.symlink(p.parent / "nowhere", p)
    return lambda: os.path.islink(p) and not (p.parent / "nowhere").exists()


def _fifo(p: Path):
    os.mkfifo(p)
    return lambda: stat.S_ISFIFO(os.lstat(p).st_mode)


def _folder(p: Path):
    p.mkdir()
    (p / "inside").write_text("x")
    return lambda: p.is_dir() and (p / "inside").read_text() == "x"


def _socket(p: Path):
    if len(str(p)) > 100:
        pytest.skip("the temporary path is too long for a Unix socket name")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p))
    s.close()
    return lambda: stat.S_ISSOCK(os.lstat(p).st_mode)


def _chardev(p: Path):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 3))     # a null device of our own, in the temporary folder
    return lambda: stat.S_ISCHR(os.lstat(p).st_mode)


TARGETS = {"symlink": _link, "dangling-symlink": _dangling, "fifo": _fifo, "folder": _folder, "socket": _socket,
           "char-device": _chardev}


def _left_over(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


# ---------------------------------------------------------------------------------------------------------------------
# writers called as functions: each writes one file at ``p``

def _w_atomic(p: Path):
    atomic_write(p, b"data")


def _w_tables(p: Path):
    from archsim.report import tables
    tables.write_tables(p.parent, p.stem, pd.DataFrame({"a": [1]}), "t")


def _w_data_cache(p: Path):
    from archsim.io import data as D
    D._save_npz(p, x=np.zeros((1, 1, 2, 2), np.uint8), y=np.zeros(1, np.int64))


def _w_weights(p: Path):
    from archsim.sim.train import save_weights
    save_weights(p, {"fc.w": np.zeros((2, 2))})


def _w_plot(p: Path):
    pytest.importorskip("matplotlib")
    from archsim.report import style
    style.render(p.name, "a figure", lambda: style.figure(1.0, 1.0)).write(p.parent)


def _w_report_html(p: Path):
    pytest.importorskip("jinja2")
    import pandas as pd
    from archsim.report import html
    html.write_html(p.parent, html.Page(title="t", tables=(html.Table("t", pd.DataFrame({"a": [1]})),)))


def _w_sweep_table(p: Path):
    from archsim.explore.run import run_sweep
    from archsim.explore.spec import sweep_from_dict
    s = sweep_from_dict({"name": p.stem, "workloads": ["mlp"], "devices": ["reram"]})
    run_sweep(s, out=p.parent, workers=1, formats=p.suffix[1:], progress=False, resume=True)


def _w_store(p: Path):
    from archsim.explore.store import Store
    Store(p).close()


def _w_onnx(p: Path):
    pytest.importorskip("onnx")
    from archsim.io.onnx import save_onnx
    from tests.support import single_dense
    save_onnx(single_dense(3, 2), p)


WRITERS = {"atomic_write": (_w_atomic, "x.bin"), "report-table": (_w_tables, "t.csv"),
           "data-cache": (_w_data_cache, "train.npz"), "weights": (_w_weights, "w.npz"), "plot": (_w_plot, "p.png"),
           "report-html": (_w_report_html, "report.html"),
           "sweep-csv": (_w_sweep_table, "s.csv"), "sweep-parquet": (_w_sweep_table, "s.parquet"),
           "store": (_w_store, "results.sqlite"), "onnx": (_w_onnx, "m.onnx")}


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_every_writer_refuses_every_non_regular_target(tmp_path, writer, target):
    fn, name = WRITERS[writer]
    if writer == "sweep-parquet":
        pytest.importorskip("pyarrow")
    p = tmp_path / name
    still = TARGETS[target](p)
    with pytest.raises(ArchsimError) as e:
        fn(p)
    msg = str(e.value)
    assert "\n" not in msg and str(p) in msg, msg
    assert still(), f"{target} at {p} was changed by {writer}"
    assert _left_over(tmp_path) == []


@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_writer_writes_a_regular_file_and_replaces_one(tmp_path, writer):
    """The rule refuses only what is not a regular file: a new name and an existing regular file are written."""
    fn, name = WRITERS[writer]
    if writer == "sweep-parquet":
        pytest.importorskip("pyarrow")
    p = tmp_path / name
    fn(p)
    assert p.is_file() and not p.is_symlink() and p.stat().st_size > 0
    if writer != "store":
        fn(p)            # again, over the regular file it wrote
        assert p.is_file()
    assert _left_over(tmp_path) == []


def test_check_target_names_what_the_path_is(tmp_path):
    for target, words in (("symlink", "symbolic link"), ("fifo", "FIFO"), ("folder", "a folder")):
        p = tmp_path / target
        TARGETS[target](p)
        with pytest.raises(ArchsimError, match=words):
            check_target(p)
    assert check_target(tmp_path / "absent") == tmp_path / "absent"


# ---------------------------------------------------------------------------------------------------------------------
# the sweep store: never through a link, its folder real, SQLite's side files regular

def _foreign_db(path: Path) -> bytes:
    import sqlite3
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE mine (v TEXT)")
    con.execute("INSERT INTO mine VALUES ('precious')")
    con.commit()
    con.close()
    return path.read_bytes()


def test_symlinked_store_leaves_a_foreign_database_untouched(capsys, tmp_path):
    foreign = tmp_path / "foreign.sqlite"
    before = _foreign_db(foreign)
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(foreign, out / "results.sqlite")
    sweep = tmp_path / "s.yaml"
    sweep.write_text("name: s\nworkloads: [mlp]\ndevices: [reram]\n")
    line = one_line(capsys, ["results.sqlite", "symbolic link"], "sweep", sweep, "--out", out, "-j", "1",
                    "--no-progress")
    assert foreign.read_bytes() == before, line
    assert not (tmp_path / "foreign.sqlite-wal").exists()
    assert sorted(os.listdir(out)) == ["results.sqlite"]          # no table written: refused before the work


@pytest.mark.parametrize("side", ["-wal", "-shm", "-journal"])
def test_store_side_file_links_refused(tmp_path, side):
    from archsim.explore.store import Store
    other = tmp_path / "elsewhere"
    other.write_bytes(b"keep")
    os.symlink(other, tmp_path / f"results.sqlite{side}")
    with pytest.raises(ArchsimError, match="symbolic link"):
        Store(tmp_path / "results.sqlite")
    assert other.read_bytes() == b"keep" and not (tmp_path / "results.sqlite").exists()


def test_store_folder_that_is_a_link_refused(tmp_path):
    from archsim.explore.store import Store
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "linked")
    with pytest.raises(ArchsimError, match="folder is a symbolic link"):
        Store(tmp_path / "linked" / "results.sqlite")
    assert os.listdir(real) == []


def test_dangling_out_refused_before_any_work(capsys, tmp_path):
    out = tmp_path / "out"
    os.symlink(tmp_path / "gone", out)
    sweep = tmp_path / "s.yaml"
    sweep.write_text("name: s\nworkloads: [mlp]\ndevices: [reram]\n")
    for argv in (("sweep", sweep, "-j", "1"), ("estimate", "-w", "mlp"), ("accuracy", "-w", "mlp", "--samples", "5"),
                 ("size", "-w", "mlp", "--no-simulate"), ("validate", "--no-accuracy"), ("bench", "--no-plots")):
        one_line(capsys, ["--out", "dangling symbolic link"], *argv, "--out", out)
    assert not (tmp_path / "gone").exists()


def test_out_through_a_link_to_a_real_folder_is_resolved(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "via")
    assert resolve_out_folder(tmp_path / "via") == real.resolve()
    assert resolve_out_folder(tmp_path / "via" / "new" / "deeper") == real.resolve() / "new" / "deeper"
    assert resolve_out_folder(tmp_path / "plain") == tmp_path / "plain"      # no link: the path as given
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for bad, words in ((fifo, "FIFO"), (fifo / "below", "not a folder")):
        with pytest.raises(ArchsimError, match=words):
            resolve_out_folder(bad)


def test_out_that_is_a_regular_file_says_so(capsys, tmp_path):
    # the refusal once read "... is None, not a folder" (the kind of a regular file left unnamed)
    f = tmp_path / "afile"
    f.write_text("x")
    for bad, words in ((f, re.escape(f"{f} is a regular file, not a folder")),
                       (f / "sub", "a parent of it is a file, not a folder")):
        with pytest.raises(ArchsimError, match=words) as exc:
            resolve_out_folder(bad)
        assert "None" not in str(exc.value)
    line = one_line(capsys, ["--out", "a regular file, not a folder"], "estimate", "-w", "mlp", "--out", f)
    assert "None" not in line


def test_export_onto_a_device_node_or_fifo_refused_by_the_command(capsys, tmp_path):
    pytest.importorskip("onnx")
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    one_line(capsys, [str(fifo), "FIFO"], "export", "-w", "mlp", "-o", fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    if os.geteuid() == 0:
        node = tmp_path / "null"
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        one_line(capsys, [str(node), "character device"], "export", "-w", "mlp", "-o", node)
        assert stat.S_ISCHR(os.lstat(node).st_mode)


# ---------------------------------------------------------------------------------------------------------------------
# names: long ones shortened with a stable hash, never refused

def test_long_names_get_a_stable_hash_suffix():
    long = "d" * 300
    a, b = safe_stem(long), safe_stem(long)
    assert a == b and len(a) == MAX_STEM and a.startswith("d" * 100)
    assert safe_stem(long + "x") != a                       # texts differing past the cut: different names
    assert safe_stem("lenet5") == "lenet5"                  # short names unchanged
    j = join_stem("estimate", "n" * 100, "d" * 100)
    assert len(j) == MAX_STEM and j == join_stem("estimate", "n" * 100, "d" * 100)
    assert join_stem("estimate", "n" * 100, "d" * 100) != join_stem("estimate", "n" * 100, "e" * 100)
    assert len(j + "_layers.csv") <= MAX_NAME


def test_a_legal_100_character_device_name_works_with_out(capsys, tmp_path):
    name = "a" * 60 + "_" + "b" * 39
    assert len(name) == 100
    text = (ROOT / "techlib" / "devices" / "reram.yaml").read_text()
    lines = [f"name: {name}" if ln.startswith("name:") else ln for ln in text.splitlines()]
    dev = tmp_path / f"{name}.yaml"
    dev.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    for _ in range(2):                                          # the same name both times: stable
        rc, err = run_cli(capsys, "estimate", "-w", "mlp", "--device", dev, "--out", out)
        assert rc == 0, err
    from archsim.report.html import jinja_available
    files = sorted(os.listdir(out))
    # totals and layers, CSV and Markdown, and the page (report.html) where Jinja2 is installed
    assert len(files) == 4 + jinja_available(), files
    assert all(len(f) <= MAX_NAME for f in files)


def test_repository_and_dev_null_untouched_by_a_refused_export(capsys, tmp_path):
    """``-o /dev/null`` is refused by its kind, checked before any export work, whoever runs it."""
    pytest.importorskip("onnx")
    before = os.lstat("/dev/null")
    one_line(capsys, ["/dev/null", "character device"], "export", "-w", "mlp", "-o", "/dev/null")
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_refusals_through_a_fresh_process_are_one_line(tmp_path):
    """The same rule from a real process: exit 2, one line, nothing on stdout but nothing half-written."""
    fifo = tmp_path / "t.csv"
    os.mkfifo(fifo)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "archsim", "estimate", "-w", "mlp", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr      # the estimate's own names are not the FIFO
    os.rename(fifo, tmp_path / "estimate_mlp_reram.csv")
    r = subprocess.run([sys.executable, "-m", "archsim", "estimate", "-w", "mlp", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "FIFO" in r.stderr and stat.S_ISFIFO(os.lstat(tmp_path / "estimate_mlp_reram.csv").st_mode)


@pytest.mark.parametrize("mode,suffix", [((), ""), (("--ideal",), "_ideal")])
def test_accuracy_tables_checked_before_the_simulation(capsys, tmp_path, mode, suffix):
    """The table a run will write (plain, or its ``_ideal`` variant) is checked before any image is simulated."""
    fifo = tmp_path / f"accuracy_mlp_reram{suffix}.csv"
    os.mkfifo(fifo)
    one_line(capsys, [str(fifo), "FIFO"], "accuracy", "-w", "mlp", *mode, "--samples", "5", "--no-progress",
             "--out", tmp_path)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_no_module_writes_a_file_but_through_io_files():
    """The rule holds for writers added later too: outside ``archsim/io/files.py`` no module opens a file for
    writing, writes a path with pathlib, numpy, pandas or matplotlib, or connects to SQLite but the store (which
    claims its file through io/files.py first)."""
    import re
    patterns = [r"\bopen\([^)]*['\"][^'\"]*[wax+][^'\"]*['\"]", r"\.write_text\(", r"\.write_bytes\(",
                r"np\.save[z_a-z]*\((?!f\b)", r"\.to_csv\((?!index)", r"\.to_parquet\((?!f\b)", r"\.savefig\((?!f\b)",
                r"sqlite3\.connect\(", r"os\.mkfifo|os\.mknod"]
    allowed = {("archsim/io/files.py", None), ("archsim/explore/store.py", r"sqlite3\.connect\(")}
    found = []
    for path in sorted((ROOT / "archsim").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for pat in patterns:
                if re.search(pat, line) and (rel, None) not in allowed and (rel, pat) not in allowed:
                    found.append(f"{rel}:{i}: {line.strip()}")
    assert found == [], "\n".join(found)

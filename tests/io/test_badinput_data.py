"""Bad input corpus for data files, ONNX files, command-line numbers and output folders, plus two faults:
pool workers outliving a SIGKILLed sweep, and two sweeps resuming one store at the same time.

Every bad-input case runs the command line in this process and asserts exit status 2, exactly one line
``archsim: error: ...`` on stderr naming the file, flag or layer, and no traceback (an uncaught
exception fails the test).  Zero is a value: ``--samples 0`` or ``--adc-bits 0`` is an error, never
"not given".
"""
from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from archsim.cli import main as cli
from archsim.explore.points import point_key
from archsim.explore.run import STORE_NAME, run_sweep
from archsim.explore.spec import load_sweep
from archsim.explore.store import Store
from archsim.io import data as D
from archsim.model.errors import ArchsimError

from tests.support import ROOT  # noqa: E402


def run_cli(capsys, *argv) -> tuple[int, str]:
    """``(exit status, stderr)`` of ``archsim argv`` run in this process."""
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as e:        # argparse's errors (one line through OneLineParser)
        rc = e.code
    _, err = capsys.readouterr()
    return rc, err


def one_line(capsys, names: str | list, *argv) -> str:
    """Run ``archsim argv``: exit 2, one line ``archsim: error: ...`` naming each of ``names``."""
    rc, err = run_cli(capsys, *argv)
    lines = err.strip("\n").splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("archsim: error: "), err
    assert "Traceback" not in err
    for n in [names] if isinstance(names, str) else names:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------------------------------------------
# data files (.npz): accuracy --data on the MLP (784 flat inputs, 10 classes; trained weights ship)

def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _npy_bytes(arr: np.ndarray) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, allow_pickle=True)
    return b.getvalue()


def _zip(path: Path, members: dict[str, bytes], compress: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    return path


def _header(shape, descr="<f4") -> bytes:
    """A .npy 1.0 header declaring ``shape`` of ``descr``, with no data after it."""
    b = io.BytesIO()
    np.lib.format.write_array_header_1_0(b, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return b.getvalue()


X = np.zeros((5, 784), np.uint8)
Y = np.arange(5, dtype=np.int64)

DATA_CASES = {
    # name: (builder(tmp) -> path, what the message says besides the file name)
    "missing_x": (lambda t: _npz(t / "a.npz", y=Y), "missing array(s) 'x'"),
    "missing_y": (lambda t: _npz(t / "a.npz", x=X), "missing array(s) 'y'"),
    "missing_both": (lambda t: _npz(t / "a.npz", z=X), "'x', 'y'"),
    "x_1d": (lambda t: _npz(t / "a.npz", x=np.zeros(5), y=Y), "'x' has shape (5,)"),
    "y_2d": (lambda t: _npz(t / "a.npz", x=X, y=Y.reshape(5, 1)), "'y' has shape (5, 1)"),
    "y_length": (lambda t: _npz(t / "a.npz", x=X, y=Y[:3]), "one label per image"),
    "label_too_big": (lambda t: _npz(t / "a.npz", x=X, y=np.array([0, 1, 2, 3, 10])), "allowed 0 .. 9"),
    "label_negative": (lambda t: _npz(t / "a.npz", x=X, y=np.array([0, 1, -1, 3, 4])), "labels run from -1"),
    "label_fraction": (lambda t: _npz(t / "a.npz", x=X, y=np.array([0, 1, 2.5, 3, 4])), "integer class labels"),
    "label_nan": (lambda t: _npz(t / "a.npz", x=X, y=np.array([0, 1, np.nan, 3, 4])), "integer class labels"),
    "label_text": (lambda t: _npz(t / "a.npz", x=X, y=np.array(list("abcde"))), "'y' has dtype"),
    "object_x": (lambda t: _npz(t / "a.npz", x=np.array([{"a": 1}] * 5, dtype=object), y=Y), "object array"),
    "object_y": (lambda t: _npz(t / "a.npz", x=X, y=np.array([None] * 5, dtype=object)), "object array"),
    "structured_x": (lambda t: _npz(t / "a.npz", x=np.zeros(5, dtype=[("a", "f4"), ("b", "i4")]), y=Y),
                     "structured"),
    "complex_x": (lambda t: _npz(t / "a.npz", x=np.zeros((5, 784), np.complex64), y=Y), "'x' has dtype complex64"),
    "bool_x": (lambda t: _npz(t / "a.npz", x=np.zeros((5, 784), bool), y=Y), "'x' has dtype bool"),
    "nan_x": (lambda t: _npz(t / "a.npz", x=np.where(np.eye(5, 784) > 0, np.nan, 0.0), y=Y), "NaN or infinite"),
    "inf_x": (lambda t: _npz(t / "a.npz", x=np.full((5, 784), np.inf, np.float32), y=Y), "NaN or infinite"),
    "empty": (lambda t: _npz(t / "a.npz", x=np.zeros((0, 784), np.uint8), y=np.zeros(0, int)), "no data"),
    "zero_features": (lambda t: _npz(t / "a.npz", x=np.zeros((5, 0), np.uint8), y=Y), "no data"),
    "wrong_image_shape": (lambda t: _npz(t / "a.npz", x=np.zeros((5, 3, 28, 28), np.uint8), y=Y),
                          "do not fit the network input"),
    "declared_7TB": (lambda t: _zip(t / "a.npz", {"x.npy": _header((7 * 10**12 // 784, 784), "|u1"),
                                                  "y.npy": _npy_bytes(Y)}), "truncated or malformed"),
    "declared_7TB_compressed": (lambda t: _zip(t / "a.npz", {"x.npy": _header((7 * 10**12,), "<f4") + b"\0" * 64,
                                                             "y.npy": _npy_bytes(Y)}, compress=True),
                                "truncated or malformed"),
    "truncated_member": (lambda t: _zip(t / "a.npz", {"x.npy": _npy_bytes(X)[:-100], "y.npy": _npy_bytes(Y)}),
                         "truncated or malformed"),
    "garbage_member": (lambda t: _zip(t / "a.npz", {"x.npy": b"not a numpy array at all", "y.npy": _npy_bytes(Y)}),
                       "no readable .npy header"),
    "huge_header": (lambda t: _zip(t / "a.npz", {"x.npy": b"\x93NUMPY\x01\x00" + struct.pack("<H", 60000)
                                                 + b"{" + b" " * 59998 + b"\n", "y.npy": _npy_bytes(Y)}),
                    "no readable .npy header"),
    "npy_version_9": (lambda t: _zip(t / "a.npz", {"x.npy": b"\x93NUMPY\x09\x00" + b"\0" * 20,
                                                   "y.npy": _npy_bytes(Y)}), "no readable .npy header"),
    "not_a_zip": (lambda t: (t / "a.npz").write_bytes(b"hello, not a zip\n" * 10) and t / "a.npz",
                  "not a readable .npz"),
    "truncated_zip": (lambda t: (t / "a.npz").write_bytes((_npz(t / "b.npz", x=X, y=Y)).read_bytes()[:300])
                      and t / "a.npz", "not a readable .npz"),
    "empty_file": (lambda t: (t / "a.npz").write_bytes(b"") == 0 and t / "a.npz", "not a readable .npz"),
    "single_npy": (lambda t: (np.save(t / "a.npy", X), t / "a.npy")[1], "holds a single array"),
    "directory": (lambda t: (t / "d.npz").mkdir() or t / "d.npz", "is a folder"),
    "missing_file": (lambda t: t / "none.npz", "does not exist"),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_bad_data_file(capsys, tmp_path, case):
    build, says = DATA_CASES[case]
    path = build(tmp_path)
    one_line(capsys, [f"data file {path}", says], "accuracy", "-w", "mlp", "--data", path, "--trials", "1",
             "--samples", "5", "--no-progress")


def test_data_over_the_memory_budget_refused_before_reading(tmp_path, monkeypatch):
    """A file whose arrays fit their bytes but not the budget: refused from the headers alone."""
    p = _npz(tmp_path / "a.npz", x=X, y=Y)
    monkeypatch.setattr(D, "MAX_DATA_BYTES", 10_000)
    read = []
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: read.append(1))
    with pytest.raises(ArchsimError, match=r"need 19,680 bytes to load; the limit is 10,000 bytes") as e:
        D.load_npz(p)
    assert "\n" not in str(e.value) and not read


def test_good_data_file_still_loads_and_samples_cap_at_n(tmp_path):
    p = _npz(tmp_path / "a.npz", x=np.full((5, 28, 28), 255, np.uint8), y=Y)
    x, y = D.load_npz(p, input_shape=(784,), num_classes=10, limit=10_000)
    assert x.shape == (5, 784) and x.dtype == np.float32 and float(x.max()) == 1.0 and y.tolist() == list(range(5))


def test_synthetic_batch_over_budget_names_samples(capsys, monkeypatch):
    monkeypatch.setattr(D, "MAX_DATA_BYTES", 1000)
    from archsim.cli.accuracy import SAMPLES   # the default number of samples
    one_line(capsys, [f"--samples {SAMPLES}", "the limit is 1,000 bytes"], "accuracy", "-w", "vgg8", "--no-progress")


# ---------------------------------------------------------------------------------------------------------------------
# ONNX files: what tests/test_onnx.py does not cover already

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402
from archsim.io.onnx import guard as onnx_guard  # noqa: E402


def _mlp_onnx(path: Path, layers: int = 2, shared: bool = False, values: bool = True) -> Path:
    """x (4) -> MatMul chain of ``layers`` (4x4) weights; ``shared``: one tensor for all; ``values``: False
    makes the weights graph inputs without values."""
    nodes, inits, extra = [], [], []
    cur = "x"
    for i in range(layers):
        w = "w" if shared else f"w{i}"
        if (not shared or i == 0):
            if values:
                inits.append(nh.from_array(np.full((4, 4), 0.1, np.float32), w))
            else:
                extra.append(oh.make_tensor_value_info(w, TP.FLOAT, [4, 4]))
        nodes.append(oh.make_node("MatMul", [cur, w], [f"y{i}"], name=f"mm{i}"))
        cur = f"y{i}"
    g = oh.make_graph(nodes, "net", [oh.make_tensor_value_info("x", TP.FLOAT, ["N", 4])] + extra,
                      [oh.make_tensor_value_info(cur, TP.FLOAT, [None, None])], initializer=inits)
    m = oh.make_model(g, opset_imports=[oh.make_opsetid("", 17)], ir_version=8)
    path.write_bytes(m.SerializeToString())
    return path


def _onnx_with_tensor(path: Path, t) -> Path:
    g = oh.make_graph([oh.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "net",
                      [oh.make_tensor_value_info("x", TP.FLOAT, ["N", 4])],
                      [oh.make_tensor_value_info("y", TP.FLOAT, [None, None])], initializer=[t])
    path.write_bytes(oh.make_model(g, opset_imports=[oh.make_opsetid("", 17)], ir_version=8).SerializeToString())
    return path


ONNX_CASES = {
    "huge_float_data": (lambda t: _onnx_with_tensor(t / "m.onnx", TP(name="w", data_type=TP.FLOAT,
                                                                      dims=[4, 10**10], float_data=[0.0] * 4)),
                        "initializer 'w' declares 40,000,000,000 elements"),
    "few_values_for_shape": (lambda t: _onnx_with_tensor(t / "m.onnx", TP(name="w", data_type=TP.FLOAT, dims=[4, 3],
                                                                           float_data=[0.0] * 5)),
                             "(12 values) but holds 5 values"),
    "huge_int64_raw": (lambda t: _onnx_with_tensor(t / "m.onnx", TP(name="w", data_type=TP.INT64,
                                                                     dims=[2**20, 2**20], raw_data=b"\0" * 8)),
                       "declares 1,099,511,627,776 elements"),
    "nine_dims": (lambda t: _onnx_with_tensor(t / "m.onnx", TP(name="w", data_type=TP.FLOAT, dims=[1] * 9,
                                                                raw_data=b"\0" * 4)), "allowed up to 8"),
    "unknown_dtype": (lambda t: _onnx_with_tensor(t / "m.onnx", TP(name="w", data_type=8, dims=[1],
                                                                    string_data=[b"a"])), "data type 8"),
    "directory": (lambda t: (t / "d.onnx").mkdir() or t / "d.onnx", "is not a regular file"),
    "empty": (lambda t: (t / "m.onnx").write_bytes(b"") == 0 and t / "m.onnx", "is empty"),
    "text": (lambda t: (t / "m.onnx").write_text("name: not onnx\n" * 50) and t / "m.onnx",
             "ONNX file"),
}


@pytest.mark.parametrize("case", sorted(ONNX_CASES))
def test_bad_onnx_file(capsys, tmp_path, case):
    build, says = ONNX_CASES[case]
    path = build(tmp_path)
    one_line(capsys, [str(path), says], "estimate", "--model", path)


@pytest.mark.parametrize("values", [True, False], ids=["initializers", "weights_without_values"])
def test_onnx_weights_together_over_budget(capsys, tmp_path, monkeypatch, values):
    p = _mlp_onnx(tmp_path / "m.onnx", layers=8, values=values)
    monkeypatch.setattr(onnx_guard, "MAX_TOTAL_ELEMENTS", 100)
    one_line(capsys, [str(p), "its weights come to 128 elements", "MAX_TOTAL_ELEMENTS"], "estimate", "--model", p)


def test_onnx_shared_tensor_copies_count_per_layer(capsys, tmp_path, monkeypatch):
    """One 16-element tensor used by 20 layers is copied 20 times: the copies count, as they are made."""
    p = _mlp_onnx(tmp_path / "m.onnx", layers=20, shared=True)
    monkeypatch.setattr(onnx_guard, "MAX_TOTAL_ELEMENTS", 100)
    one_line(capsys, [str(p), "its weights come to 112 elements"], "estimate", "--model", p)
    monkeypatch.setattr(onnx_guard, "MAX_TOTAL_ELEMENTS", 1000)
    rc, err = run_cli(capsys, "estimate", "--model", p)
    assert rc == 0, err


# ---------------------------------------------------------------------------------------------------------------------
# numbers on the command line: checked where parsed, zero is a value

ACC = ("accuracy", "-w", "mlp", "--no-progress")
FLAG_CASES = [
    (ACC + ("--samples", "0"), "--samples", "1 or more"),
    (ACC + ("--samples", "-5"), "--samples", "1 or more"),
    (ACC + ("--samples", "ten"), "--samples", "not a whole number"),
    (ACC + ("--samples", "2.5"), "--samples", "not a whole number"),
    (ACC + ("--trials", "0"), "--trials", "1 or more"),
    (ACC + ("--adc-bits", "0"), "--adc-bits", "from 1 to 10"),
    (ACC + ("--adc-bits", "-3"), "--adc-bits", "from 1 to 10"),
    (ACC + ("--adc-bits", "11"), "--adc-bits", "from 1 to 10"),
    (ACC + ("--seed", "-1"), "--seed", "0 or more"),
    (ACC + ("--time", "-1"), "--time", "0 or more"),
    (ACC + ("--time", "1e400"), "--time", "finite"),
    (ACC + ("--time", "soon"), "--time", "optional unit"),
    (ACC + ("--normalize", "standard", "--mean", "nan", "--std", "1"), "--mean", "finite"),
    (ACC + ("--normalize", "standard", "--mean", "0", "--std", "0"), "--std", "above 0"),
    (ACC + ("--normalize", "standard", "--mean", "0", "--std", "-2"), "--std", "above 0"),
    (ACC + ("--normalize", "standard", "--mean", "0", "--std", "inf"), "--std", "finite"),
    # found by a bad-input sweep: these were silently ignored (the same accuracy as without them)
    (ACC + ("--mean", "1e308"), "--mean", "with --normalize standard only"),
    (ACC + ("--std", "2"), "--std", "with --normalize standard only"),
    (ACC + ("--normalize", "none"), "--normalize none", "your own images only"),
    (ACC + ("--hybrid", ""), "--hybrid ''", "layer names"),
    (ACC + ("--hybrid", " , "), "--hybrid", "layer names"),
    (ACC + ("--normalize", "standard", "--mean", "0", "--std", "1"), "--mean", "your own images only"),
    (("accuracy", "--model", "m.onnx", "--input-shape", "0,28,28"), "--input-shape", "C,H,W"),
    (("accuracy", "--model", "m.onnx", "--input-shape", ""), "--input-shape", "C,H,W"),
    (("estimate", "-w", "mlp", "--activity", "data", "--activity-samples", "0"), "--activity-samples", "1 or more"),
    (("compare", "-w", "mlp", "--trials", "0"), "--trials", "1 or more"),
    (("compare", "-w", "mlp", "--samples", "-1"), "--samples", "1 or more"),
    (("size", "-w", "mlp", "--top", "0"), "--top", "1 or more"),
    (("size", "-w", "mlp", "--top", "-1"), "--top", "1 or more"),
    (("size", "-w", "mlp", "--workers", "0"), "--workers", "1 or more"),
    (("size", "-w", "mlp", "--min-accuracy", "1.5"), "--min-accuracy", "at most 1"),
    (("size", "-w", "mlp", "--min-fps", "-1"), "--min-fps", "at least 0"),
    (("size", "-w", "mlp", "--max-area-mm2", "nan"), "--max-area-mm2", "finite"),
    (("size", "-w", "mlp", "--max-energy-uj", "0"), "--max-energy-uj", "above 0"),
    (("size", "-w", "mlp", "--rows", ""), "--rows", "at least one value"),
    (("size", "-w", "mlp", "--adc-bits", "0"), "--adc-bits", "adc_bits"),
    (("sweep", "s.yaml", "--workers", "0"), "--workers", "1 or more"),
    (("bench", "--workers", "-2"), "--workers", "1 or more"),
    (("export", "-w", "mlp", "--out", "OUT/m.onnx", "--weights", "random", "--seed", "-1"), "--seed", "0 or more"),
]


@pytest.mark.parametrize("argv,flag,says", FLAG_CASES, ids=[f"{a[0]}{''.join(a[3:] if a[0] == 'accuracy' else a[1:])}"
                                                           for a, _, _ in FLAG_CASES])
def test_bad_flag_value(capsys, tmp_path, argv, flag, says):
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    one_line(capsys, [flag, says], *argv)


# ---------------------------------------------------------------------------------------------------------------------
# output folders that cannot be written

OUT_CASES = [
    ("validate", "--no-accuracy", "--out", "{f}/sub"),
    ("validate", "--no-accuracy", "--out", "{f}"),
    ("bench", "--no-plots", "--no-accuracy", "--out", "{f}/sub"),
    ("sweep", "{root}/examples/sweep_quick.yaml", "--out", "{f}/sub"),
    ("sweep", "{root}/examples/sweep_quick.yaml", "--out", "{f}"),
    ("estimate", "-w", "mlp", "--out", "{f}/sub/deeper"),
    ("compare", "-w", "mlp", "--out", "{f}"),
    ("accuracy", "-w", "mlp", "--out", "{f}/x"),
    ("size", "-w", "mlp", "--out", "{f}/x"),
    ("export", "-w", "mlp", "--out", "{f}/m.onnx"),
]


@pytest.mark.parametrize("argv", OUT_CASES, ids=[f"{a[0]}_{a[-1].replace('{f}', 'file')}" for a in OUT_CASES])
def test_unwritable_out(capsys, tmp_path, argv):
    f = tmp_path / "a_file"
    f.write_text("x")
    argv = [a.format(f=f, root=ROOT) for a in argv]
    one_line(capsys, [str(f)], *argv)


# ---------------------------------------------------------------------------------------------------------------------
# main(): resource exhaustion is one line, real bugs still show

@pytest.mark.parametrize("exc,says", [(MemoryError, "out of memory"), (RecursionError, "nested too deeply")])
def test_memory_and_recursion_errors_are_one_line(capsys, monkeypatch, exc, says):
    from archsim.cli import design

    def boom(args):
        raise exc()
    monkeypatch.setitem(design.COMMANDS, "estimate", _with_func(design.COMMANDS["estimate"], boom))
    one_line(capsys, ["estimate", says], "estimate", "-w", "mlp")


def test_other_exceptions_still_traceback(monkeypatch):
    from archsim.cli import design

    def bug(args):
        raise ValueError("a real bug")
    monkeypatch.setitem(design.COMMANDS, "estimate", _with_func(design.COMMANDS["estimate"], bug))
    with pytest.raises(ValueError, match="a real bug"):
        cli.main(["estimate", "-w", "mlp"])


def _with_func(add, fn):
    def adder(sub):
        add(sub)
        sub.choices["estimate"].set_defaults(func=fn)
    return adder


# ---------------------------------------------------------------------------------------------------------------------
# faults: SIGKILL of a sweep with a worker pool; two sweeps resuming one store

FAULT_SWEEP = """
name: fault
workloads: resnet18
devices: [sonos, reram]
grid:
  rows: [128, 256, 512]
  cols: [64, 128, 256]
  arrays_per_tile: [4, 8, 16, 32]
  input_bits: [4, 6, 8, 10, 12]
  weight_bits: [6, 8]
"""


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _children(pid: int) -> set[int]:
    """Child pids of ``pid`` (``/proc/<pid>/task/*/children`` where the kernel has it, else a scan of /proc)."""
    kids: set[int] = set()
    tasks = Path(f"/proc/{pid}/task")
    files = list(tasks.glob("*/children")) if tasks.exists() else []
    if files:
        for f in files:
            try:
                kids |= {int(v) for v in f.read_text().split()}
            except OSError:
                pass
        return kids
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid:
                kids.add(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper has stopped computing: it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM points").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the workers")
def test_sigkilled_sweep_leaves_no_worker_and_resume_completes(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(FAULT_SWEEP)
    total = len(load_sweep(p))
    out = tmp_path / "o"
    db = out / STORE_NAME
    proc = subprocess.Popen([sys.executable, "-m", "archsim.cli", "sweep", str(p), "--out", str(out), "--workers", "2",
                             "--no-progress"], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            workers |= _children(proc.pid)
            if len(workers) >= 2 and _stored(db) >= 10:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the sweep ended before it could be killed: make it longer"
        assert len(workers) >= 2, f"workers not found: {workers}"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 20  # a loaded machine may take seconds to reap; the loop ends as soon as they are gone
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:                  # do not leave them behind when the test fails
        try:
            os.kill(w, signal.SIGKILL)
        except OSError:
            pass
    assert not survivors, "pool workers outlived their SIGKILLed parent"
    with Store(db) as st:
        assert st.verify(point_key) == []
        before = len(st)
    assert 10 <= before < total
    run = run_sweep(p, out=out, workers=2, resume=True, progress=False, formats="csv")
    assert (run.reused, run.computed, run.by_other) == (before, total - before, 0)
    assert len(run.table) == total and run.table["key"].is_unique and run.table["error"].isna().all()
    with Store(db) as st:
        assert st.verify(point_key) == [] and len(st) == total


COUNTS = re.compile(r"(\d+) points: (\d+) already in the store, (\d+) computed by this run \([^)]*\)"
                    r"(?:, (\d+) computed by another run meanwhile)?")


def test_two_concurrent_resumes_store_every_point_once_and_count_truthfully(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(FAULT_SWEEP)
    part = tmp_path / "part.yaml"
    part.write_text(FAULT_SWEEP.replace("rows: [128, 256, 512]", "rows: [128]"))
    total, first = len(load_sweep(p)), len(load_sweep(part))
    out = tmp_path / "o"
    # the store already holds a third of the points (same keys: a point's key is its configuration)
    assert run_sweep(load_sweep(part), out=out, workers=1, progress=False, formats="csv").computed == first
    cmd = [sys.executable, "-m", "archsim.cli", "sweep", str(p), "--out", str(out), "--workers", "1", "--resume",
           "--no-progress", "--format", "csv"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [pr.communicate(timeout=120) for pr in procs]
    counts = []
    for pr, (so, se) in zip(procs, outs):
        assert pr.returncode == 0, se
        m = COUNTS.search(so)
        assert m, so
        n, reused, computed, other = (int(v or 0) for v in m.groups())
        assert n == total and reused + computed + other == total, so
        assert reused >= first
        counts.append((reused, computed, other))
    print("concurrent resumes (already stored, computed by this run, by another run):", counts)
    # every point missing at the start was inserted by exactly one of the two runs
    assert counts[0][1] + counts[1][1] == total - first, counts
    with Store(out / STORE_NAME) as st:
        assert st.verify(point_key) == [] and len(st) == total
    table = (out / "fault.csv").read_text().splitlines()
    assert len(table) == total + 1 and "not computed" not in "".join(table)
    assert not list(out.glob("*.tmp")), "a temporary file was left behind"

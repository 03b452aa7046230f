"""Integer images of every dtype are scaled by their declared range, or refused: the same pixels give the same
inputs (and so the same accuracy) however they are stored.

Under ``normalize='0-1'`` (the accuracy command's default): uint8 is divided by 255, floats are kept, and every
other integer dtype needs an array ``max`` in the file (its full scale) or is refused in one line, because
8-bit pixels stored as int64 and 12-bit images stored as uint16 cannot be told apart.
"""
from __future__ import annotations

import numpy as np
import pytest

from archsim.io import data as D
from archsim.model.errors import ArchsimError

INTS = [np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32, np.uint64]
#: the integer dtypes that hold 0-255 (int8 does not: its own test below)
WIDE = [d for d in INTS if np.iinfo(d).max >= 255]


def _pixels(n: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 1, 4, 4)).astype(np.uint8)


def _save(path, x, **extra):
    np.savez(path, x=x, y=np.arange(len(x), dtype=np.int64) % 3, **extra)
    return path


@pytest.mark.parametrize("dtype", WIDE, ids=lambda d: np.dtype(d).name)
def test_wider_integers_with_a_declared_max_match_uint8_exactly(tmp_path, dtype):
    """8-bit pixels stored in any integer dtype with ``max = 255`` give the same float inputs as uint8 (bit for
    bit: the same float32 division)."""
    px = _pixels()
    ref, _ = D.load_npz(_save(tmp_path / "u8.npz", px))
    got, _ = D.load_npz(_save(tmp_path / "w.npz", px.astype(dtype), max=np.array(255)))
    assert np.array_equal(ref, got)
    flt, _ = D.load_npz(_save(tmp_path / "f.npz", px.astype(np.float32) / np.float32(255)))
    assert np.array_equal(ref, flt)


@pytest.mark.parametrize("dtype", INTS, ids=lambda d: np.dtype(d).name)
def test_wider_integers_without_a_declared_range_are_refused(tmp_path, dtype):
    p = _save(tmp_path / "w.npz", _pixels().astype(dtype))
    with pytest.raises(ArchsimError) as e:
        D.load_npz(p)
    msg = str(e.value)
    assert "\n" not in msg and np.dtype(dtype).name in msg and "'max'" in msg and "ambiguous" in msg
    x, _ = D.load_npz(p, normalize="none")          # as stored: nothing to guess
    assert x.max() <= 255 and x.dtype == np.float32


def test_int8_with_a_declared_max_and_negative_values(tmp_path):
    px = (_pixels() // 2).astype(np.int8)
    x, _ = D.load_npz(_save(tmp_path / "i8.npz", px, max=np.int8(127)))
    assert np.array_equal(x, px.astype(np.float32) / np.float32(127))
    with pytest.raises(ArchsimError, match="outside"):
        D.load_npz(_save(tmp_path / "neg.npz", -px - 1, max=np.int8(127)))


def test_a_declared_max_scales_any_depth(tmp_path):
    x12 = np.array([[0, 1024, 4095, 2048]], dtype=np.uint16).reshape(1, 1, 2, 2)
    x, _ = D.load_npz(_save(tmp_path / "d.npz", x12, max=np.uint16(4095)))
    assert x.min() == 0 and x.max() == 1 and abs(float(x.reshape(-1)[1]) - 1024 / 4095) < 1e-7   # float32 rounding


@pytest.mark.parametrize("bad,words", [
    (np.array(0), "above 0"), (np.array(np.nan), "above 0"), (np.array(-1.0), "above 0"),
    (np.array([255, 255]), "one number"), (np.array("255"), "one number"), (np.array(10), "outside"),
])
def test_bad_declared_max_is_refused(tmp_path, bad, words):
    p = _save(tmp_path / "b.npz", _pixels().astype(np.int64), max=bad)
    with pytest.raises(ArchsimError, match=words):
        D.load_npz(p)


def test_same_images_same_accuracy_through_the_command(capsys, tmp_path):
    """The issue's case: MNIST test images stored as uint8 and as int64 (with max 255) score the same."""
    from archsim.cli import main as cli
    x, y = D.load_dataset("mnist", "test", limit=60)
    px = np.rint(x * 255).astype(np.uint8)
    np.savez(tmp_path / "u8.npz", x=px, y=y)
    np.savez(tmp_path / "i64.npz", x=px.astype(np.int64), y=y, max=np.array(255))
    np.savez(tmp_path / "i64_bare.npz", x=px.astype(np.int64), y=y)
    outs = []
    for f in ("u8", "i64"):
        rc = cli.main(["accuracy", "-w", "mlp", "--device", "sram", "--data", str(tmp_path / f"{f}.npz"),
                       "--samples", "40", "--trials", "1", "--no-progress"])
        out = capsys.readouterr().out
        assert rc == 0
        outs.append([ln for ln in out.splitlines() if ln.startswith("accuracy:")])
    assert outs[0] == outs[1] and outs[0]
    rc = cli.main(["accuracy", "-w", "mlp", "--data", str(tmp_path / "i64_bare.npz"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "int64" in err[0] and "i64_bare.npz" in err[0]

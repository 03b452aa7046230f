"""Fashion-MNIST: the IDX reader, the checked fetch, the shipped fashion_vgg network and a device law on it.

The parser and checksum tests build their own small files.  The others need the real data: the Debian
package ``dataset-fashion-mnist`` (CI installs it, as it installs ngspice, and runs
``python -m archsim.io.data fetch fashion-mnist`` before pytest).  Without it they FAIL with a line saying
how to install it; they never skip, so a CI that lost the package shows red.
"""
import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from archsim.io import techlib
import workloads
from archsim import api
from archsim.io import data, fashion, idx
from archsim.model.errors import ArchsimError
from archsim.sim import forward


def _idx(arr: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _gz(path, raw: bytes):
    path.write_bytes(gzip.compress(raw))
    return path


# ----------------------------------------------------------------- IDX ----
def test_parse_idx_round_trip_and_big_endian():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(idx.parse_idx(_idx(a), "t", dtype_code=0x08, shape=(None, 3, 4)), a)
    b = np.array([1, -2, 70000], dtype=">i4")
    got = idx.parse_idx(_idx(b, 0x0C), "t")
    np.testing.assert_array_equal(got, [1, -2, 70000])
    assert got.dtype == np.dtype("int32") and got.dtype.isnative


@pytest.mark.parametrize("raw,match", [
    (b"\x00\x00", "too short"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad IDX magic 01000801"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "bad IDX magic 00000701"),    # no such type
    (b"\x00\x00\x08\x00", "bad IDX magic 00000800"),                                      # rank 0
    (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "declares 3 dimensions but the file ends after 8 bytes"),
    (_idx(np.zeros((4, 2, 2), np.uint8))[:-1], r"declare 16 bytes of uint8, the file holds 15 \(truncated\)"),
    (_idx(np.zeros((4, 2, 2), np.uint8)) + b"\x00", r"holds 17 \(trailing bytes\)"),
    (_idx(np.zeros(3, np.float32).astype(">f4"), 0x0D), "IDX type 0x0d.*expected 0x08"),
    (_idx(np.zeros((4, 2, 3), np.uint8)), r"dimensions 4x2x3; expected \*x2x2"),
    (_idx(np.zeros((4, 2), np.uint8)), r"dimensions 4x2; expected \*x2x2"),
])
def test_parse_idx_refuses_bad_files_in_one_line(raw, match):
    with pytest.raises(ArchsimError, match=match) as e:
        idx.parse_idx(raw, "IDX file f.gz", dtype_code=0x08, shape=(None, 2, 2))
    assert "\n" not in str(e.value) and str(e.value).startswith("IDX file f.gz: ")


def test_read_idx_gz_refuses_broken_gzip_and_bombs(tmp_path):
    good = _idx(np.zeros((10, 2, 2), np.uint8))
    p = _gz(tmp_path / "a.gz", good)
    assert idx.read_idx_gz(p, max_bytes=len(good)).shape == (10, 2, 2)
    with pytest.raises(ArchsimError, match="decompresses to more than 55 bytes"):
        idx.read_idx_gz(p, max_bytes=len(good) - 1)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(p.read_bytes()[:-12])                  # the gzip stream ends early
    with pytest.raises(ArchsimError, match="not a readable gzip file"):
        idx.read_idx_gz(cut, max_bytes=1000)
    plain = tmp_path / "plain.gz"
    plain.write_bytes(good)                                # IDX bytes, not gzip'd
    with pytest.raises(ArchsimError, match="not a readable gzip file"):
        idx.read_idx_gz(plain, max_bytes=1000)
    with pytest.raises(ArchsimError, match="does not exist"):
        idx.read_idx_gz(tmp_path / "none.gz", max_bytes=1000)
    with pytest.raises(ArchsimError, match="is a folder"):
        idx.read_idx_gz(tmp_path, max_bytes=1000)


def test_read_idx_gz_checks_the_payload_sha256(tmp_path):
    raw = _idx(np.arange(6, dtype=np.uint8))
    p = _gz(tmp_path / "l.gz", raw)
    assert idx.read_idx_gz(p, sha256=hashlib.sha256(raw).hexdigest(), max_bytes=100).sum() == 15
    with pytest.raises(ArchsimError, match="SHA-256 .* expected 0000000000000000.*corrupt or altered"):
        idx.read_idx_gz(p, sha256="0" * 64, max_bytes=100)


def test_fetch_refuses_files_that_are_not_the_published_ones(tmp_path):
    """A well-formed IDX label file of the right shape but other content: refused on its SHA-256,
    and nothing is written into the cache."""
    src = tmp_path / "src"
    src.mkdir()
    for name, (_, _, shape) in fashion.FILES.items():
        if len(shape) == 1:        # label files only: small enough to fake at full size
            _gz(src / name, _idx(np.zeros(shape, np.uint8)))
    _gz(src / "train-images-idx3-ubyte.gz", _idx(np.zeros((60_000, 28, 28), np.uint8)))
    with pytest.raises(ArchsimError, match="train-images-idx3-ubyte.gz: decompressed SHA-256 .*not the published"):
        data.fetch("fashion-mnist", root=tmp_path / "cache", source=src)
    assert not (tmp_path / "cache" / "fashion-mnist").exists()
    with pytest.raises(ArchsimError, match="folder .*nowhere does not exist; expected a folder holding train-images"):
        data.fetch("fashion-mnist", root=tmp_path / "cache", source=tmp_path / "nowhere")


def test_fetch_command_line_errors_are_one_line(capsys, tmp_path):
    assert data.main(["fetch", "fashion-mnist", "--root", str(tmp_path), "--source", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: fetch fashion-mnist: folder") and err.count("\n") == 1
    assert data.main(["fetch", "mnist", "--source", str(tmp_path)]) == 2
    assert "--source for fashion-mnist" in capsys.readouterr().err


# --------------------------------------------------------- the real data ----
@pytest.fixture(scope="module")
def fmnist():
    """Test and validation splits of the real Fashion-MNIST (converted from the Debian package on first use)."""
    try:
        return {s: data.load_dataset("fashion-mnist", s) for s in ("train", "valid", "test")}
    except ArchsimError as e:
        pytest.fail(f"Fashion-MNIST is needed and missing ({e}); install it: apt-get install dataset-fashion-mnist "
                    f"(CI does), then python -m archsim.io.data fetch fashion-mnist", pytrace=False)


def test_fashion_splits_are_the_published_files(fmnist):
    (xt, yt), (xv, yv), (xs, ys) = fmnist["train"], fmnist["valid"], fmnist["test"]
    assert (len(yt), len(yv), len(ys)) == (50_000, 10_000, 10_000)
    assert xs.shape == (10_000, 1, 28, 28) and xs.dtype == np.float32 and ys.dtype == np.int64
    # published: 6,000 images per class in the 60k training file, 1,000 per class in the test file
    np.testing.assert_array_equal(np.bincount(np.concatenate([yt, yv]), minlength=10), 6_000)
    np.testing.assert_array_equal(np.bincount(ys, minlength=10), 1_000)
    # pixels are k / 255 exactly (the cache keeps the uint8 originals)
    k = xs * 255.0
    assert np.abs(k - np.rint(k)).max() < 1e-4 and xs.min() == 0.0 and xs.max() == 1.0   # float32 rounding of k/255
    # valid is the last 10,000 images of the training file, as read straight from the package
    raw = idx.read_idx_gz(fashion.DEBIAN_DIR / "train-labels-idx1-ubyte.gz", max_bytes=60_008)
    np.testing.assert_array_equal(yv, raw[50_000:])


# ------------------------------------------------------ the shipped net ----
#: floor on the float top-1 accuracy of the shipped fashion_vgg on the 10,000 test images: the shipped file
#: measures 0.9017 (meta.test_accuracy; validation 0.9053); the floor sits about a point under it so that a
#: retrain with the same seed and another BLAS (float32 sums in another order) still passes, while a net
#: trained for fewer epochs (0.866 validation after one) or on the wrong data does not
FLOAT_FLOOR = 0.89


def test_shipped_fashion_vgg_float_accuracy(fmnist):
    wl = workloads.get("fashion_vgg", weights=True)
    assert wl.dataset == "fashion-mnist"
    x, y = fmnist["test"]
    acc = forward.accuracy(wl, x, y)
    with np.load(workloads.weights_path("fashion_vgg"), allow_pickle=False) as f:
        assert str(f["meta.dataset"]) == "fashion-mnist"
        stated = float(f["meta.test_accuracy"])
    # the file states what the exact forward pass measures (float32 sums in another order: 1 image at most)
    assert acc == pytest.approx(stated, abs=1.5e-4)
    assert acc > FLOAT_FLOOR
    # Fashion-MNIST is harder than MNIST: the shipped LeNet-5 keeps about 99%, this net stays well under it
    assert acc < 0.96


# --------------------------------------------------------- a device law ----
@pytest.mark.slow   # a study of minutes: benchmarks/slow_studies.py runs it
def test_large_programming_error_scores_below_sram_beyond_the_interval(fmnist, tmp_path):
    """On Fashion-MNIST the devices' programming error shows in accuracy.  ECRAM as shipped (1% proportional
    programming error) stays inside SRAM's interval; the same file with 40x that error (sigma_rel 0.40, all
    else equal) scores below SRAM beyond both 95% intervals.  One chip each (seed 0), 200 test images: the
    interval is the image-sampling term alone, about +-0.04 at 90%."""
    src = (techlib.ROOT / "devices" / "ecram.yaml").read_text()
    noisy = src.replace("  sigma_rel:\n    value: 0.01\n", "  sigma_rel:\n    value: 0.40\n", 1)
    assert noisy != src                       # the shipped file still holds the 1% this test edits
    (tmp_path / "ecram_x40.yaml").write_text(noisy)
    x, y = fmnist["test"]
    x, y = x[:200], y[:200]
    r = {d: api.simulate("fashion_vgg", x, y, device=d, trials=1, seed=0)
         for d in ("sram", "ecram", str(tmp_path / "ecram_x40.yaml"))}
    sram, ecram, bad = r["sram"], r["ecram"], r[str(tmp_path / "ecram_x40.yaml")]
    assert bad.ci95[1] < sram.ci95[0] and bad.ci95[1] < ecram.ci95[0]
    assert sram.ci95[0] <= ecram.mean <= sram.ci95[1]

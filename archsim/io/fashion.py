"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, zalandoresearch/fashion-mnist, MIT licence).

70,000 28x28 grey images of clothing in 10 classes, MNIST's format and sizes.
The four gzip'd IDX files come from the Debian package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist``) or from any folder holding them
(``source``, e.g. the upstream download).  Debian recompressed the files, so
their ``.gz`` bytes differ from upstream's; the check is therefore on the
*decompressed* IDX payloads, whose SHA-256 below are the same for both (checked
for the two label files against upstream's ``data/fashion`` in the
zalandoresearch repository; upstream publishes only MD5s of its ``.gz`` files).

:func:`fetch` reads each file with :func:`archsim.io.idx.read_idx_gz` (bounded
decompression, SHA-256, checked magic and dimensions, labels in 0..9) and
writes ``<cache>/fashion-mnist/{train,valid,test}.npz`` (``x`` uint8
``(n, 1, 28, 28)``, ``y`` int64) as MNIST's cache.  Splits as MNIST's: ``train``
is the first 50,000 images of the official 60,000-image training file,
``valid`` its last 10,000 (the file is already shuffled: each class has 955 to
1,050 images there), ``test`` the official 10,000-image test file.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from archsim.io.idx import read_idx_gz
from archsim.model.errors import ArchsimError

__all__ = ["NAME", "DEBIAN_DIR", "FILES", "SPLITS", "CLASSES", "paths", "read_source", "fetch"]

NAME = "fashion-mnist"
#: where the Debian package ``dataset-fashion-mnist`` installs the files
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: file -> (SHA-256 of the decompressed IDX payload, IDX type code, shape)
FILES = {
    "train-images-idx3-ubyte.gz": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                                   0x08, (60_000, 28, 28)),
    "train-labels-idx1-ubyte.gz": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                                   0x08, (60_000,)),
    "t10k-images-idx3-ubyte.gz": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                                  0x08, (10_000, 28, 28)),
    "t10k-labels-idx1-ubyte.gz": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                                  0x08, (10_000,)),
}
SPLITS = {"train": 50_000, "valid": 10_000, "test": 10_000}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")


def paths(root: Path) -> dict[str, Path]:
    """Cache file of each split under ``root``."""
    return {s: Path(root) / NAME / f"{s}.npz" for s in SPLITS}


def _read(src: Path, fname: str) -> np.ndarray:
    sha, code, shape = FILES[fname]
    nbytes = 4 + 4 * len(shape) + int(np.prod(shape))
    return read_idx_gz(src / fname, sha256=sha, dtype_code=code, shape=shape, max_bytes=nbytes)


def read_source(source: str | os.PathLike | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``split -> (x uint8 (n, 1, 28, 28), y int64)`` read and checked from ``source``
    (default the Debian package's folder)."""
    src = Path(source).expanduser() if source else DEBIAN_DIR
    if not src.is_dir():
        hint = ("install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
                "or give source= (the fetch command's --source) a folder holding the four upstream .gz files") if not source else \
            "expected a folder holding " + ", ".join(FILES)
        raise ArchsimError(f"fetch {NAME}: folder {src} does not exist; {hint}")
    arrays = {f: _read(src, f) for f in FILES}
    sets = {}
    for part, stem in (("trainval", "train"), ("test", "t10k")):
        x = arrays[f"{stem}-images-idx3-ubyte.gz"]
        y = arrays[f"{stem}-labels-idx1-ubyte.gz"].astype(np.int64)
        if y.max() >= len(CLASSES):
            raise ArchsimError(f"fetch {NAME}: {src / f'{stem}-labels-idx1-ubyte.gz'} has label {int(y.max())}; "
                               f"allowed 0..{len(CLASSES) - 1}")
        sets[part] = (x.reshape(-1, 1, 28, 28), y)
    (xtv, ytv), cut = sets["trainval"], SPLITS["train"]
    return {"train": (xtv[:cut], ytv[:cut]), "valid": (xtv[cut:], ytv[cut:]), "test": sets["test"]}


def fetch(root: Path, source=None, *, force: bool = False, save=None) -> Path:
    """Convert the files into ``<root>/fashion-mnist/<split>.npz`` (nothing to do when cached, unless ``force``).

    ``save(path, x=..., y=...)`` writes one cache file (atomically)."""
    ps = paths(root)
    if force or not all(p.exists() for p in ps.values()):
        for split, (x, y) in read_source(source).items():
            save(ps[split], x=x, y=y)
    return Path(root) / NAME

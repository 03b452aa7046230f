"""Writing files whole or not at all: :func:`atomic_write`.

Every file archsim writes (ONNX models, the data cache, trained weights, report and sweep
tables) goes through :func:`atomic_write`: the data land in a fresh temporary file in the
target's folder (``tempfile.mkstemp``, so two writers never share a name), are flushed and
fsynced, and the temporary file is renamed over the target with ``os.replace``.  A reader sees
the old file or the new one, never half of one; a writer that fails leaves no temporary file.
"""
from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

__all__ = ["atomic_write", "safe_stem", "MAX_STEM"]

Data = Union[bytes, bytearray, memoryview, str, Callable[[BinaryIO], object]]


def _umask() -> int:
    """The process umask, read without changing it where the system says it (Linux >= 4.7)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)       # elsewhere: the classic set-and-restore
    os.umask(old)
    return old


def atomic_write(path, data: Data, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically; return ``path`` as a :class:`~pathlib.Path`.

    ``data``: ``bytes`` (or a buffer), a ``str`` (encoded with ``encoding``), or a callable
    ``writer(f)`` that writes into ``f``, a binary file object open on the temporary file
    (``np.savez_compressed(f, ...)``, ``df.to_parquet(f)``).  The folder must exist.  The file
    gets the permissions a plain ``open(path, "w")`` would give it: an existing target keeps its
    own, a new one gets ``0o666`` less the umask (``mkstemp`` alone would give ``0o600``).  On any
    failure (the writer raising, a full disk, an interrupt) the temporary file is removed and the
    error re-raised; the target is then untouched.
    """
    p = Path(path)
    if isinstance(data, str):
        data = data.encode(encoding)
    if not callable(data) and not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"atomic_write: data must be bytes, str or a callable taking a file object, "
                        f"got {type(data).__name__}")
    try:
        mode = stat.S_IMODE(os.stat(p).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


#: longest file stem :func:`safe_stem` returns (file systems allow 255 bytes; room for suffixes)
MAX_STEM = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_stem(text, fallback: str = "out") -> str:
    """A file stem made from user text (a device's ``name:``, a path, a workload or preset name).

    Keeps ``A-Z a-z 0-9 . _ -`` and replaces every other character (slashes, spaces, NUL, non-ASCII)
    with ``_``; strips leading dots (no hidden files, no ``..``); cuts to :data:`MAX_STEM` characters;
    never empty (``fallback``).  The result names a file inside its folder, never a path out of it.
    """
    s = _UNSAFE.sub("_", str(text)[:4 * MAX_STEM]).lstrip(".")[:MAX_STEM].rstrip(".")
    return s if s.strip("_-") else fallback

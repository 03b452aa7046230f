"""Writing files whole or not at all, and only onto regular files: the one output rule.

Every file archsim writes (ONNX models, the data cache, trained weights, report and sweep
tables, plots) goes through :func:`atomic_write`: the target is checked first
(:func:`check_target`: a regular file or absent; a symbolic link, folder, FIFO, socket or device
node is refused in one line naming the path, so ``-o /dev/null`` run as root never replaces the
system's ``/dev/null`` and a link planted in an output folder never redirects a write); the data
land in a fresh temporary file in the target's folder (``tempfile.mkstemp``, so two writers never
share a name), are flushed and fsynced, the target is checked again, and the temporary file is
renamed over it with ``os.replace``.  A reader sees the old file or the new one, never half of one;
a writer that fails leaves no temporary file.

The sweep store (SQLite writes in place, not by rename) claims its file with
:func:`claim_regular_file` (``O_NOFOLLOW``, its folder and SQLite's side files checked too); output
folders given as ``--out`` are checked before any work with :func:`resolve_out_folder`.  Generated
names are made with :func:`safe_stem` and :func:`join_stem`: long ones are cut and given a stable
hash suffix, never refused.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Union

from archsim.model.errors import ArchsimError, ParameterError

__all__ = ["atomic_write", "check_target", "claim_regular_file", "resolve_out_folder", "safe_stem", "join_stem",
           "is_safe_name", "same_file", "check_in_place", "MAX_STEM", "MAX_NAME"]

#: what a path that is not a regular file is, in the words of a refusal (the first test that holds)
_NOT_REGULAR = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def _what(mode: int) -> str | None:
    """None for a regular file, else what the path is (``a symbolic link``, ``a folder``, ...)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")


def check_target(path, what: str = "output") -> Path:
    """``path`` as a :class:`~pathlib.Path` if it may be written: absent, or a regular file (not a link).

    Refused in one :class:`ArchsimError` line naming the path: a symbolic link (dangling or not), a
    folder, a FIFO, a socket, a character or block device; a path that cannot be examined.  Links are
    not followed (``os.lstat``)."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    except (OSError, ValueError) as exc:
        raise ArchsimError(f"{what} {p}: cannot be examined ({getattr(exc, 'strerror', None) or exc}); "
                           f"allowed a regular file or a new name") from None
    kind = _what(st.st_mode)
    if kind is not None:
        raise ArchsimError(f"{what} {p}: is {kind}; allowed a regular file or a new name (archsim never writes "
                           f"through links or onto special files)")
    return p


def _check_folder(folder: Path, what: str) -> None:
    """The folder a file is written into: an existing real folder (not a symbolic link to one)."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        raise ArchsimError(f"{what} {folder}: the folder does not exist") from None
    except OSError as exc:
        raise ArchsimError(f"{what} {folder}: cannot be examined ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise ArchsimError(f"{what} {folder}: the folder is a symbolic link; allowed a real folder (give the "
                           f"folder it points to)")
    if not stat.S_ISDIR(st.st_mode):
        raise ArchsimError(f"{what} {folder}: is {_what(st.st_mode)}, not a folder")


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
    p = check_target(path)
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
        check_target(p)         # again, just before the rename: nothing swapped in meanwhile is replaced
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


#: longest file stem :func:`safe_stem` and :func:`join_stem` return (file systems allow 255 bytes; the rest is
#: room for the suffixes commands add: ``_layers``, ``.csv``, SQLite's ``-wal``)
MAX_STEM = 120
#: longest generated file name :func:`is_safe_name` accepts (stem and suffixes)
MAX_NAME = 200
#: characters of the hash suffix a shortened name ends with (``-`` and 8 hex digits of its SHA-256)
HASH_CHARS = 8
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def _shorten(s: str, original: str, limit: int) -> str:
    """``s`` if it fits ``limit``, else its head and ``-`` + a stable hash of ``original`` (same text, same name)."""
    if len(s) <= limit:
        return s
    tag = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    return s[:limit - HASH_CHARS - 1].rstrip(".") + "-" + tag


def safe_stem(text, fallback: str = "out") -> str:
    """A file stem made from user text (a device's ``name:``, a path, a workload or preset name).

    Keeps ``A-Z a-z 0-9 . _ -`` and replaces every other character (slashes, spaces, NUL, non-ASCII)
    with ``_``; strips leading dots (no hidden files, no ``..``); a result longer than :data:`MAX_STEM`
    is cut and ends with ``-`` and 8 hex digits of the SHA-256 of the whole text (stable: the same text
    always gives the same stem; two long names differing only at the end get different stems); never
    empty (``fallback``).  The result names a file inside its folder, never a path out of it.
    """
    original = str(text)
    s = _UNSAFE.sub("_", original).lstrip(".").rstrip(".")
    if not s.strip("_-"):
        return fallback
    return _shorten(s, original, MAX_STEM)


def join_stem(*parts: str) -> str:
    """``part_part_part`` from parts each made safe (:func:`safe_stem`), the whole shortened with a stable hash
    suffix when longer than :data:`MAX_STEM` (a legal long device name never makes an output name refused)."""
    joined = "_".join(safe_stem(p) for p in parts)
    return _shorten(joined, "\x00".join(map(str, parts)), MAX_STEM)


def is_safe_name(name: str) -> bool:
    """True for a plain file name archsim may generate: safe characters, no leading dot, at most :data:`MAX_NAME`."""
    return isinstance(name, str) and 0 < len(name) <= MAX_NAME and _SAFE_NAME.fullmatch(name) is not None


# ---------------------------------------------------------------------------------------------------------------------
# output folders and files written in place

def resolve_out_folder(text, param: str = "out") -> Path:
    """An output folder checked before any work: an existing folder one can write into, or a path whose nearest
    existing parent is such a folder (nothing is created here).

    Symbolic links on the way are resolved (the folder is used by its real path); a dangling link, a file, a
    special file (FIFO, device, socket) or a parent that is one is refused in one line naming the parameter ``param``
    (a :class:`~archsim.model.errors.ParameterError`: the CLI words it as its flag)."""
    raw = str(text)
    if not raw.strip():
        raise ParameterError("{param} '': empty; allowed a folder path", param)
    p = Path(os.path.expanduser(raw))
    probe, rest = p, []
    while True:
        try:
            st = os.lstat(probe)
        except FileNotFoundError:
            if probe.parent == probe:
                raise ParameterError(f"{{param}} {raw}: no existing parent folder", param) from None
            rest.append(probe.name)
            probe = probe.parent
            continue
        except NotADirectoryError:
            raise ParameterError(f"{{param}} {raw}: a parent of it is a file, not a folder", param) from None
        except (OSError, ValueError) as exc:
            why = getattr(exc, 'strerror', None) or exc
            raise ParameterError(f"{{param}} {raw}: cannot be used ({why})", param) from None
        break
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(probe)
        except OSError:
            raise ParameterError(f"{{param}} {raw}: {probe} is a dangling symbolic link (to {os.readlink(probe)}); "
                                 f"allowed a folder or a new name", param) from None
    if not stat.S_ISDIR(st.st_mode):
        kind = _what(st.st_mode) or "a regular file"   # _what is None for a regular file
        what = f"is {kind}" if probe == p else f"has a parent {probe} that is {kind}"
        raise ParameterError(f"{{param}} {raw} {what}, not a folder; allowed a folder one can write into", param)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ParameterError(f"{{param}} {raw}: folder {probe} is not writable", param)
    real = Path(os.path.realpath(probe)).joinpath(*reversed(rest))
    return p if os.path.abspath(p) == str(real) else real


#: SQLite's side files of a database ``X``: ``X-wal``, ``X-shm`` (write-ahead log) and ``X-journal``
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def check_in_place(path, what: str = "store") -> Path:
    """Check, before any work and without creating anything, a file that will be written in place (the SQLite
    store): its folder, where it exists, a real folder (not a link); the file and SQLite's side files absent
    or regular (:func:`check_target`).  :func:`claim_regular_file` checks again when opening."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if os.path.lexists(folder):
        _check_folder(folder, what)
    check_target(p, what)
    for side in SQLITE_SIDE_FILES:
        check_target(p.with_name(p.name + side), what)
    return p


def claim_regular_file(path, what: str = "store") -> os.stat_result:
    """Open (creating it if absent) the file ``path`` without following links and return its ``fstat``.

    For files written in place (the SQLite sweep store): the folder must be a real folder (not a link), the
    file absent or regular (``O_NOFOLLOW``: a link is refused by the kernel, not only by a check), and
    SQLite's side files absent or regular.  Compare the returned ``(st_dev, st_ino)`` with the file after
    opening it (:func:`same_file`) to catch a swap in between.  Refusals are one line naming the path."""
    p = Path(path)
    _check_folder(p.parent if str(p.parent) else Path("."), what)
    check_in_place(p, what)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | \
        getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(p, flags, 0o666)
    except OSError as exc:
        raise ArchsimError(f"{what} {p}: cannot be opened as a regular file ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    kind = _what(st.st_mode)
    if kind is not None:
        raise ArchsimError(f"{what} {p}: is {kind}; allowed a regular file or a new name")
    return st


def same_file(path, st: os.stat_result, what: str = "store") -> None:
    """Refuse (one line) if ``path`` is no longer the very file ``st`` describes (swapped, or now a link)."""
    try:
        now = os.lstat(path)
    except OSError as exc:
        raise ArchsimError(f"{what} {path}: vanished while being opened ({exc.strerror})") from None
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
        raise ArchsimError(f"{what} {path}: was replaced while being opened; refused")

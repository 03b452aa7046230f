"""Reading an untrusted file with a bound: :func:`read_bounded`.

Every user file archsim reads whole (architecture YAML, ONNX models) or opens itself (a user's ``.npz``)
is checked the same way before a byte is read: the path is stat-ed (missing or unreadable: refused), a
folder or a special file (FIFO, device, socket) is refused, the size the file system reports is
compared with the caller's limit, and then at most ``limit + 1`` bytes are read, so a file that grows
between the stat and the read is caught too and nothing larger than the limit is ever allocated.

The callers word their refusals differently (their tests pin each message), so the wording is the
caller's: a :class:`Refusals` of ``str.format`` templates, one per way a file can be refused.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from archsim.model.errors import ArchsimError

__all__ = ["Refusals", "read_bounded"]


@dataclass(frozen=True)
class Refusals:
    """The one-line message for each way :func:`read_bounded` refuses a file.

    Each is a ``str.format`` template; the fields it may use are ``{where}`` (the file as the caller
    names it), ``{size}`` (bytes the file system reports), ``{limit}`` (the caller's limit),
    ``{name}`` (the class of the error met, e.g. ``PermissionError``) and ``{strerror}`` (the
    system's words for it, else the class).  ``special`` defaults to ``folder``'s template, ``read``
    to ``unreadable``'s.  ``empty`` None: an empty file is not refused here.  ``too_big`` and ``grew``
    are used only when the whole file is read.
    """
    missing: str
    unreadable: str
    folder: str
    special: str | None = None
    empty: str | None = None
    too_big: str = "{where} has {size:,} bytes; allowed at most {limit:,}"
    grew: str = "{where} grew beyond {limit:,} bytes while being read"
    read: str | None = None


def _refuse(template: str, where: str, **fields) -> ArchsimError:
    return ArchsimError(template.format(where=where, **fields))


def _error_fields(exc: BaseException) -> dict:
    return {"name": exc.__class__.__name__,
            "strerror": getattr(exc, "strerror", None) or exc.__class__.__name__}


def read_bounded(path: str | Path, limit: int, where: str, refusals: Refusals, *, whole: bool = True) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; refused in one line otherwise.

    ``where`` names the file in the messages (``{where}`` in each of ``refusals``' templates).
    ``whole=True``: a file of more than ``limit`` bytes is refused (by its reported size, and again by
    what was read, in case it grew); the whole file is returned.  ``whole=False``: only the first
    ``limit`` bytes are read and returned (a header, a magic number), whatever the file's size.
    Every failure is an :class:`~archsim.model.errors.ArchsimError` worded by ``refusals``.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _refuse(refusals.missing, where) from None
    except (OSError, ValueError) as exc:        # ValueError: a path Python cannot pass on (an embedded NUL)
        raise _refuse(refusals.unreadable, where, **_error_fields(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise _refuse(refusals.folder, where)
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(refusals.special or refusals.folder, where)
    if refusals.empty is not None and st.st_size == 0:
        raise _refuse(refusals.empty, where)
    if whole and st.st_size > limit:
        raise _refuse(refusals.too_big, where, size=st.st_size, limit=limit)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1 if whole else limit)
    except OSError as exc:
        raise _refuse(refusals.read or refusals.unreadable, where, **_error_fields(exc)) from None
    if whole and len(data) > limit:
        raise _refuse(refusals.grew, where, limit=limit)
    return data

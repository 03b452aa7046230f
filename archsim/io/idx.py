"""IDX files (LeCun's MNIST format, also Fashion-MNIST's), read safely from gzip.

An IDX file is a 4-byte magic ``00 00 <type> <ndim>``, ``ndim`` big-endian
uint32 dimensions, then the values in row-major order, big-endian.  Type codes:
``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D``
float32, ``0x0E`` float64.

:func:`read_idx_gz` refuses, in one line naming the file: a missing file, a file
that is not gzip or whose gzip stream is cut short, a payload larger than the
caller's bound (decompression stops one byte past it, so a gzip bomb costs at
most that much memory), a SHA-256 of the decompressed payload other than the
expected one, a bad magic, a type or rank the caller did not ask for, a
dimension other than the expected one, and a payload shorter or longer than the
dimensions declare.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from archsim.model.errors import ArchsimError

__all__ = ["IDX_TYPES", "parse_idx", "read_gz_bounded", "read_idx_gz"]

#: IDX type code -> numpy dtype (big-endian as stored)
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def parse_idx(raw: bytes, where: str, *, dtype_code: int | None = None, shape=None) -> np.ndarray:
    """The array held by the IDX bytes ``raw`` (native byte order, a copy).

    ``dtype_code`` and ``shape`` (a tuple; ``None`` entries match any size) are
    what the caller expects; anything else is refused in one line.
    """
    if len(raw) < 4:
        raise ArchsimError(f"{where}: {len(raw)} bytes, too short for an IDX header (4-byte magic)")
    z0, z1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if z0 or z1 or code not in IDX_TYPES or not 1 <= ndim <= 8:
        raise ArchsimError(f"{where}: bad IDX magic {raw[:4].hex()}; expected 0000 then a type code "
                           f"({', '.join(f'{c:02x}' for c in IDX_TYPES)}) and 1-8 dimensions")
    if dtype_code is not None and code != dtype_code:
        raise ArchsimError(f"{where}: IDX type {code:#04x} ({IDX_TYPES[code]}); expected {dtype_code:#04x} "
                           f"({IDX_TYPES[dtype_code]})")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ArchsimError(f"{where}: IDX header declares {ndim} dimensions but the file ends after {len(raw)} bytes")
    dims = struct.unpack(f">{ndim}I", raw[4:head])
    if shape is not None:
        shape = tuple(shape)
        if len(shape) != ndim or any(s is not None and s != d for s, d in zip(shape, dims)):
            want = "x".join("*" if s is None else str(s) for s in shape)
            raise ArchsimError(f"{where}: IDX dimensions {'x'.join(map(str, dims))}; expected {want}")
    dt = IDX_TYPES[code]
    declared = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    body = len(raw) - head
    if body != declared:
        what = "truncated" if body < declared else "trailing bytes"
        raise ArchsimError(f"{where}: IDX dimensions {'x'.join(map(str, dims))} declare {declared:,} bytes of "
                           f"{dt}, the file holds {body:,} ({what})")
    return np.frombuffer(raw, dtype=dt, offset=head).reshape(dims).astype(dt.newbyteorder("="))


def read_gz_bounded(path: Path, max_bytes: int, where: str) -> bytes:
    """The decompressed contents of gzip file ``path``, refused past ``max_bytes``."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise ArchsimError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise ArchsimError(f"{where} is a folder; expected a gzip'd IDX file") from None
    except (OSError, EOFError, zlib.error) as e:     # gzip.BadGzipFile is an OSError
        reason = "cut short" if isinstance(e, EOFError) else " ".join(str(e).split())[:120]
        raise ArchsimError(f"{where}: not a readable gzip file ({reason})") from None
    if len(raw) > max_bytes:
        raise ArchsimError(f"{where}: decompresses to more than {max_bytes:,} bytes, refused")
    return raw


def read_idx_gz(path: str | os.PathLike, *, sha256: str | None = None, dtype_code: int | None = None,
                shape=None, max_bytes: int) -> np.ndarray:
    """Read a gzip'd IDX file: bounded decompression, optional SHA-256 of the payload, checked header."""
    path = Path(path)
    where = f"IDX file {path}"
    raw = read_gz_bounded(path, max_bytes, where)
    if sha256 is not None:
        got = hashlib.sha256(raw).hexdigest()
        if got != sha256:
            raise ArchsimError(f"{where}: decompressed SHA-256 {got[:16]}..., expected {sha256[:16]}...; "
                               f"not the published file (corrupt or altered)")
    return parse_idx(raw, where, dtype_code=dtype_code, shape=shape)

"""The result store of sweeps: SQLite (standard library), one row per design point, nothing lost.

* One table ``points(key PRIMARY KEY, config, result, created)``: the stable key of the
  configuration (:func:`archsim.explore.points.point_key`), the configuration and the result as JSON text.
  JSON floats are written with ``repr``, so every float64 reads back bit for bit.
* Every finished point is written in a transaction (``BEGIN IMMEDIATE``; ``INSERT OR IGNORE``;
  ``COMMIT``), its own (:meth:`Store.put`) or its chunk's (:meth:`Store.put_many`, the points a worker
  returns together, at most a few dozen): a row is all there or not there, and a point stored twice (two
  runs of the same sweep) keeps its first row.
* Write-ahead log (``journal_mode=WAL``) with ``synchronous=NORMAL``: a committed point survives the
  process being killed at any moment (SIGKILL included; the WAL is in the operating system's hands
  once ``COMMIT`` returns); a power cut may lose the last few commits but never leaves a torn row.
  Pass ``durable=True`` for ``synchronous=FULL`` (an fsync per point).
* A ``meta`` table keeps a few strings (the model fingerprint the results were computed with).
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from archsim.io.files import claim_regular_file, same_file
from archsim.model.errors import ArchsimError

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key     TEXT PRIMARY KEY NOT NULL CHECK (length(key) = 64),
    config  TEXT NOT NULL,
    result  TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
"""

#: the columns of each table of :data:`SCHEMA`, in order (checked on opening: :meth:`Store._check_columns`)
STORE_COLUMNS = {"points": ("key", "config", "result", "created"), "meta": ("name", "value")}

_INSERT = "INSERT OR IGNORE INTO points (key, config, result, created) VALUES (?, ?, ?, ?)"


def config_json(config: Mapping) -> str:
    """A configuration as the store keeps it: sorted keys, no spaces (what a worker sends as text already)."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


class Store:
    """Resumable result store of one sweep (or of many: keys never collide)."""

    def __init__(self, path: str | Path, durable: bool = False, timeout_s: float = 60.0):
        self.path = Path(path)
        self._con = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # never through a link: the file (and SQLite's -wal, -shm) regular or absent, its folder real;
            # SQLite itself would follow a link, so the file is claimed with O_NOFOLLOW first and checked
            # to be the same file once SQLite has it open
            claimed = claim_regular_file(self.path, "store")
            # autocommit mode: transactions are opened explicitly, one per point
            self._con = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None)
            mode = self._con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            same_file(self.path, claimed, "store")
            if str(mode).lower() != "wal":
                raise ArchsimError(f"{self.path}: the file system does not allow SQLite's write-ahead log "
                                   f"(journal_mode {mode}); put the output folder on a local disk")
            self._con.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._con.executescript(SCHEMA)
            self._check_columns()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ArchsimError(f"{self.path}: not a usable result store ({exc})") from None
        except OSError as exc:
            self.close()
            raise ArchsimError(f"{self.path}: cannot open ({exc.strerror})") from None
        except ArchsimError:
            self.close()
            raise

    def _check_columns(self) -> None:
        """A SQLite file whose tables ``points`` or ``meta`` exist in another shape (not a store of archsim's)
        is refused in one line here, not by an SQL error at the first read."""
        for table, cols in STORE_COLUMNS.items():
            have = tuple(r[1] for r in self._con.execute(f"PRAGMA table_info({table})"))
            if have != cols:
                raise ArchsimError(f"{self.path}: not an archsim result store (table '{table}' has columns "
                                   f"{', '.join(have) or 'none'}; expected {', '.join(cols)}); choose another "
                                   f"output folder or move the file away")

    # -- context manager --
    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    # -- writing --
    def put(self, key: str, config: Mapping | str, result_json: str) -> bool:
        """Store one finished point in its own transaction; False if the key was already there."""
        cfg = config if isinstance(config, str) else config_json(config)
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            cur = con.execute(_INSERT, (key, cfg, result_json, time.time()))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return cur.rowcount == 1

    def put_many(self, rows: Iterable[tuple[str, Mapping | str, str]]) -> list[bool]:
        """Store finished points ``(key, config, result JSON)`` in one transaction; for each, whether it was new.

        One ``executemany`` (SQLite's loop, not Python's); when it inserted fewer rows than it was given (a key
        already stored, by another run or twice in ``rows``) the transaction is rolled back and the rows are
        inserted one at a time, so each one's flag is known."""
        now = time.time()
        params = [(key, config if isinstance(config, str) else config_json(config), result_json, now)
                  for key, config, result_json in rows]
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            cur = con.executemany(_INSERT, params)
            if cur.rowcount == len(params):
                con.execute("COMMIT")
                return [True] * len(params)
            con.execute("ROLLBACK")
            con.execute("BEGIN IMMEDIATE")
            new = [con.execute(_INSERT, p).rowcount == 1 for p in params]
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return new

    def meta_set(self, name: str, value: str) -> None:
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, str(value)))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    # -- reading --
    def meta_get(self, name: str) -> str | None:
        row = self._con.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def keys(self) -> set[str]:
        return {r[0] for r in self._con.execute("SELECT key FROM points")}

    def __len__(self) -> int:
        return int(self._con.execute("SELECT count(*) FROM points").fetchone()[0])

    def rows(self) -> Iterator[tuple[str, dict, dict]]:
        """Every stored point as ``(key, config, result)``, in key order."""
        for key, cfg, res in self._con.execute("SELECT key, config, result FROM points ORDER BY key"):
            yield key, self._load(key, cfg, "config"), self._load(key, res, "result")

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        """``{key: result}`` for the given keys that are stored."""
        wanted = set(keys)
        out = {}
        for key, res in self._con.execute("SELECT key, result FROM points"):
            if key in wanted:
                out[key] = self._load(key, res, "result")
        return out

    def _load(self, key: str, text: str, what: str) -> dict:
        try:
            v = json.loads(text)
        except (TypeError, ValueError, RecursionError):   # RecursionError: JSON nested deeper than the stack
            raise ArchsimError(f"{self.path}: point {key[:12]} has a {what} that is not valid JSON") from None
        if not isinstance(v, dict):
            raise ArchsimError(f"{self.path}: point {key[:12]} has a {what} that is not a JSON object")
        return v

    def verify(self, key_of: Callable[[dict], str]) -> list[str]:
        """Problems found (empty when sound): SQLite's integrity check, JSON of every row, and each key equal to
        ``key_of(config)`` (the caller's key function, e.g. :func:`archsim.explore.points.point_key`)."""
        problems = [r[0] for r in self._con.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for key, cfg, res in self._con.execute("SELECT key, config, result FROM points"):
            try:
                c = json.loads(cfg)
                r = json.loads(res)
            except (ValueError, RecursionError):
                problems.append(f"point {key[:12]}: invalid JSON")
                continue
            if key_of(c) != key:
                problems.append(f"point {key[:12]}: key does not match its configuration")
            if not isinstance(r, dict) or not (("summary" in r) ^ ("error" in r)):
                problems.append(f"point {key[:12]}: result is neither a summary nor an error")
        return problems

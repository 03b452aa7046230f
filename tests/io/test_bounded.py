"""archsim.io.bounded.read_bounded: the one bounded read every untrusted whole-file reader shares."""
import os

import pytest

from archsim.io.bounded import Refusals, read_bounded
from archsim.model.errors import ArchsimError

R = Refusals(missing="{where}: missing", unreadable="{where}: unreadable ({name})", folder="{where}: folder",
             special="{where}: special", empty="{where}: empty",
             too_big="{where}: {size:,} > {limit:,}", grew="{where}: grew past {limit:,}")


def test_reads_a_file_up_to_the_limit_exactly(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"x" * 10)
    assert read_bounded(p, 10, "A", R) == b"x" * 10
    with pytest.raises(ArchsimError, match=r"^A: 10 > 9$"):
        read_bounded(p, 9, "A", R)


def test_each_refusal_uses_the_callers_template(tmp_path):
    with pytest.raises(ArchsimError, match=r"^M: missing$"):
        read_bounded(tmp_path / "none", 10, "M", R)
    with pytest.raises(ArchsimError, match=r"^D: folder$"):
        read_bounded(tmp_path, 10, "D", R)
    (tmp_path / "e").write_bytes(b"")
    with pytest.raises(ArchsimError, match=r"^E: empty$"):
        read_bounded(tmp_path / "e", 10, "E", R)
    with pytest.raises(ArchsimError, match=r"^N: unreadable \(ValueError\)$"):   # embedded NUL: no traceback
        read_bounded(str(tmp_path / "a\0b"), 10, "N", R)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)                     # opening it would block forever: the stat must refuse it first
    with pytest.raises(ArchsimError, match=r"^F: special$"):
        read_bounded(fifo, 10, "F", R)


def test_a_file_that_grows_after_the_stat_is_caught(tmp_path, monkeypatch):
    p = tmp_path / "g"
    p.write_bytes(b"x" * 4)
    real = os.stat

    def stat_then_grow(path, *a, **k):      # the stat sees 4 bytes; the file then grows to 20
        st = real(path, *a, **k)
        p.write_bytes(b"x" * 20)
        return st
    monkeypatch.setattr(os, "stat", stat_then_grow)
    with pytest.raises(ArchsimError, match=r"^G: grew past 10$"):
        read_bounded(p, 10, "G", R)


def test_head_read_returns_the_first_bytes_of_any_size(tmp_path):
    p = tmp_path / "big"
    p.write_bytes(b"0123456789" * 100)
    assert read_bounded(p, 6, "H", R, whole=False) == b"012345"

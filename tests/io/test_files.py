"""atomic_write: the target appears whole or not at all, writers never share a temporary file,
and the file gets the contents and permissions a plain write would give it."""
import os
import stat
import threading

import numpy as np
import pytest

from archsim.io.files import atomic_write


class Boom(Exception):
    pass


def _half_then_fail(f):
    f.write(b"half of it")
    f.flush()
    raise Boom("the writer fails midway")


def test_bytes_str_and_writer_land_whole(tmp_path):
    p = tmp_path / "a.bin"
    assert atomic_write(p, b"\x00\x01binary") == p
    assert p.read_bytes() == b"\x00\x01binary"
    atomic_write(p, "grüße\n")
    assert p.read_bytes() == "grüße\n".encode("utf-8")
    atomic_write(str(p), lambda f: np.savez_compressed(f, x=np.arange(5)))
    with np.load(p) as z:
        assert z["x"].tolist() == [0, 1, 2, 3, 4]
    assert os.listdir(tmp_path) == ["a.bin"]


def test_failing_writer_leaves_no_file_and_no_temp(tmp_path):
    p = tmp_path / "new.npz"
    with pytest.raises(Boom):
        atomic_write(p, _half_then_fail)
    assert os.listdir(tmp_path) == []


def test_failing_writer_keeps_the_old_file_whole(tmp_path):
    p = tmp_path / "table.csv"
    p.write_text("old,contents\n")
    for err in (Boom, KeyboardInterrupt):
        def writer(f, err=err):
            f.write(b"new,")
            raise err()
        with pytest.raises(err):
            atomic_write(p, writer)
        assert p.read_text() == "old,contents\n"
        assert os.listdir(tmp_path) == ["table.csv"]


def test_two_threads_on_one_path_use_their_own_temp_files(tmp_path):
    p = tmp_path / "shared.bin"
    both_inside = threading.Barrier(2, timeout=10)
    temps, errors = [], []
    payload = {k: bytes([k]) * 100_000 for k in (1, 2)}

    def writer(k):
        def write(f):
            f.write(payload[k][:50_000])
            both_inside.wait()          # both writers hold a half-written temporary file at once
            temps.append(sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp")))
            both_inside.wait()
            f.write(payload[k][50_000:])
        return write

    def run(k):
        try:
            for _ in range(5):
                atomic_write(p, writer(k))
        except BaseException as e:      # noqa: BLE001  reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(temps) == 10
    assert all(len(seen) == 2 and all(n.startswith(".shared.bin.") for n in seen) for seen in temps)
    assert p.read_bytes() in payload.values()
    assert os.listdir(tmp_path) == ["shared.bin"]


def test_new_file_gets_the_umask_mode_and_an_old_one_keeps_its_own(tmp_path):
    old = os.umask(0o027)
    try:
        p = atomic_write(tmp_path / "new.md", "# title\n")
        assert stat.S_IMODE(p.stat().st_mode) == 0o640        # 0o666 less the umask, not mkstemp's 0o600
        q = tmp_path / "private.npz"
        q.write_bytes(b"x")
        q.chmod(0o600)
        atomic_write(q, b"y")
        assert stat.S_IMODE(q.stat().st_mode) == 0o600
        assert q.read_bytes() == b"y"
    finally:
        os.umask(old)


def test_missing_folder_and_bad_data_raise(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "no" / "such.txt", b"x")
    with pytest.raises(TypeError, match="bytes, str or a callable"):
        atomic_write(tmp_path / "x.txt", 3)
    assert os.listdir(tmp_path) == []

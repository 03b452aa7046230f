"""Fixtures shared by every test folder; the builders behind them are in ``tests/support.py``."""
import os
import stat

import pytest

from tests.support import lenet


@pytest.fixture
def small_lenet():
    return lenet()


@pytest.fixture(scope="session", autouse=True)
def _dev_null_stays_the_null_device():
    """No test may replace a device node: ``/dev/null`` is the same character device after the suite (run as
    root, a writer that followed the old habit of ``os.replace`` onto ``-o /dev/null`` would replace it)."""
    before = os.lstat("/dev/null") if os.path.lexists("/dev/null") else None
    yield
    if before is not None:
        after = os.lstat("/dev/null")
        assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev), \
            "/dev/null was replaced during the test session"

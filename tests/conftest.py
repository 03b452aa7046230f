"""Fixtures shared by every test folder; the builders behind them are in ``tests/support.py``."""
import pytest

from tests.support import lenet


@pytest.fixture
def small_lenet():
    return lenet()

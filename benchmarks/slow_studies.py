"""Run the long studies the test suite leaves out (tests marked ``@pytest.mark.slow``).

The default test run excludes them (``pyproject.toml``: ``addopts = "-m 'not slow'"``) so the suite stays
fast; each is a reproduction of a published ordering or claim that needs minutes of Monte Carlo:

- ``tests/sim/test_accuracy.py::test_lenet5_mnist_devices_follow_seed002``: LeNet-5 on MNIST, SONOS and
  ReRAM near float at an 8-bit ADC, PCM after a day of drift clearly lower;
- ``tests/studies/test_fashion.py::test_large_programming_error_scores_below_sram_beyond_the_interval``:
  on Fashion-MNIST a 40x programming error scores below SRAM beyond both 95% intervals;
- ``tests/explore/test_validate.py::test_accuracy_claims``: the accuracy claims of ``archsim validate``.

Usage: ``python benchmarks/slow_studies.py [extra pytest arguments]``; exit status is pytest's.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "slow", "--durations=0", "tests", *argv]
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

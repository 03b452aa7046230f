import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from archsim.model.workload import GraphBuilder  # noqa: E402


def lenet(hw: int = 32) -> "Workload":
    b = GraphBuilder("lenet_t", (1, hw, hw))
    b.conv("c1", 6, 5)
    b.maxpool("p1", 2)
    b.conv("c2", 16, 5)
    b.maxpool("p2", 2)
    b.conv("c3", 120, 5)
    b.dense("f6", 84)
    b.dense("f7", 10, relu=False)
    return b.build()


def single_dense(k: int, n: int, relu: bool = False):
    b = GraphBuilder(f"dense_{k}x{n}", (k,))
    b.dense("fc", n, relu=relu, bias=False)
    return b.build()


def single_conv(cin: int, cout: int, hw: int, k: int = 3, groups: int = 1):
    b = GraphBuilder(f"conv_{cin}_{cout}_{hw}", (cin, hw, hw))
    b.conv("conv", cout, k, padding=k // 2, groups=groups, relu=False)
    return b.build()


@pytest.fixture
def small_lenet():
    return lenet()

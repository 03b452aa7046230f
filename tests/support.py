"""Shared builders and constants for the tests (not a test module): small networks built with
GraphBuilder, the repository root, and seed 002's tile table.  Tests import them as
``from tests.support import ...``; fixtures that wrap them live in ``conftest.py``."""
from contextlib import contextmanager
from pathlib import Path

from archsim.model.workload import GraphBuilder

ROOT = Path(__file__).resolve().parents[1]

# Seed 002, slide "Training Accuracy and Tile Energy/Summary": energy/op (fJ), array latency (us)
SEED002 = {
    "ecram": {"vmm": (11.9, 0.39), "mvm": (11.9, 0.39), "opu": (0.2, 1.9)},
    "reram": {"vmm": (12.2, 0.38), "mvm": (12.2, 0.38), "opu": (2.1, 0.51)},
    "sonos": {"vmm": (13.7, 0.40), "mvm": (13.7, 0.40), "opu": (68.2, 20)},
    "sram": {"vmm": (2718, 4), "mvm": (4630, 32), "opu": (4102, 8)},
}


def lenet(hw: int = 32):
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

def mnist_cnn():
    """The three-conv MNIST CNN: 3x3 convs of 32/64/128 channels on 28x28, FC 1152-256-10."""
    b = GraphBuilder("mnist_cnn", (1, 28, 28))
    b.conv("c1", 32, 3)
    b.maxpool("p1", 2)
    b.conv("c2", 64, 3)
    b.maxpool("p2", 2)
    b.conv("c3", 128, 3)
    b.dense("f1", 256)
    b.dense("f2", 10, relu=False)
    return b.build()


def tiny_mlp(name: str):
    """A small network without shipped weights (so sizing checks it by fidelity) that simulates in a second:
    256-256-256-10 dense layers, named ``name``."""
    b = GraphBuilder(name, (256,), "test network", "")
    b.dense("fc1", 256)
    b.dense("fc2", 256)
    b.dense("fc3", 10, relu=False)
    return b.build()


@contextmanager
def registered_tiny_mlp(name: str):
    """:func:`tiny_mlp` registered as the built-in workload ``name`` for the duration of the block."""
    import workloads
    workloads.register(name, lambda: tiny_mlp(name), "test network", replace=True)
    try:
        yield
    finally:
        workloads._unregister(name)

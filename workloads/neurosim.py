"""Networks as DNN+NeuroSim V1.4 describes them (Inference_pytorch/NeuroSIM/NetWork_*.csv).

A NeuroSim network file lists its weighted layers in order, one per line: input height, input width,
input channels, kernel height, kernel width, output channels, pooling after (0/1), stride.  NeuroSim
simulates them as a chain (each layer's input is the previous one's output, pooled where flagged), so
archsim builds them the same way: a 'same'-padded convolution per line (a 1 x 1 input is a dense layer),
a 2 x 2 max pool where flagged (global average pooling before a dense layer).  The numbers below are
NeuroSim V1.4's own files (github.com/neurosim/DNN_NeuroSim_V1.4)."""
from __future__ import annotations

from archsim.model.workload import GraphBuilder, Workload

# NetWork_DenseNet40.csv: H, W, C_in, kh, kw, C_out, pool, stride
DENSENET40_ROWS = (
    (32, 32, 3, 3, 3, 24, 0, 1), (32, 32, 24, 1, 1, 48, 0, 1), (32, 32, 48, 3, 3, 36, 0, 1),
    (32, 32, 36, 1, 1, 48, 0, 1), (32, 32, 48, 3, 3, 48, 0, 1), (32, 32, 48, 1, 1, 48, 0, 1),
    (32, 32, 48, 3, 3, 60, 0, 1), (32, 32, 60, 1, 1, 48, 0, 1), (32, 32, 48, 3, 3, 72, 0, 1),
    (32, 32, 72, 1, 1, 48, 0, 1), (32, 32, 48, 3, 3, 84, 0, 1), (32, 32, 84, 1, 1, 48, 0, 1),
    (32, 32, 48, 3, 3, 96, 0, 1), (32, 32, 96, 1, 1, 48, 1, 1), (16, 16, 48, 1, 1, 48, 0, 1),
    (16, 16, 48, 3, 3, 60, 0, 1), (16, 16, 60, 1, 1, 48, 0, 1), (16, 16, 48, 3, 3, 72, 0, 1),
    (16, 16, 72, 1, 1, 48, 0, 1), (16, 16, 48, 3, 3, 84, 0, 1), (16, 16, 84, 1, 1, 48, 0, 1),
    (16, 16, 48, 3, 3, 96, 0, 1), (16, 16, 96, 1, 1, 48, 0, 1), (16, 16, 48, 3, 3, 108, 0, 1),
    (16, 16, 108, 1, 1, 48, 0, 1), (16, 16, 48, 3, 3, 120, 0, 1), (16, 16, 120, 1, 1, 60, 1, 1),
    (8, 8, 60, 1, 1, 48, 0, 1), (8, 8, 48, 3, 3, 72, 0, 1), (8, 8, 72, 1, 1, 48, 0, 1),
    (8, 8, 48, 3, 3, 84, 0, 1), (8, 8, 84, 1, 1, 48, 0, 1), (8, 8, 48, 3, 3, 96, 0, 1),
    (8, 8, 96, 1, 1, 48, 0, 1), (8, 8, 48, 3, 3, 108, 0, 1), (8, 8, 108, 1, 1, 48, 0, 1),
    (8, 8, 48, 3, 3, 120, 0, 1), (8, 8, 120, 1, 1, 48, 0, 1), (8, 8, 48, 3, 3, 132, 1, 1),
    (1, 1, 132, 1, 1, 10, 0, 1),
)
DENSENET40 = ("DenseNet-40 for CIFAR-10 as DNN+NeuroSim V1.4 simulates it (NetWork_DenseNet40.csv): 39 'same' "
              "convolutions (3x3 growth layers alternating with 1x1 ones) in three stages of 32, 16 and 8 pixels, "
              "then a 132 -> 10 classifier")


def from_rows(name: str, rows, description: str = "", dataset: str = "cifar10") -> Workload:
    """A chain of layers from NeuroSim network-file rows (see the module docstring)."""
    h, w, c = rows[0][0], rows[0][1], rows[0][2]
    b = GraphBuilder(name, (c, h, w), description, dataset)
    for i, (hi, wi, ci, kh, kw, co, pool, stride) in enumerate(rows, start=1):
        last = i == len(rows)
        if hi == 1 and wi == 1:
            if b.shape()[1:] != (1, 1):
                b.globalavgpool(f"gap{i}")
            b.flatten(f"flatten{i}")
            b.dense(f"fc{i}", co, relu=not last, bias=False)
            continue
        b.conv(f"conv{i}", co, (kh, kw), stride=stride, padding=(kh // 2, kw // 2), bias=False)
        if pool and not (i < len(rows) and rows[i][0] == 1):
            b.maxpool(f"pool{i}", 2)
    return b.build()


def densenet40() -> Workload:
    return from_rows("densenet40", DENSENET40_ROWS, DENSENET40)

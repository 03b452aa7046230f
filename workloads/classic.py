"""Classic image classifiers, the MLP of Zhang et al. (ASP-DAC 2020) and a small VGG-style Fashion-MNIST network.

Counts are conv + FC weights without bias and MACs per image (see
the workload table of Marinella et al. (Sandia slides 2022) and the original papers; ``fashion_vgg`` is archsim's own):

===========  ===========  ==============
network      weights      MACs
===========  ===========  ==============
lenet5       61,470       416,520
alexnet      61,090,496   714,188,480
vgg8         12,973,440   615,917,568
vgg16        138,344,128  15,470,264,320
mlp          545,000      545,000
fashion_vgg  54,920       1,236,224
===========  ===========  ==============
"""
from __future__ import annotations

from archsim.model.errors import ArchsimError
from archsim.model.workload import GraphBuilder, Workload

LENET5 = ("LeNet-5 (LeCun et al., Proc. IEEE 1998) on 32x32 MNIST: conv 6@5x5, pool, conv 16@5x5 "
          "(full C3 connectivity), pool, conv 120@5x5, dense 84, 10; 2x2 max pooling replaces the "
          "trainable subsampling, ReLU replaces tanh")
ALEXNET = ("AlexNet as in torchvision (Krizhevsky et al. 2012, one-GPU variant) at 224x224: "
           "5 conv (64@11 s4, 192@5, 384, 256, 256 @3) with 3/2 max pooling, dense 4096, 4096, 1000")
VGG8 = ("VGG-8 for CIFAR-10 as in DNN+NeuroSim (Peng et al.): conv3x3 128, 128, pool, 256, 256, pool, "
        "512, 512, pool, dense 8192->1024->10")
VGG16 = ("VGG-16 (Simonyan & Zisserman 2015) as in torchvision at 224x224: 13 conv3x3 with 5 max pools, "
         "dense 25088->4096->4096->1000")
MNIST_CNN3 = ("Three-conv MNIST CNN, a test network for simulation speed (no trained weights ship: seeded random weights, fidelity): "
              "conv3x3 32, pool, 64, pool, 128 (padding 1), pool (7 -> 3), dense 1152 -> 256 -> 10; "
              "7,748,608 MACs per image")
FASHION_VGG = ("Small VGG-style CNN for 28x28 Fashion-MNIST (archsim's own, weights trained by "
               "scripts/train_weights.py): conv3x3 8, 8, pool, 16, 16, pool (padding 1, ReLU, bias), "
               "dense 784 -> 64 -> 10; sized to train in about half an hour on 2 busy cores")
MLP = ("784-500-300-10 MLP on MNIST from Zhang, Uysal, Fan and Ewetz, 'Representable Matrices'; "
       "ReLU hidden layers assumed")


def adaptive_avgpool(b: GraphBuilder, name: str, out_hw: int) -> str:
    """torchvision's ``AdaptiveAvgPool2d(out_hw)``: identity when the map already has that size."""
    _, h, w = b.shape()
    if (h, w) == (out_hw, out_hw):
        return b.elementwise("identity", name)
    if h % out_hw or w % out_hw:
        raise ArchsimError(f"workload {b.name}: adaptive pooling {h}x{w} -> {out_hw}x{out_hw} is not a plain window")
    return b.avgpool(name, (h // out_hw, w // out_hw))


def lenet5() -> Workload:
    b = GraphBuilder("lenet5", (1, 32, 32), LENET5, "mnist")
    b.conv("conv1", 6, 5, bias=True)
    b.maxpool("pool1", 2)
    b.conv("conv2", 16, 5, bias=True)
    b.maxpool("pool2", 2)
    b.conv("conv3", 120, 5, bias=True)
    b.flatten("flatten")
    b.dense("fc1", 84)
    b.dense("fc2", 10, relu=False)
    return b.build()


def alexnet() -> Workload:
    b = GraphBuilder("alexnet", (3, 224, 224), ALEXNET, "imagenet")
    b.conv("conv1", 64, 11, stride=4, padding=2, bias=True)
    b.maxpool("pool1", 3, 2)
    b.conv("conv2", 192, 5, padding=2, bias=True)
    b.maxpool("pool2", 3, 2)
    b.conv("conv3", 384, 3, padding=1, bias=True)
    b.conv("conv4", 256, 3, padding=1, bias=True)
    b.conv("conv5", 256, 3, padding=1, bias=True)
    b.maxpool("pool5", 3, 2)
    adaptive_avgpool(b, "avgpool", 6)
    b.flatten("flatten")
    b.dense("fc6", 4096)
    b.dense("fc7", 4096)
    b.dense("fc8", 1000, relu=False)
    return b.build()


def _vgg(b: GraphBuilder, stages: list[list[int]], bias: bool) -> None:
    for s, widths in enumerate(stages, start=1):
        for i, cout in enumerate(widths, start=1):
            b.conv(f"conv{s}_{i}", cout, 3, padding=1, bias=bias)
        b.maxpool(f"pool{s}", 2)


def vgg8() -> Workload:
    b = GraphBuilder("vgg8", (3, 32, 32), VGG8, "cifar10")
    _vgg(b, [[128, 128], [256, 256], [512, 512]], bias=False)
    b.flatten("flatten")
    b.dense("fc1", 1024, bias=False)
    b.dense("fc2", 10, relu=False, bias=False)
    return b.build()


def vgg16() -> Workload:
    b = GraphBuilder("vgg16", (3, 224, 224), VGG16, "imagenet")
    _vgg(b, [[64] * 2, [128] * 2, [256] * 3, [512] * 3, [512] * 3], bias=True)
    adaptive_avgpool(b, "avgpool", 7)
    b.flatten("flatten")
    b.dense("fc6", 4096)
    b.dense("fc7", 4096)
    b.dense("fc8", 1000, relu=False)
    return b.build()


def mlp() -> Workload:
    b = GraphBuilder("mlp", (784,), MLP, "mnist")
    b.dense("fc1", 500)
    b.dense("fc2", 300)
    b.dense("fc3", 10, relu=False)
    return b.build()


def mnist_cnn3() -> Workload:
    b = GraphBuilder("mnist_cnn3", (1, 28, 28), MNIST_CNN3, "mnist")
    b.conv("conv1", 32, 3, padding=1, bias=True)     # 32 x 28 x 28
    b.maxpool("pool1", 2)                            # 32 x 14 x 14
    b.conv("conv2", 64, 3, padding=1, bias=True)     # 64 x 14 x 14
    b.maxpool("pool2", 2)                            # 64 x 7 x 7
    b.conv("conv3", 128, 3, padding=1, bias=True)    # 128 x 7 x 7
    b.maxpool("pool3", 2)                            # 128 x 3 x 3 (floor)
    b.flatten("flatten")                             # 1152
    b.dense("fc1", 256)
    b.dense("fc2", 10, relu=False)
    return b.build()


def fashion_vgg() -> Workload:
    b = GraphBuilder("fashion_vgg", (1, 28, 28), FASHION_VGG, "fashion-mnist")
    _vgg(b, [[8, 8], [16, 16]], bias=True)           # 8 x 28 x 28 -> 8 x 14 x 14 -> 16 x 7 x 7
    b.flatten("flatten")                             # 784
    b.dense("fc1", 64)
    b.dense("fc2", 10, relu=False)
    return b.build()

"""Residual networks as in torchvision (He et al., CVPR 2016), 224x224 ImageNet.

Layer names follow torchvision's module paths: ``conv1``, ``maxpool``,
``layer2.0.conv1``, ``layer2.0.downsample`` (torchvision's ``downsample.0``),
``layer2.0.add`` (the residual sum, ReLU fused), ``avgpool``, ``fc``.
Batch normalization is folded into the convolutions.
"""
from __future__ import annotations

from archsim.model.workload import GraphBuilder, Workload

RESNET18 = "ResNet-18 (He et al. 2016) as in torchvision at 224x224: basic blocks [2, 2, 2, 2], BN folded"
RESNET50 = ("ResNet-50 v1.5 (He et al. 2016) as in torchvision at 224x224: bottlenecks [3, 4, 6, 3] with the "
            "stride in the 3x3 conv, 1x1 downsample convs, BN folded")
RESNET50V1 = ("ResNet-50 v1 (He et al. 2016, original Caffe model) at 224x224: as resnet50 but with the stride "
              "in the first 1x1 conv of each bottleneck")


def _stem(name: str, description: str) -> GraphBuilder:
    b = GraphBuilder(name, (3, 224, 224), description, "imagenet")
    b.conv("conv1", 64, 7, stride=2, padding=3)
    b.maxpool("maxpool", 3, 2, padding=1)
    return b


def _head(b: GraphBuilder) -> Workload:
    b.globalavgpool("avgpool")
    b.flatten("flatten")
    b.dense("fc", 1000, relu=False)
    return b.build()


def _basic(b: GraphBuilder, p: str, cout: int, stride: int) -> None:
    x = b.last
    b.conv(f"{p}.conv1", cout, 3, stride=stride, padding=1, src=x)
    y = b.conv(f"{p}.conv2", cout, 3, padding=1, relu=False)
    if stride != 1 or b.shape(x)[0] != cout:
        x = b.conv(f"{p}.downsample", cout, 1, stride=stride, relu=False, src=x)
    b.add(f"{p}.add", [y, x])


def _bottleneck(b: GraphBuilder, p: str, width: int, stride: int, stride_in_3x3: bool) -> None:
    x = b.last
    cout = 4 * width
    s1, s3 = (1, stride) if stride_in_3x3 else (stride, 1)
    b.conv(f"{p}.conv1", width, 1, stride=s1, src=x)
    b.conv(f"{p}.conv2", width, 3, stride=s3, padding=1)
    y = b.conv(f"{p}.conv3", cout, 1, relu=False)
    if stride != 1 or b.shape(x)[0] != cout:
        x = b.conv(f"{p}.downsample", cout, 1, stride=stride, relu=False, src=x)
    b.add(f"{p}.add", [y, x])


_STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (width, first stride) per stage


def resnet18() -> Workload:
    b = _stem("resnet18", RESNET18)
    for s, ((width, stride), n) in enumerate(zip(_STAGES, (2, 2, 2, 2)), start=1):
        for i in range(n):
            _basic(b, f"layer{s}.{i}", width, stride if i == 0 else 1)
    return _head(b)


def _resnet50(name: str, description: str, stride_in_3x3: bool) -> Workload:
    b = _stem(name, description)
    for s, ((width, stride), n) in enumerate(zip(_STAGES, (3, 4, 6, 3)), start=1):
        for i in range(n):
            _bottleneck(b, f"layer{s}.{i}", width, stride if i == 0 else 1, stride_in_3x3)
    return _head(b)


def resnet50() -> Workload:
    return _resnet50("resnet50", RESNET50, stride_in_3x3=True)


def resnet50v1() -> Workload:
    return _resnet50("resnet50v1", RESNET50V1, stride_in_3x3=False)

"""ONNX import and export: operators against ONNX's own reference evaluator and the built-in
equivalents, round trips of every built-in workload, the accuracy path, and untrusted files."""
import os
import subprocess
import sys

import numpy as np
import pytest

import onnx  # noqa: E402  (the test extra installs it: pip install ".[test,all]")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

import workloads  # noqa: E402
from archsim import GraphBuilder, api  # noqa: E402
from archsim.cli import main as cli  # noqa: E402
from archsim.io import data  # noqa: E402
from archsim.model import weights  # noqa: E402
from archsim.sim import forward  # noqa: E402
from archsim.io import onnx as onnx_io  # noqa: E402
from archsim.io.onnx import guard as onnx_guard  # noqa: E402
from archsim.model.errors import ArchsimError  # noqa: E402
from tests.support import ROOT  # noqa: E402

RNG = np.random.default_rng(7)


# ---------------------------------------------------------------- helpers ----
def _w(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


class Net:
    """Builds an ONNX graph with onnx.helper: nodes, initializers, one input 'x'."""

    def __init__(self, in_shape, batch="N", opset=17):
        self.in_shape, self.batch, self.opset = tuple(in_shape), batch, opset
        self.nodes, self.inits = [], []

    def init(self, name, arr):
        self.inits.append(nh.from_array(np.asarray(arr), name))
        return name

    def node(self, op, ins, out, name=None, **attrs):
        self.nodes.append(oh.make_node(op, ins, [out], name=name or out, **attrs))
        return out

    def model(self, out, rank=2):
        x = oh.make_tensor_value_info("x", TP.FLOAT, [self.batch, *self.in_shape])
        y = oh.make_tensor_value_info(out, TP.FLOAT, [None] * rank)
        g = oh.make_graph(self.nodes, "net", [x], [y], initializer=self.inits)
        return oh.make_model(g, opset_imports=[oh.make_opsetid("", self.opset)], ir_version=8)

    def save(self, out, path, rank=2):
        m = self.model(out, rank)
        onnx.save(m, str(path))
        return m, path


def reference(model, x):
    return ReferenceEvaluator(model).run(None, {model.graph.input[0].name: x})[0]


def check_forward(model, path, n=3, **kw):
    """Import, run archsim's forward pass and compare with ONNX's reference evaluator (1e-4)."""
    wl = onnx_io.load_onnx(path, **kw)
    x = RNG.standard_normal((n,) + tuple(wl.input_layer.out_shape)).astype(np.float32)
    want = reference(model, x)
    got = forward.run(wl, x)
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-4, atol=1e-4)
    return wl


def strip(wl):
    """Layer records without weights (equality ignores them) in topological order."""
    return [(l.kind, l.in_shape, l.out_shape, l.kernel, l.stride, l.padding, l.groups, l.activation, l.has_bias)
            for l in wl.layers()]


def one_line_error(fn, match):
    with pytest.raises(ArchsimError, match=match) as e:
        fn()
    assert "\n" not in str(e.value)
    return str(e.value)


# -------------------------------------------------------------- operators ----
def test_conv_bn_relu_pool_gemm_matches_reference_and_builder(tmp_path):
    n = Net((3, 12, 12))
    W1, b1 = _w(8, 3, 3, 3), _w(8)
    gamma, beta, mean, var = _w(8) + 1, _w(8), _w(8), np.abs(_w(8)) + 0.5
    n.node("Conv", ["x", n.init("c1.w", W1), n.init("c1.b", b1)], "c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    n.node("BatchNormalization", ["c1", n.init("g", gamma), n.init("bt", beta), n.init("m", mean), n.init("v", var)],
           "bn", epsilon=1e-3)
    n.node("Relu", ["bn"], "r1")
    n.node("MaxPool", ["r1"], "p1", kernel_shape=[2, 2], strides=[2, 2])
    n.node("Flatten", ["p1"], "flat", axis=1)
    W2, b2 = _w(16, 288, scale=0.05), _w(16)
    n.node("Gemm", ["flat", n.init("f1.w", W2), n.init("f1.b", b2)], "f1", transB=1, alpha=0.5, beta=2.0)
    n.node("Relu", ["f1"], "r2")
    W3 = _w(16, 10)                       # transB=0: the (K, N) layout
    n.node("Gemm", ["r2", n.init("f2.w", W3)], "f2")
    model, path = n.save("f2", tmp_path / "net.onnx")
    wl = check_forward(model, path)

    b = GraphBuilder("net", (3, 12, 12))
    b.conv("c1", 8, 3, padding=1, bias=True)
    b.maxpool("p1", 2)
    b.flatten("flat")
    b.dense("f1", 16)
    b.dense("f2", 10, relu=False, bias=False)
    ref = b.build()
    assert strip(wl) == strip(ref)
    assert [l.name for l in wl.layers()] == [l.name for l in ref.layers()]
    assert wl.total_macs == ref.total_macs and wl.mvm_table().equals(ref.mvm_table())
    assert api.estimate(wl, "sonos").summary == api.estimate(ref, "sonos").summary
    Wf, bf = weights.fold_batchnorm(W1, b1, gamma, beta, mean, var, 1e-3)
    c1 = wl.layer("c1")
    np.testing.assert_allclose(c1.weights, Wf, rtol=1e-6)
    np.testing.assert_allclose(c1.bias, bf, rtol=1e-5, atol=1e-7)
    assert c1.activation == "relu"
    np.testing.assert_allclose(wl.layer("f1").weights, 0.5 * W2, rtol=1e-6)
    np.testing.assert_allclose(wl.layer("f1").bias, 2.0 * b2, rtol=1e-6)
    np.testing.assert_array_equal(wl.layer("f2").weights, W3.T)


def test_depthwise_and_same_padding(tmp_path):
    n = Net((6, 11, 11))
    n.node("Conv", ["x", n.init("dw.w", _w(6, 1, 3, 3))], "dw", group=6, strides=[2, 2], auto_pad="SAME_UPPER")
    n.node("Relu", ["dw"], "dwr")
    pw_b, extra = _w(12), _w(1, 12, 1, 1)
    n.node("Conv", ["dwr", n.init("pw.w", _w(12, 6, 1, 1)), n.init("pw.b", pw_b)], "pw", auto_pad="VALID")
    n.node("Add", ["pw", n.init("pw.extra", extra)], "pwb")                   # folds into pw's bias
    n.node("Relu", ["pwb"], "pwr")                                            # then fuses into pw
    n.node("Conv", ["pwr", n.init("lo.w", _w(12, 3, 2, 2))], "lo", group=4, auto_pad="SAME_LOWER")
    n.node("GlobalAveragePool", ["lo"], "gap")
    n.node("Flatten", ["gap"], "flat")
    n.node("Gemm", ["flat", n.init("fc.w", _w(5, 12)), n.init("fc.b", _w(5))], "fc", transB=1)
    model, path = n.save("fc", tmp_path / "dw.onnx")
    wl = check_forward(model, path)
    dw, lo = wl.layer("dw"), wl.layer("lo")
    assert dw.groups == 6 and dw.out_shape == (6, 6, 6) and dw.padding == (1, 1, 1, 1) and dw.activation == "relu"
    assert lo.groups == 4 and lo.padding == (1, 1, 0, 0) and lo.out_shape == (12, 6, 6)
    assert dw.macs == 6 * 9 * 36 and wl.layer("pw").K == 6 and wl.layer("pw").activation == "relu"
    np.testing.assert_allclose(wl.layer("pw").bias, pw_b + extra.reshape(12), rtol=1e-6)
    assert [l.kind for l in wl.layers()] == ["input", "conv", "conv", "conv", "globalavgpool", "flatten", "dense"]


def test_matmul_add_bias_fold(tmp_path):
    n = Net((20,))
    W1, b1, W2, b2 = _w(20, 30), _w(30), _w(30, 4), _w(1, 4)
    n.node("MatMul", ["x", n.init("W1", W1)], "mm1")
    n.node("Add", ["mm1", n.init("b1", b1)], "a1")
    n.node("Relu", ["a1"], "r1")
    n.node("MatMul", ["r1", n.init("W2", W2)], "mm2")
    n.node("Add", [n.init("b2", b2), "mm2"], "a2")          # constant on the left
    model, path = n.save("a2", tmp_path / "mm.onnx")
    wl = check_forward(model, path, n=5)
    assert [(l.kind, l.K, l.N, l.has_bias, l.activation) for l in wl.weighted_layers()] == \
        [("dense", 20, 30, True, "relu"), ("dense", 30, 4, True, None)]
    np.testing.assert_array_equal(wl.layer("mm1").weights, W1.T)
    np.testing.assert_allclose(wl.layer("mm2").bias, b2[0])
    b = GraphBuilder("mm", (20,))
    b.dense("mm1", 30)
    b.dense("mm2", 4, relu=False)
    assert strip(wl) == strip(b.build()) and wl.total_macs == 20 * 30 + 30 * 4


def test_residual_add_and_sum(tmp_path):
    n = Net((4, 8, 8))
    n.node("Conv", ["x", n.init("a.w", _w(4, 4, 3, 3))], "a", pads=[1, 1, 1, 1])
    n.node("Relu", ["a"], "ar")
    n.node("Conv", ["ar", n.init("b.w", _w(4, 4, 3, 3))], "b", pads=[1, 1, 1, 1])
    n.node("Add", ["b", "x"], "res")
    n.node("Relu", ["res"], "resr")
    n.node("Conv", ["resr", n.init("c.w", _w(4, 4, 1, 1))], "c")
    n.node("Sum", ["c", "resr", "ar"], "sum3")
    n.node("GlobalAveragePool", ["sum3"], "gap")
    n.node("Flatten", ["gap"], "flat")
    n.node("Gemm", ["flat", n.init("fc.w", _w(3, 4))], "fc", transB=1)
    model, path = n.save("fc", tmp_path / "res.onnx")
    wl = check_forward(model, path)
    res = wl.layer("res")
    assert res.kind == "add" and res.activation == "relu" and sorted(wl.predecessors("res")) == ["b", "input"]
    assert wl.layer("sum3").kind == "add" and len(wl.predecessors("sum3")) == 3
    b = GraphBuilder("res", (4, 8, 8))
    a = b.conv("a", 4, 3, padding=1)
    bb = b.conv("b", 4, 3, padding=1, relu=False)
    r = b.add("res", [bb, "input"])
    c = b.conv("c", 4, 1, relu=False)
    b.add("sum3", [c, r, a], relu=False)
    b.globalavgpool("gap")
    b.flatten("flat")
    b.dense("fc", 3, relu=False, bias=False)
    ref = b.build()
    assert strip(wl) == strip(ref)
    assert api.estimate(wl, "reram").summary == api.estimate(ref, "reram").summary


def test_concat_keeps_input_order(tmp_path):
    n = Net((3, 6, 6))
    n.node("Conv", ["x", n.init("a.w", _w(2, 3, 1, 1))], "a")
    n.node("Conv", ["x", n.init("b.w", _w(5, 3, 3, 3))], "b", pads=[1, 1, 1, 1])
    n.node("Relu", ["a"], "ar")                              # 'a' feeds the concat too: not fused
    n.node("Concat", ["b", "x", "ar", "a"], "cat", axis=1)   # not the order the inputs were made in
    n.node("Flatten", ["cat"], "flat")
    n.node("Gemm", ["flat", n.init("fc.w", _w(4, 432, scale=0.05))], "fc", transB=1)
    model, path = n.save("fc", tmp_path / "cat.onnx")
    wl = check_forward(model, path)
    assert wl.layer("cat").out_shape == (12, 6, 6)
    assert wl.layer("ar").kind == "relu" and wl.layer("a").activation is None


@pytest.mark.parametrize("target,batch", [([-1, 72], "N"), ([0, -1], "N"), ([1, -1], 1), ([1, 72], 1)])
def test_reshape_flattens(tmp_path, target, batch):
    n = Net((2, 6, 6), batch=batch)
    n.node("MaxPool", ["x"], "p", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    n.node("Reshape", ["p", n.init("shape", np.array(target, np.int64))], "flat")
    n.node("Gemm", ["flat", n.init("fc.w", _w(3, 72, scale=0.1))], "fc", transB=1)
    model, path = n.save("fc", tmp_path / "r.onnx")
    wl = check_forward(model, path, n=1 if batch == 1 else 3)
    assert [l.kind for l in wl.layers()] == ["input", "maxpool", "flatten", "dense"]


def test_dropout_identity_constant(tmp_path):
    n = Net((10,), opset=13)
    n.node("Gemm", ["x", n.init("w", _w(10, 8))], "fc1")
    n.nodes.append(oh.make_node("Dropout", ["fc1", n.init("ratio", np.array(0.5, np.float32))], ["d", "mask"],
                                name="drop"))
    n.node("Identity", ["d"], "id")
    n.nodes.append(oh.make_node("Constant", [], ["cw"], name="cw", value=nh.from_array(_w(8, 3), "cw")))
    n.node("MatMul", ["id", "cw"], "fc2")
    model, path = n.save("fc2", tmp_path / "d.onnx")
    wl = check_forward(model, path)
    assert [l.kind for l in wl.layers()] == ["input", "dense", "identity", "identity", "dense"]


def test_clip_sigmoid_softmax(tmp_path):
    n = Net((3, 5, 5))
    n.node("Conv", ["x", n.init("a.w", _w(4, 3, 3, 3, scale=2.0))], "a", pads=[1, 1, 1, 1])
    n.node("Clip", ["a", n.init("lo", np.float32(0)), n.init("hi", np.float32(6))], "relu6")
    n.node("Conv", ["relu6", n.init("b.w", _w(4, 4, 1, 1))], "b")
    n.node("Clip", ["b", "lo"], "relu")                          # Clip(0, none) = ReLU, fused
    n.node("Sigmoid", ["relu"], "sig")
    n.node("Softmax", ["sig"], "chsoft", axis=1)                 # over channels of (N, C, H, W)
    n.node("Flatten", ["chsoft"], "flat")
    n.node("Gemm", ["flat", n.init("fc.w", _w(7, 100))], "fc", transB=1)
    n.node("Softmax", ["fc"], "prob")                            # opset 13+: axis -1 = the features
    model, path = n.save("prob", tmp_path / "act.onnx")
    wl = check_forward(model, path)
    assert [l.kind for l in wl.layers()] == ["input", "conv", "clip", "conv", "sigmoid", "softmax", "flatten",
                                             "dense", "softmax"]
    assert wl.layer("b").activation == "relu"


def test_opset11_softmax_and_clip_attributes(tmp_path):
    n = Net((6,), opset=9)
    n.node("Gemm", ["x", n.init("w", _w(6, 5)), n.init("b", _w(5))], "fc")        # opset < 11: C required
    n.node("Clip", ["fc"], "c", min=0.0, max=6.0)               # opset < 11: bounds as attributes
    n.node("Gemm", ["c", n.init("w2", _w(5, 4)), n.init("b2", _w(4))], "fc2")
    n.node("Softmax", ["fc2"], "p")                              # opset < 13: axis 1, flattened
    model, path = n.save("p", tmp_path / "old.onnx")
    wl = check_forward(model, path)
    assert [l.kind for l in wl.layers()] == ["input", "dense", "clip", "dense", "softmax"]


def test_pools(tmp_path):
    n = Net((3, 11, 11))
    n.node("AveragePool", ["x"], "avg", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    n.node("MaxPool", ["avg"], "mp", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)    # 6 -> 3 (ceil)
    n.node("AveragePool", ["mp"], "avg2", kernel_shape=[2, 2])                              # strides default 1
    n.node("Conv", ["avg2", n.init("w", _w(4, 3, 1, 1))], "c")
    n.node("GlobalAveragePool", ["c"], "gap")
    n.node("Flatten", ["gap"], "flat")
    n.node("Gemm", ["flat", n.init("fw", _w(2, 4))], "fc", transB=1)
    model, path = n.save("fc", tmp_path / "pool.onnx")
    wl = check_forward(model, path)
    assert wl.layer("avg").out_shape == (3, 6, 6) and wl.layer("mp").out_shape == (3, 3, 3)
    assert wl.layer("mp").padding == (0, 0, 1, 1) and wl.layer("avg2").stride == (1, 1)


@pytest.mark.parametrize("opset, keepdims", [(13, 0), (18, 1)])
def test_reduce_mean_over_space_is_a_global_average_pool(tmp_path, opset, keepdims):
    # what PyTorch's torch.export-based exporter writes for AdaptiveAvgPool2d(1) or x.mean((2, 3))
    n = Net((3, 6, 6), opset=opset)
    n.node("Conv", ["x", n.init("w", _w(4, 3, 3, 3))], "c", kernel_shape=[3, 3])
    if opset >= 18:        # axes became an input in opset 18
        n.node("ReduceMean", ["c", n.init("axes", np.array([-2, -1], np.int64))], "m", keepdims=keepdims)
    else:
        n.node("ReduceMean", ["c"], "m", axes=[2, 3], keepdims=keepdims)
    src = "m"
    if keepdims:
        src = n.node("Flatten", ["m"], "flat")
    n.node("Gemm", [src, n.init("fw", _w(2, 4))], "fc", transB=1)
    model, path = n.save("fc", tmp_path / "rm.onnx")
    wl = check_forward(model, path)
    assert wl.layer("m").kind == "globalavgpool"
    bad = Net((3, 6, 6), opset=13)
    bad.node("ReduceMean", ["x"], "m", axes=[1], keepdims=1)
    _, path = bad.save("m", tmp_path / "rm_bad.onnx", rank=4)
    one_line_error(lambda: onnx_io.load_onnx(path), r"node 'm'.*ReduceMean over axes \[1\].*allowed axes \(2, 3\)")


def test_ceil_mode_window_starting_in_padding_is_dropped(tmp_path):
    n = Net((2, 11, 11))
    n.node("MaxPool", ["x"], "mp", kernel_shape=[3, 3], strides=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1)
    n.node("Flatten", ["mp"], "flat")
    n.node("Gemm", ["flat", n.init("fw", _w(3, 32))], "fc", transB=1)
    model, path = n.save("fc", tmp_path / "ceil.onnx")
    wl = check_forward(model, path)
    assert wl.layer("mp").out_shape == (2, 4, 4)


def test_weights_without_values_give_shapes_only(tmp_path):
    wl = workloads.get("resnet18")
    p = onnx_io.save_onnx(wl, tmp_path / "resnet18.onnx", weights="none")
    back = onnx_io.load_onnx(p)
    assert not back.has_weights and strip(back) == strip(wl)
    assert api.estimate(back, "sonos").summary == api.estimate(wl, "sonos").summary
    one_line_error(lambda: forward.run(back, np.zeros((1, 3, 224, 224), np.float32)), "has no weights")


# ------------------------------------------------------------- round trip ----
@pytest.mark.parametrize("name", workloads.names())
def test_every_builtin_round_trips(tmp_path, name):
    trained = workloads.weights_path(name).exists()
    wl = workloads.get(name, weights=trained)
    p = onnx_io.save_onnx(wl, tmp_path / f"{name}.onnx", weights="auto" if trained else "none")
    back = onnx_io.load_onnx(p)
    assert back.name == wl.name and back.dataset == wl.dataset
    assert strip(back) == strip(wl)
    assert back.total_macs == wl.total_macs and back.total_weights == wl.total_weights
    assert [l.macs for l in back.weighted_layers()] == [l.macs for l in wl.weighted_layers()]
    assert back.layers() == wl.layers()          # names kept too (weights do not take part in ==)
    if trained:
        for a, b in zip(wl.weighted_layers(), back.weighted_layers()):
            np.testing.assert_array_equal(a.weights, b.weights)
            np.testing.assert_array_equal(a.bias, b.bias)


def test_random_weights_round_trip(tmp_path):
    wl = weights.random_weights(workloads.get("resnet18"), seed=2)
    back = onnx_io.load_onnx(onnx_io.save_onnx(wl, tmp_path / "r.onnx"))
    for a, b in zip(wl.weighted_layers(), back.weighted_layers()):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_export_of_every_kind_runs_as_onnx_says(tmp_path):
    """The exporter's semantics checked against ONNX's reference evaluator, every layer kind."""
    b = GraphBuilder("kinds", (3, 9, 9))
    a = b.conv("a", 4, 3, padding=1, bias=True)
    c = b.conv("c", 4, 3, padding=(1, 1, 1, 1), groups=2, relu=False, src=a)
    b.add("add", [c, a])
    p = b.avgpool("avg", 3, 2, padding=1)
    # asymmetric padding at stride 2: onnx 1.23's reference MaxPool misreads asymmetric pads at stride 1
    # (5x5, pads (0, 0, 1, 1), 2x2 window, stride 1 gives 4x6 there; the spec and shape inference say 5x5)
    m = b.maxpool("mp", 2, 2, padding=(0, 0, 1, 1), src=p)
    s = b.elementwise("sigmoid", "sig", src=m)
    r = b.elementwise("clip", "r6", src=m)
    cat = b.concat("cat", [s, r])
    i = b.elementwise("identity", "id", src=cat)
    b.elementwise("relu", "relu", src=i)
    b.elementwise("softmax", "chsoft")
    b.globalavgpool("gap")
    b.dense("fc", 6, relu=True)
    b.dense("fc2", 5, relu=False)
    b.elementwise("softmax", "prob")
    wl = weights.random_weights(b.build(), seed=4)
    p = onnx_io.save_onnx(wl, tmp_path / "kinds.onnx")
    model = onnx.load(str(p))
    onnx.checker.check_model(model, full_check=True)
    x = RNG.standard_normal((4, 3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(forward.run(wl, x), reference(model, x), rtol=1e-4, atol=1e-5)
    assert onnx_io.load_onnx(p).layers() == wl.layers()


def test_exported_lenet5_runs_as_onnx_says(tmp_path):
    wl = workloads.get("mnist_cnn5", weights=True)        # its ceil-mode pool is an asymmetric padding
    model = onnx.load(str(onnx_io.save_onnx(wl, tmp_path / "m.onnx")))
    x = RNG.random((4, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(forward.run(wl, x), reference(model, x), rtol=1e-4, atol=1e-4)


def test_export_weight_options(tmp_path):
    wl = workloads.get("mlp")
    z = onnx_io.load_onnx(onnx_io.save_onnx(wl, tmp_path / "z.onnx", weights="zeros"))
    assert all(not l.weights.any() for l in z.weighted_layers())
    r1 = onnx_io.load_onnx(onnx_io.save_onnx(wl, tmp_path / "r1.onnx", seed=3))
    r2 = weights.random_weights(wl, seed=3)
    np.testing.assert_array_equal(r1.layer("fc2").weights, r2.layer("fc2").weights)
    one_line_error(lambda: onnx_io.save_onnx(wl, tmp_path / "x.onnx", weights="ones"), "allowed auto, random")


# --------------------------------------------------------------- the CLI ----
def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_export_estimate_compare(capsys, tmp_path):
    f = tmp_path / "lenet5.onnx"
    code, out, _ = run_cli(capsys, "export", "--workload", "lenet5", "-o", str(f))
    assert code == 0 and "trained weights" in out and f.exists()
    code, by_model, _ = run_cli(capsys, "estimate", "--model", str(f), "--device", "sonos", "--layers")
    code2, by_name, _ = run_cli(capsys, "estimate", "--workload", "lenet5", "--device", "sonos", "--layers")
    assert code == code2 == 0 and by_model == by_name
    code, out, _ = run_cli(capsys, "compare", "--model", str(f), "--devices", "reram,pcm")
    assert code == 0 and "reram" in out and "pcm" in out
    assert api.estimate(str(f), "sonos").summary == api.estimate("lenet5", "sonos").summary


@pytest.fixture(scope="module")
def mnist_small():
    return data.load_dataset("mnist", "test", limit=100)   # the README's test command fetches it first


def test_cli_accuracy_model_equals_builtin(capsys, tmp_path, mnist_small):
    x, y = mnist_small
    npz = tmp_path / "test.npz"
    np.savez(npz, x=np.rint(x[:, 0] * 255).astype(np.uint8), y=y)     # (n, H, W) uint8, the documented layout
    f = tmp_path / "lenet5.onnx"
    assert run_cli(capsys, "export", "-w", "lenet5", "-o", str(f))[0] == 0
    args = ["--data", str(npz), "--device", "sonos", "--trials", "2", "--seed", "3", "--no-progress"]
    code, by_model, err = run_cli(capsys, "accuracy", "--model", str(f), *args)
    assert code == 0, err
    code, by_name, _ = run_cli(capsys, "accuracy", "--workload", "lenet5", *args)
    assert code == 0 and by_model == by_name
    # the first half of a small --data file calibrates and is not scored
    assert "accuracy (top-1 on the test set), 50 samples, 2 trials, seed 3" in by_model
    assert f"calibration: the first 50 images of {npz}, held out (not scored)" in by_model


@pytest.mark.parametrize("arrays,extra,pattern", [
    (dict(x=np.zeros((4, 29, 29), np.uint8), y=np.zeros(4, int)), [], "do not fit the network input"),
    (dict(images=np.zeros((4, 28, 28), np.uint8), y=np.zeros(4, int)), [], "missing array\\(s\\) 'x'"),
    (dict(x=np.zeros((4, 28, 28), np.uint8)), [], "missing array\\(s\\) 'y'"),
    (dict(x=np.zeros((4, 28, 28), np.uint8), y=np.zeros(4, int)), ["--normalize", "standard", "--mean", "0.1"],
     "needs mean and std"),
    (dict(x=np.zeros((4, 28, 28), np.uint8), y=np.zeros(4, int)), ["--normalize", "standard", "--mean", "a",
                                                                    "--std", "1"], "--mean 'a'"),
])
def test_cli_accuracy_bad_data(capsys, tmp_path, arrays, extra, pattern):
    f = onnx_io.save_onnx(workloads.get("lenet5", weights=True), tmp_path / "l.onnx")
    npz = tmp_path / "d.npz"
    np.savez(npz, **arrays)
    code, _, err = run_cli(capsys, "accuracy", "--model", str(f), "--data", str(npz), "--trials", "1", *extra)
    assert code == 2 and err.count("\n") == 1 and err.startswith("archsim: error: ")
    assert __import__("re").search(pattern, err), err


def test_cli_accuracy_normalize_standard(capsys, tmp_path):
    wl = weights.random_weights(workloads.get("mlp"), seed=1)
    f = onnx_io.save_onnx(wl, tmp_path / "mlp.onnx")
    npz = tmp_path / "d.npz"
    np.savez(npz, x=RNG.integers(0, 256, (20, 28, 28)).astype(np.uint8), y=RNG.integers(0, 10, 20))
    code, out, err = run_cli(capsys, "accuracy", "--model", str(f), "--data", str(npz), "--trials", "1",
                             "--normalize", "standard", "--mean", "33", "--std", "78", "--no-progress")
    assert code == 0, err
    assert "10 samples" in out      # the first 10 calibrate and are not scored


def test_cli_model_errors(capsys, tmp_path):
    code, _, err = run_cli(capsys, "estimate", "--model", str(tmp_path / "none.onnx"))
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    structure = onnx_io.save_onnx(workloads.get("lenet5"), tmp_path / "s.onnx", weights="none")
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 28, 28)), y=np.zeros(2, int))
    code, _, err = run_cli(capsys, "accuracy", "--model", str(structure), "--data", str(tmp_path / "d.npz"))
    assert code == 2 and "carries no weight values" in err
    code, _, err = run_cli(capsys, "estimate", "-w", "lenet5", "--input-shape", "1,32,32")
    assert code == 2 and "--input-shape applies to --model" in err


def test_dynamic_input_needs_input_shape(capsys, tmp_path):
    n = Net((1, "H", "W"))
    n.node("Conv", ["x", n.init("w", _w(2, 1, 3, 3))], "c")
    n.node("GlobalAveragePool", ["c"], "g")
    n.node("Flatten", ["g"], "f")
    n.node("Gemm", ["f", n.init("fw", _w(3, 2))], "fc", transB=1)
    _, path = n.save("fc", tmp_path / "dyn.onnx")
    one_line_error(lambda: onnx_io.load_onnx(path), "dynamic axes.*input_shape")
    wl = onnx_io.load_onnx(path, input_shape=(1, 16, 16))
    assert wl.layer("c").out_shape == (2, 14, 14)
    code, out, _ = run_cli(capsys, "estimate", "--model", str(path), "--input-shape", "1,16,16")
    assert code == 0 and "dyn on" in out


def test_without_onnx_one_line_error(tmp_path):
    f = onnx_io.save_onnx(workloads.get("lenet5"), tmp_path / "l.onnx", weights="none")
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import archsim, workloads\nfrom archsim.cli.main import main\n"
            "print(archsim.estimate('lenet5').summary['workload'])\n"
            f"sys.exit(main(['estimate', '--model', {str(f)!r}]))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and p.stdout.strip() == "lenet5"
    assert p.stderr.strip() == "archsim: error: ONNX import and export need the onnx package: pip install archsim[onnx]"


# ---------------------------------------------------------- bad networks ----
def _small(tmp_path, extra_nodes=(), out="fc", opset=17, in_shape=(2, 6, 6)):
    n = Net(in_shape, opset=opset)
    n.node("Conv", ["x", n.init("w", _w(3, in_shape[0], 3, 3))], "c", pads=[1, 1, 1, 1])
    for op, ins, o, kw in extra_nodes:
        n.node(op, ins, o, **kw)
    return n


def test_unsupported_op_names_node_and_op(tmp_path):
    n = _small(tmp_path)
    n.node("LRN", ["c"], "lrn", name="norm1", size=3)
    _, path = n.save("lrn", tmp_path / "lrn.onnx")
    msg = one_line_error(lambda: onnx_io.load_onnx(path), "node 'norm1' has op type 'LRN'")
    assert "supported ops: Add, AveragePool" in msg and str(path) in msg
    n = _small(tmp_path)
    n.nodes.append(oh.make_node("MyOp", ["c"], ["y"], name="mine", domain="com.example"))
    model = n.model("y")
    model.opset_import.append(oh.make_opsetid("com.example", 1))
    onnx.save(model, str(tmp_path / "custom.onnx"))
    one_line_error(lambda: onnx_io.load_onnx(tmp_path / "custom.onnx"), "'MyOp' in domain 'com.example'")


@pytest.mark.parametrize("build,match", [
    (lambda n: n.node("BatchNormalization", ["x"] + [n.init(k, np.ones(2, np.float32)) for k in "gbmv"], "bn",
                      name="bn_first"), "node 'bn_first' \\(BatchNormalization\\): follows the graph input"),
    (lambda n: (n.node("Relu", ["c"], "r"),
                n.node("BatchNormalization", ["r"] + [n.init(k, np.ones(3, np.float32)) for k in "gbmv"], "bn")),
     "node 'bn' \\(BatchNormalization\\): follows conv layer 'c' after its activation"),
    (lambda n: n.node("Conv", ["c", n.init("w2", _w(3, 3, 3, 3))], "d", dilations=[2, 2]), "dilations \\[2, 2\\]"),
    (lambda n: n.node("Reshape", ["c", n.init("s", np.array([-1, 3, 36], np.int64))], "r"),
     "reshape of \\(batch, 3, 6, 6\\) to \\[-1, 3, 36\\]"),
    (lambda n: n.node("Clip", ["c", n.init("lo", np.float32(-1)), n.init("hi", np.float32(1))], "cl"),
     "bounds \\(-1.0, 1.0\\)"),
    (lambda n: n.node("Add", ["c", n.init("k", np.ones((3, 6, 6), np.float32))], "a"),
     "not a per-channel bias"),
    (lambda n: (n.node("MaxPool", ["c"], "p", kernel_shape=[2, 2]), n.node("Add", ["p", n.init("k", np.float32(1))], "a")),
     "adds a constant to the output of a maxpool layer"),
    (lambda n: n.node("AveragePool", ["c"], "p", kernel_shape=[3, 3], pads=[1, 1, 1, 1]), "count_include_pad=0"),
    (lambda n: n.node("Flatten", ["c"], "f", axis=2), "axis=2; archsim flattens each image"),
    (lambda n: n.node("Concat", ["c", "x"], "k", axis=2), "axis=2; archsim concatenates channels"),
    (lambda n: n.node("Add", ["c", "x"], "k"), "adds shapes"),
    (lambda n: n.node("Softmax", ["c"], "s", axis=-1), "softmax over axis 3"),
    (lambda n: n.node("Gemm", ["c", n.init("gw", _w(4, 108))], "g", transB=1), "add a Flatten"),
    (lambda n: n.node("Conv", ["c", "x"], "d"), "input 1 \\('x'\\) must be a constant"),
])
def test_bad_graphs_name_the_node(tmp_path, build, match):
    n = _small(tmp_path)
    build(n)
    last = n.nodes[-1].output[0]
    _, path = n.save(last, tmp_path / "bad.onnx")
    one_line_error(lambda: onnx_io.load_onnx(path), match)


def test_dangling_outputs_and_no_weighted_layer(tmp_path):
    n = _small(tmp_path)
    n.node("Relu", ["c"], "r")
    n.node("Sigmoid", ["c"], "s")
    _, path = n.save("s", tmp_path / "two.onnx")
    one_line_error(lambda: onnx_io.load_onnx(path), "layer\\(s\\) \\['r'\\] compute outputs nothing uses")
    n = Net((4,))
    n.node("Relu", ["x"], "r")
    _, path = n.save("r", tmp_path / "none.onnx")
    one_line_error(lambda: onnx_io.load_onnx(path), "no Conv, Gemm or MatMul")


# ---------------------------------------------------------- untrusted files ----
@pytest.fixture(scope="module")
def lenet_bytes(tmp_path_factory):
    p = onnx_io.save_onnx(workloads.get("lenet5", weights=True), tmp_path_factory.mktemp("l") / "l.onnx")
    return p.read_bytes()


def test_truncated_and_garbage_files(tmp_path, lenet_bytes):
    for cut in (0, 1, 7, 100, 1000, len(lenet_bytes) // 3, len(lenet_bytes) // 2, len(lenet_bytes) - 1):
        p = tmp_path / f"cut{cut}.onnx"
        p.write_bytes(lenet_bytes[:cut])
        msg = one_line_error(lambda: onnx_io.load_onnx(p), "ONNX file .*cut")
        assert str(p) in msg
    g = tmp_path / "garbage.onnx"
    g.write_bytes(bytes(RNG.integers(0, 256, 5000, dtype=np.uint8)))
    one_line_error(lambda: onnx_io.load_onnx(g), "garbage.onnx")
    one_line_error(lambda: onnx_io.load_onnx(tmp_path), "not a regular file")
    n = _small(tmp_path)
    n.node("Flatten", ["c"], "f", name="ZZZZ")
    n.node("Gemm", ["f", n.init("fw", _w(2, 108))], "fc", transB=1)
    bad = n.model("fc").SerializeToString().replace(b"ZZZZ", b"Z\xbc\xbcZ")   # proto2 strings: read lazily
    (tmp_path / "utf.onnx").write_bytes(bad)
    one_line_error(lambda: onnx_io.load_onnx(tmp_path / "utf.onnx"), "utf.onnx: holds names or text that are not valid UTF-8")


def test_fuzzed_files_load_or_fail_cleanly(tmp_path, lenet_bytes):
    """Truncations anywhere and random byte flips: an ArchsimError or a workload, never another exception."""
    rng = np.random.default_rng(0)
    cuts = rng.integers(1, len(lenet_bytes), 40)
    cases = [lenet_bytes[:c] for c in cuts]
    head = 3000                                      # flip bytes in the graph part, before the weight data ends
    for _ in range(40):
        b = bytearray(lenet_bytes)
        for pos in rng.integers(0, min(head, len(b)), 3):
            b[pos] = int(rng.integers(0, 256))
        cases.append(bytes(b))
    p = tmp_path / "f.onnx"
    for blob in cases:
        p.write_bytes(blob)
        try:
            onnx_io.load_onnx(p)
        except ArchsimError as e:
            assert "\n" not in str(e)


def test_absurd_shapes_refused_before_allocation(tmp_path):
    n = Net((3, 100_000, 100_000))
    n.node("Conv", ["x", n.init("w", _w(2, 3, 3, 3))], "c")
    _, path = n.save("c", tmp_path / "huge_in.onnx")
    one_line_error(lambda: onnx_io.load_onnx(path), "input 'x': activation of shape \\(3, 100000, 100000\\) has "
                                                     "30,000,000,000 elements per image; the limit is")
    # a conv blowing a small input up to 10^12 channels would need a 10^12-element weight: see below;
    # an initializer declaring 10^12 elements with a few bytes of data
    n = Net((4,))
    big = TP(name="w", data_type=TP.FLOAT, dims=[1_000_000, 1_000_000], raw_data=b"\0" * 16)
    n.inits.append(big)
    n.node("MatMul", ["x", "w"], "y")
    model = n.model("y")
    path = tmp_path / "huge_w.onnx"
    path.write_bytes(model.SerializeToString())
    one_line_error(lambda: onnx_io.load_onnx(path), "initializer 'w' declares 1,000,000,000,000 elements")
    # a declared shape that disagrees with the bytes held
    n = Net((4,))
    n.inits.append(TP(name="w", data_type=TP.FLOAT, dims=[4, 3], raw_data=b"\0" * 8))
    n.node("MatMul", ["x", "w"], "y")
    path.write_bytes(n.model("y").SerializeToString())
    one_line_error(lambda: onnx_io.load_onnx(path), "declares shape \\(4, 3\\) \\(48 bytes\\) but holds 8 bytes")
    # weights without values (graph inputs) may not declare absurd sizes either
    n = Net((4,))
    n.node("MatMul", ["x", "w"], "y")
    m = n.model("y")
    m.graph.input.append(oh.make_tensor_value_info("w", TP.FLOAT, [4, 10**12]))
    path.write_bytes(m.SerializeToString())
    one_line_error(lambda: onnx_io.load_onnx(path), "graph input 'w' declares 4,000,000,000,000 elements")


def test_external_data_refused(tmp_path):
    n = Net((4,))
    t = nh.from_array(_w(4, 3), "w")
    t.ClearField("raw_data")
    t.data_location = TP.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "../../etc/passwd"
    n.inits.append(t)
    n.node("MatMul", ["x", "w"], "y")
    path = tmp_path / "ext.onnx"
    path.write_bytes(n.model("y").SerializeToString())
    one_line_error(lambda: onnx_io.load_onnx(path), "ext.onnx: initializer 'w' refers to external data")


def test_file_size_limit(tmp_path, lenet_bytes, monkeypatch):
    p = tmp_path / "l.onnx"
    p.write_bytes(lenet_bytes)
    monkeypatch.setattr(onnx_guard, "MAX_FILE_BYTES", 1000)
    one_line_error(lambda: onnx_io.load_onnx(p), "bytes; archsim reads ONNX files up to 1,000 bytes")


def test_tables_cover_every_op_and_kind():
    from archsim.io.onnx import exporter, ops
    from archsim.model.workload import KINDS
    assert onnx_io.SUPPORTED_OPS == tuple(sorted(ops.OPS))         # the list in messages is the table
    assert set(exporter.EXPORTERS) == set(KINDS) - {"input"}        # every layer kind exports

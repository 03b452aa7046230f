"""Layer names of networks exported from PyTorch: module names, not the exporter's made-up node names.

PyTorch's default (dynamo) exporter names nodes ``node_Conv_50`` and records the module path in the node's
``pkg.torch.onnx.name_scopes`` metadata; its TorchScript exporter names them ``/features/features.0/Conv``;
both name the weights after the parameters (``features.0.weight``).  The graphs here are written with
onnx.helper the way those exporters write them (torch is not needed)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper as oh  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from archsim.cli import main as cli  # noqa: E402
from archsim.io.onnx import load_onnx  # noqa: E402
from archsim.io.onnx.importer import generated_name  # noqa: E402

RNG = np.random.default_rng(3)


def _model(nodes, inits, out, path):
    x = oh.make_tensor_value_info("x", TP.FLOAT, ["N", 1, 8, 8])
    y = oh.make_tensor_value_info(out, TP.FLOAT, [None, None])
    g = oh.make_graph(nodes, "net", [x], [y], initializer=[nh.from_array(v, k) for k, v in inits.items()])
    onnx.save(oh.make_model(g, opset_imports=[oh.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def _scoped(op, ins, out, name, scopes, **attrs):
    n = oh.make_node(op, ins, [out], name=name, **attrs)
    n.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(scopes))
    return n


def _inits():
    return {"features.0.weight": RNG.standard_normal((4, 1, 3, 3)).astype(np.float32),
            "features.0.bias": np.zeros(4, np.float32),
            "classifier.1.weight": RNG.standard_normal((10, 144)).astype(np.float32),
            "classifier.1.bias": np.zeros(10, np.float32)}


def test_dynamo_export_names_come_from_the_name_scopes(tmp_path):
    nodes = [_scoped("Conv", ["x", "features.0.weight", "features.0.bias"], "c", "node_Conv_50",
                     ["", "features", "features.0", "conv2d"]),
             _scoped("Relu", ["c"], "r", "node_relu", ["", "features", "features.1", "relu"]),
             _scoped("Flatten", ["r"], "f", "node_Flatten_7", ["", "flatten"], axis=1),
             _scoped("Gemm", ["f", "classifier.1.weight", "classifier.1.bias"], "y", "node_Gemm_52",
                     ["", "classifier", "classifier.1", "linear"], transB=1)]
    wl = load_onnx(_model(nodes, _inits(), "y", tmp_path / "net.onnx"))
    names = [l.name for l in wl.weighted_layers()]
    assert names == ["features.0", "classifier.1"]
    assert not any(l.name.startswith("node_") for l in wl.weighted_layers())


def test_weight_names_serve_where_no_metadata_is_written(tmp_path):
    nodes = [oh.make_node("Conv", ["x", "features.0.weight", "features.0.bias"], ["c"], name="node_Conv_50"),
             oh.make_node("Relu", ["c"], ["r"], name="node_relu_1"),
             oh.make_node("Flatten", ["r"], ["f"], name="node_Flatten_2", axis=1),
             oh.make_node("Gemm", ["f", "classifier.1.weight", "classifier.1.bias"], ["y"], name="node_Gemm_3",
                          transB=1)]
    wl = load_onnx(_model(nodes, _inits(), "y", tmp_path / "net.onnx"))
    assert [l.name for l in wl.weighted_layers()] == ["features.0", "classifier.1"]


def test_torchscript_paths_give_the_module_and_own_names_are_kept(tmp_path):
    nodes = [oh.make_node("Conv", ["x", "features.0.weight", "features.0.bias"], ["c"], name="/features/features.0/Conv"),
             oh.make_node("Relu", ["c"], ["r"], name="/features/features.1/Relu"),
             oh.make_node("Flatten", ["r"], ["f"], name="/Flatten", axis=1),
             oh.make_node("Gemm", ["f", "classifier.1.weight", "classifier.1.bias"], ["y"], name="head", transB=1)]
    wl = load_onnx(_model(nodes, _inits(), "y", tmp_path / "net.onnx"))
    # a name the file's author chose ("head") is kept even where the weight's name says otherwise
    assert [l.name for l in wl.weighted_layers()] == ["features.0", "head"]


@pytest.mark.parametrize("name, made_up", [("node_Conv_50", True), ("node_linear", True), ("", True),
                                           ("/features/features.0/Conv", True), ("Conv_3", True),
                                           ("conv1", False), ("fc6", False), ("features.0", False)])
def test_which_names_are_made_up(name, made_up):
    assert generated_name(name) is made_up


def test_estimate_layers_print_module_names(tmp_path, capsys):
    nodes = [oh.make_node("Conv", ["x", "features.0.weight", "features.0.bias"], ["c"], name="node_Conv_50"),
             oh.make_node("Flatten", ["c"], ["f"], name="node_Flatten_2", axis=1),
             oh.make_node("Gemm", ["f", "classifier.1.weight", "classifier.1.bias"], ["y"], name="node_Gemm_3",
                          transB=1)]
    path = _model(nodes, _inits(), "y", tmp_path / "net.onnx")
    assert cli.main(["estimate", "--model", str(path), "--device", "sonos", "--layers", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "features.0" in out and "classifier.1" in out and "node_Conv_50" not in out

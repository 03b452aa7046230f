"""Workload registry and network graphs: published counts, graph sanity, registry behaviour."""
import dataclasses
import time

import networkx as nx
import pytest

import workloads
from archsim.model.errors import ArchsimError
from archsim.model.workload import GraphBuilder, Workload

# (weights, MACs per image); conv + FC weights without bias.  Published figures from
# /work/shared/reference/PUBLISHED.md; mlp and mnist_cnn5 from their layer shapes.
PUBLISHED = {
    "lenet5": (61_470, 416_520),
    "alexnet": (61_090_496, 714.2e6),
    "vgg8": (12_973_440, 615.9e6),
    "vgg16": (138_344_128, 15.47e9),
    "resnet18": (11_678_912, 1.814e9),
    "resnet50": (25_502_912, 4.089e9),
    "resnet50v1": (25_502_912, 3.858e9),
    "mlp": (784 * 500 + 500 * 300 + 300 * 10, 784 * 500 + 500 * 300 + 300 * 10),
    # issue 13: 3x3 convs 32/64/128 with padding 1 on 28x28, FC 1152-256-10, 7.75 M MACs per image
    "mnist_cnn3": (9 * 32 + 288 * 64 + 576 * 128 + 1152 * 256 + 256 * 10,
                   784 * 9 * 32 + 196 * 288 * 64 + 49 * 576 * 128 + 1152 * 256 + 256 * 10),
    "mnist_cnn5": (8 * 9 + 12 * 8 * 9 + 192 * 10, 8 * 9 * 26 * 26 + 12 * 72 * 11 * 11 + 192 * 10),
    "dpe_softmax": (784 * 10, 784 * 10),
    # Gokmen and Vlasov 2016's 784-256-128-10 network (no bias counted)
    "rpu_mlp": (784 * 256 + 256 * 128 + 128 * 10, 784 * 256 + 256 * 128 + 128 * 10),
    # archsim's own Fashion-MNIST VGG: 3x3 convs 8, 8, pool, 16, 16, pool (padding 1), FC 784-64-10
    "fashion_vgg": (9 * 8 + 72 * 8 + 72 * 16 + 144 * 16 + 784 * 64 + 64 * 10,
                    784 * (9 * 8 + 72 * 8) + 196 * (72 * 16 + 144 * 16) + 784 * 64 + 64 * 10),
    # DNN+NeuroSim V1.4's NetWork_DenseNet40.csv: sum of C_in kh kw C_out, and of H W C_in kh kw C_out (the padded
    # MACs NeuroSim credits)
    "densenet40": (746_448, 282_379_560),
}
DATASETS = {"lenet5": "mnist", "mlp": "mnist", "rpu_mlp": "mnist", "mnist_cnn5": "mnist", "mnist_cnn3": "mnist",
            "vgg8": "cifar10", "dpe_softmax": "mnist", "densenet40": "cifar10", "fashion_vgg": "fashion-mnist"}
ALL = sorted(PUBLISHED)


@pytest.fixture(scope="module", params=ALL)
def wl(request) -> Workload:
    return workloads.get(request.param)


def test_registry_names_are_the_expected_set():
    assert workloads.names() == ALL
    assert workloads.names() == sorted(workloads.names())


def test_weights_and_macs_match_published(wl):
    weights, macs = PUBLISHED[wl.name]
    assert wl.total_weights == pytest.approx(weights, rel=1e-3)
    assert wl.total_macs == pytest.approx(macs, rel=1e-3)


def test_lenet5_counts_are_exact():
    wl = workloads.get("lenet5")
    assert (wl.total_weights, wl.total_macs) == (61_470, 416_520)


def test_mnist_cnn5_shapes():
    wl = workloads.get("yao2020")
    t = wl.mvm_table().set_index("layer")
    assert t.loc["c1", ["K", "N"]].tolist() == [9, 8]
    assert t.loc["c3", ["K", "N"]].tolist() == [72, 12]
    assert t.loc["fc", ["K", "N"]].tolist() == [192, 10]
    # all kernel weights together: the 936 of Yao et al., Extended Data Fig. 7
    assert t.loc[["c1", "c3"], "weights"].sum() == 936
    # each kernel's inputs fit the 128 rows of one of the paper's 128 x 16 arrays
    assert t.loc[["c1", "c3"], "K"].max() <= 128


def test_metadata(wl):
    assert wl.dataset == DATASETS.get(wl.name, "imagenet")
    assert wl.description and "\n" not in wl.description
    assert wl.name in workloads.names()


def test_graph_is_dag_with_one_input_and_one_output(wl):
    g = wl.graph
    assert nx.is_directed_acyclic_graph(g)
    assert nx.is_weakly_connected(g)
    sources = [n for n in g if g.in_degree(n) == 0]
    sinks = [n for n in g if g.out_degree(n) == 0]
    assert sources == ["input"] and wl.layer("input").kind == "input"
    assert sum(l.kind == "input" for l in wl.layers()) == 1
    assert len(sinks) == 1 and wl.layer(sinks[0]).kind == "dense"
    assert wl.layer(sinks[0]).out_shape == ((10,) if wl.dataset != "imagenet" else (1000,))


def test_shapes_chain(wl):
    for lay in wl.layers():
        preds = wl.predecessors(lay.name)
        if lay.kind == "input":
            assert preds == []
            continue
        shapes = [wl.layer(p).out_shape for p in preds]
        if lay.kind == "add":
            assert len(preds) >= 2
            assert all(s == lay.in_shape for s in shapes), lay.name
            assert lay.out_shape == lay.in_shape
        elif lay.kind == "concat":
            assert sum(s[0] for s in shapes) == lay.out_shape[0]
        else:
            assert len(preds) == 1, lay.name
            assert shapes[0] == lay.in_shape, lay.name
        assert all(d > 0 for d in lay.out_shape)


def test_mvm_table_sums_equal_totals(wl):
    t = wl.mvm_table()
    assert len(t) == len(wl.weighted_layers()) > 0
    assert int(t["weights"].sum()) == wl.total_weights
    assert int(t["macs"].sum()) == wl.total_macs
    assert (t["macs"] == t["K"] * t["N"] * t["vectors"]).all()


def test_layer_names_are_readable():
    r50 = workloads.get("resnet50")
    for name in ("conv1", "maxpool", "layer1.0.conv2", "layer1.0.downsample", "layer4.2.add", "avgpool", "fc"):
        assert name in r50.graph, name
    assert r50.layer("fc").in_shape == (2048,)
    assert {"conv1_1", "conv5_3", "fc8"} <= set(workloads.get("vgg16").graph)
    assert {"conv1", "conv5", "fc6", "fc8"} <= set(workloads.get("alexnet").graph)


def test_resnet50_structure():
    wl = workloads.get("resnet50")
    adds = [l for l in wl.layers() if l.kind == "add"]
    assert len(adds) == 16
    assert all(l.activation == "relu" for l in adds)
    assert len(wl.weighted_layers()) == 54          # 49 conv + 4 downsample + fc
    assert sum(".downsample" in l.name for l in wl.weighted_layers()) == 4
    mp = wl.layer("maxpool")
    assert (mp.kernel, mp.stride, mp.padding, mp.out_shape) == ((3, 3), (2, 2), (1, 1, 1, 1), (64, 56, 56))
    assert wl.layer("avgpool").kind == "globalavgpool"
    # v1.5: stride in the 3x3; v1: stride in the first 1x1
    assert wl.layer("layer2.0.conv2").stride == (2, 2) and wl.layer("layer2.0.conv1").stride == (1, 1)
    v1 = workloads.get("resnet50v1")
    assert v1.layer("layer2.0.conv1").stride == (2, 2) and v1.layer("layer2.0.conv2").stride == (1, 1)
    # the residual branch ends without ReLU: it is fused into the add
    assert wl.layer("layer1.0.conv3").activation is None


def test_resnet18_has_8_adds_and_3_downsamples():
    wl = workloads.get("resnet18")
    assert sum(l.kind == "add" for l in wl.layers()) == 8
    assert sum(".downsample" in l.name for l in wl.layers()) == 3


def test_alexnet_and_vgg16_adaptive_pool_is_identity():
    for name in ("alexnet", "vgg16"):
        lay = workloads.get(name).layer("avgpool")
        assert lay.kind == "identity" and lay.in_shape == lay.out_shape


def test_unknown_workload_names_choices():
    with pytest.raises(ArchsimError) as e:
        workloads.get("foo")
    msg = str(e.value)
    assert "\n" not in msg
    assert "unknown workload 'foo'" in msg
    assert "choose one of: " + ", ".join(workloads.names()) in msg


@pytest.mark.parametrize("alias, name", [
    ("resnet-50", "resnet50"), ("ResNet50", "resnet50"), ("RESNET_50", "resnet50"), ("resnet50v1.5", "resnet50"),
    ("ResNet-50-v1", "resnet50v1"), ("ResNet-18", "resnet18"), ("LeNet-5", "lenet5"), ("lenet", "lenet5"),
    ("VGG-16", "vgg16"), ("VGG8", "vgg8"), ("AlexNet", "alexnet"), ("yao2020", "mnist_cnn5"),
    ("MNIST-CNN5", "mnist_cnn5"), ("MLP", "mlp"),
])
def test_aliases(alias, name):
    assert workloads.get(alias).name == name


def test_get_hands_out_one_frozen_workload():
    # built once per process: safe because nothing can change it (the memoized views cannot go stale)
    a, b = workloads.get("lenet5"), workloads.get("lenet5")
    assert a is b
    with pytest.raises(nx.NetworkXError):
        a.graph.remove_node("fc2")
    with pytest.raises(nx.NetworkXError):
        a.graph.add_edge("input", "fc2")
    with pytest.raises(TypeError):
        a.graph.nodes["fc2"]["layer"] = a.layer("fc1")
    with pytest.raises(TypeError):
        a.graph.nodes["fc2"].update(order=-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.layer("fc2").K = 1
    assert "fc2" in workloads.get("lenet5").graph
    # a copy is an ordinary graph: change it and build a new (frozen) workload
    g = a.graph.copy()
    g.remove_node("fc2")
    assert "fc2" not in g and "fc2" in a.graph
    assert "fc2" in [l.name for l in a.layers()]


def test_resnet50_builds_fast():
    best = min(_timed(lambda: workloads.get("resnet50")) for _ in range(5))
    assert best < 0.020


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def test_describe_rows():
    rows = workloads.describe()
    assert [r["name"] for r in rows] == workloads.names()
    for r in rows:
        assert set(r) >= {"name", "description", "dataset", "weights", "macs"}
        assert (r["weights"], r["macs"]) == (workloads.get(r["name"]).total_weights,
                                             workloads.get(r["name"]).total_macs)
        assert r["description"] and "\n" not in r["description"]


def _tiny():
    b = GraphBuilder("tiny", (4,), "tiny test net", "mnist")
    b.dense("fc", 2, relu=False, bias=False)
    return b.build()


def test_register_user_workload():
    workloads.register("Tiny_Net", _tiny, "a tiny test network", aliases=("tiny-alias",))
    try:
        assert "tiny_net" in workloads.names()
        assert workloads.get("TINY-NET").total_weights == 8
        assert workloads.get("tiny_alias").name == "tiny"
        assert any(r["name"] == "tiny_net" for r in workloads.describe())
        with pytest.raises(ArchsimError, match="already taken"):
            workloads.register("tinynet", _tiny, "clash")
        with pytest.raises(ArchsimError, match="already taken"):
            workloads.register("other", _tiny, "clash", aliases=("ResNet-50",))
        workloads.register("tiny_net", _tiny, "replaced", replace=True)
        assert [r["description"] for r in workloads.describe() if r["name"] == "tiny_net"] == ["replaced"]
    finally:
        workloads._unregister("tiny_net")
    assert "tiny_net" not in workloads.names()
    with pytest.raises(ArchsimError):
        workloads.get("tiny-alias")


def test_register_rejects_bad_builders():
    with pytest.raises(ArchsimError):
        workloads.register("bad", 42, "not callable")
    workloads.register("bad", lambda: "nope", "returns a string")
    try:
        with pytest.raises(ArchsimError, match="not a Workload"):
            workloads.get("bad")
    finally:
        workloads._unregister("bad")


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_grouped_conv_K_divides_by_groups(groups):
    b = GraphBuilder("grouped", (8, 10, 10))
    b.conv("conv", 16, 3, padding=1, groups=groups, relu=False)
    lay = b.build().layer("conv")
    assert lay.K == (8 // groups) * 9
    assert lay.N == 16 and lay.vectors == 100
    assert lay.n_weights == 16 * (8 // groups) * 9          # torch: Cout * Cin/groups * kh * kw
    assert lay.macs == lay.n_weights * 100


def test_depthwise_conv_and_bad_groups():
    b = GraphBuilder("dw", (32, 8, 8))
    b.conv("dw", 32, 3, padding=1, groups=32)
    b.conv("pw", 64, 1)
    wl = b.build()
    assert wl.layer("dw").K == 9 and wl.layer("dw").n_weights == 32 * 9
    assert wl.total_macs == 32 * 9 * 64 + 32 * 64 * 64
    with pytest.raises(ArchsimError, match="groups"):
        GraphBuilder("bad", (6, 8, 8)).conv("c", 8, 3, groups=4)


def test_memoized_views_equal_a_fresh_build_and_survive_pickling():
    import copy
    import pickle
    wl = workloads.get("resnet50")
    wl.layers().clear()                      # a view is a fresh list: emptying it changes nothing
    fresh = workloads._resolve("resnet50").build()          # a new build, no view computed yet
    assert fresh is not wl
    names = [l.name for l in fresh.layers()]
    assert [l.name for l in wl.layers()] == names and len(names) > 60
    assert [l.name for l in wl.weighted_layers()] == [l.name for l in fresh.weighted_layers()]
    for n in names:
        assert wl.successors(n) == sorted(fresh.graph.successors(n), key=lambda m: fresh.graph.nodes[m]["order"])
        assert wl.weighted_sources(n) == fresh.weighted_sources(n)
    assert wl.total_macs == fresh.total_macs and wl.total_weights == fresh.total_weights == PUBLISHED["resnet50"][0]
    for twin in (pickle.loads(pickle.dumps(wl)), copy.deepcopy(wl)):
        assert twin == wl and [l.name for l in twin.layers()] == names
        with pytest.raises(nx.NetworkXError):
            twin.graph.add_node("extra")
        with pytest.raises(TypeError):
            twin.graph.nodes[names[1]]["order"] = 0

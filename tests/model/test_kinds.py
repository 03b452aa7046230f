"""The layer-kind table is complete: every consumer has an entry for every kind, and the entries agree.

Walks :data:`archsim.model.kinds.KINDS`: the forward pass, the trainer (for trainable kinds), the ONNX
exporter and importer each have the kind; a one-layer network of each kind exports to the ONNX operator
the table names and imports back as the same kind; shape rules and digital work follow their laws.
"""
import numpy as np
import pytest

import workloads
from archsim.cost.events import events
from archsim.io.onnx import exporter, ops
from archsim.io.onnx import load_onnx, save_onnx
from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from archsim.model.kinds import KINDS
from archsim.model.workload import GraphBuilder, Layer
from archsim.sim import forward, train

LAYER_KINDS = [k for k in KINDS if k != "input"]


def one_layer(kind: str):
    """A small network holding one layer of ``kind`` (plus a dense head so it can be mapped)."""
    b = GraphBuilder(f"one_{kind}", (4, 6, 6))
    if kind == "conv":
        b.conv("x", 4, 3, padding=1, relu=False)
    elif kind == "dense":
        b.dense("x", 8, relu=False)
    elif kind in ("maxpool", "avgpool"):
        (b.maxpool if kind == "maxpool" else b.avgpool)("x", 2)
    elif kind == "globalavgpool":
        b.globalavgpool("x")
    elif kind == "flatten":
        b.flatten("x")
    elif kind == "add":
        c1 = b.conv("c1", 4, 1, relu=False)
        c2 = b.conv("c2", 4, 1, relu=False, src="input")
        b.add("x", [c1, c2], relu=False)
    elif kind == "concat":
        c1 = b.conv("c1", 4, 1, relu=False)
        c2 = b.conv("c2", 2, 1, relu=False, src="input")
        b.concat("x", [c1, c2])
    else:
        b.elementwise(kind, "x")
    b.dense("head", 3, relu=False)
    return b.build()


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_every_consumer_has_the_kind(kind):
    spec = KINDS[kind]
    assert kind in forward.FORWARD
    assert (kind in train.TRAIN_RULES) == spec.trainable
    assert kind in exporter.EXPORTERS
    assert spec.onnx_op in ops.OPS


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_onnx_round_trip_names_the_table_operator(kind, tmp_path):
    """Export writes the table's operator for the layer and import reads it back as the same kind
    (a fused activation or a bias may fold into its producer: then the kind still survives in the graph)."""
    import onnx
    wl = workloads_random(one_layer(kind))
    path = save_onnx(wl, tmp_path / f"{kind}.onnx")
    node_ops = {n.name: n.op_type for n in onnx.load(str(path)).graph.node}
    assert node_ops["x"] == KINDS[kind].onnx_op or (kind == "add" and node_ops["x"] == "Sum")
    back = load_onnx(path)
    assert kind in {l.kind for l in back.layers()}
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(forward.run(back, x), forward.run(wl, x), rtol=1e-5, atol=1e-6)  # float32 paths


def workloads_random(wl):
    from archsim.model.weights import random_weights
    return random_weights(wl, seed=1)


def test_shape_rules_hold_on_every_builtin():
    """The graph builder checks each layer's output shape against its kind's rule: every built-in builds."""
    for name in workloads.names():
        wl = workloads.get(name)
        for lay in wl.layers():
            ins = [wl.layer(p).out_shape for p in wl.predecessors(lay.name)]
            assert tuple(KINDS[lay.kind].shape(lay, ins)) == tuple(lay.out_shape), (name, lay.name)


def test_a_layer_with_a_wrong_shape_is_refused():
    b = GraphBuilder("bad", (3, 8, 8))
    with pytest.raises(ArchsimError, match="layer 'p' \\(maxpool\\) has output shape \\(3, 5, 5\\); its inputs give"):
        b._add(Layer("p", "maxpool", (3, 8, 8), (3, 5, 5), (2, 2), (2, 2)), ["input"])


def test_digital_work_follows_the_kind_laws():
    """Pooling costs kernel-area operations per output, a k-input add k-1 per output; relu one activation."""
    a = Architecture(rows=64, cols=64)
    for kind, per_layer in (("maxpool", 4 * 3 * 3 * 2 * 2), ("avgpool", 4 * 3 * 3 * 2 * 2),
                            ("globalavgpool", 4 * 6 * 6), ("add", 4 * 6 * 6 * 1), ("flatten", 0)):
        wl = one_layer(kind)
        ev = events(map_workload(wl, a))
        assert ev.total("digital_op") == per_layer, kind
    ev = events(map_workload(one_layer("relu"), a))
    assert ev.total("activation_op") == 4 * 6 * 6


@pytest.mark.parametrize("kind", [k for k, s in KINDS.items() if s.weighted])
def test_every_weighted_kind_has_a_matrix_view_that_is_its_matmul(kind):
    """The matrix view of each weighted kind is its forward pass: a one-layer network of that kind with
    random weights gives the same outputs as im2col columns times weight_matrix (K x N per group), and K,
    N, vectors count its MACs.  The forward pass keeps float32 activations: two orders of summation over at
    most K = 36 terms differ by a few float32 ulps, so 1e-5 relative (about 80 ulps) bounds it."""
    from archsim.model.weights import random_weights, weight_matrix
    wl = random_weights(one_layer(kind), seed=3)
    lay = wl.layer("x")
    view = KINDS[kind].matrix
    assert view is not None and lay.matrix_view is view
    W = weight_matrix(lay, np.float64)
    assert W.shape == (lay.groups, lay.K, lay.N // lay.groups)
    assert np.asarray(lay.weights).shape == tuple(view.weight_shape(lay))
    assert lay.macs == lay.K * lay.N * lay.vectors
    x = np.random.default_rng(0).standard_normal((2, *wl.input_layer.in_shape))
    seen = {}

    def matmul(layer, cols, group):
        seen[layer.name] = cols.shape
        return cols.astype(np.float64) @ weight_matrix(layer, np.float64)[group]

    exact, got = forward.run(wl, x), forward.run(wl, x, matmul=matmul)
    np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-6)
    assert seen["x"][1] == lay.K and seen["x"][0] == 2 * lay.vectors
    assert view.working_set(lay) > 0


def test_unweighted_kinds_have_no_matrix_view():
    for kind, spec in KINDS.items():
        assert (spec.matrix is not None) == spec.weighted, kind

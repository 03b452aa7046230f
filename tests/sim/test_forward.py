"""Forward pass over workload graphs, the matmul hook, batch-norm folding and the numpy trainer.

References are slow nested loops in float64, written from the definitions.
"""
import tracemalloc

import numpy as np
import pytest

import workloads
from archsim.model import weights as Wt
from archsim.sim import forward as F
from archsim.sim import train as T
from archsim.model.errors import ArchsimError
from archsim.model.workload import GraphBuilder


# ------------------------------------------------------------ references ----
def conv_ref(x, W, b, stride, padding, groups):
    """Direct convolution: y[n, co, i, j] = sum_{ci in group, p, q} W[co, ci, p, q] x_pad[n, ci, i*s+p, j*s+q] + b."""
    B, C, H, Wd = x.shape
    Cout, cg, kh, kw = W.shape
    t, l, bo, r = padding
    sh, sw = stride
    xp = np.zeros((B, C, H + t + bo, Wd + l + r))
    xp[:, :, t:t + H, l:l + Wd] = x
    Ho = (H + t + bo - kh) // sh + 1
    Wo = (Wd + l + r - kw) // sw + 1
    ng = Cout // groups
    y = np.zeros((B, Cout, Ho, Wo))
    for n in range(B):
        for co in range(Cout):
            g = co // ng
            for i in range(Ho):
                for j in range(Wo):
                    s = 0.0 if b is None else float(b[co])
                    for ci in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                s += W[co, ci, p, q] * xp[n, g * cg + ci, i * sh + p, j * sw + q]
                    y[n, co, i, j] = s
    return y


def pool_ref(x, kind, kernel, stride, padding):
    B, C, H, Wd = x.shape
    kh, kw = kernel
    sh, sw = stride
    t, l, bo, r = padding
    Ho = (H + t + bo - kh) // sh + 1
    Wo = (Wd + l + r - kw) // sw + 1
    y = np.zeros((B, C, Ho, Wo))
    for n in range(B):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    vals = []
                    for p in range(kh):
                        for q in range(kw):
                            hh, ww = i * sh + p - t, j * sw + q - l
                            inside = 0 <= hh < H and 0 <= ww < Wd
                            vals.append(x[n, c, hh, ww] if inside else (-np.inf if kind == "maxpool" else 0.0))
                    y[n, c, i, j] = max(vals) if kind == "maxpool" else sum(vals) / (kh * kw)
    return y


def one_conv(cin, hw, cout, k, stride, padding, groups, bias, relu=False, seed=0):
    rng = np.random.default_rng(seed)
    b = GraphBuilder("c", (cin, *hw))
    b.conv("conv", cout, k, stride=stride, padding=padding, groups=groups, relu=relu, bias=bias)
    wl = b.build()
    lay = wl.layer("conv")
    params = {"conv.weight": rng.standard_normal((cout, cin // groups, *lay.kernel)).astype(np.float32)}
    if bias:
        params["conv.bias"] = rng.standard_normal(cout).astype(np.float32)
    return Wt.attach_weights(wl, params)


CONV_CASES = [
    # cin, (h, w), cout, kernel, stride, padding (t, l, b, r), groups, bias
    (3, (7, 6), 4, 3, 1, 0, 1, True),
    (3, (9, 8), 5, 3, 2, 1, 1, False),
    (2, (8, 7), 4, (3, 2), (2, 1), (1, 0, 2, 1), 1, True),      # asymmetric kernel, stride, padding
    (4, (6, 6), 6, 3, 1, (0, 1, 1, 0), 2, True),                # groups
    (5, (7, 7), 5, 3, 2, 1, 5, False),                          # depthwise, stride 2
    (4, (5, 6), 8, 1, 2, 0, 1, True),                           # 1x1 stride-2 shortcut
    (6, (6, 5), 6, 1, 1, 0, 3, False),                          # grouped 1x1
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_matches_direct_loops(case):
    cin, hw, cout, k, stride, padding, groups, bias = case
    wl = one_conv(cin, hw, cout, k, stride, padding, groups, bias)
    lay = wl.layer("conv")
    x = np.random.default_rng(1).standard_normal((2, cin, *hw)).astype(np.float32)
    y = F.run(wl, x)
    ref = conv_ref(x.astype(np.float64), lay.weights.astype(np.float64),
                   None if lay.bias is None else lay.bias, lay.stride, lay.padding, groups)
    assert y.shape == (2, *lay.out_shape) == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_fused_relu_after_conv_and_dense():
    wl = one_conv(3, (6, 6), 4, 3, 1, 1, 1, True, relu=True)
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    lay = wl.layer("conv")
    ref = conv_ref(x.astype(np.float64), lay.weights.astype(np.float64), lay.bias, (1, 1), lay.padding, 1)
    np.testing.assert_allclose(F.run(wl, x), np.maximum(ref, 0), rtol=1e-5, atol=1e-5)
    b = GraphBuilder("d", (7,))
    b.dense("fc", 3, relu=True, bias=True)
    rng = np.random.default_rng(3)
    W, bb = rng.standard_normal((3, 7)), rng.standard_normal(3)
    wd = Wt.attach_weights(b.build(), {"fc.weight": W, "fc.bias": bb})
    xd = rng.standard_normal((4, 7)).astype(np.float32)
    np.testing.assert_allclose(F.run(wd, xd), np.maximum(xd @ W.T + bb, 0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), (3, 3, (0, 0, 1, 1)), ((2, 3), (1, 2), (1, 0, 0, 2))])
def test_pooling_matches_loops(kind, kernel, stride, padding):
    b = GraphBuilder("p", (3, 7, 8))
    getattr(b, kind)("pool", kernel, stride, padding)
    wl = b.build()
    lay = wl.layer("pool")
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 8)).astype(np.float32)
    ref = pool_ref(x.astype(np.float64), kind, lay.kernel, lay.stride, lay.padding)
    y = F.run(wl, x)
    assert y.shape == ref.shape == (2, *lay.out_shape)
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)


def test_digital_layers():
    b = GraphBuilder("dig", (4, 5, 5))
    a = b.elementwise("relu", "r")
    s = b.elementwise("sigmoid", "s", src="input")
    c = b.elementwise("clip", "c", src="input")
    cat = b.concat("cat", [c, a, s])
    g = b.globalavgpool("gap", src=cat)
    f = b.flatten("flat", src=g)
    b.elementwise("softmax", "sm", src=f)
    wl = b.build()
    x = (np.random.default_rng(5).standard_normal((3, 4, 5, 5)) * 5).astype(np.float32)
    y, outs = F.run(wl, x, collect=True)
    x64 = x.astype(np.float64)
    cat_ref = np.concatenate([np.clip(x64, 0, 6), np.maximum(x64, 0), 1 / (1 + np.exp(-x64))], axis=1)
    np.testing.assert_allclose(outs["cat"], cat_ref, rtol=1e-6, atol=1e-6)
    gap = cat_ref.mean(axis=(2, 3))
    sm = np.exp(gap - gap.max(1, keepdims=True))
    np.testing.assert_allclose(y, sm / sm.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    assert set(outs) == {l.name for l in wl.layers()}


def test_residual_block_with_add():
    """conv-relu-conv + 1x1 stride-2 shortcut, summed and ReLU'd, against the loop reference."""
    b = GraphBuilder("res", (4, 8, 8))
    x0 = b.last
    b.conv("c1", 6, 3, stride=2, padding=1, bias=True)
    y = b.conv("c2", 6, 3, padding=1, relu=False)
    sc = b.conv("down", 6, 1, stride=2, relu=False, src=x0)
    b.add("add", [y, sc])
    b.globalavgpool("gap")
    b.dense("fc", 3, relu=False)
    wl = Wt.random_weights(b.build(), seed=7)
    x = np.random.default_rng(8).standard_normal((2, 4, 8, 8)).astype(np.float32)
    L = {l.name: l for l in wl.layers()}
    w64 = lambda n: L[n].weights.astype(np.float64)  # noqa: E731
    h = np.maximum(conv_ref(x, w64("c1"), L["c1"].bias, (2, 2), (1,) * 4, 1), 0)
    h = conv_ref(h, w64("c2"), None, (1, 1), (1,) * 4, 1)
    s = conv_ref(x, w64("down"), None, (2, 2), (0,) * 4, 1)
    a = np.maximum(h + s, 0)
    ref = a.mean(axis=(2, 3)) @ w64("fc").T + L["fc"].bias
    out, outs = F.run(wl, x, collect=["add"])
    np.testing.assert_allclose(outs["add"], a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_matmul_hook_sees_the_crossbar_matrix():
    """The hook gets the im2col matrix per group, K ordered (cin, kh, kw) like W.reshape(Cout, -1).T."""
    wl = one_conv(4, (6, 5), 6, 3, 2, (1, 0, 1, 1), 2, True)
    lay = wl.layer("conv")
    x = np.random.default_rng(9).standard_normal((3, 4, 6, 5)).astype(np.float32)
    calls = []
    Wm = Wt.weight_matrix(lay)
    assert Wm.shape == (2, 2 * 3 * 3, 3)
    np.testing.assert_array_equal(Wm[1], lay.weights[3:].reshape(3, -1).T)

    def hook(layer, cols, group):
        calls.append((layer.name, cols.shape, group, cols.copy()))
        return cols @ Wm[group]

    y = F.run(wl, x, hook)
    # the default path may multiply in the transposed form (another BLAS call): float32 rounding only
    np.testing.assert_allclose(y, F.run(wl, x), rtol=1e-5, atol=1e-6)
    _, Ho, Wo = lay.out_shape
    assert [(c[0], c[1], c[2]) for c in calls] == [("conv", (3 * Ho * Wo, lay.K), g) for g in range(2)]
    # row (n=1, oh=2, ow=1) of group 1 is the padded input patch of channels 2..3, flattened (c, kh, kw)
    assert (Ho, Wo) == (3, 2)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 1)))
    row = 1 * Ho * Wo + 2 * Wo + 1
    np.testing.assert_array_equal(calls[1][3][row], xp[1, 2:4, 4:7, 2:5].reshape(-1))
    # dense: one group, the batch as rows
    b = GraphBuilder("d", (5,))
    b.dense("fc", 4, bias=False)
    wd = Wt.random_weights(b.build())
    seen = []
    F.run(wd, np.ones((7, 5), np.float32), lambda l, c, g: seen.append((c.shape, g)) or c @ Wt.weight_matrix(l)[g])
    assert seen == [((7, 5), 0)]


def test_collect_and_relative_errors():
    """A hook that scales one layer's products by 1.01 shows up as a 1% error from that layer on."""
    wl = Wt.random_weights(workloads.get("lenet5"), seed=4)
    x = np.random.default_rng(15).random((6, 1, 32, 32), dtype=np.float32)
    _, ref = F.run(wl, x, collect=True)

    def noisy(layer, cols, group):
        y = cols @ Wt.weight_matrix(layer)[group]
        return y * np.float32(1.01) if layer.name == "conv3" else y

    _, test = F.run(wl, x, noisy, collect=True)
    err = F.relative_errors(ref, test).set_index("layer")["rel_error"]
    # The layers before conv3 go through the default matmul and through the hook: the same float32
    # products by two BLAS call paths, which may round differently (a few float32 ulps, 1.2e-7 each;
    # 1.5e-7 was seen on an AMD EPYC).  1e-5 is far above that and a thousand times below the 1% tested.
    assert err[["input", "conv1", "pool1", "conv2", "pool2"]].max() < 1e-5
    assert err["conv3"] == pytest.approx(0.01, rel=0.1)       # bias is not scaled
    assert err["fc2"] > 0


def test_hook_results_are_not_modified():
    """Bias and ReLU never write into the array a hook returned (it may be the hook's own)."""
    wl = one_conv(2, (5, 5), 3, 3, 1, 0, 1, True, relu=True)
    x = np.random.default_rng(16).standard_normal((2, 2, 5, 5)).astype(np.float32)
    kept = []

    def hook(layer, cols, group):
        y = (cols @ Wt.weight_matrix(layer)[group]).astype(np.float64)
        y.flags.writeable = False
        kept.append((y, y.copy()))
        return y

    np.testing.assert_allclose(F.run(wl, x, hook), F.run(wl, x), rtol=1e-6)
    assert F.run(wl, x, hook).dtype == np.float32
    assert all(np.array_equal(a, b) for a, b in kept)


def test_hook_with_wrong_shape_is_an_error():
    wl = one_conv(2, (5, 5), 3, 3, 1, 0, 1, False)
    with pytest.raises(ArchsimError, match="hook for layer 'conv'.*expected"):
        F.run(wl, np.zeros((1, 2, 5, 5), np.float32), lambda l, c, g: np.zeros((c.shape[0], 2)))


def test_chunking_does_not_change_results():
    wl = Wt.random_weights(workloads.get("lenet5"), seed=3)
    x = np.random.default_rng(10).random((10, 1, 32, 32), dtype=np.float32)
    whole = F.run(wl, x, chunk=10)
    for c in (1, 3, 7, None):
        np.testing.assert_allclose(F.run(wl, x, chunk=c), whole, rtol=1e-5, atol=1e-6)
    y1, o1 = F.run(wl, x, chunk=4, collect=True)
    assert all(o1[l.name].shape == (10, *l.out_shape) for l in wl.layers())
    np.testing.assert_allclose(y1, whole, rtol=1e-5, atol=1e-6)
    assert F.chunk_size(wl, max_bytes=1) == 1


def test_resnet50_batch8_memory_bounded():
    wl = Wt.random_weights(workloads.get("resnet50"), seed=0)
    x = np.random.default_rng(0).standard_normal((8, 3, 224, 224)).astype(np.float32)
    tracemalloc.start()
    try:
        y = F.run(wl, x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y.shape == (8, 1000) and np.all(np.isfinite(y))
    assert peak < 4 * 2**30, f"peak {peak / 2**30:.2f} GiB"


def test_input_and_weight_errors():
    wl = workloads.get("lenet5")
    with pytest.raises(ArchsimError, match="layer 'conv1'.*no weights"):
        F.run(wl, np.zeros((1, 1, 32, 32), np.float32))
    wr = Wt.random_weights(wl)
    with pytest.raises(ArchsimError, match=r"expected \(B, 1, 32, 32\)"):
        F.run(wr, np.zeros((1, 1, 28, 28), np.float32))
    with pytest.raises(ArchsimError, match=r"conv1.*\(6, 1, 3, 3\), expected \(6, 1, 5, 5\)"):
        Wt.attach_weights(wl, {**{f"{l.name}.weight": l.weights for l in wr.weighted_layers()},
                              "conv1.weight": np.zeros((6, 1, 3, 3))})
    with pytest.raises(ArchsimError, match="missing 'conv2.weight', 'conv3.weight', 'fc1.weight', 'fc2.weight' for workload 'lenet5'"):
        Wt.attach_weights(wl, {"conv1.weight": np.zeros((6, 1, 5, 5))})
    with pytest.raises(ArchsimError, match="names no weighted layer"):
        Wt.attach_weights(wl, {"pool1.weight": np.zeros(3)})


def test_fold_batchnorm_equals_bn_after_conv():
    rng = np.random.default_rng(11)
    W = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    gamma, beta = rng.random(5) + 0.5, rng.standard_normal(5)
    mean, var = rng.standard_normal(5), rng.random(5) + 0.1
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    conv = conv_ref(x, W.astype(np.float64), b, (1, 1), (1,) * 4, 1)
    sh = (1, -1, 1, 1)
    bn = (conv - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + 1e-5) * gamma.reshape(sh) + beta.reshape(sh)
    W2, b2 = Wt.fold_batchnorm(W, b, gamma, beta, mean, var, eps=1e-5)
    assert W2.dtype == np.float32 and W2.shape == W.shape
    np.testing.assert_allclose(conv_ref(x, W2.astype(np.float64), b2, (1, 1), (1,) * 4, 1), bn, rtol=1e-5, atol=1e-5)
    W3, b3 = Wt.fold_batchnorm(rng.standard_normal((4, 7)), None, np.ones(4), np.zeros(4), np.zeros(4), np.ones(4), 0.0)
    np.testing.assert_allclose(b3, 0)


# --------------------------------------------------------------- trainer ----
def _tiny_net():
    b = GraphBuilder("tiny", (2, 7, 6))
    x1 = b.conv("c1", 4, 3, stride=2, padding=(1, 0, 2, 1), groups=2, bias=True)
    b.conv("c2", 4, 1, relu=False, src=x1)
    b.add("add", [b.last, x1])
    b.maxpool("mp", 2, 2, padding=(0, 0, 1, 1))
    b.avgpool("ap", 2, 1)
    b.flatten("flat")
    b.dense("d1", 5, bias=True)
    b.dense("d2", 3, relu=False)
    return b.build()


def test_backward_matches_numerical_gradient():
    wl = _tiny_net()
    rng = np.random.default_rng(12)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in T.init_params(wl, 0, np.float64).items()}
    x = rng.standard_normal((3, 2, 7, 6))
    y = np.array([0, 2, 1])
    _, grads = T.loss_and_grads(wl, x, y, params)
    assert set(grads) == set(params)
    h = 1e-6
    for k, p in params.items():
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            lp, _ = T.loss_and_grads(wl, x, y, params)
            p[i] = old - h
            lm, _ = T.loss_and_grads(wl, x, y, params)
            p[i] = old
            num[i] = (lp - lm) / (2 * h)
        np.testing.assert_allclose(grads[k], num, rtol=1e-5, atol=1e-7 * np.abs(num).max(), err_msg=k)


def test_train_forward_equals_inference_forward():
    wl = _tiny_net()
    params = T.init_params(wl, 1)
    x = np.random.default_rng(13).standard_normal((4, 2, 7, 6)).astype(np.float32)
    logits, _ = T.forward_train(wl, x, params)
    np.testing.assert_allclose(logits, F.run(Wt.attach_weights(wl, params), x), rtol=1e-5, atol=1e-6)


def test_training_learns_and_is_reproducible():
    """A linearly separable toy problem: loss falls, accuracy rises, same seed gives the same weights."""
    b = GraphBuilder("toy", (1, 6, 6))
    b.conv("c", 4, 3, bias=True)
    b.maxpool("p", 2)
    b.dense("fc", 2, relu=False)
    wl = b.build()
    rng = np.random.default_rng(14)
    y = rng.integers(0, 2, 256)
    x = 0.5 * rng.standard_normal((256, 1, 6, 6)).astype(np.float32)
    x[y == 0, 0, :3, :3] += 1.0                       # a bright blob top left (class 0) ...
    x[y == 1, 0, 3:, 3:] += 1.0                       # ... or bottom right (class 1)
    for opt in ("adam", "sgd"):
        cfg = T.TrainConfig(epochs=15, batch_size=32, lr=0.01 if opt == "adam" else 0.05, optimizer=opt, seed=5)
        p1, h1 = T.fit(wl, x, y, cfg, log=None)
        p2, _ = T.fit(wl, x, y, cfg, log=None)
        assert h1[-1]["loss"] < 0.5 * h1[0]["loss"]
        assert T.evaluate(wl, p1, x, y) > 0.9
        for k in p1:
            np.testing.assert_array_equal(p1[k], p2[k])
    with pytest.raises(ArchsimError, match="optimizer"):
        T.TrainConfig(optimizer="lbfgs")


def test_save_weights_round_trip(tmp_path):
    wl = _tiny_net()
    params = T.init_params(wl, 2)
    path = T.save_weights(tmp_path / "w.npz", params, {"test_accuracy": 0.5, "note": "x", **T.config_meta(T.TrainConfig())})
    with np.load(path, allow_pickle=False) as f:
        assert f["meta.test_accuracy"].shape == () and float(f["meta.test_accuracy"]) == 0.5
        assert str(f["meta.train.optimizer"]) == "adam"
        assert all(f[k].dtype != object for k in f.files)
    wl2 = workloads.with_weights(wl, path)
    np.testing.assert_array_equal(wl2.layer("c1").weights, params["c1.weight"])


# ----------------------------------------------------- shipped weights ----
SHIPPED = ("lenet5", "mlp", "mnist_cnn5")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weight_files(name):
    path = workloads.weights_path(name)
    assert path.exists() and path.stat().st_size < 2.5e6
    wl = workloads.get(name, weights=True)
    assert wl.has_weights
    for lay in wl.weighted_layers():
        assert lay.weights.dtype == np.float32
        assert (lay.bias is not None) == lay.has_bias
    with np.load(path, allow_pickle=False) as f:
        assert 0.95 < float(f["meta.test_accuracy"]) <= 1.0
        assert int(f["meta.train.seed"]) >= 0
    assert workloads.get(name) == wl and workloads.get(name).layer(wl.weighted_layers()[0].name).weights is None


def test_get_with_weights_errors_without_a_file():
    assert set(SHIPPED) <= set(workloads.trained())
    with pytest.raises(ArchsimError, match="resnet50.*no trained weights.*random_weights"):
        workloads.get("resnet50", weights=True)


def _bits(a):
    """The array's bytes, NaN payloads and signed zeros included (bit-for-bit comparison)."""
    return np.ascontiguousarray(a).view(np.uint8 if a.dtype.itemsize == 1 else f"u{a.dtype.itemsize}")


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("bias,relu", [(True, True), (False, True), (True, False), (False, False)])
def test_conv_epilogue_kernel_is_the_numpy_steps_bit_for_bit(dt, order, bias, relu):
    """forward_kernels.conv_out (bias, ReLU and layout in one pass) = ``y += b``, ``np.maximum(y, 0)`` and the
    transposing copy, to the bit: NaN, infinities and both zeros included."""
    from archsim.sim import forward_kernels as FK
    rng = np.random.default_rng(3)
    B, C, P = 3, 5, 7
    y = rng.normal(size=(B * P, C)).astype(dt)
    y[0, 0], y[1, 1], y[2, 2], y[3, 3], y[4, 4] = np.nan, -0.0, 0.0, np.inf, -np.inf
    b = rng.normal(size=C).astype(dt)
    b[1] = -0.0
    y[5, 0] = -b[0]                                       # sums to zero
    y = np.asfortranarray(y) if order == "F" else np.ascontiguousarray(y)
    want = y.copy()
    if bias:
        want += b
    if relu:
        want = np.maximum(want, 0, out=want)
    want = np.ascontiguousarray(want.reshape(B, P, C).transpose(0, 2, 1))
    got = np.empty((B, C, P), dt)
    FK.conv_out(y.T, b if bias else np.zeros(0, dt), bias, relu, got)
    assert np.array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("kernel,stride", [((2, 2), (2, 2)), ((3, 3), (1, 1)), ((3, 2), (2, 1))])
def test_max_pool_kernel_is_the_numpy_running_maximum(dt, kernel, stride):
    """forward_kernels.max_pool = the running np.maximum over the window offsets (NaN kept, the later of two
    equal values, so signed zeros too), including overlapping windows."""
    from archsim.sim import forward_kernels as FK
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 9, 8)).astype(dt)
    x[0, 0, 0, 0], x[0, 1, 1, 1], x[1, 0, :2, :2] = np.nan, -np.inf, -0.0
    x[1, 1, :2, :2] = np.array([[0.0, -0.0], [-0.0, 0.0]], dt)
    kh, kw = kernel
    sh, sw = stride
    Ho, Wo = (9 - kh) // sh + 1, (8 - kw) // sw + 1
    want = None
    for i in range(kh):
        for j in range(kw):
            v = x[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw]
            want = v.copy() if want is None else np.maximum(want, v, out=want)
    got = np.empty((2, 3, Ho, Wo), dt)
    FK.max_pool(x, kh, kw, sh, sw, got)
    assert np.array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("case", [
    # cin, (h, w), cout, kernel, stride, padding (t, l, b, r), groups
    (3, (9, 12), 4, 3, 1, 1, 1),
    (2, (10, 11), 4, (3, 5), 1, (2, 0, 1, 3), 1),             # asymmetric kernel and padding, kernel > padding
    (4, (8, 9), 6, 3, (2, 1), (0, 1, 1, 0), 2),               # groups, row stride 2
    (1, (12, 12), 2, 5, 1, 0, 1),                             # no padding (LeNet-5's layers)
])
def test_im2col_kernel_gives_the_numpy_copies(case):
    """forward.im2col's numba pass (column stride 1, at least 8 output columns) writes the very values of the
    padded-copy construction, for every group."""
    cin, hw, cout, k, stride, padding, groups = case
    lay = one_conv(cin, hw, cout, k, stride, padding, groups, False).layer("conv")
    x = np.random.default_rng(2).standard_normal((3, cin, *hw)).astype(np.float32)
    _, Ho, Wo = lay.out_shape
    assert lay.stride[1] == 1 and Wo >= 8            # the numba path
    cg = cin // groups
    for g in range(groups):
        xp = np.pad(x[:, g * cg:(g + 1) * cg], ((0, 0), (0, 0), (lay.padding[0], lay.padding[2]),
                                                 (lay.padding[1], lay.padding[3])))
        want = np.empty((cg, *lay.kernel, 3, Ho, Wo), np.float32)
        for i, j, (hs, ws) in F.window_slices(lay):
            want[:, i, j] = xp[:, :, hs, ws].transpose(1, 0, 2, 3)
        got = F.im2col(x, lay, g)
        assert np.array_equal(got, want.reshape(-1, 3 * Ho * Wo).T)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("pool", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((2, 3), (1, 2))])
def test_conv_then_max_pool_in_one_pass_is_the_two_steps(dt, pool):
    """forward_kernels.conv_out_pool = conv_out then max_pool, to the bit (NaN and signed zeros included); and
    a network's output is the same whether its conv + max-pool pairs run fused (not collected) or apart."""
    from archsim.sim import forward_kernels as FK
    rng = np.random.default_rng(5)
    B, C, Ho, Wo = 2, 3, 7, 8
    (kh, kw), (sh, sw) = pool
    Hp, Wp = (Ho - kh) // sh + 1, (Wo - kw) // sw + 1
    y = rng.normal(size=(B * Ho * Wo, C)).astype(dt)
    y[0, 0], y[9, 1], y[10, 1], y[20, 2] = np.nan, -0.0, 0.0, -np.inf
    b = rng.normal(size=C).astype(dt)
    for relu in (True, False):
        conv = np.empty((B, C, Ho * Wo), dt)
        FK.conv_out(y.T, b, True, relu, conv)
        want = np.empty((B, C, Hp, Wp), dt)
        FK.max_pool(conv.reshape(B, C, Ho, Wo), kh, kw, sh, sw, want)
        got = np.empty((B, C, Hp, Wp), dt)
        FK.conv_out_pool(y.T, b, True, relu, Ho, Wo, kh, kw, sh, sw, got)
        assert np.array_equal(_bits(got), _bits(want))
    wl = Wt.random_weights(workloads.get("mnist_cnn3"), seed=1)
    x = np.random.default_rng(6).random((5, 1, 28, 28), dtype=np.float32)
    convs = [l.name for l in wl.layers() if l.kind == "conv"]
    fused = F.run(wl, x)
    apart, _ = F.run(wl, x, collect=convs)
    assert F._pool_fusions(*F._plan(wl), set(), "fc2") and not F._pool_fusions(*F._plan(wl), set(convs), "fc2")
    assert np.array_equal(_bits(fused), _bits(apart))

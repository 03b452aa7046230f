"""archsim.from_torch: a PyTorch module in one call, equal to the ONNX route and to PyTorch's own logits."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="from_torch needs the torch extra (pip install torch==2.13.0 here)")
pytest.importorskip("onnx", reason="from_torch goes through the onnx extra")

from torch import nn  # noqa: E402

import archsim  # noqa: E402
from archsim.model.errors import ArchsimError  # noqa: E402
from archsim.sim import forward  # noqa: E402


class Block(nn.Module):
    """A residual block: convolutions as submodules, the add and ReLU as functions in forward."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.relu(x + self.conv2(torch.relu(self.bn(self.conv1(x)))))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                      Block(4), nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AvgPool2d(2))
        self.classifier = nn.Linear(8 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = SmallCNN()
    for mod in m.modules():          # batch-norm statistics away from 0/1, so folding them is checked
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    m.train()                         # from_torch exports in eval mode and gives the mode back
    return m


@pytest.fixture(scope="module")
def wl(net):
    return archsim.from_torch(net, torch.zeros(1, 1, 12, 12))


def test_module_names_are_layer_names(wl, net):
    assert [l.name for l in wl.weighted_layers()] == ["features.0", "features.4.conv1", "features.4.conv2",
                                                      "features.5", "classifier"]
    names = {l.name for l in wl.layers()}
    assert "features.3" in names and "features.7" in names        # the pooling modules keep theirs too
    assert net.training                                           # the module's mode is given back


def test_weights_are_the_modules_with_batch_norm_folded(wl, net):
    layers = {l.name: l for l in wl.weighted_layers()}
    np.testing.assert_array_equal(layers["classifier"].weights, net.classifier.weight.detach().numpy())
    np.testing.assert_array_equal(layers["features.5"].weights, net.features[5].weight.detach().numpy())
    bn, conv = net.features[1], net.features[0]
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
    folded = conv.weight.detach().numpy() * scale[:, None, None, None]
    # float32 folding by the exporter and by hand round differently: a few ulps of weights of order 1
    np.testing.assert_allclose(layers["features.0"].weights, folded, rtol=1e-6, atol=1e-6)


def test_estimate_equals_the_onnx_route_exactly(wl, net, tmp_path):
    path = tmp_path / "SmallCNN.onnx"
    net.eval()
    try:
        with warnings.catch_warnings():     # the TorchScript exporter warns that it is the older of two
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(net, (torch.zeros(1, 1, 12, 12),), str(path), dynamo=False, input_names=["input"],
                              output_names=["output"], opset_version=17)
    finally:
        net.train()
    by_hand = archsim.load_onnx(path, name=wl.name)
    assert [l.name for l in by_hand.weighted_layers()] != [l.name for l in wl.weighted_layers()]  # node names
    for device in ("reram", "sram"):
        a, b = archsim.estimate(wl, device), archsim.estimate(by_hand, device)
        for key, v in a.summary.items():
            if isinstance(v, float):
                assert v == b.summary[key], key                  # the same importer: equal to the bit
        np.testing.assert_array_equal(a.layers["energy_J"].to_numpy(), b.layers["energy_J"].to_numpy())


def test_float_forward_matches_pytorch_logits(wl, net):
    torch.manual_seed(1)
    x = torch.randn(16, 1, 12, 12)
    net.eval()
    try:
        with torch.no_grad():
            ref = net(x).numpy()
    finally:
        net.train()
    ours = forward.run(wl, x.numpy())
    # both float32; sums in another order (im2col matmul vs PyTorch's convolution) and batch norm folded
    # into the weights differ by rounding: about 1e-7 relative per operation over a few hundred terms
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    assert (ours.argmax(1) == ref.argmax(1)).all()


def test_every_api_function_takes_it(wl):
    df = archsim.compare(wl, ["reram", "sram"])
    assert list(df["device"]) == ["reram", "sram"] and (df["energy_per_inference_J"] > 0).all()
    x = np.random.default_rng(0).normal(size=(8, 1, 12, 12)).astype(np.float32)
    r = archsim.simulate(wl, x, device="sram", trials=1, seed=0)
    assert r.metric == "fidelity" and 0.0 <= r.mean <= 1.0


def test_unsupported_module_is_one_line():
    class Sorts(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return torch.sort(self.fc(x), dim=1).values
    with pytest.raises(ArchsimError) as e:
        archsim.from_torch(Sorts(), torch.zeros(1, 4))
    assert "\n" not in str(e.value)


def test_without_torch_one_line(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_torch(name, *a, **k):
        if name == "torch":
            raise ImportError(name, name=name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ArchsimError, match=r"pip install 'archsim\[torch\]'"):
        archsim.from_torch(object(), None)

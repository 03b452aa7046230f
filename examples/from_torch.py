"""A PyTorch network on analog chips in one call: ``archsim.from_torch``.

Needs the torch extra (``pip install 'archsim[torch]'``; a CPU build of PyTorch is enough).  Run:

    python examples/from_torch.py

It builds a small CNN (random weights, fixed seed), brings it into archsim with its weights and its
module names as layer names, prices it on three devices, and checks archsim's float forward pass against
PyTorch's on the same inputs.
"""
import numpy as np
import torch
from torch import nn

import archsim
from archsim.sim import forward


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main() -> None:
    torch.manual_seed(0)
    model = SmallCNN().eval()
    wl = archsim.from_torch(model, torch.zeros(1, 1, 28, 28))          # the one call
    print(f"{wl.name}: layers {', '.join(l.name for l in wl.weighted_layers())}; "
          f"{wl.total_weights:,} weights, {wl.total_macs:,} MACs")

    print(archsim.compare(wl, ["reram", "sonos", "sram"])[["device", "energy_per_inference_J", "area_mm2",
                                                           "tops_per_W", "dominant"]].to_string(index=False))

    x = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        ref = model(x).numpy()
    ours = forward.run(wl, x.numpy())
    print(f"largest logit difference archsim vs PyTorch: {np.abs(ours - ref).max():.2e} "
          f"(logits up to {np.abs(ref).max():.2f})")


if __name__ == "__main__":
    main()

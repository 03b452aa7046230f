"""Networks of analog-training studies.

``rpu_mlp``: the fully connected network of Gokmen and Vlasov, Front. Neurosci. 10:333 (2016): 784
inputs, two sigmoid hidden layers of 256 and 128 units, 10 outputs (softmax in the loss), biases on
every layer; the network of their device-requirement study on MNIST.
"""
from __future__ import annotations

from archsim.model.workload import GraphBuilder, Workload

RPU_MLP = ("Fully connected 784-256-128-10 MNIST network with sigmoid hidden layers (Gokmen and Vlasov, "
           "Front. Neurosci. 10:333, 2016): the network of their RPU device-requirement study")


def rpu_mlp() -> Workload:
    b = GraphBuilder("rpu_mlp", (784,), RPU_MLP, "mnist")
    b.dense("fc1", 256, relu=False)
    b.elementwise("sigmoid", "sig1")
    b.dense("fc2", 128, relu=False)
    b.elementwise("sigmoid", "sig2")
    b.dense("fc3", 10, relu=False)
    return b.build()

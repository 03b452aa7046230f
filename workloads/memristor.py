"""Networks demonstrated on memristor hardware.

``mnist_cnn5``: the five-layer memristor CNN (mCNN) of Yao et al., "Fully
hardware-implemented memristor convolutional neural network", Nature 577,
641-646 (2020) -- Yao et al. (Nature 2020).

What is read from the paper:

* a five-layer CNN (two convolutions, two poolings, one fully connected layer)
  on MNIST, signed weights as differential pairs in 128 x 16 1T1R arrays
  (eight 2,048-cell PEs);
* all convolution kernels together hold 936 weights (Extended Data Fig. 7:
  "the 936 conductance weights" of "all the convolutional kernel weights"),
  which is exactly C1 = 8 kernels of 1x3x3 (72) plus C3 = 12 kernels of 8x3x3
  (864); 3x3 input patches (Extended Data Fig. 2);
* only the last FC layer is tuned in situ (hybrid training).

What is assumed (the Methods text with the layer sizes was not available):

* FC 192 -> 10, i.e. a 12 x 4 x 4 map after the second pooling;
* 28 x 28 input, unpadded convolutions, ReLU after each convolution;
* S2 = 2x2 max pooling (26 -> 13); S4 = 3x3 max pooling with stride 3 in
  ceil mode (11 -> 4), written as one row/column of bottom/right padding.

Result: 2,856 weights, 155,136 MACs per image.
"""
from __future__ import annotations

from archsim.model.workload import GraphBuilder, Workload

MNIST_CNN5 = ("Five-layer memristor CNN of Yao et al., Nature 577, 641 (2020) on MNIST: C1 8@3x3, pool, "
              "C3 12@3x3x8, pool, FC 192->10; conv shapes from the paper's 936 kernel weights, FC 192 and "
              "pooling (2x2, then 3x3 ceil) assumed")


def mnist_cnn5() -> Workload:
    b = GraphBuilder("mnist_cnn5", (1, 28, 28), MNIST_CNN5, "mnist")
    b.conv("c1", 8, 3)                               # 8 x 26 x 26
    b.maxpool("s2", 2)                               # 8 x 13 x 13
    b.conv("c3", 12, 3)                              # 12 x 11 x 11
    b.maxpool("s4", 3, 3, padding=(0, 0, 1, 1))      # 12 x 4 x 4 (ceil mode)
    b.flatten("flatten")                             # 192
    b.dense("fc", 10, relu=False)
    return b.build()


DPE_SOFTMAX = ("One-layer softmax classifier on MNIST (784 -> 10) of the HPE Dot-Product Engine demonstration "
               "(Hu, Strachan et al., HPE Labs; Dot-Product Engine, DAC 2016: software-trained weights partitioned over 64x64 TaOx crossbars); the demonstrator "
               "reduced the images to fit six 64-row parts of one array, archsim keeps the 28x28 pixels "
               "(13 row blocks of 64)")


def dpe_softmax() -> Workload:
    b = GraphBuilder("dpe_softmax", (784,), DPE_SOFTMAX, "mnist")
    b.dense("fc", 10, relu=False)        # the softmax itself is in the loss; argmax of the logits classifies
    return b.build()

"""archsim: energy, latency, area and accuracy of neural networks on analog in-memory-computing accelerators.

The flow (see docs/ARCHITECTURE.md): a :class:`Workload` and an :class:`Architecture` (with its
device) are mapped (:func:`map_workload`), the mapping's events are priced (:func:`evaluate`) into an
:class:`Estimate`, and the same mapping is programmed and read by Monte Carlo (:func:`simulate`).
:func:`estimate`, :func:`compare`, :func:`simulate` and :func:`sweep` run the whole flow; :func:`from_torch`
brings a PyTorch module in as a :class:`Workload`.
"""
from archsim.api import compare, compare_accuracy, estimate, simulate, sweep, train
from archsim.cost.price import Estimate, evaluate
from archsim.io.onnx import load_onnx, save_onnx   # needs the onnx extra only when called
from archsim.io.pytorch import from_torch          # needs the torch extra only when called
from archsim.mapping.layout import Mapping, map_workload
from archsim.model.arch import Architecture
from archsim.model.errors import ArchsimError
from archsim.model.workload import GraphBuilder, Layer, Workload
from archsim.version import __version__

__all__ = ["Architecture", "ArchsimError", "Estimate", "GraphBuilder", "Layer", "Mapping", "Workload",
           "__version__", "compare", "compare_accuracy", "estimate", "evaluate", "from_torch", "load_onnx", "map_workload", "save_onnx",
           "simulate", "sweep", "train"]

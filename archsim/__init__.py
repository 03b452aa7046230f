"""archsim: energy, latency, area and accuracy of neural networks on analog in-memory-computing accelerators."""
from archsim.api import compare, estimate
from archsim.model.arch import Architecture
from archsim.cost.price import Estimate, evaluate
from archsim.model.errors import ArchsimError
from archsim.mapping.layout import Mapping, map_workload
from archsim.io.onnx import load_onnx, save_onnx   # needs the onnx extra only when called
from archsim.model.workload import GraphBuilder, Layer, Workload

__all__ = ["Architecture", "ArchsimError", "Estimate", "GraphBuilder", "Layer", "Mapping", "Workload",
           "compare", "estimate", "evaluate", "load_onnx", "map_workload", "save_onnx"]
from archsim.version import __version__  # noqa: E402

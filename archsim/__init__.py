"""archsim: energy, latency, area and accuracy of neural networks on analog in-memory-computing accelerators."""
from .api import compare, estimate
from .arch import Architecture
from .cost import Estimate, evaluate
from .errors import ArchsimError
from .mapping import Mapping, map_workload
from .onnx_io import load_onnx, save_onnx   # needs the onnx extra only when called
from .workload import GraphBuilder, Layer, Workload

__all__ = ["Architecture", "ArchsimError", "Estimate", "GraphBuilder", "Layer", "Mapping", "Workload",
           "compare", "estimate", "evaluate", "load_onnx", "map_workload", "save_onnx"]
__version__ = "0.1.0"

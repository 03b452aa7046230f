"""archsim: energy, latency, area and accuracy of neural networks on analog in-memory-computing accelerators."""
from .api import compare, estimate
from .arch import Architecture
from .cost import Estimate, evaluate
from .errors import ArchsimError
from .mapping import Mapping, map_workload
from .workload import GraphBuilder, Layer, Workload

__all__ = ["Architecture", "ArchsimError", "Estimate", "GraphBuilder", "Layer", "Mapping", "Workload",
           "compare", "estimate", "evaluate", "map_workload"]
__version__ = "0.1.0"

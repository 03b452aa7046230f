"""Bring your own network: ONNX import (with weights) and export.

:func:`load_onnx` reads an ONNX file into a :class:`~archsim.model.workload.Workload` whose
weighted layers carry the file's weights (conv ``(Cout, Cin/groups, kh, kw)``, dense ``(N, K)``);
:func:`save_onnx` writes a workload as an ONNX model (opset :data:`EXPORT_OPSET`).  ONNX is an
optional extra (``pip install archsim[onnx]``); ``import archsim`` does not need it.  The pieces:
:mod:`~archsim.io.onnx.guard` (limits and the checks on untrusted files; the ``MAX_*`` limits are
read there, so set them there), :mod:`~archsim.io.onnx.importer` (graph walk, shapes, folding),
:mod:`~archsim.io.onnx.ops` (op type -> handler, :data:`SUPPORTED_OPS`) and
:mod:`~archsim.io.onnx.exporter` (layer kind -> handler).
"""
from archsim.io.onnx.exporter import EXPORT_OPSET, EXPORT_WEIGHTS, save_onnx
from archsim.io.onnx.guard import (MAX_ACTIVATION_ELEMENTS, MAX_FILE_BYTES, MAX_NODES, MAX_TENSOR_ELEMENTS,
                                   MIN_OPSET)
from archsim.io.onnx.importer import load_onnx
from archsim.io.onnx.ops import SUPPORTED_OPS

__all__ = ["load_onnx", "save_onnx", "SUPPORTED_OPS", "MAX_FILE_BYTES", "MAX_TENSOR_ELEMENTS",
           "MAX_ACTIVATION_ELEMENTS", "MAX_NODES", "MIN_OPSET", "EXPORT_OPSET", "EXPORT_WEIGHTS"]

"""PyTorch in one call: :func:`from_torch` turns an ``nn.Module`` into a :class:`Workload` with its weights.

The route is ONNX: the module is exported (``torch.onnx.export``, in eval mode, to a file in a private
temporary folder), each node is renamed after the module that made it, and the file is read by
archsim's own importer (:func:`archsim.io.onnx.load_onnx`), the same checks, operators and batch-norm
folding as for any ONNX file.  So a network brought in by :func:`from_torch` and the same network exported
by hand and loaded with ``load_onnx`` give the same workload, layer for layer, except for the names.

Names: PyTorch's exporter names a node after the module scopes it ran in (``/features/features.0/Conv``;
the newer exporter keeps them in the node's ``pkg.torch.onnx.name_scopes`` metadata); the innermost
scope is the module's qualified name (``features.0``), which becomes the layer's name, as in
``module.named_modules()``.  A node made outside any submodule (``torch.flatten`` in ``forward``) is named
after its operator; two nodes of one module (a block's residual add) get ``_1``, ``_2`` suffixes.

Why ONNX rather than ``torch.fx``: the importer already handles, and guards, every operator archsim maps
(convolutions with groups and padding, batch norm folded into the weights, pooling, concatenation, residual
adds, flatten and reshape), and one importer means one set of shape rules to keep right; ``torch.fx`` would
need a second converter for the same layers, and fails on modules with data-dependent control flow that the
exporter traces through.

PyTorch is optional (the ``torch`` extra, with ``onnx``): without it :func:`from_torch` fails in one line.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import tempfile
import warnings
from pathlib import Path

from archsim.io.files import atomic_write
from archsim.io.onnx.guard import safe_name, workload_name
from archsim.model.errors import ArchsimError
from archsim.model.workload import Workload

#: the metadata key in which the newer (``dynamo=True``) exporter keeps a node's module scopes
SCOPES_KEY = "pkg.torch.onnx.name_scopes"


def _torch():
    try:
        import torch
        import onnx  # noqa: F401  (the importer needs it)
    except ImportError as exc:
        raise ArchsimError(f"from_torch: needs PyTorch and onnx ({exc.name} is missing); "
                           f"pip install 'archsim[torch]'") from None
    return torch


def _scopes(node) -> list[str]:
    """The module scopes an exported node ran in, outermost first, as the exporter wrote them."""
    for p in node.metadata_props:
        if p.key == SCOPES_KEY:
            for parse in (json.loads, ast.literal_eval):
                try:
                    return [str(s) for s in parse(p.value) if s]
                except (ValueError, SyntaxError, TypeError):
                    continue
    return [s for s in str(node.name).split("/") if s][:-1]     # '/features/features.0/Conv' -> scopes


def module_scope(node, names: set[str]) -> str:
    """The qualified name (as in ``named_modules()``) of the module an exported ONNX node came from, or ''.

    The exporter writes each scope either qualified (``features.0``) or as the attribute's name within its
    parent (``conv1``); both are resolved against ``names``, the module's qualified names."""
    current = ""
    for seg in _scopes(node):
        if current and f"{current}.{seg}" in names:
            current = f"{current}.{seg}"
        elif seg in names:
            current = seg
    return current


def rename_nodes(model, names: set[str]) -> dict[str, str]:
    """Rename every node of ``model`` (in place) after its module (or its operator); return old -> new."""
    out = {}
    for node in model.graph.node:
        new = module_scope(node, names) or node.op_type.lower()
        out[node.name] = new
        node.name = new
    return out


def export_onnx(module, example_input, path: str | Path, opset: int = 17) -> Path:
    """Export ``module`` on ``example_input`` to ONNX at ``path`` (eval mode, constants folded, the batch
    axis dynamic), its nodes named after their modules (:func:`rename_nodes`)."""
    torch = _torch()
    import onnx
    path = Path(path)
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    was_training = bool(getattr(module, "training", False))
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            kwargs = dict(input_names=["input"], output_names=["output"], opset_version=opset,
                          do_constant_folding=True, dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
            try:     # the TorchScript exporter needs nothing beyond torch; the newer one needs onnxscript
                torch.onnx.export(module, args, str(path), dynamo=False, **kwargs)
            except TypeError:
                torch.onnx.export(module, args, str(path), **kwargs)
    except ArchsimError:
        raise
    except Exception as exc:    # the exporter's own errors: unsupported operator, tracing failure
        raise ArchsimError(f"from_torch: PyTorch could not export {type(module).__name__} to ONNX: "
                           f"{safe_name(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 200)}") from None
    finally:
        module.train(was_training)
    model = onnx.load(str(path))
    rename_nodes(model, {n for n, _ in module.named_modules() if n})
    atomic_write(path, model.SerializeToString())
    return path


def from_torch(module, example_input, name: str | None = None) -> Workload:
    """The :class:`Workload` of a PyTorch ``module`` with its weights, layers named after its modules.

    ``example_input``: a tensor of one batch (``(1, C, H, W)`` or ``(1, F)``; the batch size does not
    matter) or a tuple of the forward's arguments.  ``name``: the workload's name (default: the module's
    class name).  The module is exported in eval mode (batch norm uses its running statistics, dropout is
    off) and left in the mode it was in.  The result works with every API function (``estimate``,
    ``compare``, ``simulate``) as any workload does."""
    _torch()
    from archsim.io.onnx import load_onnx
    wl_name = workload_name(name or type(module).__name__)
    with tempfile.TemporaryDirectory(prefix="archsim-torch-") as tmp:
        path = export_onnx(module, example_input, Path(tmp) / f"{wl_name}.onnx")
        wl = load_onnx(path, name=wl_name)
    return Workload(wl.name, wl.graph, f"from PyTorch module {safe_name(type(module).__name__, 100)} "
                    f"(torch.onnx export, archsim's ONNX importer)", wl.dataset)


__all__ = ["from_torch", "export_onnx", "rename_nodes", "module_scope"]

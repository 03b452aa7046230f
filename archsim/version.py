"""The package version, at the bottom of the import graph (the ONNX exporter stamps it into files)."""
__version__ = "0.1.0"

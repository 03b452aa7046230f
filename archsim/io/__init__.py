"""Reading and writing files at the edges of the flow: user YAML (``safe_load`` only), data sets and
user ``.npz`` files (``data``; MNIST's wheel in ``mnist``, Fashion-MNIST's IDX files in ``fashion`` and
``idx``), and ONNX networks both ways (``onnx``).  Files are untrusted: sizes are checked before anything
is allocated and every failure is one line naming the file.
"""

"""BLAS threads: one context that holds numpy's BLAS to one thread (threadpoolctl, an optional extra).

Small matrix products (the mapping's tile-group distances, the simulator's per-block products) gain nothing
from BLAS's own threads: on a shared or busy machine its threads spin and double the CPU time, and a sweep or
the simulator already splits its work over processes or threads.  A product's result does not depend on the
thread count (BLAS splits the output's rows and columns, never the sum along the inner dimension: the whole
sizing sweep's CSV is the same either way, benchmarks/bench_sweep.py), so this changes time only.
"""
from __future__ import annotations

import contextlib


class _Blas:
    """threadpoolctl's controller, found once (a handle on the loaded BLAS libraries, not a result
    cache: finding the libraries costs about a millisecond per call)."""
    controller = None


def blas_single_thread():
    """Context holding BLAS to one thread (threadpoolctl), or a no-op without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext()
    if _Blas.controller is None:
        import numpy  # noqa: F401  (numpy's BLAS loaded before the controller looks for it)
        _Blas.controller = ThreadpoolController()
    return _Blas.controller.limit(limits=1, user_api="blas")

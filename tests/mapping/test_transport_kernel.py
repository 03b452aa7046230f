"""The compiled routes (archsim/mapping/transport_kernel.py) are the numpy transport's routes, float for float.

Exact comparisons, no tolerance: the kernel does the same integer steps on the same stable order and reads the
hops from the same distance matrix, and sums bits x hops in route order as ``Edge`` does.
"""
from __future__ import annotations

import numpy as np
import pytest

import workloads
from archsim.mapping import layout, mesh, routes
from archsim.mapping.transport_kernel import edge_routes
from archsim.model import arch as A


def _numpy_routes(bits, ns, nd, dist, src_port, dst_port):
    flows = mesh.transport(mesh.shares(bits, ns), mesh.shares(bits, nd), dist)
    first_s, first_d = np.cumsum(ns) - ns, np.cumsum(nd) - nd
    return [(-1 if src_port else int(first_s[j]), -1 if dst_port else int(first_d[i]), q, float(dist[j, i]))
            for j, i, q in flows]


def test_kernel_routes_equal_numpy_transport_with_ties():
    """Random groups, replica counts and distances full of ties (small integers over 1, 3 or 7: equal values
    sort by source, then destination), bits from 0 (no route) to more than the replicas."""
    rng = np.random.default_rng(7)
    for _ in range(600):
        a, b = (int(x) for x in rng.integers(1, 14, 2))
        ns = rng.integers(1, 6, a).astype(np.int64)
        nd = rng.integers(1, 6, b).astype(np.int64)
        dist = rng.integers(0, 5, (a, b)).astype(float) / float(rng.choice([1, 3, 7]))
        bits = int(rng.integers(0, 400))
        ports = (bool(rng.integers(0, 2)) and a == 1, bool(rng.integers(0, 2)) and b == 1)
        rs, rd, q, h, bit_hops, max_hops = edge_routes(bits, ns, nd, dist, *ports)
        got = list(zip(rs.tolist(), rd.tolist(), q.tolist(), h.tolist()))
        want = _numpy_routes(bits, ns, nd, dist, *ports)
        assert got == want
        e = routes.Edge("a", "b", bits, tuple(map(tuple, zip(*want))) if want else ((), (), (), ()))
        assert (bit_hops, max_hops) == (e.bit_hops, e.max_hops)      # the same sum in the same order
        assert sum(q.tolist()) == bits                                 # every bit sent


def test_large_transport_takes_the_numpy_prefix_path():
    """Many groups (the numpy code sorts only a prefix of the pairs there): still the same routes."""
    rng = np.random.default_rng(3)
    ns = rng.integers(1, 4, 90).astype(np.int64)
    nd = rng.integers(1, 4, 70).astype(np.int64)
    dist = rng.integers(0, 30, (90, 70)).astype(float) / 3.0
    rs, rd, q, h, _, _ = edge_routes(123457, ns, nd, dist, False, False)
    assert list(zip(rs.tolist(), rd.tolist(), q.tolist(), h.tolist())) == _numpy_routes(123457, ns, nd, dist,
                                                                                        False, False)


@pytest.mark.parametrize("rows, bpc, mesh_shape", [(128, 2, (57, 56)), (256, 4, (30, 30)), (64, 1, (148, 148))])
def test_compiled_edges_equal_numpy_edges_on_resnet50(rows, bpc, mesh_shape):
    """Every edge of ResNet-50 mappings with many replica groups: routes, bit-hops and longest hops identical
    with and without the compiled transport."""
    wl = workloads.get("resnet50")
    a = A.Architecture(device="sonos", rows=rows, cols=rows, bits_per_cell=bpc,
                       mesh=list(mesh_shape))
    m = layout.map_workload(wl, a)
    with routes.compiled_transport():
        fast = routes.edges(m, a)
    slow = routes.edges(m, a)
    assert len(fast) == len(slow) == len(m.edges)
    several = 0
    for f, s in zip(fast, slow):
        assert (f.src, f.dst, f.bits, f.flows) == (s.src, s.dst, s.bits, s.flows)
        assert (f.bit_hops, f.max_hops) == (s.bit_hops, s.max_hops)
        several += len(f.flows[0]) > 1
    assert several > 10      # the comparison reached edges with many routes

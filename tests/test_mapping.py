"""Mapping invariants: every weight placed once per slice, no tile over capacity, placement, replication."""
import numpy as np
import pytest

from archsim.model import arch
from archsim.mapping import layout as mapping
from archsim.model.errors import ArchsimError
from conftest import lenet, single_conv, single_dense


def coverage(lm, a):
    """Count how often each (group, row, col, slice, copy) cell is placed."""
    n_g = lm.N // lm.groups
    cover = np.zeros((lm.groups, lm.K, n_g, lm.slices, lm.copies), dtype=int)
    n = 0
    for g, r0, r1, c0, c1, s, c in lm.blocks(a.rows, a.cols):
        assert 0 < r1 - r0 <= a.rows and 0 < c1 - c0 <= a.cols
        cover[g, r0:r1, c0:c1, s, c] += 1
        n += 1
    return cover, n


@pytest.mark.parametrize("wl, rows, cols, mapping_kind", [
    (lenet(), 128, 128, "differential"),
    (lenet(), 64, 32, "offset"),
    (single_dense(300, 257), 128, 128, "differential"),
    (single_conv(16, 16, 8, groups=4), 32, 8, "offset"),
    (single_conv(8, 8, 6, groups=8), 16, 16, "differential"),  # depthwise
])
def test_every_weight_once_per_slice(wl, rows, cols, mapping_kind):
    a = arch.Architecture(rows=rows, cols=cols, cols_per_adc=min(8, cols), mapping=mapping_kind)
    m = mapping.map_workload(wl, a)
    for lm in m.layers:
        cover, n = coverage(lm, a)
        assert (cover == 1).all()
        assert n == lm.arrays
        assert lm.cells_used == lm.K * lm.N * lm.slices * lm.copies


def test_slices_and_copies():
    wl = single_dense(64, 64)
    # 8-bit differential: 7 magnitude bits; 2 bits per cell -> 4 slices, x2 arrays
    m = mapping.map_workload(wl, arch.Architecture(bits_per_cell=2))
    lm = m.layers[0]
    assert (lm.slices, lm.copies, lm.arrays) == (4, 2, 8)
    # offset mapping keeps the sign bit in the cells: 8 bits / 2 = 4 slices, 1 copy
    m = mapping.map_workload(wl, arch.Architecture(bits_per_cell=2, mapping="offset"))
    assert (m.layers[0].slices, m.layers[0].copies) == (4, 1)


def test_bits_per_cell_auto_follows_device_levels():
    wl = single_dense(10, 10)
    a = arch.Architecture(device="sram")
    assert mapping.map_workload(wl, a).bits_per_cell == 1
    assert mapping.map_workload(wl, a.replace(device="sonos")).bits_per_cell == 7   # 128 levels
    assert mapping.map_workload(wl, a.replace(device="reram")).bits_per_cell == 7   # 256 levels
    # 7 magnitude bits on 6-bit cells (dpe_taox, 64 levels): two even slices of 4 and 3, not 6 + 1
    m = mapping.map_workload(wl, a.replace(device="dpe_taox"))
    assert (m.bits_per_cell, m.layers[0].slices) == (4, 2)


def test_bits_per_cell_beyond_device_refused():
    with pytest.raises(ArchsimError, match="key 'bits_per_cell' = 4 exceeds what device 'sram' holds"):
        mapping.map_workload(single_dense(4, 4), arch.Architecture(device="sram", bits_per_cell=4))


def test_no_tile_over_capacity_and_unique_placement():
    wl = lenet()
    a = arch.Architecture(arrays_per_tile=4, mesh=(6, 6))
    m = mapping.map_workload(wl, a)
    seen = set()
    for lm in m.layers:
        assert lm.arrays * lm.replication <= lm.tiles * a.arrays_per_tile
        assert (lm.tiles - 1) * a.arrays_per_tile < lm.arrays * lm.replication  # no empty tile
        for r, c in m.tile_coords(lm):
            assert 0 <= r < 6 and 0 <= c < 6
            assert (r, c) not in seen
            seen.add((r, c))
    assert m.tiles_used <= 36


def test_serpentine_neighbours():
    xy = mapping.serpentine(np.arange(20), 5)
    steps = np.abs(np.diff(xy, axis=0)).sum(axis=1)
    assert (steps == 1).all()


def test_replication_balances_pipeline():
    wl = lenet()
    a = arch.Architecture(arrays_per_tile=4)
    base = mapping.map_workload(wl, a)
    big = mapping.map_workload(wl, a.replace(tiles=base.tiles_used * 4))
    slow = lambda m: max(l.vectors_per_replica for l in m.layers)
    assert slow(big) < slow(base)
    assert big.tiles_used <= base.tiles_used * 4
    # the first conv (784 vectors) is the bottleneck and gets the most copies
    assert big.layers[0].replication == max(l.replication for l in big.layers)
    off = mapping.map_workload(wl, a.replace(tiles=base.tiles_used * 4, replicate=False))
    assert all(l.replication == 1 for l in off.layers)


def test_layer_that_does_not_fit_is_named():
    wl = lenet()
    with pytest.raises(ArchsimError, match=r"layer 'c\d' of lenet_t does not fit the chip: it needs \d+ tiles"):
        mapping.map_workload(wl, arch.Architecture(mesh=(1, 2), arrays_per_tile=1))


def test_auto_mesh_holds_tiles():
    for t in (1, 2, 7, 12, 97, 1000):
        r, c = mapping._auto_mesh(t)
        assert r * c >= t and r <= c
        assert r * c - t < c  # never a whole spare row


def test_noc_edges_follow_graph():
    m = mapping.map_workload(lenet(), arch.Architecture())
    pairs = [(e.src, e.dst) for e in m.edges]
    assert pairs == [("input", "c1"), ("c1", "c2"), ("c2", "c3"), ("c3", "f6"), ("f6", "f7"), ("f7", "output")]
    # c1 -> pool -> c2: what crosses the network is the pooled map, 6x14x14 8-bit values
    assert m.edges[1].bits == 6 * 14 * 14 * 8
    assert all(e.hops >= 0 for e in m.edges)


def test_mean_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 9, 30)
    b = rng.integers(0, 9, 17)
    brute = np.abs(a[:, None] - b[None, :]).mean()
    assert mapping._mean_distance(a, b) == pytest.approx(brute)

"""Mapping invariants: every weight placed once per slice, no tile over capacity, placement, replication."""
import numpy as np
import pytest

from archsim.model import arch
from archsim.mapping import layout as mapping
from archsim.mapping import mesh
from archsim.model.errors import ArchsimError
from tests.support import lenet, mnist_cnn, single_conv, single_dense


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
    assert mapping.map_workload(wl, a.replace(device="sonos")).bits_per_cell == 7   # 128 levels, 7 reliable
    # reram: 256 levels, but 3 bits per cell reliably (conductance.bits_per_cell_max): 7 magnitude bits in 3 slices
    m = mapping.map_workload(wl, a.replace(device="reram"))
    assert (m.bits_per_cell, m.layers[0].slices) == (3, 3)
    # an explicit bits_per_cell above the reliable bits, within the levels, is the user's choice
    assert mapping.map_workload(wl, a.replace(device="reram", bits_per_cell=7)).bits_per_cell == 7
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
    xy = mesh.serpentine(np.arange(20), 5)
    steps = np.abs(np.diff(xy, axis=0)).sum(axis=1)
    assert (steps == 1).all()


def test_replication_balances_pipeline():
    wl = lenet()
    a = arch.Architecture(arrays_per_tile=4, bits_per_cell=7)   # one slice per weight: tiles follow the layers
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
        r, c = mesh.auto_mesh(t)
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
    assert mesh.mean_distance(a, b) == pytest.approx(brute)


# ---- routes between replicas, spare tiles of an auto mesh, buffers per tile ---------------------------------------
from archsim.model.workload import GraphBuilder  # noqa: E402


def two_convs():
    """input 1x4x4 -> conv a (1x1, 2 ch) -> conv b (1x1, 2 ch): each replica is one differential pair, 2 arrays."""
    b = GraphBuilder("two_convs", (1, 4, 4))
    b.conv("a", 2, 1, relu=False)
    b.conv("b", 2, 1, relu=False)
    return b.build()




def old_rule_bit_hops(m):
    """Bit-hops per edge under the former law: mean Manhattan distance over all producer x consumer tile pairs."""
    io = np.array([[-1, 0]])
    coords = lambda n: io if n in ("input", "output") else m.tile_coords(m.layer(n))
    out = {}
    for e in m.edges:
        a, b = coords(e.src), coords(e.dst)
        d = mesh.mean_distance(a[:, 0], b[:, 0]) + mesh.mean_distance(a[:, 1], b[:, 1])
        out[(e.src, e.dst)] = e.bits * d
    return out


def test_routes_exact_on_a_tiny_mesh():
    # mesh 2x2, serpentine: tile 0 (0,0), 1 (0,1), 2 (1,1), 3 (1,0); 2 spare tiles replicate a and b once each
    a = arch.Architecture(arrays_per_tile=2, mesh=(2, 2), bits_per_cell=7)   # one slice per weight
    m = mapping.map_workload(two_convs(), a)
    assert [(l.replication, l.tiles, l.first_tile) for l in m.layers] == [(2, 2, 0), (2, 2, 2)]
    e = {(x.src, x.dst): x for x in m.edges}
    # the port (-1, 0) sends half the input (1x4x4 x 8 bit = 128 bits) to each replica of a: 1 and 2 hops
    assert sorted((r.bits, r.hops) for r in e["input", "a"].routes) == [(64, 1.0), (64, 2.0)]
    assert e["input", "a"].bit_hops == 64 * 1 + 64 * 2
    # each replica of b takes its half (2x4x4 x 8 / 2 = 128 bits) from the adjacent replica of a, 1 hop:
    # a0 (0,0) -> b1 (1,0) and a1 (0,1) -> b0 (1,1); the mean over all pairs would say 1.5 hops
    assert sorted((r.src_replica, r.dst_replica, r.bits, r.hops) for r in e["a", "b"].routes) == \
        [(0, 1, 128, 1.0), (1, 0, 128, 1.0)]
    assert e["a", "b"].bit_hops == 256
    assert old_rule_bit_hops(m)["a", "b"] == 256 * 1.5
    # the port gathers both halves of b's output: from (1,1) 3 hops, from (1,0) 2 hops
    assert e["b", "output"].bit_hops == 128 * 3 + 128 * 2
    assert e["b", "output"].max_hops == 3


def test_replication_does_not_inflate_bit_hops():
    wl = lenet()
    a = arch.Architecture(arrays_per_tile=4)
    one = mapping.map_workload(wl, a.replace(replicate=False, mesh=(6, 6)))
    rep = mapping.map_workload(wl, a.replace(mesh=(6, 6)))
    assert max(l.replication for l in rep.layers) > 1
    total = lambda m: sum(e.bit_hops for e in m.edges)
    old_one, old_rep = sum(old_rule_bit_hops(one).values()), sum(old_rule_bit_hops(rep).values())
    assert old_rep > old_one            # the case: averaged over all pairs, replicas inflated the bit-hops
    # unreplicated, routes are the old law exactly; replicated, every edge costs at most what the old law said
    assert total(one) == pytest.approx(old_one, rel=1e-12)
    old = old_rule_bit_hops(rep)
    for e in rep.edges:
        # shares are whole bits: a remainder bit may ride a longer route (3200 bits over 7 replicas)
        assert e.bit_hops <= old[(e.src, e.dst)] + len(e.routes) * e.max_hops, (e.src, e.dst)
    assert total(rep) < old_rep
    # every bit is routed exactly once
    assert all(sum(r.bits for r in e.routes) == e.bits for e in rep.edges)


def test_spare_tiles_of_an_auto_mesh_replicate_the_bottleneck():
    wl = mnist_cnn()
    a = arch.Architecture(bits_per_cell=7)   # one slice per weight: the tile counts below
    m = mapping.map_workload(wl, a)
    idle = mapping.map_workload(wl, a.replace(replicate=False))
    assert idle.tiles_used == 10 and idle.mesh == m.mesh == (3, 4)
    slow = max(m.layers, key=lambda l: l.vectors_per_replica)
    spare = m.tiles_total - m.tiles_used
    one_more = mapping._tiles_for(slow, slow.replication + 1, a) - slow.tiles
    assert spare == 0 or one_more > spare or slow.replication == slow.vectors
    assert m.tiles_used > idle.tiles_used
    assert max(l.vectors_per_replica for l in m.layers) < max(l.vectors_per_replica for l in idle.layers)


def test_buffer_per_tile_auto_and_fixed():
    wl = mnist_cnn()
    a = arch.Architecture(buffer_kB="auto", replicate=False, bits_per_cell=7)   # one slice per weight
    m = mapping.map_workload(wl, a)
    kb = mapping.KB_BITS
    c1, c3, f1 = m.layer("c1"), m.layer("c3"), m.layer("f1")
    # c1: (3 + 1) rows x 28 x 1 input values + one output row 26 x 32, 8 bits, one tile: 7552 bits -> 1 kB
    assert mapping.working_set_bits(wl.layer("c1"), 8) == (4 * 28 * 1 + 26 * 32) * 8
    assert c1.buffer_bits_per_tile == kb
    # c3: (3 + 1) x 5 x 64 + 3 x 128 values = 1664 bytes over its 2 tiles: 832 bytes -> 1 kB
    assert c3.tiles == 2 and c3.buffer_bits_per_tile == kb
    # f1: 1152 inputs + 256 outputs = 1408 bytes over 5 tiles -> 1 kB each
    assert f1.tiles == 5 and f1.buffer_bits_per_tile == kb
    big = mapping.map_workload(single_dense(8192, 64), a)
    assert big.layers[0].buffer_bits_per_tile == -(-(8192 + 64) * 8 // (big.layers[0].tiles * kb)) * kb
    fixed = mapping.map_workload(wl, a.replace(buffer_kB=64))
    assert all(l.buffer_bits_per_tile == 64 * kb for l in fixed.layers)


@pytest.mark.parametrize("cin, rows, groups", [(20, 16, 1), (32, 16, 1), (16, 8, 2)])
def test_kernel_position_blocks_hold_one_position_each(cin, rows, groups):
    """conv_mapping kernel_position: the row order is a permutation of the matrix rows; every array holds rows of
    one kernel position only (channels c of matrix rows c * 9 + p), each position starting a new array, its last
    one partly filled; every cell placed once per slice, as many arrays as the mapping counts."""
    a = arch.Architecture(rows=rows, cols=8, cols_per_adc=8, conv_mapping="kernel_position")
    lm = mapping.map_workload(single_conv(cin, 8, 5, groups=groups), a).layers[0]
    per = cin // groups
    assert lm.positions == 9 and lm.row_blocks == 9 * -(-per // rows)
    order = lm.row_order()
    assert sorted(order.tolist()) == list(range(lm.K))
    cover, n = coverage(lm, a)
    assert (cover == 1).all() and n == lm.arrays
    for r0, r1 in lm.row_ranges(rows):
        assert len({int(k) % 9 for k in order[r0:r1]}) == 1            # one kernel position per array
        assert r1 - r0 == min(rows, per - (r0 % per))                   # full arrays, then the partly filled one

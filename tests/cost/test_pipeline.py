"""Pipeline timing: a stage takes the longest of compute, buffer traffic and link traffic, and says which."""
import dataclasses

import numpy as np
import pytest

import workloads
from archsim.cost import pipeline
from archsim.cost.floorplan import floorplan
from archsim.cost import price as cost
from archsim.cost.components import prices_for
from archsim.mapping import layout as mapping
from archsim.model import arch
from tests.support import lenet, single_conv, single_dense
from tests.support import mnist_cnn
from archsim.model.device import load_device


def timed(wl, prices=None, **kw):
    a = arch.Architecture(**kw)
    p = prices or prices_for(a, load_device(a.device))
    m = mapping.map_workload(wl, a)
    return m, pipeline.timing(m, p, "inference", pipeline.vector_time(a, p))


def test_buffer_bound_stage_is_bits_over_bandwidth():
    # 64 -> 64 channels, 3x3, 8x8 map: K = 576 -> 5 row blocks x 2 arrays = 10 arrays on 2 tiles
    wl = single_conv(64, 64, 8)
    a = arch.Architecture(device="sonos", replicate=False)
    narrow = dataclasses.replace(prices_for(a, load_device(a.device)), buf_access_bits=8)   # an 8-bit buffer port
    m, t = timed(wl, narrow, device="sonos", replicate=False)
    lm = m.layers[0]
    assert lm.tiles == 2
    bits = lm.vectors * (lm.K + lm.N) * a.input_bits   # every vector reads its receptive field, writes its outputs
    assert t.bound == ("buffer",)
    assert t.stages[0] == pytest.approx(bits / (8 * narrow.clock_Hz * 2), rel=1e-12)
    assert t.stages[0] > t.compute[0]
    # the same bits the energy side prices
    from archsim.cost.events import events
    assert events(m)["buffer_bit"][0] == bits


def test_doubling_link_width_halves_a_link_bound_stage():
    wl = lenet()
    m4, t4 = timed(wl, link_width_bits=4)
    m8, t8 = timed(wl, link_width_bits=8)
    assert m4.layers == m8.layers
    assert t8.link == pytest.approx(t4.link / 2, rel=1e-12)
    link = [i for i, (b4, b8) in enumerate(zip(t4.bound, t8.bound)) if b4 == b8 == "link"]
    assert link
    for i in link:
        assert t8.stages[i] == pytest.approx(t4.stages[i] / 2, rel=1e-12)
    # a stage bound by compute keeps its time whatever the links
    assert np.array_equal(t4.compute, t8.compute)
    both = [i for i, (b4, b8) in enumerate(zip(t4.bound, t8.bound)) if b4 == b8 == "compute"]
    assert both and all(t4.stages[i] == t8.stages[i] == t8.compute[i] for i in both)


def test_compute_bound_stages_unchanged():
    a = arch.Architecture(device="sonos")
    m, t = timed(single_dense(128, 128), device="sonos")
    p = prices_for(a, load_device(a.device))
    assert t.bound == ("compute",)
    assert p.t_pulse > 10e-9     # the row select before the 10 ns window
    assert t.stages[0] == 8 * p.t_pulse == pytest.approx(pipeline.t_vector(a, p))
    assert t.period == t.stages[0]


def test_link_bound_counts_port_and_tiles():
    # one dense layer: its input arrives through the I/O port's one link, its output leaves the same way
    a = arch.Architecture(link_width_bits=1)
    m, t = timed(single_dense(128, 64), link_width_bits=1)
    assert t.bound == ("link",)
    assert t.link[0] == pytest.approx(128 * 8 / (1 * prices_for(a, load_device(a.device)).clock_Hz), rel=1e-12)


def test_vgg8_period_covers_its_own_transfers():
    """VGG-8, 128x128 arrays, 8 arrays per tile: the period is no shorter than any transfer's serialization
    (issue 12: compute alone gave periods shorter than conv1's 1 Mbit output took to leave its tile)."""
    wl = workloads.get("vgg8")
    for kw in ({}, {"tiles": 1000}):
        kk = dict(kw, bits_per_cell=7)   # one slice per weight, as the tile counts below were set up
        a = arch.Architecture(rows=128, cols=128, arrays_per_tile=8, **kk)
        clock = prices_for(a, load_device(a.device)).clock_Hz
        m, t = timed(wl, **dict(rows=128, cols=128, arrays_per_tile=8, **kk))
        tiles = {l.layer: l.tiles for l in m.layers}
        first = m.layers[0].layer
        for e in m.edges:
            links = min(tiles.get(e.src, 1), tiles.get(e.dst, 1))
            serial = e.bits / (a.link_width_bits * links * clock)
            assert t.period >= serial * (1 - 1e-12), (kw, e.src, e.dst)
            if first in (e.src, e.dst):
                p = prices_for(a, load_device(a.device))   # a hop: router cycles and the link's wire delay
                hop = e.max_hops * (p.router_cycles / clock + p.t_wire_m * floorplan(m, p).pitch)
                assert t.transfer[(e.src, e.dst)] == pytest.approx(serial + hop, rel=1e-12)
        i = int(np.argmax(t.stages))
        assert t.period == t.stages[i] and t.period_bound == t.bound[i]
        if kw:
            # 1000 tiles replicate conv1_1 ~100 times; its outputs, not its arrays, now set the pace
            assert t.bound[i] == "link" and t.period > t.compute.max()
        else:
            assert t.bound[i] == "compute"


def test_spare_tiles_do_not_worsen_the_period():
    wl = mnist_cnn()
    idle = cost.evaluate(mapping.map_workload(wl, arch.Architecture(replicate=False)))
    used = cost.evaluate(mapping.map_workload(wl, arch.Architecture()))
    assert used.summary["tiles"] == idle.summary["tiles"]
    assert used.summary["inferences_per_s"] >= idle.summary["inferences_per_s"]
    assert set(used.layers["bound"]) <= set(pipeline.BOUNDS)
    assert used.summary["period_bound"] in pipeline.BOUNDS


def test_training_moves_bits_twice_and_period_is_latency():
    wl = single_conv(16, 16, 10)
    a = arch.Architecture(device="sonos", cost_model="lut")
    p = prices_for(a, load_device(a.device))
    m = mapping.map_workload(wl, a)
    inf = pipeline.timing(m, p, "inference", pipeline.vector_time(a, p, "inference"))
    tr = pipeline.timing(m, p, "training", pipeline.vector_time(a, p, "training"))
    assert tr.buffer == pytest.approx(2 * inf.buffer, rel=1e-12)
    assert tr.link == pytest.approx(2 * inf.link, rel=1e-12)
    assert tr.period == tr.latency

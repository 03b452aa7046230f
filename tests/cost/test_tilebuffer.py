"""Tile buffer bandwidth from the buffer organisation (archsim.cost.tilebuffer), the neurosim library's law.

Widths are NeuroSim V1.4's own arithmetic (Tile.cpp:119-229, Param.cpp:86-87), worked by hand here: at 128 x 128
subarrays a conventional tile (2 PE groups) buffers 2 x 8 x 128 = 2048 input bits in 2 cores of 32-bit lines,
64 bits per clock; its partial sums are 5 + 0 + 8 + 7 + 1 = 21 subarray bits + 4 (PE adder tree of 16 arrays) + 1
(tile) = 26 bits, 26 x 2 x 16 = 832 bits per clock of results fit one core, so one 52-bit line per clock.
"""
import numpy as np
import pytest

import workloads
from archsim.cost import pipeline, tilebuffer
from archsim.cost.components import prices_for
from archsim.cost.price import evaluate
from archsim.mapping.layout import map_workload
from archsim.model import presets


@pytest.fixture(scope="module")
def base():
    return presets.load("neurosim").architecture


def _widths(arch, wl="vgg8"):
    m = map_workload(workloads.get(wl), arch)
    return m, tilebuffer.widths(m, prices_for(m.arch, m.device).buf_org)


def test_conventional_tile_widths_by_hand(base):
    m, (w_in, w_out, word) = _widths(base)
    assert m.layers[0].layer == "conv1_1" and not tilebuffer.novel_layers(m)[0]   # 27 rows < 128: conventional
    assert (w_in[0], w_out[0], word[0]) == (64, 52, 26)
    assert m.layers[-1].kind == "dense" and (w_in[-1], w_out[-1]) == (64, 52)


def test_novel_tile_widths_by_hand(base):
    """conv1_2 (3 x 3, 128 channels = 1152 rows >= 128): novel tile, 9 x 8 x 128 bits in 9 cores, inputs shared
    by 3 PEs; partial sums 21 + 4 + 4 = 29 bits, 29 x 9 x 16 = 4176 bits: 5 cores of 32-bit lines."""
    m, (w_in, w_out, word) = _widths(base)
    assert tilebuffer.novel_layers(m)[1]
    assert (w_in[1], w_out[1], word[1]) == (3 * 9 * 32, 5 * 32, 29)


def test_widths_follow_rows_cols_bits(base):
    """256 x 256: twice the input cores (4, 128 bits), results 26 x 2 x 32 = 1664 bits: 2 cores (64 bits); 4-bit
    ADC: one bit less per partial sum and a line one bit narrower per group (the same results per clock)."""
    _, (w_in, w_out, word) = _widths(base.replace(rows=256, cols=256))
    assert (w_in[0], w_out[0], word[0]) == (128, 64, 26)
    _, (w_in, w_out, word) = _widths(base.replace(adc_bits=4))
    assert (w_in[0], w_out[0], word[0]) == (64, 50, 25)
    assert w_out[0] / word[0] == 2                     # one result per group per clock, whatever the bits


def test_buffer_time_linear_in_receptive_field(base):
    """DenseNet-40's 1 x 1 layers (conventional tiles, 48 outputs, 1024 vectors, one tile each) grow by 12 input
    rows from one to the next: each step adds 12 x 8 / 64 = 1.5 clocks per vector, as NeuroSim's printed buffer
    latency does (47.6, 50.3, 53.0 ... us: +2.7 us = 1536 clocks of 1.697 ns per step)."""
    m = map_workload(workloads.get("densenet40"), base)
    p = prices_for(m.arch, m.device)
    tm = pipeline.timing(m, p, "inference", pipeline.vector_time(m.arch, p))
    ones = [i for i, l in enumerate(m.layers[:14]) if l.K < 128 and l.N == 48]
    clocks = tm.buffer[ones] * p.clock_Hz
    assert np.allclose(np.diff(clocks), 12 * 8 / 64 * 1024, rtol=1e-9)
    # and its absolute size, inputs plus partial sums: 1024 x (24 x 8 / 64 + 48 x 26 / 52) = 27,648 clocks
    assert clocks[0] == pytest.approx(27648, rel=1e-9)


def test_user_width_overrides_the_organisation(base):
    """buffer_width_bits set: one width for every bit, the organisation unused."""
    m = map_workload(workloads.get("vgg8"), base.replace(buffer_width_bits=64))
    auto = evaluate(map_workload(workloads.get("vgg8"), base)).summary["tops"]
    assert evaluate(m).summary["tops"] != pytest.approx(auto, rel=1e-3)

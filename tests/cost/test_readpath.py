"""Stage times of the default library derived from geometry, bits and node (archsim.cost.readpath).

Laws: SAR conversion time is (bits + 1) cycles of its design clock moved with the gate delay, never faster
than the fastest published bit cycle; a ramp takes 2^bits steps, a flash one; the row time grows with rows
(decoder stages) and columns (row line), the column settling with rows and bits; an input pulse takes the
row time then the longer of the device's window and the settling; cols_per_adc conversions follow one another
(time linear in it) and load the mux (energy per conversion grows with it); the period of an estimate moves
with adc_bits, rows and node, the cell's energy does not move with the node.
"""
import math

import numpy as np
import pytest

from archsim.cost import pipeline
from archsim.cost.adc import adc_law
from archsim.cost.components import prices_for as _prices_for
from archsim.cost.price import evaluate
from archsim.cost.readpath import read_path
from archsim.io import techlib
from archsim.mapping.layout import map_workload
from archsim.model.arch import Architecture
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError
from tests.support import single_dense

EXACT = 1e-12   # the same arithmetic on stored constants: rounding only


def prices_for(a):
    return _prices_for(a, load_device(a.device))


def test_sar_conversion_time_is_bits_plus_one_design_cycles():
    law, sc = adc_law(), techlib.circuit("scaling")
    d = dict(zip((int(n) for n in sc["nodes"]), sc["logic.delay_scale"]))
    f0 = techlib.circuit("adc")["sar.design_clock"]
    for bits in (2, 4, 8, 12):
        assert law.auto_conversion_time(bits, 32) == pytest.approx((bits + 1) / f0, rel=EXACT)
        assert law.auto_conversion_time(bits, 65) == pytest.approx((bits + 1) / f0 * d[65] / d[32], rel=EXACT)
    # at 14 nm the gate delay would pass the fastest published bit cycle (Chan et al. 2017): capped there
    assert law.auto_conversion_time(8, 14) == pytest.approx(9 / law.law("sar").f_bit_cycle, rel=EXACT)
    t = law.auto_conversion_time(np.arange(2, 13), 32)
    assert np.all(np.diff(t) > 0)


def test_ramp_takes_two_to_the_bits_steps_and_flash_one():
    law = adc_law()
    f_ramp, f_flash = techlib.circuit("adc")["ramp.f_clock"], techlib.circuit("adc")["flash.design_clock"]
    assert law.auto_conversion_time(8, 32, "ramp") == pytest.approx(256 / f_ramp, rel=EXACT)
    assert law.auto_conversion_time(6, 32, "flash") == law.auto_conversion_time(3, 32, "flash") == \
        pytest.approx(1 / f_flash, rel=EXACT)


def test_rate_auto_with_a_tabulated_converter_is_refused():
    with pytest.raises(ArchsimError, match=r"isaac/adc.yaml: architecture key 'adc_rate_Hz' = auto needs a converter "
                                           r"law.*give adc_rate_Hz in Hz"):
        prices_for(Architecture(device="isaac_reram", circuits="isaac"))


def test_row_time_and_settling_grow_with_geometry_and_bits():
    rp = read_path()
    p = 3.46 * 32e-9
    assert rp.row_time(256, 128, p, 32) > rp.row_time(128, 128, p, 32)     # one more decoder stage
    assert rp.row_time(128, 256, p, 32) > rp.row_time(128, 128, p, 32)     # a longer row line
    assert rp.settle_time(256, 8, p, 32) == pytest.approx(2 * rp.settle_time(128, 8, p, 32), rel=EXACT)
    assert rp.settle_time(128, 9, p, 32) / rp.settle_time(128, 8, p, 32) == pytest.approx(10 / 9, rel=EXACT)
    # decoder gates follow the logic delay: 7 gate delays for 128 rows, twice as long at 64 nm-like 65 nm (2.03)
    no_line = rp.row_time(128, 128, p, 65) - math.log(2) * rp.r_driver * rp.row_capacitance(128, p, 65)
    assert no_line == pytest.approx(7 * rp.t_gate * 2.03, rel=EXACT)
    # every law broadcasts over design points
    rows = np.array([64, 128, 512])
    assert np.allclose(rp.settle_time(rows, 8, p, 32), [rp.settle_time(int(r), 8, p, 32) for r in rows], rtol=EXACT)


def test_pulse_is_row_time_then_window_or_settling():
    rp = read_path()
    p = 3.46 * 32e-9
    short, long_ = 1e-12, 1e-6
    for rows in (64, 1024):
        s = rp.settle_time(rows, 8, p, 32)
        assert rp.pulse_time(short, rows, 128, 8, p, 32) == pytest.approx(rp.row_time(rows, 128, p, 32) + s, rel=EXACT)
        assert rp.pulse_time(long_, rows, 128, 8, p, 32) == pytest.approx(rp.row_time(rows, 128, p, 32) + long_,
                                                                          rel=EXACT)


def test_cols_per_adc_time_linear_and_energy_per_conversion_rising():
    """M columns per ADC: M conversions one after another per pulse (when conversion bound), and the shared mux
    node charges M access devices per conversion."""
    base = Architecture(device="reram", rows=128, cols=128)
    t, e = {}, {}
    for m in (32, 64, 128):
        a = base.replace(cols_per_adc=m)
        p = prices_for(a)
        t[m], e[m] = pipeline.t_vector(a, p), p.e_adc
        assert m * p.t_adc > p.t_pulse          # conversion bound
    assert t[128] / t[64] == pytest.approx(2.0, rel=EXACT) and t[64] / t[32] == pytest.approx(2.0, rel=EXACT)
    rp = read_path()
    assert e[128] - e[64] == pytest.approx(rp.mux_energy(64, 32), rel=1e-9) and e[64] > e[32]


def _period(**kw):
    a = Architecture(device="reram", **kw)
    return evaluate(map_workload(single_dense(128, 128), a)).summary["latency_s"]


def test_period_moves_with_bits_rows_and_node():
    """Conversion bound (64 columns per ADC): more bits, a coarser node take longer; with a 0.1 ns window, a
    1024-row column settles slower than the window, a 128-row one faster: the pulse follows the rows."""
    assert _period(cols_per_adc=64, adc_bits=8) > _period(cols_per_adc=64, adc_bits=6)
    assert _period(cols_per_adc=64, node_nm=65) > _period(cols_per_adc=64, node_nm=32) > _period(cols_per_adc=64,
                                                                                                   node_nm=22)
    rp = read_path()
    pitch = load_device("reram").cell_area_m2(32) ** 0.5
    assert rp.settle_time(1024, 8, pitch, 32) > 1e-10 > rp.settle_time(128, 8, pitch, 32)
    tall = prices_for(Architecture(device="reram", rows=1024, cols=128, integration_time_s=1e-10))
    assert tall.t_pulse == pytest.approx(rp.row_time(1024, 128, pitch, 32) + rp.settle_time(1024, 8, pitch, 32),
                                         rel=EXACT)
    # one column per ADC: a 4096-row pulse (1.6 ns) outlasts the 8-bit conversion (0.83 ns), a 1024-row one not
    def t_vec(rows):
        a = Architecture(device="reram", rows=rows, cols=128, cols_per_adc=1, integration_time_s=1e-10)
        return pipeline.t_vector(a, prices_for(a))
    assert t_vec(4096) > t_vec(2048) > t_vec(1024) == pytest.approx(t_vec(512), rel=EXACT)


def test_cell_energy_is_the_windows_not_the_pulse_time():
    """A slower row select or settling lengthens the pulse, not the cell's read: V^2 G t_read of the device."""
    a, b = (prices_for(Architecture(device="reram", rows=r, cols=128)) for r in (128, 4096))
    assert b.t_pulse > a.t_pulse and b.e_cell_gmin == a.e_cell_gmin and b.e_cell_span == a.e_cell_span

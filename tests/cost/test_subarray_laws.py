"""Subarray laws (archsim.cost.subarray): energy and time follow the knobs a user turns.

The neurosim circuit library prices its arrays with NeuroSim V1.4's read-path laws evaluated at the
architecture's geometry; each test states one law and checks it on the prices archsim computes."""
import numpy as np
import pytest

import workloads
from archsim.cost import subarray
from archsim.cost.components import prices_for as _prices_for
from archsim.cost.events import Activity, events
from archsim.cost.price import evaluate
from archsim.mapping.layout import map_workload
from archsim.model import presets
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError


def prices_for(a):
    return _prices_for(a, load_device(a.device))


@pytest.fixture(scope="module")
def ns():
    return presets.load("neurosim").architecture


def test_word_line_energy_grows_with_columns(ns):
    """C_WL = cols x (cell width x c_wire + C_gate): the row-drive energy is affine in columns, rising."""
    e = [prices_for(ns.replace(cols=c, cols_per_adc=8)).e_dac for c in (64, 128, 256)]
    assert e[0] < e[1] < e[2]
    # affine: equal steps per 64 columns... doubled (the switch matrix's per-row part is the constant)
    assert (e[2] - e[1]) == pytest.approx(2 * (e[1] - e[0]), rel=1e-12)


def test_switch_matrix_energy_grows_with_rows(ns):
    """The switch matrix clocks one DFF per row every mux cycle: its fixed part is linear in rows."""
    e64, e128, e256 = (prices_for(ns.replace(rows=r)).e_dac_array for r in (64, 128, 256))
    assert e128 == pytest.approx(2 * e64, rel=1e-12) and e256 == pytest.approx(2 * e128, rel=1e-12)


def test_cols_per_adc_costs_energy_and_time(ns):
    """Each mux phase drives the word line again and takes one more clock: energy per selected row and the
    time per input pulse are both linear in columns per ADC; conversions per image do not change."""
    wl = workloads.get("vgg8")
    est = {}
    for m in (4, 8, 16):
        a = ns.replace(cols_per_adc=m)
        p = prices_for(a)
        est[m] = (p.e_dac, evaluate(map_workload(wl, a)))
    assert est[8][0] == pytest.approx(2 * est[4][0], rel=1e-12) and est[16][0] == pytest.approx(2 * est[8][0], rel=1e-12)
    e = {m: v[1].summary["energy_dac_J"] for m, v in est.items()}
    assert e[4] < e[8] < e[16]
    from archsim.cost.pipeline import t_vector
    p = {m: prices_for(ns.replace(cols_per_adc=m)) for m in (4, 8, 16)}
    clocks = {m: t_vector(ns.replace(cols_per_adc=m), p[m]) * p[m].clock_Hz for m in (4, 8, 16)}
    assert clocks[8] == pytest.approx(2 * clocks[4], rel=1e-12) and clocks[16] == pytest.approx(2 * clocks[8], rel=1e-12)
    # the clock follows NeuroSim's mux decoder (RowDecoder.cpp): at 4 columns per ADC (2 address bits, no NOR) its
    # NAND2 predecoder drives the 32 selected pass gates itself, the slowest cycle (NeuroSim 2.629 ns); at 16 the
    # 16 NORs load the predecoder a little more than at 8 (NeuroSim 1.712 against 1.697 ns)
    assert p[4].clock_Hz < p[16].clock_Hz < p[8].clock_Hz
    assert 1 / p[4].clock_Hz == pytest.approx(2.629e-9, rel=0.10)      # 10%: the RC estimate's band on the runs


def test_sense_amp_energy_and_time_grow_with_bits(ns):
    """(L - 1) comparators switch and draw current, and the highest reference senses slower: 4 -> 5 -> 6 bits
    raise the energy per conversion and the sensing time (hence the clock period)."""
    p = [prices_for(ns.replace(adc_bits=b)) for b in (4, 5, 6)]
    assert p[0].e_adc < p[1].e_adc < p[2].e_adc
    assert p[0].t_sense < p[1].t_sense < p[2].t_sense
    assert p[0].clock_Hz > p[1].clock_Hz > p[2].clock_Hz


def test_sensing_time_reproduces_neurosim_at_its_default(ns):
    """NeuroSim's 5-bit MLSA at 128 rows in parallel senses in 0.952 ns (ColumnLatency_Table at the top
    reference, 12.5 kOhm; 4 bits: 0.902 ns).  Tolerance 1e-3: the fit's own printed digits."""
    assert prices_for(ns).t_sense == pytest.approx(0.952e-9, rel=1e-3)
    assert prices_for(ns.replace(adc_bits=4)).t_sense == pytest.approx(0.902e-9, rel=1e-3)


def _t_re(a):
    p = prices_for(a)
    return p.sub.row_encoder_delay(a.cols, a.cols_per_adc, a.read_rows, a.adc_bits, a.node_nm, p.r_on, p.r_off)


def test_row_and_encoder_delay_derived(ns):
    """The sensing cycle's delay outside the sense amplifier, max(row switch, mux) + encoder, from NeuroSim's
    transistors (no run read): the clock 1.4 x (0.952 + t_re) lands within 5% of the published VGG-8 default's
    1.663 ns (the law's RC stages ignore the input ramp and take the drain capacitance equal to the gate's,
    techlib/circuits/neurosim/subarray.yaml); one ADC bit less halves the encoder's large NAND (32 -> 16 levels):
    NeuroSim's own runs moved the clock from 1.6974 to 1.5652 ns, 94.5 ps per 1.4 of which 50 ps is sensing,
    44.5 ps the encoder (within 15%: the same simplifications)."""
    assert 1 / prices_for(ns).clock_Hz == pytest.approx(1.66336e-9, rel=0.05)
    d_enc = _t_re(ns) - _t_re(ns.replace(adc_bits=4))
    assert d_enc == pytest.approx(44.5e-12, rel=0.15)
    # the row switch and the mux decoder's load grow with columns; more rows read at once widen the mux's pass
    # gates (R_tg = R_avg / 4P), a heavier load on its decoder
    assert _t_re(ns.replace(rows=64, cols=64)) < _t_re(ns) < _t_re(ns.replace(rows=256, cols=256))
    assert _t_re(ns.replace(parallel_rows=64)) < _t_re(ns)
    assert _t_re(ns.replace(adc_bits=6)) > _t_re(ns)


def test_column_current_follows_active_rows(ns):
    """More conducting rows lower the column's resistance and raise the current-mirror power: the energy per
    conversion rises with input bit density (NeuroSim's log fit: slowly)."""
    wl = workloads.get("vgg8")
    m = map_workload(wl, ns)
    from archsim.cost.price import unit_prices
    p = prices_for(ns)
    lo = unit_prices(m, p, events(m, activity=Activity(0.05, 0.5)))["conversion"]
    hi = unit_prices(m, p, events(m, activity=Activity(0.5, 0.5)))["conversion"]
    assert (hi > lo).all()


def test_parallel_rows_chunks_conversions_and_time(ns):
    """Reading 32 of 128 rows at once converts each column 4 times per pulse, adds 3 partial sums, and takes
    4 times the clocks per pulse; its lower references (R_on / 32) change the sensing time."""
    wl = workloads.get("vgg8")
    full, part = ns, ns.replace(parallel_rows=32)
    ef, ep = events(map_workload(wl, full)), events(map_workload(wl, part))
    assert ep.total("conversion") == pytest.approx(4 * ef.total("conversion"), rel=1e-12)
    assert ep.total("partial_add") == pytest.approx(3 * ef.total("conversion"), rel=1e-12)
    assert ef.total("partial_add") == 0
    from archsim.cost.pipeline import t_vector
    pf, pp = prices_for(full), prices_for(part)
    assert t_vector(part, pp) / t_vector(full, pf) == pytest.approx(4 * pf.clock_Hz / pp.clock_Hz, rel=1e-12)


def test_kernel_position_mapping_splits_kernel_positions(ns):
    """NeuroSim maps each kernel position of a 3 x 3 convolution on arrays of its own: 48 input channels take
    9 partly filled arrays where im2col packs the 432 rows into 4."""
    from archsim.model.workload import GraphBuilder
    b = GraphBuilder("k", (48, 8, 8))
    b.conv("c", 48, 3, padding=1)
    wl = b.build()
    packed = map_workload(wl, ns.replace(conv_mapping="im2col")).layers[0]
    split = map_workload(wl, ns.replace(conv_mapping="kernel_position")).layers[0]
    assert (packed.row_blocks, split.row_blocks) == (4, 9)
    assert events(map_workload(wl, ns.replace(conv_mapping="kernel_position"))).total("conversion") == \
        pytest.approx(9 / 4 * events(map_workload(wl, ns.replace(conv_mapping="im2col"))).total("conversion"), rel=1e-12)
    # an unrolled kernel smaller than one array stays packed (NeuroSim maps such layers conventionally)
    b = GraphBuilder("s", (3, 8, 8))
    b.conv("c", 16, 3, padding=1)
    assert map_workload(b.build(), ns.replace(conv_mapping="kernel_position")).layers[0].row_blocks == 1


def test_cell_energy_does_not_scale_with_node():
    """A device's cell read energy is V^2 G t of the device: the node changes periphery, never the cell."""
    from archsim.model.arch import Architecture
    a = Architecture(device="reram", node_nm=32)
    e32 = prices_for(a).cell_read_energy(0.5)
    for node in (22, 45, 65):
        assert prices_for(a.replace(node_nm=node)).cell_read_energy(0.5) == pytest.approx(e32, rel=1e-15)


def test_node_outside_the_laws_is_refused(ns):
    """The library has NeuroSim's per-node tables at 22, 32 and 45 nm (and its RRAM exists at 65 nm): 65 is refused."""
    with pytest.raises(ArchsimError, match="node_nm.* 65 .*allowed: 45, 32, 22"):
        prices_for(ns.replace(node_nm=65))


def test_laws_at_the_first_node_are_the_files_scalars():
    """``by_node``'s first column is the node of every scalar: the laws there are the scalars, unscaled."""
    from archsim.io import techlib
    rec = techlib.circuit("subarray", "neurosim")
    law = subarray.laws("neurosim", 22)
    assert law == subarray.laws("neurosim")
    assert (law.e_level, law.c_col_row, law.e_dff, law.v_read_ratio) == (
        rec["mlsa.switching_energy_per_level"], rec["mlsa.column_capacitance_per_row"], rec["dff_energy_per_bit"], 1.0)


def test_node_moves_energy_as_c_f_vdd2_and_reads_neurosims_fits():
    """At 45 nm every switched energy is x C_g,um F Vdd^2 (NeuroSim's 45 / 22 nm LSTP rows: 1.7781 / 1.3249 fF/um,
    45 / 22, (1.0 / 0.85)^2 = 3.799), the same factor the library's scaling file gives its logic; the sense
    amplifier's column power is NeuroSim's 45 nm fit (MultilevelSenseAmp.cpp, 4832-379269 ohm branch)."""
    from archsim.cost.scaling import node_scaling
    l22, l45, l32 = (subarray.laws("neurosim", n) for n in (22, 45, 32))
    f = 1.7781 / 1.3249 * 45 / 22 * (1.0 / 0.85) ** 2
    for a, b in ((l22.e_level, l45.e_level), (l22.e_dff, l45.e_dff), (l22.e_add_bit, l45.e_add_bit)):
        assert b / a == pytest.approx(f, rel=1e-4)
    assert node_scaling("neurosim").factor("logic", "energy", 45, 22) == pytest.approx(f, rel=1e-3)   # rounded in file
    assert float(l45.column_power(np.array([1e4]))[0]) == pytest.approx(-5.66235e-8 * np.log(1e4) + 8.27849e-7, rel=1e-12)
    assert l45.v_read_ratio == pytest.approx(0.51 / 0.55, rel=1e-12) == l32.v_read_ratio
    # the sensing time and the capacitances grow with the node, monotone through 32 nm
    c = [l.bitline_cap(128, n, 48) for l, n in ((l22, 22), (l32, 32), (l45, 45))]
    t = [l.sense_time(5, 128, 1e5, cc) for l, cc in zip((l22, l32, l45), c)]
    assert c[0] < c[1] < c[2] and t[0] < t[1] < t[2]


def test_node_slows_the_clock_through_the_mux_driver(ns):
    """NeuroSim sizes the mux decoder's driver sizingfactor_MUX = 110 at 22 nm and 1 (its default) at 32 and
    45 nm (Param.cpp:136, 152): its driver then charges the selected pass gates slowly and the sensing cycle's
    mux branch outgrows the row switch, so the clock slows more than the sense amplifier alone (x1.9 at 45 nm)."""
    p22, p45 = prices_for(ns), prices_for(ns.replace(node_nm=45))
    assert p45.t_sense / p22.t_sense < 2.0 < p22.clock_Hz / p45.clock_Hz


def test_device_nodes_refuse_other_nodes(ns):
    """neurosim_rram lists the nodes NeuroSim supports RRAM at (not 14 nm and below)."""
    from archsim.model.arch import Architecture
    with pytest.raises(ArchsimError, match="neurosim_rram.*exists at"):
        prices_for(Architecture(device="neurosim_rram", node_nm=14, circuits="default"))


def test_clock_auto_without_subarray_laws_follows_the_gate_delay():
    """The default library's auto clock is ISAAC's 1.2 GHz at 32 nm over the logic delay factor (node / 32)."""
    from archsim.model.arch import Architecture
    assert prices_for(Architecture(clock_Hz="auto")).clock_Hz == pytest.approx(1.2e9, rel=1e-12)
    assert prices_for(Architecture(clock_Hz="auto", node_nm=65)).clock_Hz == pytest.approx(1.2e9 / 2.03, rel=1e-12)


def test_laws_have_their_library():
    assert subarray.has_laws("neurosim") and not subarray.has_laws("default")


def test_sar_conversion_time_grows_with_bits():
    """A SAR resolves one bit per comparator cycle (plus one to sample), at most at the fastest published bit
    cycle: at a rate the comparator cannot keep, each bit adds a cycle; at a slow rate the rate sets it."""
    from archsim.cost.adc import adc_law
    law = adc_law("default")
    fast = [law.conversion_time(b, 10e9, "sar") for b in range(4, 11)]
    assert all(t1 > t0 for t0, t1 in zip(fast, fast[1:]))
    assert fast[1] - fast[0] == pytest.approx(1 / law.law("sar").f_bit_cycle, rel=1e-12)
    assert law.conversion_time(4, 1e8, "sar") == law.conversion_time(10, 1e8, "sar") == pytest.approx(1e-8)


def test_feature_map_replication_is_neurosims_speedup(ns):
    """NeuroSim's VGG-8 default printed speed-ups 16, 16, 4, 4 for its 32- and 16-pixel layers (speedUpDegree 8
    capped at H_max / H_min = 4): the same copies, and the chip sized to hold them."""
    m = map_workload(workloads.get("vgg8"), ns)
    assert [l.replication for l in m.layers][:4] == [16, 16, 4, 4]
    assert [l.replication for l in m.layers][4:] == [1, 1, 1, 1]
    assert m.tiles_total >= m.tiles_used == sum(l.tiles for l in m.layers)
    with pytest.raises(ArchsimError, match="feature_map needs"):
        map_workload(workloads.get("vgg8"), ns.replace(mesh=[7, 7]))


def test_parallel_rows_beyond_rows_is_refused(ns):
    with pytest.raises(ArchsimError, match="parallel_rows"):
        ns.replace(parallel_rows=256)


def test_serial_stage_timing_sums_the_parts(ns):
    """NeuroSim's layer latency is compute + buffer + interconnect; overlap takes the longest of the three."""
    from archsim.cost import pipeline
    m = map_workload(workloads.get("vgg8"), ns)
    p = prices_for(ns)
    t = pipeline.timing(m, p, "inference", pipeline.t_vector(ns, p))
    assert t.stages == pytest.approx(t.compute + t.buffer + t.link, rel=1e-12)
    o = pipeline.timing(map_workload(workloads.get("vgg8"), ns.replace(stage_timing="overlap")), p, "inference",
                        pipeline.t_vector(ns, p))
    assert o.stages == pytest.approx(np.maximum.reduce([o.compute, o.buffer, o.link]), rel=1e-12)

"""Cost model physics: seed 002's table through the estimator, linearity, zero activity, bookkeeping."""
import pytest

from archsim.io import techlib
from archsim.model import arch
from archsim.cost import price as cost
from archsim.mapping import layout as mapping
from archsim.model.errors import ArchsimError
from tests.support import lenet, single_conv, single_dense
from tests.support import SEED002

DYNAMIC = ("array", "adc", "dac", "buffer")


def est(wl, task="inference", **kw):
    return cost.evaluate(mapping.map_workload(wl, arch.Architecture(**kw)), task=task)


@pytest.mark.parametrize("dev", sorted(SEED002))
def test_seed002_table_through_estimator(dev):
    (e_vmm, t_vmm), (e_mvm, t_mvm), (e_opu, t_opu) = (SEED002[dev][o] for o in ("vmm", "mvm", "opu"))
    wl = single_dense(1024, 1024)
    e = est(wl, device=dev, cost_model="lut", rows=1024, cols=1024, cols_per_adc=8)
    row = e.layers.iloc[0]
    assert row["energy_array_J"] / row["macs"] == pytest.approx(e_vmm * 1e-15, rel=1e-12)
    assert row["stage_latency_s"] == pytest.approx(t_vmm * 1e-6, rel=1e-12)
    t = est(wl, task="training", device=dev, cost_model="lut", rows=1024, cols=1024)
    row = t.layers.iloc[0]
    assert row["energy_array_J"] / row["macs"] == pytest.approx((e_vmm + e_mvm + e_opu) * 1e-15, rel=1e-12)
    assert row["stage_latency_s"] == pytest.approx((t_vmm + t_mvm + t_opu) * 1e-6, rel=1e-12)
    # the lookup table includes the tile periphery: no separate converters
    assert row["energy_adc_J"] == 0 and row["energy_dac_J"] == 0


def test_lut_stage_latency_counts_vectors_per_replica():
    wl = single_conv(16, 16, 10)
    e = est(wl, device="sonos", cost_model="lut")
    assert e.layers["stage_latency_s"].iloc[0] == pytest.approx(100 * 0.40e-6)


def test_training_needs_lut_and_pcm_has_none():
    with pytest.raises(ArchsimError, match="task 'training' needs cost_model: lut"):
        est(single_dense(8, 8), task="training")
    with pytest.raises(ArchsimError, match="device 'pcm' has no lookup table entry 'lut.vmm'"):
        est(single_dense(8, 8), device="pcm", cost_model="lut")


@pytest.mark.parametrize("model", ["circuit", "lut"])
def test_energy_linear_in_vectors(model):
    a = est(single_conv(8, 8, 8), cost_model=model)
    b = est(single_conv(8, 8, 16), cost_model=model)
    assert b.layers["vectors"].iloc[0] == 4 * a.layers["vectors"].iloc[0]
    for part in DYNAMIC:
        assert b.summary[f"energy_{part}_J"] == pytest.approx(4 * a.summary[f"energy_{part}_J"], rel=1e-12)


def test_energy_linear_in_layer_width():
    a = est(single_dense(128, 128))
    b = est(single_dense(128, 256))
    for part in ("array", "adc", "dac"):
        assert b.summary[f"energy_{part}_J"] == pytest.approx(2 * a.summary[f"energy_{part}_J"], rel=1e-12)


def test_energy_linear_in_inferences():
    e = est(lenet())
    runs = [e.run_energy_J(n) for n in (1, 2, 3, 10)]
    step = runs[1] - runs[0]
    assert runs[2] - runs[1] == pytest.approx(step, rel=1e-12)
    assert runs[3] - runs[0] == pytest.approx(9 * step, rel=1e-12)
    assert e.run_energy_J(0) == 0
    # one period of a long run costs what one inference costs in steady state
    assert step == pytest.approx(e.summary["energy_per_inference_J"], rel=1e-12)


def test_circuit_energy_from_components():
    """One 128x128 array pair: each part equals its event count times its component's law."""
    from archsim.cost.adc import adc_law
    from archsim.cost.events import default_activity
    from archsim.cost.readpath import read_path
    # 7 magnitude bits in one cell; the ISAAC converter rate given (auto: the design clock, tested in test_readpath)
    a = arch.Architecture(device="sonos", bits_per_cell=7, adc_rate_Hz=1.28e9)
    e = cost.evaluate(mapping.map_workload(single_dense(128, 128), a))
    s = e.summary
    sh, dac = techlib.circuit("sample_hold"), techlib.circuit("dac")
    act = default_activity()
    pulses, copies = 8, 2
    # SAR law at 32 nm, 1.28 GS/s, and the column mux's shared node (8 inputs)
    e_adc = adc_law().energy(8, a.adc_rate_Hz, a.node_nm) + read_path().mux_energy(8, 32)
    assert s["energy_adc_J"] == pytest.approx(pulses * 128 * copies * (e_adc + sh["energy_per_sample"]), rel=1e-9)
    # a row is driven only when its input bit is 1
    assert s["energy_dac_J"] == pytest.approx(pulses * 128 * copies * act.input_bit_density
                                              * dac["energy_per_row_drive"], rel=1e-9)
    dev = techlib.device("sonos")
    g = dev["conductance.g_min"] + act.mean_conductance_fraction * (dev["conductance.g_max"] - dev["conductance.g_min"])
    e_cell = act.input_bit_density * dev["read.voltage"] ** 2 * g * dev["read.pulse"]
    assert s["energy_array_J"] == pytest.approx(pulses * 128 * 128 * copies * e_cell, rel=1e-9)
    # 8 columns share an ADC at 1.28 GS/s: 6.25 ns < 10 ns integration, so the read sets the pace: per pulse the
    # row select (7 decoder gates and the row line) then the 10 ns window (the column settles in well under it)
    rp = read_path()
    pitch = dev["cell.area"] ** 0.5 * 32e-9 if dev.q("cell.area").unit == "F2" else dev["cell.area"] ** 0.5
    t_pulse = rp.row_time(128, 128, pitch, 32) + 10e-9
    assert rp.settle_time(128, 8, pitch, 32) < 10e-9
    assert e.layers["stage_latency_s"].iloc[0] == pytest.approx(8 * t_pulse, rel=1e-12)


def test_adc_energy_follows_its_law_through_the_estimate():
    """5 -> 4 ADC bits halves the ADC energy of a network (the SAR law; NeuroSim measured -47%), and a
    rate above the survey's speed corner raises it in proportion."""
    from archsim.cost.readpath import read_path
    wl = single_dense(128, 128)
    e5 = est(wl, device="sonos", adc_bits=5, adc_rate_Hz=1.28e9).summary   # one rate for both (auto: per bits)
    e4 = est(wl, device="sonos", adc_bits=4, adc_rate_Hz=1.28e9).summary
    sh = techlib.circuit("sample_hold")["energy_per_sample"] + read_path().mux_energy(8, 32)   # per conversion, not per bit
    conv = 8 * 128 * 2
    assert (e4["energy_adc_J"] - conv * sh) / (e5["energy_adc_J"] - conv * sh) == pytest.approx(0.5, rel=1e-9)
    slow = est(wl, device="sonos", adc_rate_Hz=0.5e9).summary["energy_adc_J"]
    fast = est(wl, device="sonos", adc_rate_Hz=4e9).summary["energy_adc_J"]
    f_c = techlib.circuit("adc")["sar.f_corner"]
    assert (fast - conv * sh) / (slow - conv * sh) == pytest.approx(4e9 / f_c, rel=1e-9)


def test_adc_sharing_sets_pace():
    e = est(single_dense(128, 128), device="sonos", cols_per_adc=128, adc_rate_Hz=1.28e9)
    assert e.layers["stage_latency_s"].iloc[0] == pytest.approx(8 * 128 / 1.28e9)


def test_zero_activity_costs_nothing(tmp_path):
    wl = single_dense(64, 64)   # no pooling, no activation, no add
    lut = est(wl, cost_model="lut")
    assert lut.summary["energy_adc_J"] == 0 and lut.summary["energy_dac_J"] == 0
    assert lut.summary["energy_digital_J"] == 0
    # a device whose cells draw no read energy costs no array energy
    text = (techlib.DEVICE_DIR / "reram.yaml").read_text()
    text = text.replace("read:\n", "read:\n  energy_per_cell: {value: 0, unit: fJ, assumption: test}\n", 1)
    p = tmp_path / "zero.yaml"
    p.write_text(text)
    z = est(wl, device=str(p))
    assert z.summary["energy_array_J"] == 0 and z.summary["energy_adc_J"] > 0


def test_idle_tiles_cost_area_and_leakage_not_dynamic_energy():
    wl = lenet()
    # uniform tiles (a fixed buffer): area scales with the tile count
    small = est(wl, replicate=False, buffer_kB=64)
    big = est(wl, replicate=False, mesh=[10, 10], buffer_kB=64)
    for part in DYNAMIC + ("digital",):
        assert big.summary[f"energy_{part}_J"] == pytest.approx(small.summary[f"energy_{part}_J"], rel=1e-12)
    assert big.summary["area_mm2"] == pytest.approx(small.summary["area_mm2"] * 100 / small.summary["tiles"])
    assert big.summary["energy_leakage_J"] > small.summary["energy_leakage_J"]
    # buffers sized per layer (auto): an idle tile holds no buffer, so it adds a bufferless tile's area
    from archsim.cost.components import prices_for, tile_area
    a_auto = est(wl, replicate=False)
    b_auto = est(wl, replicate=False, mesh=[10, 10])
    empty = sum(tile_area(b_auto.mapping.arch, prices_for(b_auto.mapping.arch, b_auto.mapping.device), 0.0).values()) * 1e6
    idle = 100 - b_auto.summary["tiles_used"]
    assert b_auto.summary["area_mm2"] == pytest.approx(a_auto.summary["area_mm2"] + (100 - a_auto.summary["tiles"]) * empty,
                                                       rel=1e-9)
    assert idle == 100 - a_auto.summary["tiles_used"]


def test_replication_raises_throughput_keeps_work():
    wl = lenet()
    one = est(wl)
    rep = est(wl, tiles=one.summary["tiles"] * 4)
    assert rep.summary["inferences_per_s"] > 2 * one.summary["inferences_per_s"]
    for part in ("array", "adc", "dac"):
        assert rep.summary[f"energy_{part}_J"] == pytest.approx(one.summary[f"energy_{part}_J"], rel=1e-12)


def test_tops_bookkeeping():
    s = est(lenet()).summary
    assert s["macs"] == 416520
    assert s["tops_per_W"] == pytest.approx(2 * s["macs"] / s["energy_per_inference_J"] / 1e12)
    assert s["tops"] == pytest.approx(2 * s["macs"] * s["inferences_per_s"] / 1e12)
    assert s["tops_per_mm2"] == pytest.approx(s["tops"] / s["area_mm2"])
    parts = sum(s[f"energy_{k}_J"] for k in cost.ENERGY_PARTS)
    assert s["energy_per_inference_J"] == pytest.approx(parts)
    assert s["area_mm2"] == pytest.approx(sum(s[f"area_{k}_mm2"] for k in cost.AREA_PARTS))
    assert 0 < s["utilization"] <= 1
    assert s["latency_s"] >= 1 / s["inferences_per_s"]


def test_node_scaling_applies_to_periphery_only():
    wl = single_dense(128, 128)
    a = est(wl, device="sonos", adc_rate_Hz=1.28e9)     # one rate at both nodes (auto: faster at 14 nm)
    b = est(wl, device="sonos", node_nm=14, adc_rate_Hz=1.28e9)
    # the analog class's energy factor; the column mux (0.005% of a conversion) scales with the node instead
    assert b.summary["energy_adc_J"] / a.summary["energy_adc_J"] == pytest.approx(0.21, rel=1e-3)
    assert b.summary["energy_array_J"] == pytest.approx(a.summary["energy_array_J"])
    with pytest.raises(ArchsimError, match="key 'node_nm' = 7 has no scaling factors.*allowed: 130"):
        est(wl, node_nm=7)


def test_device_ordering_in_lut_energy():
    wl = lenet()
    e = {d: est(wl, device=d, cost_model="lut").summary["energy_array_J"] for d in SEED002}
    assert e["ecram"] < e["reram"] < e["sonos"] < e["sram"]
    assert e["sram"] / e["reram"] == pytest.approx(2718 / 12.2)


def test_analog_differential_readout_halves_conversions():
    wl = single_dense(128, 128)
    dig = est(wl, device="sonos")
    ana = est(wl, device="sonos", differential_readout="analog")
    assert ana.summary["energy_adc_J"] == pytest.approx(dig.summary["energy_adc_J"] / 2, rel=1e-12)
    assert ana.summary["energy_array_J"] == pytest.approx(dig.summary["energy_array_J"], rel=1e-12)


def test_sram_is_priced_as_digital_compute_in_memory():
    """A digital SRAM array converts nothing: adder trees sum its columns (about 2 x rows full-adder bits
    per column and pulse, toggling with the input bits), and the report names them as the dominant part."""
    from archsim.cost.events import default_activity, events
    m = mapping.map_workload(single_dense(128, 128), arch.Architecture(device="sram"))
    ev = events(m)
    assert ev.total("conversion") == 0 and ev.total("sample") == 0
    d = default_activity().input_bit_density
    lm = m.layers[0]
    assert ev.total("adder_bit") == pytest.approx(8 * 2 * lm.cells_used * d, rel=1e-12)
    e = cost.evaluate(m).summary
    assert e["dominant"] in ("adder_tree", "buffer", "digital", "dac", "array")
    # the adder trees have their own column: the SRAM pays for no ADC
    assert e["energy_adc_J"] == 0 and e["energy_adder_tree_J"] > 0 and e["area_adc_mm2"] == 0
    assert e["area_adder_tree_mm2"] > 0
    r = est(single_dense(128, 128), device="reram").summary
    assert r["energy_adc_J"] > e["energy_adder_tree_J"]  # an 8-bit ADC per column per pulse costs more than adders

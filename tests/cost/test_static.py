"""Static power: each component's leakage from its area and the transistors' off-current (techlib
leakage.yaml), its node law per circuit class, the buffer's per bit, and power gating of idle tiles
(gated leakage = ungated x (busy + one break-even time) / period per tile, unused tiles off)."""
import dataclasses

import numpy as np
import pytest

from archsim.cli import main as cli
from archsim.cost import scaling, static
from archsim.cost.batch import price_many
from archsim.cost.components import prices_for, tile_leakage, tile_static_power
from archsim.cost.price import evaluate
from archsim.io import techlib
from archsim.mapping import layout as mapping
from archsim.model import arch
from archsim.model.arch import PowerGating
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError
from tests.support import lenet

# the same terms multiplied in another order: 1e-12 relative
REL = 1e-12


def _prices(**kw):
    a = arch.Architecture(**kw)
    return a, prices_for(a, load_device(a.device))


def _law(node):
    """(I_off x V_dd, F) at ``node`` read from the leakage file itself (the law's inputs)."""
    rec = techlib.circuit("leakage")
    i = [round(n) for n in rec["nodes"]].index(node)
    return rec["off_current"][i] * rec["supply_voltage"][i], node * 1e-9


def test_buffer_leakage_is_linear_in_capacity_at_the_sram_cells_figure():
    a, p = _prices()
    rec = techlib.circuit("leakage")
    iv, f = _law(32)
    assert p.p_leak_per_bit == pytest.approx(rec["sram_bit_width"] * f * iv, rel=REL)
    assert 1e-13 < p.p_leak_per_bit < 1e-10      # pW per bit: a low-standby-power SRAM cell at room temperature
    bits = np.array([0.0, 8192.0, 16384.0, 65536.0 * 8])
    buf = np.array([tile_leakage(a, p, b)["buffer"] for b in bits])
    assert np.allclose(buf - buf[0], bits * p.p_leak_per_bit, rtol=REL, atol=0)
    # the whole estimate: a larger fixed buffer per tile leaks more, by the bits added times the per-bit figure
    small, big = (evaluate(mapping.map_workload(lenet(), arch.Architecture(buffer_kB=kb, replicate=False)))
                  for kb in (8, 64))
    tiles = small.summary["tiles"]
    assert big.summary["static_power_W"] - small.summary["static_power_W"] == pytest.approx(
        tiles * 56 * 8192 * p.p_leak_per_bit, rel=1e-9)   # 1e-9: a difference of sums of many terms


def test_each_component_leaks_its_area_times_its_class_density():
    a, p = _prices()
    rec = techlib.circuit("leakage")
    iv, f = _law(32)
    logic = rec["logic_width_density"] * iv / f
    analog = logic * rec["analog_width_ratio"]
    assert p.p_leak_adc == pytest.approx(p.a_adc * analog, rel=REL)
    assert p.p_leak_sh == pytest.approx(p.a_sh * analog, rel=REL)
    assert p.p_leak_dac == pytest.approx(p.a_dac * analog, rel=REL)
    assert p.p_leak_shift_add == pytest.approx(p.a_shift_add * logic, rel=REL)
    assert p.p_leak_digital == pytest.approx(p.a_tile_digital * logic, rel=REL)
    assert p.p_leak_router == pytest.approx(p.a_router * logic, rel=REL)
    assert p.p_leak_reg_array == pytest.approx(p.a_reg_per_array * logic, rel=REL)
    assert p.p_leak_array == 0.0     # resistive cells draw nothing while unbiased
    # SRAM bit cells do: the device file's leaking width (2 F, NeuroSim's two inverters) per cell
    a_s, p_s = _prices(device="sram")
    w = techlib.device("sram")["cell.leaking_width"]
    assert w == 2 and p_s.p_leak_array == pytest.approx(a_s.rows * a_s.cols * w * f * iv, rel=REL)


@pytest.mark.parametrize("node", [65, 22, 14])
def test_leakage_moves_between_nodes_by_its_class_law(node):
    """Component: its class's area factor x I_off V_dd / F; buffer bit: I_off V_dd F."""
    _, p32 = _prices(node_nm=32)
    _, pn = _prices(node_nm=node)
    sc = scaling.node_scaling("default")
    (iv32, f32), (ivn, fn) = _law(32), _law(node)
    density = (ivn / fn) / (iv32 / f32)
    for field, cls in (("p_leak_adc", None), ("p_leak_sh", "analog"), ("p_leak_dac", "analog"),
                       ("p_leak_shift_add", "logic"), ("p_leak_digital", "logic"), ("p_leak_router", "logic")):
        if cls is None:      # the ADC's area is its survey law's (adc.yaml), moved by its own fit: use the areas
            area = pn.a_adc / p32.a_adc
        else:
            area = sc.factor(cls, "area", node, 32)
        assert getattr(pn, field) / getattr(p32, field) == pytest.approx(area * density, rel=1e-9), field
    assert pn.p_leak_per_bit / p32.p_leak_per_bit == pytest.approx((ivn * fn) / (iv32 * f32), rel=REL)
    # the classes differ: logic and analog periphery move by different area factors
    assert sc.factor("logic", "area", node, 32) != sc.factor("analog", "area", node, 32)


def test_a_node_without_leakage_figures_is_refused_with_the_nodes_listed():
    rec = techlib.circuit("leakage")
    with pytest.raises(ArchsimError, match=r"node_nm' = 90 has no leakage figures .* allowed: 130, 65"):
        static.density(rec, 90)


def _gating_pair(**kw):
    m = mapping.map_workload(lenet(), arch.Architecture(**kw))
    gated = dataclasses.replace(m, arch=m.arch.replace(power_gating="idle_tiles"))
    return m, evaluate(m), evaluate(gated)


def test_gated_leakage_is_busy_time_plus_one_wake_up_per_period():
    m, off, on = _gating_pair(tiles=40, replicate=False)
    p = prices_for(m.arch, m.device)
    assert m.tiles_total > m.tiles_used        # unused tiles: they leak ungated, not gated
    period = 1.0 / off.summary["inferences_per_s"]
    stages = off.layers.stage_latency_s.to_numpy()
    p_tile = np.array([float(tile_static_power(m.arch, p, l.buffer_bits_per_tile)) for l in m.layers])
    tiles = off.layers.tiles.to_numpy(dtype=float)
    want = p_tile * tiles * np.minimum(period, stages + p.t_break_even)
    assert np.allclose(on.layers.energy_leakage_J.to_numpy(), want, rtol=REL, atol=0)
    # gating touches leakage only: every other part and the timing are the ungated estimate's
    for k in ("energy_adc_J", "energy_buffer_J", "latency_s", "inferences_per_s", "area_mm2"):
        assert on.summary[k] == off.summary[k]
    assert on.summary["energy_leakage_J"] < off.summary["energy_leakage_J"]
    assert on.summary["static_power_W"] == pytest.approx(on.summary["energy_leakage_J"] / period + p.p_io, rel=REL)
    # a run's leakage goes with its work when gated (each tile sleeps between inferences), with time when not
    assert on.run_energy_J(7) == pytest.approx(7 * on.summary["energy_per_inference_J"], rel=REL)
    assert off.run_energy_J(1) > off.summary["energy_per_inference_J"]    # ungated: the fill's latency leaks too
    # the bottleneck stage never sleeps: its tiles leak the whole period, as ungated
    j = int(np.argmax(stages))
    assert on.layers.energy_leakage_J.iloc[j] == pytest.approx(p_tile[j] * tiles[j] * period, rel=REL)


def test_without_wake_up_cost_gated_leakage_is_ungated_times_busy_over_period():
    """The law itself: gated = ungated x busy / period per tile (t_be = 0, no unused tiles)."""
    p_tile = np.array([2e-3, 5e-4, 1e-3])
    tiles = np.array([4.0, 1.0, 2.0])
    stages = np.array([1e-6, 3e-7, 1e-8])
    period = 1e-6
    off = static.leakage_energy(PowerGating.NONE, p_tile, tiles, 0, 0.0, period, stages, 0.0)
    on = static.leakage_energy(PowerGating.IDLE_TILES, p_tile, tiles, 0, 0.0, period, stages, 0.0)
    assert np.allclose(on, off * stages / period, rtol=REL, atol=0)
    # a wake-up longer than the idle time: the tile is not gated (never more than ungated)
    late = static.leakage_energy(PowerGating.IDLE_TILES, p_tile, tiles, 0, 0.0, period, stages, 8e-7)
    assert np.allclose(late, off * np.minimum(1.0, (stages + 8e-7) / period), rtol=REL, atol=0)


def test_batch_prices_gated_points_as_the_single_estimate():
    m = mapping.map_workload(lenet(), arch.Architecture(tiles=40))
    archs = [m.arch.replace(power_gating=g, adc_bits=b) for g in ("none", "idle_tiles") for b in (6, 8)]
    got = price_many(m, archs)
    for a, s in zip(archs, got):
        assert s == evaluate(dataclasses.replace(m, arch=a)).summary     # bit for bit


def test_bad_power_gating_value_is_refused_with_the_allowed_values(capsys):
    with pytest.raises(ArchsimError, match=r"key 'power_gating' = 'always' is not allowed; allowed: none, idle_tiles"):
        arch.Architecture(power_gating="always")
    assert cli.main(["estimate", "-w", "lenet5", "--set", "power_gating=sometimes"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "allowed: none, idle_tiles" in err[0]


def test_the_law_over_neurosims_chip_bounds_its_gate_by_gate_leakage_within_3x():
    """NeuroSim counts leakage gate by gate (the neurosim library's subarray and buffer figures, calibrated
    on its VGG-8 default run at 22 nm LSTP, 300 K); the off-current law over the same chip's periphery area,
    every um2 taken as leaking logic, must lie above it (an upper bound: wiring and capacitors leak nothing)
    and within 3x (the same transistors and the same inverter rule underneath)."""
    from archsim import api
    from archsim.model import presets
    est = api.estimate("vgg8", arch=presets.load("neurosim").architecture)
    s = est.summary
    assert s["device"] == "neurosim_rram" and est.mapping.arch.node_nm == 22
    periphery_m2 = (s["area_mm2"] - s["area_array_mm2"]) * 1e-6
    law = periphery_m2 * static.density(techlib.circuit("leakage"), 22).logic
    assert 1.0 < law / s["static_power_W"] < 3.0

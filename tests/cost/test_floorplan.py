"""The floorplan and the laws priced by it: bus and link energy by length, buffer energy by capacity and width,
leakage per component, chip area as the floorplan's sum, throughput from the wire delay."""
import dataclasses

import numpy as np
import pytest

from archsim.cost import floorplan as fp
from archsim.cost import peak, pipeline
from archsim.cost.components import prices_for, tile_counts, tile_leakage, tile_static_power
from archsim.cost.events import events
from archsim.cost.price import evaluate, unit_prices
from archsim.mapping import layout as mapping
from archsim.model import arch, presets
from archsim.model.device import load_device
from tests.support import lenet, single_conv

# float sums of the same terms in another order: 1e-9 relative
REL = 1e-9


def mapped(wl=None, **kw):
    a = arch.Architecture(**kw)
    m = mapping.map_workload(wl or lenet(), a)
    return m, prices_for(a, load_device(a.device))


def test_htree_grows_with_tile_side_and_array_count():
    sides = np.array([0.5e-3, 1e-3, 2e-3])
    assert np.all(np.diff(fp.htree_length(sides, 64)) > 0)
    assert np.all(np.diff(fp.htree_length(1e-3, np.array([1, 4, 16, 64, 256]))) > 0)
    assert fp.htree_length(1e-3, 1) == 0.0                                 # one array at the centre: no tree
    assert fp.htree_length(1e-3, 16) == pytest.approx(0.75e-3, rel=REL)   # 4 x 4: side x (1 - 1/4)


def test_bus_energy_per_bit_grows_with_arrays_per_tile():
    per_bit = []
    for a in (4, 16, 64):
        m, p = mapped(arrays_per_tile=a, replicate=False)
        up = unit_prices(m, p, events(m))
        per_bit.append(float(np.mean(up["bus_bit"])))
    assert per_bit[0] < per_bit[1] < per_bit[2]


def test_link_energy_per_hop_grows_with_pitch():
    small, p = mapped(buffer_kB=16, replicate=False)
    big, _ = mapped(buffer_kB=256, replicate=False)        # a bigger buffer: bigger tiles, longer links
    ps, pb = fp.floorplan(small, p), fp.floorplan(big, p)
    assert pb.pitch > ps.pitch
    hs = unit_prices(small, p, events(small), ps)["bit_hop"]
    hb = unit_prices(big, p, events(big), pb)["bit_hop"]
    assert hb > hs
    # the law: router + energy per bit per metre x pitch
    assert hb - hs == pytest.approx(p.e_link_bit_m * (pb.pitch - ps.pitch), rel=1e-6)


def test_buffer_energy_per_bit_grows_with_capacity_and_falls_with_width():
    _, p = mapped()
    caps = np.array([1, 8, 64, 512]) * 8192.0
    e = p.buffer_bit_energy(caps)
    assert np.all(np.diff(e) > 0)
    assert p.buffer_bit_energy(p.buf_ref_bits) == pytest.approx(p.e_buf_bit_ref, rel=REL)   # the reference point
    widths = np.array([16.0, 64.0, 256.0, 1024.0])
    ew = p.buffer_bit_energy(p.buf_ref_bits, widths)
    assert np.all(np.diff(ew) < 0)
    # the word line's share is paid per access: per bit it tends to the bit lines' share alone
    assert ew[-1] > p.e_buf_bit_ref * (1 - p.buf_wl_fraction)


def test_buffer_width_key_moves_energy_and_time():
    wl = single_conv(64, 64, 8)
    narrow = evaluate(mapping.map_workload(wl, arch.Architecture(buffer_width_bits=32, replicate=False)))
    wide = evaluate(mapping.map_workload(wl, arch.Architecture(buffer_width_bits=1024, replicate=False)))
    assert narrow.summary["energy_buffer_J"] > wide.summary["energy_buffer_J"]
    assert narrow.layers.stage_latency_s.sum() >= wide.layers.stage_latency_s.sum()


def test_leakage_is_the_sum_of_the_components_figures():
    m, p = mapped(replicate=False)
    est = evaluate(m)
    parts = {l.layer: tile_leakage(m.arch, p, l.buffer_bits_per_tile) for l in m.layers}
    idle = m.tiles_total - m.tiles_used
    total = sum(l.tiles * sum(parts[l.layer].values()) for l in m.layers)
    total += idle * float(tile_static_power(m.arch, p, m.arch.buffer_kB * 8192.0 if m.arch.buffer_kB != "auto" else 0.0))
    assert est.summary["static_power_W"] == pytest.approx(float(total) + p.p_io, rel=REL)
    # each component's part is its count times its own figure: twice the arrays, twice their ADCs' leakage
    two = m.arch.replace(arrays_per_tile=2 * m.arch.arrays_per_tile)
    assert tile_leakage(two, p, 0.0)["adc"] == pytest.approx(2 * tile_leakage(m.arch, p, 0.0)["adc"], rel=REL)
    assert tile_leakage(m.arch, p, 0.0)["adc"] == pytest.approx(tile_counts(m.arch, p)["adc"] * p.p_leak_adc
                                                               + tile_counts(m.arch, p)["sample_hold"] * p.p_leak_sh,
                                                               rel=REL)


def test_chip_area_is_the_floorplans_sum():
    m, p = mapped(replicate=True, tiles=12)
    est = evaluate(m)
    plan = fp.floorplan(m, p)
    assert est.summary["area_mm2"] == pytest.approx((sum(plan.component_area().values()) + p.a_io) * 1e6, rel=REL)
    # the mesh at one pitch holds exactly the tiles' footprints
    assert plan.pitch ** 2 * m.tiles_total * p.fill_factor == pytest.approx(
        sum(plan.component_area().values()), rel=REL)
    assert plan.chip_w * plan.chip_h == pytest.approx(plan.pitch ** 2 * m.tiles_total, rel=REL)
    assert est.summary["chip_w_mm"] * est.summary["chip_h_mm"] == pytest.approx(plan.chip_w * plan.chip_h * 1e6, rel=REL)
    # the array blocks (cells and their periphery strips) fit in their tiles
    assert m.arch.arrays_per_tile * plan.array_w * plan.array_h <= float(plan.tile_side.min()) ** 2


def test_throughput_falls_when_links_get_longer():
    m, p = mapped(replicate=False)
    plan = fp.floorplan(m, p)
    t_vec = pipeline.vector_time(m.arch, p)
    reach = 1.0 / (p.clock_Hz * p.t_wire_m)          # the wire length one clock covers
    periods, latencies = [], []
    for pitch in (0.1 * reach, 0.9 * reach, 4 * reach, 40 * reach, 400 * reach):
        t = pipeline.timing(m, p, "inference", t_vec, dataclasses.replace(plan, pitch=pitch))
        periods.append(t.period)
        latencies.append(t.latency)
    assert np.all(np.diff(periods) >= 0) and periods[-1] > periods[0]
    assert np.all(np.diff(latencies) > 0)             # every hop waits for its wire
    assert periods[0] == periods[1]                   # within a clock's reach a link runs at the clock


def test_longer_bus_slows_a_bus_bound_stage():
    m, p = mapped(replicate=False)
    plan = fp.floorplan(m, p)
    t_vec = pipeline.vector_time(m.arch, p)
    reach = 1.0 / (p.clock_Hz * p.t_wire_m)
    near = pipeline.timing(m, p, "inference", t_vec, dataclasses.replace(plan, bus_length=plan.bus_length * 0 + reach))
    far = pipeline.timing(m, p, "inference", t_vec, dataclasses.replace(plan, bus_length=plan.bus_length * 0 + 1e4 * reach))
    assert np.all(far.buffer >= near.buffer) and far.buffer.max() > near.buffer.max()


def test_isaac_bus_composes_table_one():
    """ISAAC's bus figure (15.2 fJ per bit) is what the wire law gives at ISAAC's own tile: the per-mm
    constant was derived from it, so its Table I composition stays (within the 4-digit rounding)."""
    a = presets.load("isaac").architecture
    m = peak._full_tile(a)
    p = prices_for(a, m.device)
    up = unit_prices(m, p, events(m))
    assert float(np.ravel(up["bus_bit"])[0]) == pytest.approx(7e-3 / (384 * 1.2e9), rel=1e-3)
    assert float(np.ravel(up["bit_hop"])[0]) == pytest.approx(42e-3 / (8 * 32 * 1.2e9), rel=1e-3)


def test_floorplans_of_many_points_equal_each_points_floorplan_exactly():
    # the batched floorplan (a sweep's group of points sharing a mapping) must give every number the single
    # point's floorplan gives, bit for bit: same operations, sums over layers in layer order
    import workloads
    from archsim.cost.floorplan import floorplan, floorplans
    from archsim.mapping.layout import map_workload
    from archsim.model.arch import Architecture

    base = Architecture(device="sonos", rows=128, cols=128)
    m = map_workload(workloads.get("resnet50"), base)
    archs = [base.replace(adc_bits=b, cols_per_adc=c, buffer_kB=k)
             for b, c, k in ((4, 1, "auto"), (8, 8, "auto"), (10, 64, 64.0), (6, 16, 8.0))]
    prices = [prices_for(a, m.device) for a in archs]
    fps = floorplans(m, archs, prices)
    for i, (a, p) in enumerate(zip(archs, prices)):
        one = floorplan(dataclasses.replace(m, arch=a), p)
        assert np.array_equal(fps.bus_length[i], one.bus_length)
        assert fps.pitch[i] == one.pitch and fps.chip_w[i] == one.chip_w and fps.chip_h[i] == one.chip_h
        assert {k: v[i] for k, v in fps.component_area.items()} == one.component_area()
    assert len({float(x) for x in fps.pitch}) > 1          # the points differ: the check compares something

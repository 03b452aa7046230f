"""The neurosim preset against DNN+NeuroSim V1.4 runs at its default and at other settings.

The preset is calibrated on NeuroSim's VGG-8 default only (like-for-like 45.4 uJ per image, 8.31 TOPS:
its published rows, tests/explore/test_validate.py).  The runs below were made to check the laws, not to
set any constant: NeuroSim V1.4 (github.com/neurosim/DNN_NeuroSim_V1.4, Inference_pytorch/NeuroSIM) built
unmodified but for the Param.cpp setting each run names, fed synthetic traces in its hook.py format
(weights N(0, 0.25) clipped to [-1, 1) on the 8-bit grid; input bits Bernoulli(0.2) on the 7 magnitude bits,
sign bit 0; numpy seed 0), VGG-8 on its NetWork_VGG8.csv and DenseNet-40 on its NetWork_DenseNet40.csv.  Figures
are like-for-like: every layer's energy and latency scaled by its padded / unpadded MAC ratio (VGG-8: 1.138,
1.138, 1.306, 1.306, 1.778, 1.778, 1, 1), no 1.22 post-layout factor; throughput is 2 x the padded MACs over
the slowest layer's like-for-like latency (the period).

These runs' default prints more ADC energy and less interconnect energy than the run the published rows
come from (48.6 against 45.4 uJ like-for-like; clock 1.697 against 1.663 ns): they run NeuroSim's default SRAM
cell (Param.cpp memcelltype 1), the published run its 1T1R RRAM, which on these same traces reproduces the
published figures (RRAM_RUNS below).  So two comparisons are made:
changes (archsim's ratio of a setting to its default against NeuroSim's, each tool against its own default)
and absolute figures (archsim against each run's own like-for-like energy and throughput).  The first seven
runs change one setting; the rest were made after the laws were written and are held out: two settings at
once (256 x 256 with a 4-bit ADC, 64 rows at once with 16 columns per ADC, input density 0.0875 with 16
columns per ADC, DenseNet-40 on 256 x 256, DenseNet-40 with a 4-bit ADC) and 64 x 64 subarrays.  Tolerance
25% (the issue's band for predictions).  The sense amplifier's switching grows with rows (each level charges
1 / L of the sensed column and of a reference column's activation, MultilevelSenseAmp.cpp:290-291); before that
law the 256 x 256 run with a 4-bit ADC sat at 0.725 of its absolute energy.

Four runs were predicted before they were made (the predictions are in docs/modelled.md): a 6-bit ADC, 4 columns
per ADC, 45 nm, and 32 nm with a 3-bit ADC.  At 4 columns per ADC NeuroSim's clock slows to 2.63 ns (its mux
decoder has no NOR at 2 address bits, so its NAND2 drives the selected pass gates, RowDecoder.cpp); archsim
predicted x1.19 throughput before its decoder followed that structure (now x0.84 against x0.79).  The nodes were
refused before the library carried NeuroSim's per-node tables; their energy is within 25%, their throughput 1.33x
NeuroSim's: see test_node_clock_follows_the_mux_sizing.
"""
import numpy as np
import pytest

import workloads
from archsim.cost.components import prices_for
from archsim.cost.events import Activity, events
from archsim.cost.price import evaluate, unit_prices
from archsim.mapping.layout import map_workload
from archsim.model import presets


#: NeuroSim V1.4 runs: like-for-like dynamic + leakage energy per image (uJ), conv1's latency (us) and the
#: interconnect energy (uJ: the sum of the layers' printed 'ic readDynamicEnergy', each scaled like-for-like)
RUNS = {
    "default": dict(keys={}, energy_uJ=48.634, period_us=151.32, clock_ns=1.6974, ic_uJ=3.993),
    "adc 4 bits (levelOutput 16)": dict(keys={"adc_bits": 4}, energy_uJ=35.703, period_us=139.33, clock_ns=1.56515,
                                        ic_uJ=3.735),
    "256 x 256 subarrays (numRowSubArray, numColSubArray, numRowParallel 256)":
        dict(keys={"rows": 256, "cols": 256}, energy_uJ=42.034, period_us=126.62, clock_ns=1.86777, ic_uJ=4.775),
    "64 of 128 rows read at once (numRowParallel 64)": dict(keys={"parallel_rows": 64}, energy_uJ=82.182,
                                                            period_us=174.77, clock_ns=1.87436, ic_uJ=4.199),
    "16 columns per ADC (numColMuxed 16)": dict(keys={"cols_per_adc": 16}, energy_uJ=58.982, period_us=161.79,
                                                clock_ns=1.71203, ic_uJ=3.713),
    "input bits Bernoulli(0.1) (input bit density 0.0875)": dict(keys={}, density=0.0875, energy_uJ=44.380,
                                                                 period_us=151.29, clock_ns=1.6974, ic_uJ=3.993),
    "DenseNet-40 (NetWork_DenseNet40.csv)": dict(keys={}, workload="densenet40", energy_uJ=52.863, period_us=80.90,
                                                 clock_ns=1.6974, ic_uJ=6.072),
    # held out: two settings changed at once, run after the laws were written (none of them sets a constant)
    "DenseNet-40 on 256 x 256 subarrays": dict(keys={"rows": 256, "cols": 256}, workload="densenet40",
                                               energy_uJ=64.579, period_us=68.33, clock_ns=1.86777, ic_uJ=8.571),
    "256 x 256 subarrays with a 4-bit ADC": dict(keys={"rows": 256, "cols": 256, "adc_bits": 4}, energy_uJ=32.651,
                                                 period_us=117.57, clock_ns=1.79009, ic_uJ=4.506),
    "64 of 128 rows at once with 16 columns per ADC": dict(keys={"parallel_rows": 64, "cols_per_adc": 16},
                                                           energy_uJ=92.442, period_us=194.33, clock_ns=1.89415,
                                                           ic_uJ=3.848),
    "input bits Bernoulli(0.1) with 16 columns per ADC": dict(keys={"cols_per_adc": 16}, density=0.0875,
                                                              energy_uJ=51.189, period_us=161.79, clock_ns=1.71203,
                                                              ic_uJ=3.713),
    "DenseNet-40 with a 4-bit ADC": dict(keys={"adc_bits": 4}, workload="densenet40", energy_uJ=38.290,
                                         period_us=74.44, clock_ns=1.56515, ic_uJ=5.642),
    # held out, one setting beyond the single-setting runs' range: smaller subarrays than any run above
    "64 x 64 subarrays": dict(keys={"rows": 64, "cols": 64}, energy_uJ=81.851, period_us=99.18, clock_ns=1.79836,
                              ic_uJ=4.250),
    # held out, predicted before they were run (settings no run above had): area is the sum of NeuroSim's printed
    # categories (array, IC, ADC, accumulation, other), recorded for these runs and their default
    "adc 6 bits (levelOutput 64)": dict(keys={"adc_bits": 6}, energy_uJ=77.432, period_us=182.53, clock_ns=2.04748,
                                        ic_uJ=4.323, area_mm2=83.530),
    "4 columns per ADC (numColMuxed 4)": dict(keys={"cols_per_adc": 4}, energy_uJ=39.088, period_us=192.44,
                                              clock_ns=2.62878, ic_uJ=4.707, area_mm2=100.954),
    # held out, the technology node (technode 45; technode 32 with levelOutput 8): NeuroSim's SRAM cell sizes the
    # column mux to its access transistor, which sets the clock at these nodes (test_node_clock_follows_the_mux_sizing)
    "45 nm (technode 45)": dict(keys={"node_nm": 45}, energy_uJ=145.480, period_us=885.15, clock_ns=9.94339,
                                ic_uJ=11.641, area_mm2=327.476, sram_mux=True),
    "32 nm with a 3-bit ADC (technode 32, levelOutput 8)": dict(keys={"node_nm": 32, "adc_bits": 3}, energy_uJ=52.093,
                                                                period_us=530.73, clock_ns=5.97929, ic_uJ=5.858,
                                                                area_mm2=141.864, sram_mux=True),
}
RUNS["default"]["area_mm2"] = 76.284


@pytest.fixture(scope="module")
def archsim_runs():
    base = presets.load("neurosim").architecture
    out = {}
    for name, run in RUNS.items():
        wl = workloads.get(run.get("workload", "vgg8"))
        act = Activity(run["density"], 0.5, "NeuroSim run's traces") if "density" in run else None
        m = map_workload(wl, base.replace(**run["keys"]) if run["keys"] else base)
        s = evaluate(m, activity=act).summary
        ev = events(m, activity=act)
        up = unit_prices(m, prices_for(m.arch, m.device), ev)
        ic = sum(float(np.sum(ev[e] * up[e])) for e in ("bus_bit", "bit_hop"))    # tile bus and mesh links
        out[name] = (s["energy_per_inference_J"] * 1e6, s["tops"] * 1e12, 2.0 * wl.total_macs, ic * 1e6, s["area_mm2"])
    return out


@pytest.mark.parametrize("name", [n for n in RUNS if n != "default"])
def test_change_of_energy_predicted_within_25_percent(archsim_runs, name):
    ns = RUNS[name]["energy_uJ"] / RUNS["default"]["energy_uJ"]
    ours = archsim_runs[name][0] / archsim_runs["default"][0]
    print(f"{name}: energy x{ours:.3f} (archsim) against x{ns:.3f} (NeuroSim): {ours / ns:.3f}")
    assert 0.75 < ours / ns < 1.25


@pytest.mark.parametrize("name", [n for n in RUNS if n != "default" and not RUNS[n].get("sram_mux")])
def test_change_of_throughput_predicted_within_25_percent(archsim_runs, name):
    ops = archsim_runs[name][2] / archsim_runs["default"][2]      # ops per image relative to VGG-8
    ns = ops * RUNS["default"]["period_us"] / RUNS[name]["period_us"]
    ours = archsim_runs[name][1] / archsim_runs["default"][1]
    print(f"{name}: throughput x{ours:.3f} (archsim) against x{ns:.3f} (NeuroSim): {ours / ns:.3f}")
    assert 0.75 < ours / ns < 1.25


DENSENET = "DenseNet-40 (NetWork_DenseNet40.csv)"


@pytest.mark.parametrize("name", [n for n in RUNS if RUNS[n].get("workload") and n != DENSENET])
def test_change_on_the_same_network_within_25_percent(archsim_runs, name):
    """A DenseNet-40 run with a second setting changed, against NeuroSim's DenseNet-40 default: the setting's
    change on that network, apart from the change of network (which the VGG-8 ratios above include)."""
    for i, what in ((0, "energy"), (1, "throughput")):
        ours = archsim_runs[name][i] / archsim_runs[DENSENET][i]
        key = "energy_uJ" if i == 0 else "period_us"
        ns = RUNS[name][key] / RUNS[DENSENET][key]
        ns = ns if i == 0 else 1.0 / ns
        print(f"{name}: {what} x{ours:.3f} (archsim) against x{ns:.3f} (NeuroSim): {ours / ns:.3f}")
        assert 0.75 < ours / ns < 1.25


@pytest.mark.parametrize("name", list(RUNS))
def test_absolute_figures_within_25_percent(archsim_runs, name):
    """Each run's own like-for-like figures, archsim predicting from the calibrated preset (calibrated on the
    published run, whose traces give 0.934 of these traces' default energy).  The node runs' throughput is
    checked through their clock below."""
    e = archsim_runs[name][0] / RUNS[name]["energy_uJ"]
    t = archsim_runs[name][1] / (archsim_runs[name][2] / (RUNS[name]["period_us"] * 1e-6))
    print(f"{name}: energy {e:.3f}, throughput {t:.3f}")
    assert 0.75 < e < 1.25 and (RUNS[name].get("sram_mux") or 0.75 < t < 1.25)


@pytest.mark.parametrize("name", [n for n in RUNS if "area_mm2" in RUNS[n] and n != "default"])
def test_change_of_area_predicted_within_25_percent(archsim_runs, name):
    """NeuroSim's area categories summed against archsim's component area, each as a change from its default:
    the 6-bit converters' levels, the 4-column mux's extra converters, the node's F^2."""
    ns = RUNS[name]["area_mm2"] / RUNS["default"]["area_mm2"]
    ours = archsim_runs[name][4] / archsim_runs["default"][4]
    print(f"{name}: area x{ours:.3f} (archsim) against x{ns:.3f} (NeuroSim): {ours / ns:.3f}")
    assert 0.75 < ours / ns < 1.25


@pytest.mark.parametrize("name", [n for n in RUNS if RUNS[n].get("sram_mux")])
def test_node_clock_follows_the_mux_sizing(name):
    """At 32 and 45 nm NeuroSim's mux decoder has a minimum driver (sizingfactor_MUX 1, Param.cpp:136) and the
    sensing cycle is its charging of the selected pass gates.  These runs' cell is NeuroSim's SRAM, whose mux
    pass gates are sized to the SRAM access transistor (SubArray.cpp:276: R_access / (P / 2), 78.6 kOhm at 45 nm
    from 1.77 Vdd / I_on of one F of width), 1.48x wider at 45 nm than the 1T1R cell's (R_avg / P) that archsim
    sizes them to: archsim's clock is 0.75 of these runs' (throughput 1.33x theirs).  Given the SRAM run's pass
    gates (r_on = r_off = 1.6 R_access gives the same R_tg), the same law is within 10% of NeuroSim's clock
    (5.6 and 9.4 against 6.0 and 9.9 ns; the rest is the SRAM path's bit-line precharger, 0.08 ns at 45 nm)."""
    from archsim.cost import subarray
    from archsim.io import techlib
    a = presets.load("neurosim").architecture.replace(**RUNS[name]["keys"])
    law = subarray.laws(a.circuits, a.node_nm)
    rec = techlib.circuit("subarray", a.circuits)
    i = [int(n) for n in rec["by_node.node"]].index(int(a.node_nm))
    r_access = rec["by_node.effective_resistance_multiplier"] * law.vdd / (rec["by_node.nmos_on_current"][i] * a.node_nm * 1e-9)
    t_sense = law.sense_time(a.adc_bits, 128, 1e5, law.bitline_cap(128, a.node_nm, 48))
    clock = law.clock_period(t_sense, law.row_encoder_delay(128, 8, 128, a.adc_bits, a.node_nm, 1.6 * r_access,
                                                            1.6 * r_access))
    print(f"{name}: clock {clock * 1e9:.3f} ns with the SRAM run's pass gates against {RUNS[name]['clock_ns']}")
    assert clock * 1e9 == pytest.approx(RUNS[name]["clock_ns"], rel=0.10)


@pytest.mark.parametrize("name", [n for n in RUNS if n != "default" and "workload" not in RUNS[n]])
def test_change_of_interconnect_energy_predicted_within_25_percent(archsim_runs, name):
    """NeuroSim's 'ic' energy (its tile H-trees and global bus, like-for-like) against archsim's tile bus and
    mesh links, priced by their floorplan lengths: at 256 x 256 both grow with the bigger tiles (NeuroSim
    x1.196; archsim x0.78 before the floorplan priced its wires by length, when fewer tiles meant fewer hops
    and nothing else).  VGG-8 runs only: DenseNet-40's traffic differs by mapping (NeuroSim re-sends inputs
    per kernel column over fixed distances, archsim sends each activation once over placed hops; x1.52
    against archsim's x2.2), a count the wire lengths do not set."""
    ns = RUNS[name]["ic_uJ"] / RUNS["default"]["ic_uJ"]
    ours = archsim_runs[name][3] / archsim_runs["default"][3]
    print(f"{name}: interconnect x{ours:.3f} (archsim) against x{ns:.3f} (NeuroSim): {ours / ns:.3f}")
    assert 0.75 < ours / ns < 1.25


#: NeuroSim's printed speed-up of each VGG-8 layer (its floorplan, main.cpp:197-208) at three subarray sizes
NEUROSIM_SPEEDUP = {64: (16, 16, 4, 4, 1, 1, 1, 4), 128: (16, 16, 4, 4, 2, 1, 1, 8), 256: (16, 16, 4, 4, 4, 2, 1, 16)}


@pytest.mark.parametrize("size", sorted(NEUROSIM_SPEEDUP))
def test_replication_follows_neurosims_speed_up(size):
    """Changing rows and columns keeps NeuroSim's design: the tile stays 9 PEs of 4 x 4 subarrays (144 arrays, its
    novel tile at every size) and the layers that set the period (conv1_1 to conv2_2, on inputs of 32 and 16) are
    replicated as NeuroSim speeds them up.  NeuroSim also duplicates later, fast layers into spare tiles (conv3_1
    x2 at 128, x4 at 256; fc2 x4-x16); archsim does not, which changes no period (their stages are 5-10x shorter)."""
    base = presets.load("neurosim").architecture
    m = map_workload(workloads.get("vgg8"), base.replace(rows=size, cols=size))
    assert m.arch.arrays_per_tile == 9 * 4 * 4
    assert tuple(l.replication for l in m.layers[:4]) == NEUROSIM_SPEEDUP[size][:4]
    assert all(l.replication <= ns for l, ns in zip(m.layers, NEUROSIM_SPEEDUP[size]))


#: NeuroSim V1.4 with its 1T1R RRAM (Param.cpp memcelltype 2: the cell the neurosim preset models) on the same
#: traces, at 22 nm (it reproduces the published default the preset is calibrated on: clock 1.663 ns, 45.65 uJ
#: like-for-like with leakage, 100.7 mm2 of categories) and at 45 nm (technode 45), held out: archsim's node change
#: was predicted (x2.567 energy, x0.227 throughput) before this run finished
RRAM_RUNS = {22: dict(energy_uJ=45.654, period_us=148.26, clock_ns=1.66336, area_mm2=100.715),
             45: dict(energy_uJ=127.187, period_us=694.25, clock_ns=7.79885, area_mm2=470.017)}


def test_node_change_on_neurosims_rram_within_25_percent():
    """45 nm against 22 nm with the cell archsim models: energy x2.567 against x2.786, throughput x0.227 against
    x0.214 (clock 7.49 against 7.80 ns), area x4.18 (F^2) against x4.67 (NeuroSim's printed categories).  The SRAM runs' throughput gap (test_node_clock_follows_the_mux_sizing) is absent here: the mux
    pass gates are sized to the 1T1R column as archsim sizes them."""
    base = presets.load("neurosim").architecture
    wl = workloads.get("vgg8")
    s = {n: evaluate(map_workload(wl, base.replace(node_nm=n))).summary for n in RRAM_RUNS}
    ns, us = RRAM_RUNS[45], RRAM_RUNS[22]
    checks = {
        "energy": (s[45]["energy_per_inference_J"] / s[22]["energy_per_inference_J"], ns["energy_uJ"] / us["energy_uJ"]),
        "throughput": (s[45]["tops"] / s[22]["tops"], us["period_us"] / ns["period_us"]),
        "area": (s[45]["area_mm2"] / s[22]["area_mm2"], ns["area_mm2"] / us["area_mm2"]),
    }
    for what, (ours, theirs) in checks.items():
        print(f"45 / 22 nm on RRAM: {what} x{ours:.3f} (archsim) against x{theirs:.3f} (NeuroSim): {ours / theirs:.3f}")
        assert 0.75 < ours / theirs < 1.25
    # absolute at 45 nm (the 22 nm run is the calibration's)
    e = s[45]["energy_per_inference_J"] * 1e6 / ns["energy_uJ"]
    t = s[45]["tops"] * 1e12 / (2.0 * wl.total_macs / (ns["period_us"] * 1e-6))
    print(f"45 nm on RRAM: energy {e:.3f}, throughput {t:.3f}")
    assert 0.75 < e < 1.25 and 0.75 < t < 1.25

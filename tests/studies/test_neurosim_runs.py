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
come from (48.6 against 45.4 uJ like-for-like; clock 1.697 against 1.663 ns), so each check compares
changes: archsim's ratio of a setting to its default against NeuroSim's, each tool against its own
default.  Tolerance 25% (the issue's band for predictions).
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
    "DenseNet-40 with a 4-bit ADC": dict(keys={"adc_bits": 4}, workload="densenet40", energy_uJ=38.290,
                                         period_us=74.44, clock_ns=1.56515, ic_uJ=5.642),
}


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
        out[name] = (s["energy_per_inference_J"] * 1e6, s["tops"] * 1e12, 2.0 * wl.total_macs, ic * 1e6)
    return out


@pytest.mark.parametrize("name", [n for n in RUNS if n != "default"])
def test_change_of_energy_predicted_within_25_percent(archsim_runs, name):
    ns = RUNS[name]["energy_uJ"] / RUNS["default"]["energy_uJ"]
    ours = archsim_runs[name][0] / archsim_runs["default"][0]
    print(f"{name}: energy x{ours:.3f} (archsim) against x{ns:.3f} (NeuroSim): {ours / ns:.3f}")
    assert 0.75 < ours / ns < 1.25


@pytest.mark.parametrize("name", [n for n in RUNS if n != "default"])
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
    """Each run's own like-for-like figures, archsim predicting from the calibrated preset."""
    e = archsim_runs[name][0] / RUNS[name]["energy_uJ"]
    t = archsim_runs[name][1] / (archsim_runs[name][2] / (RUNS[name]["period_us"] * 1e-6))
    print(f"{name}: energy {e:.3f}, throughput {t:.3f}")
    assert 0.75 < e < 1.25 and 0.75 < t < 1.25


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

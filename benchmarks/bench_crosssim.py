"""archsim's accuracy simulator beside CrossSim 3.2 on the same network, images, trials and settings.

    python benchmarks/bench_crosssim.py --crosssim-python PATH/TO/venv/bin/python [--images 2000] [--trials 2]

CrossSim (Sandia's accuracy simulator, https://github.com/sandialabs/cross-sim, tag v3.2.0) is not a
dependency of archsim: install it into a virtual environment of its own (``pip install numpy scipy torch``
and ``pip install -e`` of its checkout) and name that environment's python with ``--crosssim-python`` or
the ``CROSSSIM_PYTHON`` environment variable; without one the CrossSim side is skipped with a message.

The work, the same on both sides:

- network: ``mnist_cnn3`` (three 3x3 convolutions of 32/64/128 channels with 2x2 max pooling, dense
  1152-256-10; 7.75 M multiply-adds per image), seeded random weights (``random_weights(seed=0)``),
  the first ``--images`` MNIST test images, scored by fidelity (top-1 agreement with the float network);
- ``--trials`` chips, each programmed anew (SONOS programming error), calibrated on the first 128 images
  (input range and ADC ranges), then all images through it;
- 128 x 128 arrays, 8-bit weights on a differential pair of 7-bit SONOS cells subtracted in analog
  (CrossSim's balanced core with ``subtract_current_in_xbar``), one 8-bit DAC pulse (no input bit
  slicing), an 8-bit ADC per column with a calibrated range; no read noise (``SimConfig(read_noise=False)``;
  ``--read-noise`` turns it on on both sides: CrossSim then copies every array once per input vector to draw
  its noise, thousands of times slower, so give it a few images only).

Where the two differ (stated, not hidden): archsim sets one ADC range per array from the calibration batch; CrossSim one per layer
(its ``calibrated_range``, here the min and max of the profiled ADC inputs).  CrossSim's calibration runs
the calibration images through the chip with an ideal ADC while profiling, then rebuilds the layers with
the ranges (the same programmed cells: its global numpy seed is set before both builds).  archsim's time
includes what its ``simulate`` always does besides: the exact float pass and a per-layer error pass of 64
images per chip.

Timed per side: the chips (programming, calibration, scored pass) and the float network's outputs the
fidelity is scored against, in wall clock and CPU seconds (this process's CPU for archsim, the child's for CrossSim) with
one thread (BLAS and torch held to 1; archsim ``SimConfig(threads=1)``) and with the default threads of
each.  ``--repeat`` runs each and reports the per-pair median ratios (CrossSim / archsim).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CALIB = 128          # calibration images per chip on both sides
BATCH = 250          # images per forward batch on the CrossSim side


# --------------------------------------------------------------------------- CrossSim side (its own venv)
def _crosssim_worker(npz: str, trials: int, out: str, read_noise: bool) -> None:
    """Runs inside CrossSim's environment: numpy, torch and CrossSim only (archsim is not installed there)."""
    import numpy as np
    import torch
    from torch import nn
    from simulator import CrossSimParameters
    from simulator.algorithms.dnn.torch.convert import from_torch, analog_modules
    from simulator.algorithms.dnn.torch.profile import get_profiled_adc_inputs

    d = np.load(npz)
    x = torch.from_numpy(d["x"])
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1152, 256), nn.ReLU(), nn.Linear(256, 10))
    weighted = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for i, m in enumerate(weighted):
            m.weight.copy_(torch.from_numpy(d[f"w{i}"]))
            m.bias.copy_(torch.from_numpy(d[f"b{i}"]))
    net.eval()
    # input range of every layer (the DAC's calibrated range): the largest input over the calibration images
    in_max = []
    hooks = [m.register_forward_pre_hook(lambda mod, inp: in_max.append(float(inp[0].max()))) for m in weighted]
    with torch.no_grad():
        t0, c0 = time.perf_counter(), time.process_time()
        ref = net(x).numpy()          # the float network's outputs, which fidelity is scored against
        ref_time = dict(wall=time.perf_counter() - t0, cpu=time.process_time() - c0)
        check = float(np.abs(net(x[:64]).numpy() - d["archsim_float"]).max())
        in_max.clear()
        net(x[:CALIB])
    for h in hooks:
        h.remove()
    ref_top = ref.argmax(axis=1)

    def params(i, adc_range=None):
        p = CrossSimParameters()
        p.core.style = "BALANCED"
        p.core.balanced.style = "ONE_SIDED"
        p.core.balanced.subtract_current_in_xbar = True
        p.core.rows_max, p.core.cols_max = 128, 128
        p.core.weight_bits = 8
        p.core.mapping.weights.clipping = True
        p.core.mapping.weights.percentile = 1.0
        p.core.mapping.inputs.mvm.clipping = True
        p.core.mapping.inputs.mvm.min, p.core.mapping.inputs.mvm.max = 0.0, in_max[i]
        p.xbar.device.cell_bits = 7
        p.xbar.device.Rmin, p.xbar.device.Rmax = 35e3, 6e12        # SONOS, on/off ~1e8 (its TCAS config)
        p.xbar.device.programming_error.enable = True
        p.xbar.device.programming_error.model = "SONOS"
        p.xbar.device.read_noise.enable = read_noise
        p.xbar.device.read_noise.model = "SONOS"
        p.xbar.dac.mvm.model = "QuantizerDAC"
        p.xbar.dac.mvm.bits = 8
        p.xbar.dac.mvm.input_bitslicing = False
        p.xbar.dac.mvm.signed = False
        if adc_range is None:
            p.xbar.adc.mvm.model = "IdealADC"
            p.simulation.analytics.profile_adc_inputs = True
            p.simulation.analytics.ntest = CALIB
        else:
            p.xbar.adc.mvm.model = "QuantizerADC"
            p.xbar.adc.mvm.bits = 8
            p.xbar.adc.mvm.signed = True
            p.xbar.adc.mvm.adc_range_option = "CALIBRATED"
            p.xbar.adc.mvm.calibrated_range = list(adc_range)
        return p

    rows = []
    for t in range(trials):
        t0, c0 = time.perf_counter(), time.process_time()
        np.random.seed(1000 + t)
        cal = from_torch(net, [params(i) for i in range(len(weighted))])
        with torch.no_grad():
            cal(x[:CALIB])
        ranges = [(float(a.min()), float(a.max())) for a in get_profiled_adc_inputs(cal)]
        del cal
        np.random.seed(1000 + t)            # the same programmed cells, now with the calibrated ADC ranges
        chip = from_torch(net, [params(i, ranges[i]) for i in range(len(weighted))])
        assert len(analog_modules(chip)) == len(weighted)
        with torch.no_grad():
            logits = np.concatenate([chip(x[a:a + BATCH]).numpy() for a in range(0, len(x), BATCH)])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append(dict(wall=wall, cpu=cpu, fidelity=float((logits.argmax(axis=1) == ref_top).mean())))
    Path(out).write_text(json.dumps(dict(trials=rows, reference=ref_time, torch_threads=torch.get_num_threads(),
                                         float_check=check, versions=dict(torch=torch.__version__,
                                                                          numpy=np.__version__))))


# --------------------------------------------------------------------------- archsim side
def _one_thread_env() -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    return env


def run_crosssim(py: str, npz: str, trials: int, one_thread: bool, read_noise: bool) -> dict:
    """CrossSim in its own interpreter; wall and CPU seconds of the whole child (its start included)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.json")
        env = _one_thread_env() if one_thread else dict(os.environ)
        env.pop("PYTHONPATH", None)
        r0 = os.times()
        t0 = time.perf_counter()
        subprocess.run([py, __file__, "--worker", npz, "--trials", str(trials), "--out", out]
                       + (["--read-noise"] if read_noise else []), check=True, env=env)
        wall = time.perf_counter() - t0
        r1 = os.times()
        res = json.loads(Path(out).read_text())
    res["wall_total"] = wall
    res["cpu_total"] = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    # the chips and the float reference the fidelity is scored against (archsim's simulate computes both)
    res["wall"] = sum(t["wall"] for t in res["trials"]) + res["reference"]["wall"]
    res["cpu"] = sum(t["cpu"] for t in res["trials"]) + res["reference"]["cpu"]
    return res


def run_archsim(m, x, trials: int, threads: int, read_noise: bool) -> dict:
    from archsim.sim import accuracy
    from archsim.sim.tilesim import SimConfig
    from archsim.sim.tilesim.support import blas_single_thread
    import contextlib

    ctx = blas_single_thread() if threads == 1 else contextlib.nullcontext()
    with ctx:
        t0, c0 = time.perf_counter(), time.process_time()
        r = accuracy.simulate(m, x, None, trials=trials, seed=0, cfg=SimConfig(threads=threads, read_noise=read_noise))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return dict(wall=wall, cpu=cpu, fidelity=[float(v) for v in r.per_trial])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each side per thread setting (default 1)")
    ap.add_argument("--threads", default="1,0", help="archsim thread counts to time (0: its default); "
                    "1 also holds CrossSim's BLAS and torch to one thread, 0 leaves both at their defaults")
    ap.add_argument("--crosssim-python", default=os.environ.get("CROSSSIM_PYTHON", ""),
                    help="python of a virtual environment with CrossSim 3.2 installed")
    ap.add_argument("--read-noise", action="store_true", help="SONOS read noise on, on both sides")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        _crosssim_worker(a.worker, a.trials, a.out, a.read_noise)
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import numpy as np
    import workloads
    from archsim import Architecture, map_workload
    from archsim.io import data
    from archsim.model.weights import random_weights
    from archsim.sim import accuracy, forward
    from archsim.sim.tilesim.support import matmul_threads
    from archsim.sim.tilesim import SimConfig

    wl = random_weights(workloads.get("mnist_cnn3"), seed=0)
    x, _ = data.for_workload(wl, "test", limit=a.images)
    x = np.ascontiguousarray(x, dtype=np.float32)
    m = map_workload(wl, Architecture(device="sonos", dac_bits=8, differential_readout="analog"))
    accuracy.simulate(m, x[:64], None, trials=1)          # compile / load the kernels outside the timing
    py = a.crosssim_python
    if py and not Path(py).exists():
        print(f"--crosssim-python {py}: no such file; the CrossSim side is skipped")
        py = ""
    if not py:
        print("CrossSim side skipped: give --crosssim-python (or CROSSSIM_PYTHON), the python of a venv "
              "with CrossSim 3.2 and torch installed")
    tmp = tempfile.TemporaryDirectory()
    npz = str(Path(tmp.name) / "work.npz")
    arrays = {"x": x, "archsim_float": forward.run(wl, x[:64])}
    for i, l in enumerate(wl.weighted_layers()):
        arrays[f"w{i}"] = np.asarray(l.weights, np.float32)
        arrays[f"b{i}"] = np.asarray(l.bias, np.float32)
    np.savez(npz, **arrays)
    print(f"mnist_cnn3, {len(x)} MNIST test images x {a.trials} chips, SONOS, 128x128 arrays, one 8-bit DAC "
          f"pulse, analog pair subtraction, 8-bit ADC, read noise {'on' if a.read_noise else 'off'}; load average before "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for th in (int(t) for t in a.threads.split(",") if t):
        label = "1 thread" if th == 1 else f"default threads (archsim {matmul_threads(SimConfig(threads=th))})"
        pairs = []
        for _ in range(a.repeat):
            ar = run_archsim(m, x, a.trials, th, a.read_noise)
            cs = run_crosssim(py, npz, a.trials, th == 1, a.read_noise) if py else None
            pairs.append((ar, cs))
            print(f"  {label}: archsim wall {ar['wall']:.2f} s, CPU {ar['cpu']:.2f} s, fidelity "
                  f"{', '.join(f'{v:.4f}' for v in ar['fidelity'])}", flush=True)
            if cs:
                fid = ", ".join(f"{t['fidelity']:.4f}" for t in cs["trials"])
                print(f"  {label}: CrossSim wall {cs['wall']:.2f} s (float reference {cs['reference']['wall']:.2f} s "
                      f"of it; process {cs['wall_total']:.2f} s with its imports), CPU {cs['cpu']:.2f} s "
                      f"({cs['cpu_total']:.2f} s), torch threads "
                      f"{cs['torch_threads']}, fidelity {fid}; "
                      f"float nets agree to {cs['float_check']:.1e}", flush=True)
        if py:
            wr = statistics.median(c["wall"] / r["wall"] for r, c in pairs)
            cr = statistics.median(c["cpu"] / r["cpu"] for r, c in pairs)
            print(f"{label}: CrossSim / archsim, median of {a.repeat}: wall {wr:.2f}x, CPU {cr:.2f}x")
    print(f"load average after {os.getloadavg()[0]:.1f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

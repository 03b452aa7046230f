"""ADC and DAC range policies: LeNet-5 accuracy on MNIST under SONOS and ReRAM for each policy.

Every policy is a set of architecture keys (``adc_range``, ``adc_percentile``, ``adc_full_scale``,
``dac_range``, ``dac_percentile``, ``dac_full_scale``) on the default architecture (8-bit ADC, 8-bit
bit-serial inputs, 128 x 128 arrays, differential pairs read digitally); each point is ``--trials``
independently programmed chips over the first ``--samples`` MNIST test images, calibrated on
``--calibration`` training images, seed 0, with the 95% interval of ``archsim.sim.accuracy.ci95``.  A
second table gives each layer's calibrated ADC full scale as a fraction of the worst-case array current
(what a fixed range has to match) and its calibrated DAC range.

Writes reports/ranges.md and reports/ranges.csv.  About 12 to 14 minutes on the shared 2-core development machine with the defaults:
    python benchmarks/study_ranges.py [--trials 3] [--samples 2000] [--calibration 128] [--out reports]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsim.io import techlib  # noqa: E402
import workloads  # noqa: E402
from archsim import Architecture  # noqa: E402
from archsim.io import data as D  # noqa: E402
from archsim.io.files import atomic_write  # noqa: E402
from archsim.mapping.layout import map_workload  # noqa: E402
from archsim.report import tables as report  # noqa: E402
from archsim.sim import accuracy, forward  # noqa: E402
from archsim.sim.tilesim import SimConfig  # noqa: E402

#: (name, architecture keys); the first is the default
POLICIES = [
    ("array max (default)", {}),
    ("array p99.9", dict(adc_percentile=99.9)),
    ("layer max", dict(adc_range="layer")),
    ("layer p99.9", dict(adc_range="layer", adc_percentile=99.9)),
    ("fixed 1/16", dict(adc_range="fixed", adc_full_scale=1 / 16)),
    ("fixed 1/4", dict(adc_range="fixed", adc_full_scale=1 / 4)),
    ("max (worst case)", dict(adc_range="max")),
    ("granular", dict(adc_range="granular")),
    ("DAC p99.9", dict(dac_percentile=99.9)),
    ("DAC fixed 8", dict(dac_range="fixed", dac_full_scale=8.0)),
]
DEVICES = ("sonos", "reram")


def calibrated_ranges(wl, x_cal, device: str) -> pd.DataFrame:
    """Per layer: the default policy's calibrated ADC full scales (min, median, max over the layer's arrays)
    as fractions of the worst-case array current, and the calibrated DAC range."""
    a = Architecture(device=device)
    chip = accuracy._Chip((m := map_workload(wl, a)), m.device, SimConfig(), 0, 0)
    forward.run(wl, x_cal, matmul=chip, chunk=len(x_cal))
    rows = []
    for (layer, g), pm in chip.pms.items():
        g_top = pm.gmax_u - pm.gmin_u if pm.analog_pair else pm.gmax_u
        f = pm.adc_full / (a.rows * pm.v_max * g_top)
        rows.append(dict(device=device, layer=layer, arrays=pm.n_arrays, adc_fraction_min=float(f.min()),
                         adc_fraction_median=float(np.median(f)), adc_fraction_max=float(f.max()),
                         dac_x_max=pm.x_max))
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--calibration", type=int, default=128)
    ap.add_argument("--out", default="reports")
    args = ap.parse_args(argv)
    wl = workloads.get("lenet5", weights=True)
    x, y = D.for_workload(wl, "test", limit=args.samples)
    x_cal, _ = D.for_workload(wl, "train", limit=args.calibration)
    cal_what = f"{len(x_cal)} MNIST training images"
    rows = []
    t0 = time.perf_counter()
    for dev in DEVICES:
        for name, keys in POLICIES:
            a = Architecture(device=dev, **keys)
            r = accuracy.simulate(map_workload(wl, a), x, y, x_cal=x_cal, calibration=cal_what,
                                  trials=args.trials, seed=0, cfg=SimConfig(), layer_sample=16)
            lo, hi = r.ci95
            s = r.summary()
            rows.append(dict(device=dev, policy=name, accuracy=accuracy.format_ci(r.mean, lo, hi),
                             mean=r.mean, ci95_low=lo, ci95_high=hi, std=r.std,
                             logit_error=float(r.logit_error.mean()), reference=r.reference,
                             adc_range=s["adc_range"], dac_range=s["dac_range"]))
            print(f"{dev:6s} {name:22s} {rows[-1]['accuracy']}  logit error {rows[-1]['logit_error']:.4f}", flush=True)
    wall = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    ranges = pd.concat([calibrated_ranges(wl, x_cal, d) for d in DEVICES], ignore_index=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "ranges.csv", df.to_csv(index=False))
    shown = df[["device", "policy", "accuracy", "logit_error", "adc_range", "dac_range"]]
    text = [
        "# ADC and DAC range policies: LeNet-5 on MNIST", "",
        f"Generated by `python benchmarks/study_ranges.py --trials {args.trials} --samples {args.samples} "
        f"--calibration {args.calibration}` ({wall:.0f} s on this machine). Default architecture (8-bit ADC, "
        "8-bit bit-serial inputs, 128 x 128 arrays, differential pairs read digitally) with the range keys "
        f"of each row; {args.trials} chips per point over the first {len(x)} MNIST test images, calibrated "
        f"on {cal_what}, seed 0; accuracy as mean ± half-width of the 95% interval (chip-to-chip and "
        "image sampling error combined); logit error = relative error of the logits against the exact "
        f"network. Float network: {df['reference'].iloc[0]:.4f}.", "",
        report.to_markdown(shown), "",
        "Calibrated ranges of the default policy (per layer: the arrays' ADC full scales as fractions of the "
        "worst-case array current rows x largest pulse x g_max, and the DAC range max |x|):", "",
        report.to_markdown(ranges), "",
        "Reading (with the defaults above): the calibrated per-array full scales sit at a few percent to about "
        "12% of the worst case. Every calibrated policy (per array or per layer, max or p99.9, DAC max or "
        "p99.9) and a fixed ADC range near the calibrated ones (1/16) give the same accuracy within the "
        "interval and nearly the same logit error. A range far above the signal wastes codes: fixed 1/4 and "
        "the worst case `max` raise the logit error (MNIST forgives most of it in top-1). `granular` (one "
        "LSB per conductance step) covers only 2^adc_bits - 1 conductance steps of column current, far less "
        "than a 128-row column carries, so it saturates and accuracy collapses (more on ReRAM, whose g_min = "
        "g_max / 10 adds a large current on every cell). One fixed DAC full scale for every layer (8) gives "
        "the image (range 1) an eighth of its codes and clips the last layers (ranges up to about 23): the "
        "logit error grows several times, top-1 stays within the interval.",
    ]
    atomic_write(out / "ranges.md", "\n".join(text) + "\n")
    print(report.to_text(shown))
    print("wrote", out / "ranges.md")


if __name__ == "__main__":
    main()

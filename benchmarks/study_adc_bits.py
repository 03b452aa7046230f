"""Accuracy versus ADC bits: LeNet-5 (MNIST) and fashion_vgg (Fashion-MNIST) per device and ADC resolution.

Every point is the default architecture (128 x 128 arrays, 8-bit weights in differential pairs read
digitally, 8-bit bit-serial inputs, per-array calibrated ADC range) with the device and ``adc_bits``
swapped in, simulated by :func:`archsim.sim.accuracy.simulate` on ``--trials`` programmed chips over the
first ``--samples`` test images, calibrated on ``--calibration`` training images (never scored).  Each
point reports the mean accuracy with its 95% interval (:func:`archsim.sim.accuracy.ci95`: chip-to-chip
and image sampling error) and its **paired difference to the highest bit count** (8 by default) on the
same images and the same seeds, chip t against chip t (:func:`chip_matched_difference`): every bit count of a device
programs the same chips (programming seeds do not depend on the ADC), so the difference is the ADC's
alone.  :func:`archsim.sim.stats.paired_difference`, which treats the two sets of chips as independent
and is conservative here, is reported beside it.

``sram`` is digital compute-in-memory: adder trees sum its columns exactly, with no ADC, in the cost model
and in the simulator alike, so its rows do not move with ``adc_bits`` (a control row); ``sram_charge`` has exact 1-bit cells and a column ADC, so its
deficit is the ADC's quantization alone; ReRAM and PCM add their programming error (and PCM its read
noise).  The ADC
resolutions run are 4 to 8 bits (``--bits``); the architecture allows 1 to 10 (``archsim list --keys``; one bit
is a single comparator, ``adc_type: flash``), and the study refuses what the architecture refuses.

Writes ADC_BITS.csv, ADC_BITS.md and (with matplotlib installed) ADC_BITS.png under ``--out``::

    python benchmarks/study_adc_bits.py [--workloads lenet5,fashion_vgg] [--devices sram,sram_charge,reram,pcm]
        [--bits 4,5,6,7,8] [--trials 5] [--samples 300] [--calibration 128] [--seed 0] [--out reports/bench]

About 5 minutes with the defaults (299 to 328 s in three runs at nice 10 on the shared, loaded 2-core machine;
the wall time is printed and written into the report).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import workloads  # noqa: E402
from archsim import Architecture  # noqa: E402
from archsim.io import data as D  # noqa: E402
from archsim.io.files import atomic_write  # noqa: E402
from archsim.mapping.layout import map_workload  # noqa: E402
from archsim.model.device import load_device  # noqa: E402
from archsim.model.errors import ArchsimError  # noqa: E402
from archsim.report import tables as report  # noqa: E402
from archsim.report.plots import matplotlib_available, plot_accuracy_vs_adc_bits  # noqa: E402
from archsim.sim.accuracy import Z975, format_ci, simulate  # noqa: E402
from archsim.sim.stats import PairedDifference, paired_difference  # noqa: E402
from archsim.sim.tilesim import SimConfig  # noqa: E402

STEM = "adc_bits"
WORKLOADS = ("lenet5", "fashion_vgg")
DEVICES = ("sram", "sram_charge", "reram", "pcm")
BITS = (4, 5, 6, 7, 8)


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _bits(text: str) -> list[int]:
    try:
        bits = sorted({int(t) for t in _names(text)})
    except ValueError:
        raise ArchsimError(f"--bits {text}: give comma-separated whole numbers, e.g. 4,5,6,7,8") from None
    if len(bits) < 2:
        raise ArchsimError(f"--bits {text}: give at least two bit counts (each is compared with the highest)")
    for b in bits:
        Architecture(adc_bits=b)    # the architecture's own range check (one line naming adc_bits)
    return bits


def chips_for(device: str, trials: int) -> int:
    """Chips to simulate: ``trials``, but one for an exact device (sram, sram_charge: exact bits, no
    programming error, drift, read noise, stuck cells or device variation), whose chips are all the same
    chip: more would repeat it (std 0) and cost time."""
    d = load_device(device)
    return 1 if d.exact and d.stuck_on == 0 and d.stuck_off == 0 and d.d2d == 0 else trials


def chip_matched_difference(per_trial_a, correct_a, per_trial_b, correct_b) -> PairedDifference:
    """``A - B`` where chip ``t`` of A and chip ``t`` of B are the same programmed chip (same seeds) read
    through different ADCs: the chip term is Student's t over the per-chip differences
    ``d_t = p_A,t - p_B,t`` (``t_{0.975,T-1} sd(d_t) / sqrt(T)``, absent for one chip), the image term
    that of :func:`archsim.sim.stats.paired_difference` (``1.96 sqrt(var_i(c_A,i - c_B,i) / n)``, ``c_X,i``
    image ``i``'s correctness averaged over the chips); combined in quadrature.  With one chip it is
    ``paired_difference`` (McNemar).  ``paired_difference`` takes A's and B's chips as independent and
    so keeps the whole chip-to-chip spread (Welch) that matching cancels."""
    from scipy.stats import t as student_t
    pa, pb = np.asarray(per_trial_a, np.float64), np.asarray(per_trial_b, np.float64)
    ca, cb = np.asarray(correct_a, np.float64), np.asarray(correct_b, np.float64)
    if pa.shape != pb.shape or ca.shape != cb.shape or ca.shape[0] != len(pa):
        raise ArchsimError(f"chip-matched difference: {len(pa)} and {len(pb)} chips, outcomes {ca.shape} and "
                           f"{cb.shape}; both need the same chips and the same images")
    d_t = pa - pb
    T, n = len(d_t), ca.shape[1]
    chip = float(student_t.ppf(0.975, T - 1) * d_t.std(ddof=1) / np.sqrt(T)) if T > 1 else 0.0
    image = Z975 * float(np.sqrt((ca.mean(axis=0) - cb.mean(axis=0)).var() / n))
    diff, h = float(d_t.mean()), float(np.hypot(chip, image))
    return PairedDifference(diff, diff - h, diff + h, chip, image, float(T - 1) if T > 1 else float("inf"))


def study(workload_names, devices, bits, trials: int, samples: int, calibration: int, seed: int,
          log=print) -> pd.DataFrame:
    """One row per (workload, device, adc_bits): accuracy, its 95% interval, and the paired difference to
    the highest bit count of the same workload and device (same images, same seeds)."""
    cfg = SimConfig(parallel=False)     # as the CLI runs it (serial kernels; numbers independent of threads)
    ref_bits = max(bits)
    rows = []
    for name in workload_names:
        wl = workloads.get(name, weights=True)
        x, y = D.for_workload(wl, "test", limit=samples)
        x_cal, _ = D.for_workload(wl, "train", limit=calibration)
        cal_what = f"{len(x_cal)} images of the {wl.dataset} training split"
        for dev in devices:
            chips = chips_for(dev, trials)
            res = {}
            for b in bits:
                t0 = time.perf_counter()
                a = Architecture(device=dev, adc_bits=b)
                res[b] = simulate(map_workload(wl, a), x, y, x_cal=x_cal, calibration=cal_what, trials=chips,
                                  seed=seed, cfg=cfg, layer_sample=16)
                res[b] = (res[b], time.perf_counter() - t0)
            ref = res[ref_bits][0]
            for b in bits:
                r, secs = res[b]
                p = chip_matched_difference(r.per_trial, r.correct, ref.per_trial, ref.correct)
                q = paired_difference(r.per_trial, r.correct, ref.per_trial, ref.correct)
                lo, hi = r.ci95
                rows.append(dict(workload=name, dataset=wl.dataset, device=dev, adc_bits=b, accuracy=r.mean,
                                 std=r.std, ci95_low=lo, ci95_high=hi, diff_vs_ref=p.diff, diff_ci95_low=p.low,
                                 diff_ci95_high=p.high, diff_chip_halfwidth=p.chip_halfwidth,
                                 diff_image_halfwidth=p.image_halfwidth, separated=p.separated,
                                 indep_diff_ci95_low=q.low, indep_diff_ci95_high=q.high,
                                 indep_separated=q.separated, ref_bits=ref_bits,
                                 float_accuracy=r.reference, trials=chips, samples=r.samples, seed=seed,
                                 calibration=r.calibration, calib_images=r.calib_samples, seconds=secs))
                log(f"{name:12s} {dev:12s} {b} bits  {format_ci(r.mean, lo, hi)}  minus {ref_bits} bits "
                    f"{p.diff:+.3f} ± {p.halfwidth:.3f}{'  separated' if p.separated else ''}  ({secs:.1f} s)")
    return pd.DataFrame(rows)


def display(df: pd.DataFrame) -> pd.DataFrame:
    """The readable table: one row per device and bit count."""
    ref_bits = int(df["ref_bits"].iloc[0])
    return pd.DataFrame({
        "device": df["device"], "ADC bits": df["adc_bits"], "chips": df["trials"],
        "accuracy (95% interval)": [format_ci(m, lo, hi) for m, lo, hi in
                                    zip(df["accuracy"], df["ci95_low"], df["ci95_high"])],
        "std over chips": df["std"],
        f"minus {ref_bits} bits (chips matched, 95%)": ["reference" if b == ref_bits else
                                               f"{d:+.3f} ± {max(d - lo, hi - d):.3f}" for b, d, lo, hi in
                                               zip(df["adc_bits"], df["diff_vs_ref"], df["diff_ci95_low"],
                                                   df["diff_ci95_high"])],
        "separated": ["" if b == ref_bits else ("yes" if s else "no") for b, s in zip(df["adc_bits"], df["separated"])],
        "chips as independent (stats.py)": ["" if b == ref_bits else
                                            f"± {max(d - lo, hi - d):.3f}{' (separated)' if s else ''}"
                                            for b, d, lo, hi, s in zip(df["adc_bits"], df["diff_vs_ref"],
                                                                       df["indep_diff_ci95_low"],
                                                                       df["indep_diff_ci95_high"],
                                                                       df["indep_separated"])],
    })


def reading(df: pd.DataFrame) -> list[str]:
    """Per workload and device: the lowest bit count's accuracy and deficit, and the bit counts whose
    deficit against the reference is separated (computed from the table, not written by hand)."""
    ref_bits = int(df["ref_bits"].iloc[0])
    out = []
    for (w, d), s in df.groupby(["workload", "device"], sort=False):
        s = s.sort_values("adc_bits")
        low = s.iloc[0]
        sep = [int(b) for b, x in zip(s["adc_bits"], s["separated"]) if b != ref_bits and x]
        if not sep:
            tail = f"no bit count is separated from {ref_bits} bits"
        else:
            above = [int(b) for b in s["adc_bits"] if b > max(sep)]
            tail = (f"separated from {ref_bits} bits at {', '.join(map(str, sep))} bits; from {above[0]} bits "
                    f"on no deficit is separated")
        out.append(f"- {w} on {d}: {int(low['adc_bits'])} bits {low['accuracy']:.3f} "
                   f"({low['diff_vs_ref']:+.3f} against {ref_bits} bits); {tail}.")
    for w, s in df.groupby("workload", sort=False):
        runs = {d: tuple(g.sort_values("adc_bits")["accuracy"]) for d, g in s.groupby("device", sort=False)}
        devs = list(runs)
        same = [(a, b) for i, a in enumerate(devs) for b in devs[i + 1:] if runs[a] == runs[b]]
        for a, b in same:
            out.append(f"- {w}: {a} and {b} have the same accuracy at every bit count (the simulator reads both "
                       f"through the same ADC model).")
    return out


def write_report(df: pd.DataFrame, out: Path, command: str, wall: float) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / f"{STEM}.csv", out / f"{STEM}.md"]
    atomic_write(files[0], df.to_csv(index=False))
    ref_bits = int(df["ref_bits"].iloc[0])
    r0 = df.iloc[0]
    png = None
    if matplotlib_available():
        png = plot_accuracy_vs_adc_bits(df, out / f"{STEM}.png")
        files.append(png)
    lines = [
        "# Accuracy versus ADC bits", "",
        f"Generated by `{command}` ({wall:.0f} s wall on this machine). Default architecture (128 x 128 arrays, "
        "8-bit weights in differential pairs read digitally, 8-bit bit-serial inputs, ADC range calibrated per "
        f"array) with the device and `adc_bits` swapped in; {int(df['trials'].max())} programmed chips per point "
        "(one for an exact device such as sram or sram_charge, whose chips are all alike) over "
        f"the first {int(r0['samples'])} test images of each network's data set, calibrated on "
        f"{int(r0['calib_images'])} training images (never scored), seed "
        f"{int(r0['seed'])}.", "",
        "Accuracy: mean over chips ± the larger side of its 95% interval (chip-to-chip and image sampling error, "
        f"`archsim.sim.accuracy.ci95`). Minus {ref_bits} bits: the accuracy minus the same device's at "
        f"{ref_bits} bits on the same images, chip t against chip t: every bit count programs the same chips "
        "(the seeds do not depend on the ADC), so the difference is the ADC's alone. Its 95% interval "
        "(`chip_matched_difference` in the script) combines Student's t over the per-chip differences with "
        "the per-image difference term of `archsim.sim.stats.paired_difference`; separated: it excludes 0. "
        "The last column is `paired_difference` itself, which takes the two sets of chips as independent "
        "(Welch): it keeps the chip-to-chip spread that the matching cancels where a chip's accuracy at both "
        "bit counts moves together (wider there), but has more degrees of freedom than the matched test's "
        "T - 1 (narrower where the per-chip differences scatter); the same for one chip.", "",
        "`sram` is digital compute-in-memory: adder trees sum its columns exactly, with no ADC, in the cost "
        "model and in the simulator alike (`adc_bits` does not apply to it), so its rows are a control: every "
        "bit count gives the same chips the same outcomes. `sram_charge` has exact 1-bit cells and a "
        "column ADC: its deficit is the ADC's quantization alone. ReRAM and PCM add programming error (PCM "
        "also read noise). The study ran 4 to 8 bits; the architecture allows `adc_bits` 1 to 10 "
        "(`archsim list --keys`; one bit is a single comparator, `adc_type: flash`).",
        "",
    ]
    for w, s in df.groupby("workload", sort=False):
        lines += [f"## {w} ({s['dataset'].iloc[0]}; float network {s['float_accuracy'].iloc[0]:.4f} on these "
                  f"images)", "", report.to_markdown(display(s)), ""]
    lines += ["## Reading", "", *reading(df), ""]
    if png is not None:
        lines += [f"![Accuracy versus ADC bits]({png.name})", ""]
    else:
        lines += ["Plot skipped: matplotlib is not installed (pip install matplotlib).", ""]
    lines += [f"One point: `archsim accuracy --workload lenet5 --device reram --adc-bits 5` (the CLI's defaults: "
              "5 chips x 5,000 images).", ""]
    atomic_write(files[1], "\n".join(lines))
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--devices", default=",".join(DEVICES))
    ap.add_argument("--bits", default=",".join(map(str, BITS)))
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--calibration", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="reports/bench")
    args = ap.parse_args(argv)
    try:
        bits = _bits(args.bits)
        t0 = time.perf_counter()
        df = study(_names(args.workloads), _names(args.devices), bits, args.trials, args.samples,
                   args.calibration, args.seed)
        wall = time.perf_counter() - t0
        shown = [a for a in (argv if argv is not None else sys.argv[1:])]
        command = " ".join(["python benchmarks/study_adc_bits.py"] + shown)
        files = write_report(df, Path(args.out), command, wall)
    except ArchsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{wall:.0f} s; wrote " + ", ".join(map(str, files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

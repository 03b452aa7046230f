"""Seed 000 study: the HPE Dot-Product Engine's one-layer softmax on MNIST, ideal vs programmed.

The demonstrator (seed 000): 64 x 64 TaOx 1T1M crossbars, cells 100-700 uS at about 6 bits, wire about
1 ohm per segment, input/output about 1 ohm; a software-trained one-layer softmax partitioned over the
array reached 85% on MNIST against 90% ideal; the output of one 64 x 64 crossbar was about 4 bits
accurate.  archsim runs the same network (`dpe_softmax`, its shipped weights) on the `dpe` preset with
its Monte Carlo tile simulator (programming error, read noise, IR drop through each array's effective
matrix, converters), and measures one array's output precision.  Writes reports/seed000_dpe.md.

    python benchmarks/study_seed000.py [--trials 10] [--samples 10000] [--out reports]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import techlib  # noqa: E402
import workloads  # noqa: E402
from archsim.sim import accuracy  # noqa: E402
from archsim.io import data  # noqa: E402
from archsim.model import presets  # noqa: E402
from archsim.report import tables as report  # noqa: E402
from archsim.sim import tilesim  # noqa: E402
from archsim.model.device import Device  # noqa: E402
from archsim.mapping.layout import map_workload  # noqa: E402

PAPER = {"ideal": 0.90, "programmed": 0.85, "output_bits": 4.0}


def effective_bits(y: np.ndarray, ref: np.ndarray) -> float:
    """Bits of an ideal uniform quantizer with the same RMS error over the output range:
    ``log2(range / (sqrt(12) rms))``."""
    rms = float(np.sqrt(np.mean((y - ref) ** 2)))
    rng = float(ref.max() - ref.min())
    return math.log2(rng / (math.sqrt(12.0) * rms)) if rms > 0 else float("inf")


def array_precision(arch, vectors: int = 2500, trials: int = 4, seed: int = 0) -> pd.DataFrame:
    """Output precision of one full 64 x 64 array: random weights and inputs, analog output (ideal ADC)
    against the exact product, for each error source alone and all together."""
    dev = techlib.device(arch.device)
    rng = np.random.default_rng(seed)
    n = arch.rows
    lm = tilesim.layer_map(n, n // 2, arch, dev)          # differential: 64 inputs x 32 outputs fill 64 columns
    cases = {
        "ir_drop_only": dict(prog_error=False, read_noise=False),
        "programming_error_only": dict(ir_drop=False, read_noise=False),
        "read_noise_only": dict(ir_drop=False, prog_error=False),
        "all": dict(),
    }
    if Device.from_record(dev).read.is_none:
        del cases["read_noise_only"]          # the device file has no read noise
    rows = []
    for name, kw in cases.items():
        bits, gain_bits = [], []
        for t in range(trials):
            W = rng.uniform(-1, 1, (n, n // 2))
            X = rng.uniform(0, 1, (vectors, n))
            cfg = tilesim.SimConfig(ideal_adc=True, ideal_dac=True, **kw)
            pm = tilesim.ProgrammedMatrix.program(W, lm, arch, dev, cfg, seed=(seed, t))
            ref = X @ pm.quantized_weights()[0]
            got = pm.matmul(X, key=(t,))
            bits.append(effective_bits(got, ref))
            # one gain per column, fitted by least squares (what a calibration with known inputs removes)
            gain = (got * ref).sum(axis=0) / (ref * ref).sum(axis=0)
            gain_bits.append(effective_bits(got / gain, ref))
        rows.append(dict(error_source=name, output_bits=float(np.mean(bits)), output_bits_min=float(np.min(bits)),
                         output_bits_gain_corrected=float(np.mean(gain_bits))))
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="reports")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    wl = workloads.get("dpe_softmax", weights=True)
    arch = presets.load("dpe").architecture
    x, y = data.for_workload(wl, "test", limit=a.samples)
    cases = [
        ("programmed, IR drop, 8-bit ADC", arch, tilesim.SimConfig()),
        ("programmed, ideal wires", arch, tilesim.SimConfig(ir_drop=False)),
        ("IR drop only", arch, tilesim.SimConfig(prog_error=False, read_noise=False)),
        ("programmed, IR drop, 4-bit ADC", arch.replace(adc_bits=4), tilesim.SimConfig()),
    ]
    rows = []
    ideal = None
    for label, ar, cfg in cases:
        res = accuracy.simulate(map_workload(wl, ar), x, y, trials=a.trials, seed=a.seed, cfg=cfg)
        ideal = res.reference
        rows.append(dict(case=label, accuracy=res.mean, std=res.std, logit_rel_err=float(np.mean(res.logit_error))))
        print(report.to_text(pd.DataFrame(rows[-1:])), flush=True)
    acc = pd.DataFrame([dict(case="ideal (float weights)", accuracy=ideal, std=0.0, logit_rel_err=0.0)] + rows)
    prec = array_precision(arch)
    print(report.to_text(prec))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    acc.to_csv(out / "seed000_dpe.csv", index=False)
    prec.to_csv(out / "seed000_dpe_precision.csv", index=False)
    dev = techlib.device(arch.device)
    sigma = dev.get("programming_error.sigma_rel")
    gain_bits = prec.set_index("error_source").loc["all", "output_bits_gain_corrected"]
    text = [
        "# Seed 000: the Dot-Product Engine's one-layer softmax on MNIST", "",
        f"Generated by `python benchmarks/study_seed000.py` ({(time.perf_counter() - t0) / 60:.1f} min). "
        f"Network: `dpe_softmax` (784 -> 10, archsim's shipped weights, softmax in the loss), MNIST test images: "
        f"{len(y)}, {a.trials} programmed chips per case. Architecture: the `dpe` preset (64 x 64 arrays of "
        "`dpe_taox`: 100-700 uS, 64 levels, wire 1 ohm per segment, input and output 1 ohm; weights in "
        "differential pairs, so 13 row blocks x 2 arrays).", "",
        "| quantity | seed 000 | archsim |", "|---|---:|---:|",
        f"| ideal accuracy | {PAPER['ideal']:.0%} | {ideal:.1%} |",
        f"| programmed accuracy | {PAPER['programmed']:.0%} | {rows[0]['accuracy']:.1%} +- {rows[0]['std']:.1%} |",
        f"| output precision of one 64 x 64 array | ~{PAPER['output_bits']:.0f} bits | "
        f"{prec.set_index('error_source').loc['all', 'output_bits']:.1f} bits raw, "
        f"{prec.set_index('error_source').loc['all', 'output_bits_gain_corrected']:.1f} after a gain per column |", "",
        "Accuracy by case (mean and spread over chips; logit error relative to the exact network):", "",
        report.to_markdown(acc), "",
        "Output precision of one full array (64 inputs x 32 weight pairs = 64 columns, weights uniform in "
        "[-1, 1], inputs uniform, ideal converters), as effective bits log2(range / (sqrt(12) RMS error)) "
        "against the exact product of the quantized weights, raw and after one least-squares gain per column:", "",
        report.to_markdown(prec), "",
        "What differs, and why:", "",
        "- Ideal accuracy: the demonstrator reduced the images to fit six 64-row parts of one array. archsim "
        "keeps all 784 pixels (13 row blocks), so its softmax is a little better than the slide's 90%.",
        "- Programmed accuracy: archsim's TaOx programming error is an assumption "
        f"({sigma:.0%} relative, `techlib/devices/dpe_taox.yaml`). It was chosen to be consistent with "
        "seed 000's ~6-bit cells, not fitted to the slide's 85%. The slide also blames 'a few defects' "
        "(stuck cells) for the single-layer net's sensitivity; the preset has none. So archsim's programmed "
        "chip stays closer to ideal than the demonstrator did.",
        "- IR drop is large at these settings. A row of 64 cells at a few hundred uS behind 1 ohm segments "
        "has r g N^2 of order 1, so the far cells see a fraction of the input. The logits move by "
        f"{rows[2]['logit_rel_err']:.0%} (`IR drop only`). Most of that is a loss of gain, which differs "
        "little between the ten columns, and argmax does not see a common gain: accuracy is only "
        f"{rows[1]['accuracy'] - rows[0]['accuracy']:.1%} lower with real wires than with ideal ones.",
        "- Output precision: without correction, one array's outputs carry about "
        f"{prec.set_index('error_source').loc['all', 'output_bits']:.1f} effective bits, and IR drop dominates. "
        f"After one fitted gain per column they carry {gain_bits:.1f} bits. Seed 000's "
        "~4 bits were measured on the hardware over 150k points, and the slide says results came 'with post "
        "processing'. So the gain-corrected figure is the one to set beside the slide's.",
    ]
    (out / "seed000_dpe.md").write_text("\n".join(text) + "\n")
    print("wrote", out / "seed000_dpe.md")


if __name__ == "__main__":
    main()

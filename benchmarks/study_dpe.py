"""Hu et al. (HPE DPE) study: the HPE Dot-Product Engine's one-layer softmax on MNIST, ideal vs programmed.

Two studies side by side: the demonstration as the slides ran it (one 64 x 64 array holding the whole
softmax in six parts, cells at the slides' "<4 bit for the given range", the device variant
`techlib/devices/variants/dpe_taox_demo.yaml`; see ``dpe_array.py``), and archsim's whole-image study:

The demonstrator (Hu et al., HPE DPE): 64 x 64 TaOx 1T1M crossbars, cells 100-700 uS at about 6 bits, wire about
1 ohm per segment, input/output about 1 ohm; a software-trained one-layer softmax partitioned over the
array reached 85% on MNIST against 90% ideal; the output of one 64 x 64 crossbar was about 4 bits
accurate.  archsim runs the same network (`dpe_softmax`, its shipped weights) on the `dpe` preset with
its Monte Carlo tile simulator (programming error, read noise, IR drop through each array's effective
matrix, converters), and measures one array's output precision.  Writes reports/dpe_softmax.md (a few
minutes on a quiet machine).

    python benchmarks/study_dpe.py [--trials 10] [--samples 10000] [--out reports]
    python benchmarks/study_dpe.py --render       # rewrite the page from the CSVs
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

from archsim.io import techlib  # noqa: E402
import workloads  # noqa: E402
from archsim.sim import accuracy  # noqa: E402
from archsim.io import data  # noqa: E402
from archsim.model import presets  # noqa: E402
from archsim.report import tables as report  # noqa: E402
from archsim.sim import tilesim  # noqa: E402
from archsim.model.device import Device, load_device  # noqa: E402
from archsim.mapping.layout import map_workload  # noqa: E402
from archsim.sim import crossbar as cb  # noqa: E402
import dpe_array  # noqa: E402

#: the one-array demonstration: (label, cell levels or None for the device file's, programming error?, r_wire)
#: with the slides' input / output resistance (1 ohm) wherever r_wire > 0
DEMO_CASES = [
    ("quantized only, ideal circuit", None, False, None),
    ("programmed, ideal circuit", None, True, None),
    ("quantized only, slides' wires", None, False, 1.0),
    ("programmed, slides' wires", None, True, 1.0),
    ("programmed, wires 0.1 ohm", None, True, 0.1),
    ("programmed, wires 0.01 ohm", None, True, 0.01),
    ("programmed, ideal circuit, 3-bit cells", 8, True, None),
    ("programmed, ideal circuit, 6-bit cells", 64, True, None),
]


#: the demonstration's cell: dpe_taox at the slides' precision for 100-700 uS (a variant, kept out of the device
#: registry so that sweeps over every device do not grow by it)
DEMO_DEVICE = techlib.DEVICE_DIR / "variants" / "dpe_taox_demo.yaml"


def one_array(trials: int, samples: int, seed: int):
    """The slides' demonstration on the `dpe_taox_demo` device with the `dpe` preset's wires."""
    dev = Device.from_record(techlib.device(str(DEMO_DEVICE)))
    arch = presets.load("dpe").architecture
    x_tr, y_tr = data.load_dataset("mnist", "train")
    x_te, y_te = data.load_dataset("mnist", "test", limit=samples)
    cases = []
    for label, levels, prog, r_w in DEMO_CASES:
        par = cb.Parasitics() if r_w is None else cb.Parasitics(r_w, arch.r_in_ohm, arch.r_out_ohm)
        cases.append((label, levels or dev.levels, prog, par))
    return dpe_array.demo(x_tr, y_tr, x_te, y_te, cases, g_min=dev.g_min, g_max=dev.g_max,
                              sigma=None if dev.prog.is_none else dev.prog.sigma, v_read=dev.read_voltage,
                              rows=arch.rows, cols=arch.cols, trials=trials, seed=seed)

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
    dev = load_device(arch.device)
    rng = np.random.default_rng(seed)
    n = arch.rows
    lm = tilesim.layer_map(n, n // 2, arch, dev)          # differential: 64 inputs x 32 outputs fill 64 columns
    cases = {
        "ir_drop_only": dict(prog_error=False, read_noise=False),
        "programming_error_only": dict(ir_drop=False, read_noise=False),
        "read_noise_only": dict(ir_drop=False, prog_error=False),
        "all": dict(),
    }
    if dev.read.is_none:
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


def whole_image(trials: int, samples: int, seed: int):
    """archsim's study: all 784 pixels over the `dpe` preset's arrays (differential pairs), Monte Carlo."""
    wl = workloads.get("dpe_softmax", weights=True)
    arch = presets.load("dpe").architecture
    x, y = data.for_workload(wl, "test", limit=samples)
    cases = [
        ("programmed, IR drop, 8-bit ADC", arch, tilesim.SimConfig()),
        ("programmed, ideal wires", arch, tilesim.SimConfig(ir_drop=False)),
        ("IR drop only", arch, tilesim.SimConfig(prog_error=False, read_noise=False)),
        ("programmed, IR drop, 4-bit ADC", arch.replace(adc_bits=4), tilesim.SimConfig()),
    ]
    rows = []
    ideal = None
    for label, ar, cfg in cases:
        res = accuracy.simulate(map_workload(wl, ar), x, y, trials=trials, seed=seed, cfg=cfg)
        ideal = res.reference
        rows.append(dict(case=label, accuracy=res.mean, std=res.std, logit_rel_err=float(np.mean(res.logit_error))))
        print(report.to_text(pd.DataFrame(rows[-1:])), flush=True)
    acc = pd.DataFrame([dict(case="ideal (float weights)", accuracy=ideal, std=0.0, logit_rel_err=0.0)] + rows)
    acc["images"] = len(y)
    acc["chips"] = trials
    return acc, array_precision(arch)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="reports")
    ap.add_argument("--render", action="store_true", help="rewrite dpe_softmax.md from its CSVs (no simulation)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.render:
        write_report(pd.read_csv(out / "dpe_demo.csv"), pd.read_csv(out / "dpe_softmax.csv"),
                     pd.read_csv(out / "dpe_softmax_precision.csv"), out)
        return
    t0 = time.perf_counter()
    demo, facts = one_array(a.trials, a.samples, a.seed)
    for k, v in facts.items():
        demo[f"fact_{k}"] = v
    print(report.to_text(demo), flush=True)
    t1 = time.perf_counter()
    acc, prec = whole_image(a.trials, a.samples, a.seed)
    print(report.to_text(prec))
    demo["minutes"] = (t1 - t0) / 60
    acc["minutes"] = (time.perf_counter() - t1) / 60
    out.mkdir(parents=True, exist_ok=True)
    demo.to_csv(out / "dpe_demo.csv", index=False)
    acc.to_csv(out / "dpe_softmax.csv", index=False)
    prec.to_csv(out / "dpe_softmax_precision.csv", index=False)
    write_report(demo, acc, prec, out)


def write_report(demo: pd.DataFrame, acc: pd.DataFrame, prec: pd.DataFrame, out: Path) -> None:
    arch = presets.load("dpe").architecture
    dev = techlib.device(arch.device)
    demo_dev = techlib.device(str(DEMO_DEVICE))
    sigma = dev.get("programming_error.sigma_rel")
    d = demo.set_index("case")
    f = {c[5:]: demo[c].iloc[0] for c in demo.columns if c.startswith("fact_")}
    r = acc.set_index("case")
    p = prec.set_index("error_source")
    gain_bits = p.loc["all", "output_bits_gain_corrected"]
    slides = d.loc["programmed, slides' wires"]
    no_wires = d.loc["programmed, ideal circuit"]
    demo_cols = ["case", "cell_levels", "r_wire_ohm", "accuracy_nominal", "accuracy_calibrated", "std_calibrated",
                 "logit_bits_calibrated", "chips"]
    text = [
        "# Hu et al. (HPE DPE): the Dot-Product Engine's one-layer softmax on MNIST", "",
        f"Generated by `python benchmarks/study_dpe.py` (one array {demo['minutes'].iloc[0]:.1f} min, whole "
        f"image {acc['minutes'].iloc[0]:.1f} min; `--render` rewrites this page from the CSVs). MNIST test images: "
        f"{int(f['test_images'])}, {int(acc['chips'].iloc[0])} programmed chips per case.", "",
        "| quantity | Hu et al. (HPE DPE) | archsim, one 64 x 64 array as the slides ran it | archsim, whole image over 26 "
        "arrays |", "|---|---:|---:|---:|",
        f"| ideal accuracy | {PAPER['ideal']:.0%} | {f['ideal']:.1%} ({int(f['inputs'])} pixels) | "
        f"{r.loc['ideal (float weights)', 'accuracy']:.1%} (784 pixels) |",
        f"| programmed accuracy, IR drop included | {PAPER['programmed']:.0%} | {slides['accuracy_calibrated']:.1%} "
        f"calibrated, {slides['accuracy_nominal']:.1%} nominal | {r.loc['programmed, IR drop, 8-bit ADC', 'accuracy']:.1%} |",
        f"| programmed accuracy, IR drop left out | - | {no_wires['accuracy_calibrated']:.1%} calibrated, "
        f"{no_wires['accuracy_nominal']:.1%} nominal | {r.loc['programmed, ideal wires', 'accuracy']:.1%} |",
        f"| output precision | ~{PAPER['output_bits']:.0f} bits | {slides['logit_bits_calibrated']:.1f} bits "
        f"(logits, calibrated; {no_wires['logit_bits_calibrated']:.1f} without IR drop) | "
        f"{p.loc['all', 'output_bits']:.1f} bits raw, {gain_bits:.1f} after a gain per column (random 64 x 64) |", "",
        "## The demonstration as the slides ran it: one 64 x 64 array", "",
        f"Device `techlib/devices/variants/dpe_taox_demo.yaml`: 100-700 uS in {int(demo_dev['conductance.levels'])} levels (the slides: 'Memristor "
        f"is <4 bit for the given range'), {sigma:.0%} relative programming error (an assumption, as for "
        f"`dpe_taox`). Wires from the `dpe` preset: {arch.r_wire_ohm:g} ohm per segment, input and output "
        f"{arch.r_in_ohm:g} ohm. A softmax trained in software on {int(f['inputs'])} pixels (the slides' six parts "
        "of 64 rows; which pixels the demonstration kept is not given, here the most variable ones over the "
        f"training images; {int(f['train_images'])} training images) is laid out in six parts of 64 rows x 10 "
        f"classes on one array ({int(f['columns'])} of 64 columns), one scale and offset for the whole array, "
        "signed weights in single cells. Each image is read in six steps, one per part; a class's current is "
        "the sum of its six parts. Nominal: offset and scale removed as designed, bias added digitally. "
        f"Calibrated (the slides' 'post processing'): a gain and offset per class fitted on {int(f['calib_images'])} "
        "training images. Output precision: effective bits of the calibrated logits against the exact ones, "
        "log2(range / (sqrt(12) RMS error)).", "",
        report.to_markdown(demo[demo_cols]), "",
        "## archsim's whole-image study", "",
        "Network: `dpe_softmax` (784 -> 10, archsim's shipped weights, softmax in the loss). Architecture: the "
        "`dpe` preset (64 x 64 arrays of `dpe_taox`: 100-700 uS, 64 levels, wire 1 ohm per segment, input and "
        "output 1 ohm; weights in differential pairs, so 13 row blocks x 2 arrays). Mean and spread over chips; "
        "logit error relative to the exact network:", "",
        report.to_markdown(acc[["case", "accuracy", "std", "logit_rel_err"]]), "",
        "Output precision of one full array (64 inputs x 32 weight pairs = 64 columns, weights uniform in "
        "[-1, 1], inputs uniform, ideal converters), as effective bits against the exact product of the "
        "quantized weights, raw and after one least-squares gain per column:", "",
        report.to_markdown(prec), "",
        "## What differs, and why", "",
        f"- Ideal accuracy: on the slides' {int(f['inputs'])} inputs the softmax reaches {f['ideal']:.1%}, against "
        f"the slides' 90%. With all 784 pixels it reaches {r.loc['ideal (float weights)', 'accuracy']:.1%}. Which "
        "pixels the demonstration kept, and how it trained, are not given, so a point or two either way is "
        "expected.",
        f"- Cell precision: without IR drop, the slides' cells (16 levels plus the programming error) give "
        f"{no_wires['accuracy_nominal']:.1%} nominal and {no_wires['accuracy_calibrated']:.1%} calibrated on one "
        f"array. 3-bit cells give {d.loc['programmed, ideal circuit, 3-bit cells', 'accuracy_nominal']:.1%} and "
        f"{d.loc['programmed, ideal circuit, 3-bit cells', 'accuracy_calibrated']:.1%}. The 6-bit cells of the "
        f"whole-image study give {d.loc['programmed, ideal circuit, 6-bit cells', 'accuracy_calibrated']:.1%} "
        "calibrated. Those 64 levels are the device's full accessible range ('~6 bits'), not the 100-700 uS "
        "window the demonstration used.",
        f"- IR drop is the setting that separates archsim from the slides. With the slides' wires (1 ohm per "
        f"segment, 1 ohm in and out), archsim's circuit solve of the one array gives "
        f"{slides['accuracy_nominal']:.1%} nominal and {slides['accuracy_calibrated']:.1%} calibrated, against "
        "the slides' 85%. Sixty columns of cells at a few hundred uS draw current along 64-cell lines, and "
        "r g N^2 is of order 1. The offset current of the affine single-cell mapping (every cell at least "
        "100 uS) is then attenuated differently per column and per input pattern, which a gain and offset per "
        "class cannot undo. Lowering the wire resistance shows the effect: "
        f"{d.loc['programmed, wires 0.1 ohm', 'accuracy_calibrated']:.1%} calibrated at 0.1 ohm and "
        f"{d.loc['programmed, wires 0.01 ohm', 'accuracy_calibrated']:.1%} at 0.01 ohm. The slides' 85% lies "
        "between archsim's 1 ohm and 0.1 ohm runs. The output precision agrees: the calibrated logits carry "
        f"{slides['logit_bits_calibrated']:.1f} bits at 1 ohm and "
        f"{d.loc['programmed, wires 0.1 ohm', 'logit_bits_calibrated']:.1f} at 0.1 ohm, where the slides measured "
        "~4 bits. Both point to the demonstration seeing an IR drop several times smaller than archsim's circuit "
        "at the slides' stated figures. The slides do not say why (which lines conducted at once, what a 'wire "
        "segment' counted), so archsim cannot close this gap from the seed alone.",
        "- The whole-image study hides most of the IR drop, because its differential pairs cancel the common "
        f"attenuation ({r.loc['programmed, ideal wires', 'accuracy'] - r.loc['programmed, IR drop, 8-bit ADC', 'accuracy']:.1%} "
        "lost to IR drop).",
        "- Programming error: archsim's TaOx programming error is an assumption "
        f"({sigma:.0%} relative, in `techlib/devices/dpe_taox.yaml` and the variant), chosen to be consistent "
        "with Hu et al.'s cell precision, not fitted to the slides' 85%. The slides also blame 'a few defects' "
        "(stuck cells); neither device has any.",
        f"- Output precision of a random full array (whole-image study): {p.loc['all', 'output_bits']:.1f} effective "
        f"bits raw and {gain_bits:.1f} after one fitted gain per column. Hu et al.'s ~4 bits were measured on the "
        "hardware over 150k points.",
    ]
    (out / "dpe_softmax.md").write_text("\n".join(text) + "\n")
    print("wrote", out / "dpe_softmax.md")


if __name__ == "__main__":
    main()

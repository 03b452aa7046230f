"""reports/training.md from the stored runs of benchmarks/study_training.py (no training here)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from archsim.io import techlib
import workloads
from archsim.cost.training import epoch_totals
from archsim.model.arch import Architecture
from archsim.model.device import load_device
from archsim.report.training import accuracy_frame, plot_accuracy, sweep_threshold
from archsim.sim.training import AnalogTrainConfig, TrainResult, summarize

#: the paper's device specifications, each with where it was read.  The paper's own Table 1 could not be read on
#: this machine (only its abstract is stored); the values come from two secondary sources by the same group or
#: built on the paper: Haensch, Gokmen and Puri, Proc. IEEE 107(1) 2019, Sec. IV and Fig. 7 (the RPU simulations
#: of the same 784-256-128-10 network: "symmetric within 2%", "about 1000 steps", a "0.3% penalty" against
#: floating point) and IBM aihwkit's GokmenVlasovPresetDevice (aihwkit/simulator/presets/devices.py: "Definitions
#: are (largely) from the specifications listed in Gokmen & Vlasov, Front. Neurosci. 2016": 1200 states over
#: the range, dw_min_std 0.3, dw_min_dtod 0.3, w_max_dtod = w_min_dtod 0.3)
PAPER_SPEC = {
    "states": (1000, "about 1000 steps (Haensch et al. 2019, Fig. 7; aihwkit preset: 1200 over the range)"),
    "asymmetry": (0.02, "up and down steps symmetric within 2% (Haensch et al. 2019, Fig. 7), read as "
                        "dw+/dw- = 1.02"),
    "c2c": (0.3, "cycle-to-cycle variation of dw_min 30% (aihwkit preset dw_min_std)"),
    "dw_d2d": (0.3, "device-to-device variation of dw_min 30% (aihwkit preset dw_min_dtod)"),
    "bound_d2d": (0.3, "device-to-device variation of the bounds 30% (aihwkit preset w_max_dtod, w_min_dtod)"),
}
#: sweep -> True when larger values are worse
WORSE_UP = {"states": False, "asymmetry": True, "c2c": True, "dw_d2d": True, "bound_d2d": True}
#: extra test error (points) that marks a threshold: the 0.3-point penalty of Haensch et al. 2019 (Fig. 7),
#: taken here against the baseline device of the same budget (one parameter changed at a time)
CRITERION = 0.3


def _result(rec) -> TrainResult:
    cfg = AnalogTrainConfig(**rec["config"])
    return TrainResult(rec["device"], cfg, rec["history"], rec["layers"], dict(rec["extra"]))


def _err(rec, epoch: int | None = None) -> float:
    h = rec["history"][-1] if epoch is None else rec["history"][epoch - 1]
    return 100.0 * (1.0 - h["test_accuracy"])


def _imbalance(a: float) -> float:
    """archsim's asymmetry a (steps dw (1 +- a)) as the up/down ratio's excess dw+/dw- - 1."""
    return (1.0 + a) / (1.0 - a) - 1.0


def _gv_section(store, meta) -> list[str]:
    out = ["## (b) Device requirements: Gokmen and Vlasov, Front. Neurosci. 10:333 (2016)", ""]
    base_keys = sorted(k for k in store if k == "gv/base" or k.startswith("gv/base/"))
    if "float" not in store or not base_keys:
        return out + ["(runs missing: run benchmarks/study_training.py)", ""]
    p, e1, eb = meta["paper"], meta["gv_epochs"], meta["gv_base_epochs"]
    out += [f"Network 784-256-128-10 (sigmoid hidden layers, softmax), MNIST, with the paper's training settings: "
            f"learning rate {p['lr']} per sample, one rank-1 pulse update per sample, stochastic pulse trains of "
            f"BL = {p['bl']}, no update management, weights bounded by |w| <= {p['weight_gain']}; reads exact "
            f"(converters off) so the device alone is swept. Baseline device: constant step dw_min = 0.001 "
            f"(1200 steps over |w| <= 0.6), symmetric, noiseless; each sweep changes one parameter of it.", "",
            f"**Budget (stated):** the paper trains 30 epochs; here every sweep point trains {e1} epoch of all "
            f"{meta['gv_train']:,} training images and is tested on all {meta['gv_test']:,} test images, one trial "
            f"per point ({len(base_keys)} for the baseline device, {eb} epochs for it and for float). Samples are "
            f"read in batches of {meta['gv_batch']} (the forward and backward reads of a batch see the weights "
            f"before its updates; each sample's update is still its own pulse trains at the per-sample learning "
            f"rate); the paper reads one sample at a time. At this budget float training stands at "
            f"{_err(store['float'], e1):.1f}% test error after epoch {e1}, not the paper's ~2% after 30, so effects "
            f"that only show near convergence are weaker here.", ""]
    f_rec = store["float"]
    hdr = "| run | " + " | ".join(f"test error after epoch {e} (%)" for e in range(1, eb + 1)) + " |"
    out += [hdr, "|---|" + "---|" * eb,
            "| archsim float training (same loop, exact reads and updates) | "
            + " | ".join(f"{_err(f_rec, e):.2f}" for e in range(1, eb + 1)) + " |"]
    for k in base_keys:
        trial = k.split("/")[2] if k.count("/") == 2 else "0"
        out.append(f"| baseline RPU device ('ideal', steps of 0.001), trial {trial} | "
                   + " | ".join(f"{_err(store[k], e):.2f}" for e in range(1, eb + 1)) + " |")
    gaps = [float(np.mean([_err(store[k], e) for k in base_keys])) - _err(f_rec, e) for e in range(1, eb + 1)]
    out.append(f"| ideal device minus float, mean of {len(base_keys)} trials (points) | "
               + " | ".join(f"{g:+.2f}" for g in gaps) + " |")
    ok = all(abs(g) <= 0.5 for g in gaps)
    why = ("The update is unbiased (the expected coincidences of a device are lr |x d| / dw_min and no pulse "
           "probability reaches 1 at these settings, C = sqrt(lr / (BL dw_min)) = 1 with |x|, |d| <= 1); what "
           "separates the two is the update's noise: discrete steps, and errors correlated along a row because "
           "one row train serves every column. An earlier budget of this study (2 epochs of the first 12,000 "
           "images, one sample per read, 2,000 test images) put the ideal device 0.83 points behind float: that "
           "comparison sat on the steep part of the learning curve (86% accuracy), where the noise slows learning "
           "measurably; over full epochs of 60,000 images the curves flatten and the noise costs less.")
    out += ["", f"Ideal device against archsim's own float training of the same network (same initial weights, "
            f"sample order and test images): {', '.join(f'{g:+.2f}' for g in gaps)} points after epochs "
            f"{', '.join(str(e) for e in range(1, eb + 1))}: **{'within' if ok else 'NOT within'} the 0.5-point "
            f"criterion**. {why}", ""]
    b_err = float(np.mean([_err(store[k], e1) for k in base_keys]))
    spread = max(_err(store[k], e1) for k in base_keys) - min(_err(store[k], e1) for k in base_keys)
    spread2 = max(_err(store[k], eb) for k in base_keys) - min(_err(store[k], eb) for k in base_keys)
    out += [f"| swept parameter | values: test error after epoch {e1} unless said (%) | archsim threshold (+{CRITERION:g} "
            f"points over the baseline device) | paper's specification | factor (archsim / paper) | within 2x |",
            "|---|---|---|---|---|---|"]
    ref_v = {"states": 1200.0}
    rows = [(key, key, values, "gv", e1, b_err) for key, values in meta["sweeps"].items()]
    b_err2 = float(np.mean([_err(store[k], eb) for k in base_keys]))
    rows += [(f"{key}, after epoch {eb}", key, values, f"gv{eb}", eb, b_err2)
             for key, values in meta.get("sweeps_long", {}).items()
             if any(f"gv{eb}/{key}={v}" in store for v in values)]
    for label, key, values, prefix, ep, ref in rows:
        pts = [(ref_v.get(key, 0.0), ref)]
        cells = [f"{ref_v.get(key, 0):g}: {ref:.2f} (baseline)"]
        for v in values:
            r = store.get(f"{prefix}/{key}={v}")
            if r is None:
                cells.append(f"{v}: (missing)")
                continue
            pts.append((float(v), _err(r, ep)))
            cells.append(f"{v}: {_err(r, ep):.2f}")
        worse = pts if WORSE_UP[key] else [q for q in pts if q[0] <= 1200.0]
        thr, how = sweep_threshold(worse, ref, CRITERION, WORSE_UP[key])
        pv, ptext = PAPER_SPEC[key]
        if thr is None:
            edge = max(v for v, _ in worse) if WORSE_UP[key] else min(v for v, _ in worse)
            f = edge / pv if WORSE_UP[key] else pv / edge
            if key == "asymmetry":
                f = _imbalance(edge) / pv
            thr_s, ratio, ok = f"beyond {edge:g} ({how})", f"> {f:.2g}", "no (tolerates more than the swept range)"
        else:
            shown = _imbalance(thr) if key == "asymmetry" else thr
            f = shown / pv if WORSE_UP[key] else thr / pv
            thr_s = (f"a = {thr:.3g}, dw+/dw- - 1 = {shown:.3g}" if key == "asymmetry" else f"{thr:.3g}") + f" ({how})"
            ratio, ok = f"{f:.2f}", "yes" if 0.5 <= f <= 2.0 else "no"
        out.append(f"| {label} | {'; '.join(cells)} | {thr_s} | {pv} ({ptext}) | {ratio} | {ok} |")
    out += ["", f"Threshold: walking a sweep in its worse direction (fewer states; more asymmetry, noise or spread), "
            f"the value at which the test error first exceeds the baseline device's (mean of its trials after "
            f"epoch {e1}: {b_err:.2f}%) by {CRITERION:g} points, interpolated in log(value) between the swept "
            f"points (archsim.report.training.sweep_threshold). {CRITERION:g} points is the penalty Haensch et al. "
            f"(Proc. IEEE 2019, Fig. 7) allow against floating point; the baseline device's trials differ by "
            f"{spread:.2f} points among themselves (pulse noise only), so a single point near the criterion is "
            f"within noise. Asymmetry: archsim's a gives steps dw (1 + a) up and dw (1 - a) down, an imbalance "
            f"dw+/dw- - 1 = 2a / (1 - a); the paper's 2% is compared with that imbalance (read as a = 0.02 instead, "
            f"the factor halves). Cycle-to-cycle noise multiplies a step by 1 + c2c N(0,1) cut at 0 (a pulse never "
            f"moves a device backwards), and each device's step is divided by that factor's mean "
            f"(archsim.model.update_laws.c2c_mean_factor: 1.08 at c2c = 1, 1.76 at 3) so the noise leaves the "
            f"mean step dw_min; before that correction the cut raised the mean step and large c2c trained "
            f"faster at this budget. The "
            f"paper's values are specifications its sweeps found tolerable, not all of them the point where the "
            f"error leaves the baseline: a sweep that stays within the criterion over its range means this "
            f"budget tolerates more than the specification, and is reported as not reproduced. What one epoch can "
            f"show: asymmetry acts from the first pulses (each pair of opposite pulses leaves a net step, a drift "
            f"set by the mean |gradient|), so its threshold is resolved; fewer states, step noise and step spread "
            f"set the update's noise floor, which the paper measures after 30 epochs near 2% error and which "
            f"costs little while the network is still far from converged, so after one epoch their thresholds sit "
            f"far beyond the paper's (or are not reached). Sweeps repeated over {eb} epochs (rows 'after epoch "
            f"{eb}') show how a threshold moves as training proceeds; the baseline device's trials differ by "
            f"{spread2:.2f} points after epoch {eb}, so neighbouring points closer than that do not order, a "
            f"crossing between them is fragile, and a budget of tens of epochs with trials is needed to settle the "
            f"noise-floor sweeps.", ""]
    return out


def _dev_rows(store, meta):
    rows, sums = [], []
    keys = {}
    for name, rec in store.items():
        if name.startswith("dev/"):
            _, dev, alg, _t = name.split("/")
            keys.setdefault((dev, alg), []).append(rec)
    for (dev, alg), recs in keys.items():
        res = [_result(r) for r in recs]
        s = summarize(res, meta["n_test"])
        cost = [epoch_totals(r, Architecture(device=dev)) for r in res]
        rows.append(dict(device=dev, algorithm=alg, trials=len(res), acc=s.final, ci=s.halfwidth[-1],
                         pulses=s.pulses_per_device, pmax=s.pulses_max, endurance=load_device(dev).update.endurance,
                         E=np.mean([c["energy_epoch_J"] for c in cost]), T=np.mean([c["time_epoch_s"] for c in cost]),
                         share=np.mean([c["update_share"] for c in cost]), summary=s))
        sums.append(s)
    return rows, sums


def _lut_epoch(dev: str, n: int):
    """Marinella et al.'s (Sandia 2022) tile table (lut): (vmm + mvm + opu) energy per MAC x MACs per sample x n samples."""
    d = load_device(dev)
    if not all(op in d.lut for op in ("vmm", "mvm", "opu")):
        return None
    macs = workloads.get("rpu_mlp").total_macs
    return n * macs * sum(d.lut[op].energy_per_op for op in ("vmm", "mvm", "opu"))


def _dev_sections(store, meta, path: Path) -> list[str]:
    rows, sums = _dev_rows(store, meta)
    fl = store.get("float/b10")
    out = []
    if not rows or fl is None:
        return ["## (a) Marinella et al. (Sandia 2022) per device", "", "(runs missing: run benchmarks/study_training.py)", ""]
    f_acc = fl["history"][-1]["test_accuracy"]
    by = {(r["device"], r["algorithm"]): r for r in rows}

    def acc(dev, alg="sgd"):
        r = by.get((dev, alg))
        return None if r is None else r["acc"]

    out += ["## (a) Marinella et al.'s (Sandia 2022) training conclusions (Marinella et al. 2022), device by device", "",
            f"Same network and settings as (b) but on the chip: reads through the converters of the default "
            f"architecture (8-bit inputs, 8-bit ADC per 128-row array), batches of 10 samples (the learning rate "
            f"stays per sample), {meta['dev_epochs']} epochs on the first {meta['n_train']:,} training images, "
            f"{meta['trials']} trials (device draws and noise) per device; archsim float training of the same loop: "
            f"**{f_acc:.4f}**.", ""]
    e_ec, e_re, e_so, e_pc = acc("ecram"), acc("reram"), acc("sonos"), acc("pcm")
    t = {r["device"]: r["T"] for r in rows if r["algorithm"] == "sgd"}
    concl = []
    if e_ec is not None:
        ok = f_acc - e_ec <= 0.02
        concl.append(("ECRAM trains close to ideal ('ECRAM: use for training & inference')",
                      f"ECRAM {e_ec:.4f} vs float {f_acc:.4f} ({100 * (e_ec - f_acc):+.2f} points)",
                      "reproduced" if ok else "not reproduced",
                      "within 2 points of float" if ok else "more than 2 points below float at this budget"))
    if e_re is not None:
        ok = f_acc - e_re > 0.02
        concl.append(("TaOx ReRAM fails open-loop training ('ReRAM: training is not accurate')",
                      f"ReRAM {e_re:.4f} vs float {f_acc:.4f} ({100 * (e_re - f_acc):+.2f} points)",
                      "reproduced" if ok else "not reproduced",
                      "the jump table's nonlinear, asymmetric, noisy steps (techlib/devices/reram.yaml) pull the weights"
                      " to the table's symmetric point" if ok else "the loss stays within 2 points"))
    if e_so is not None and "ecram" in t:
        slow = t["sonos"] / t["ecram"]
        concl.append(("SONOS is accurate but slow to program ('use for inference')",
                      f"SONOS {e_so:.4f}; epoch time {t['sonos']:.3g} s vs ECRAM {t['ecram']:.3g} s ({slow:.0f}x)",
                      "reproduced" if slow > 10 and f_acc - e_so <= 0.02 else "partly",
                      "write-verify pulses of 20 us (Marinella et al.'s (Sandia 2022) SONOS update latency, an input here) make the update "
                      "dominate the step; accuracy follows from its near-constant steps"))
    if e_pc is not None and e_ec is not None:
        concl.append(("PCM's poor write linearity and symmetry hurt training (Marinella et al.'s (Sandia 2022) perspective table)",
                      f"PCM {e_pc:.4f} vs ECRAM {e_ec:.4f}",
                      "reproduced" if e_pc < e_ec - 0.01 else "not reproduced",
                      "potentiation-only pairs with nonlinear, noisy SET steps and refreshes"))
    if all(k in by for k in (("reram", "tiki-taka"), ("reram", "sgd"))):
        concl.append(("(beyond the seed) algorithms recover part of ReRAM's loss",
                      ", ".join(f"{a} {by[('reram', a)]['acc']:.4f}" for a in ("sgd", "mixed", "tiki-taka", "carry")
                                if ("reram", a) in by), "-", "mixed precision sends only whole steps; Tiki-Taka"
                      " filters through A; carry moves the LSP into a more significant pair"))
    out += ["| Marinella et al. (Sandia 2022) conclusion | archsim | verdict | why |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in concl]
    out += ["", "### Per device and algorithm", "",
            "| device | algorithm | trials | test accuracy (+-95%) | pulses per device (mean / max) | endurance | "
            "epochs until the busiest device wears out | energy per epoch (circuit) | Marinella et al. (Sandia 2022) tile table (lut) per "
            "epoch | time per epoch | update share of energy |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (-r["acc"])):
        lut = _lut_epoch(r["device"], meta["n_train"])
        wear = r["endurance"] / (r["pmax"] / meta["dev_epochs"]) if r["pmax"] else float("inf")
        out.append(f"| {r['device']} | {r['algorithm']} | {r['trials']} | {r['acc']:.4f} +- {r['ci']:.4f} | "
                   f"{r['pulses']:.1f} / {r['pmax']} | {r['endurance']:.0e} | {wear:.3g} | {r['E'] * 1e3:.3g} mJ | "
                   f"{'-' if lut is None else f'{lut * 1e3:.3g} mJ'} | {r['T']:.3g} s | {100 * r['share']:.1f}% |")
    acc_bits = int(techlib.circuit("training")["accumulator.bits"])
    out += ["", f"Pulses are counted over the {meta['dev_epochs']} epochs; an epoch here is {meta['n_train']:,} "
            f"images (60,000 in a full MNIST epoch: five times the wear).", "",
            "## (c) Energy per training epoch per device", "",
            f"From archsim/cost/training.py: forward and backward reads priced with the inference component laws "
            f"(cells, row drivers, ADCs, sample-and-hold, shift-add), activations, pulse translators, update drivers "
            f"per row and column pulse fired, device pulses x the device file's update.energy_per_pulse, digital "
            f"accumulation (mixed precision) and write-verify programs (carry, refresh); one epoch = "
            f"{meta['n_train']:,} samples. The lut column prices the same MACs with Marinella et al.'s (Sandia 2022) tile table "
            f"(forward VMM + backward MVM + outer-product update per MAC) where the device file has one. "
            f"ECRAM's and SONOS's update energies per pulse are taken from that same table (assumptions in their "
            f"files), so their update share is not an independent check. Mixed precision's energy is its digital "
            f"accumulator: every device's {acc_bits}-bit word is read and written on every sample (2 K N words, priced by "
            f"the buffer law at the accumulator's size), which dwarfs the arrays; SONOS's epoch time is its "
            f"20 us write-verify pulses.", ""]
    frame = accuracy_frame([r["summary"] for r in rows if r["algorithm"] == "sgd"])
    try:
        png = plot_accuracy(frame, path.with_name("training_accuracy.png"), "rpu_mlp on MNIST, plain SGD")
        out += [f"![accuracy per epoch]({png.name})", ""]
    except ImportError:
        out += ["(plot skipped: matplotlib not installed)", ""]
    return out


def write_report(store: dict, path: Path, meta: dict) -> Path:
    lines = ["# Training on the chip", "",
             "Regenerate: `python benchmarks/study_training.py` (runs what is missing from "
             "reports/training_runs_*.json, then writes this file; `--report-only` rewrites it from the stored runs).",
             "Model: docs/training.md. Device update laws: the `update` sections of techlib/devices/*.yaml "
             "(each value with its source or marked as an assumption).", ""]
    lines += _dev_sections(store, meta, path)
    lines += _gv_section(store, meta)
    lines += _notes()
    path.write_text("\n".join(lines) + "\n")
    return path


def _notes() -> list[str]:
    return ["## Notes on the model", "",
            "Reads during training (archsim/sim/training/network.py) quantize inputs and digitize each array's "
            "column sums with the architecture's converter bits and the device's read noise, in the same form as "
            "the tile simulator (archsim/sim/tilesim) but as a separate implementation: ranges are set per input "
            "vector (no calibration batch between updates), the ADC full scale is a fixed fraction of the "
            "array's worst case, and only the counter-based random numbers are shared with the tile simulator. "
            "The backward pass reads the transposed matrix of the same devices through the same converters.", ""]

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
from archsim.report.training import accuracy_frame, plot_accuracy
from archsim.sim.training import AnalogTrainConfig, TrainResult, summarize

#: Gokmen and Vlasov 2016, Table 1 (RPU device specifications) as read for this study; each is the value
#: their sweeps found to add at most about 0.3 points of test error on this network
PAPER_SPEC = {
    "states": (1000, "number of states: dw_min = 0.001 on |w| <= 0.6 (about 1000 steps)"),
    "asymmetry": (0.02, "up/down imbalance of dw_min: 2%"),
    "c2c": (0.3, "cycle-to-cycle variation of dw_min: 30%"),
    "dw_d2d": (0.3, "device-to-device variation of dw_min: 30%"),
}
#: sweep -> True when larger values are worse
WORSE_UP = {"states": False, "asymmetry": True, "c2c": True, "dw_d2d": True}
#: extra test error (points) over the baseline device that marks a threshold here: the paper uses 0.3 points
#: over floating point, but one trial on 2,000 test images resolves about 1 point (see the report)
CRITERION = 1.0


def _result(rec) -> TrainResult:
    cfg = AnalogTrainConfig(**rec["config"])
    return TrainResult(rec["device"], cfg, rec["history"], rec["layers"], dict(rec["extra"]))


def _err(rec) -> float:
    return 100.0 * (1.0 - rec["history"][-1]["test_accuracy"])


def _threshold(points, base_err, worse_up):
    """First swept value (in the worse direction) where the error passes base + CRITERION, interpolated
    from the last value under it (in log(value); linearly from a value of 0); None if no point passes."""
    pts = sorted(points, key=lambda p: p[0], reverse=not worse_up)
    prev = None
    for v, e in pts:
        if e > base_err + CRITERION:
            if prev is None:
                return v, "at or before the first swept value"
            (v0, e0), lim = prev, base_err + CRITERION
            f = (lim - e0) / (e - e0) if e != e0 else 1.0
            if v0 == 0:
                return float(f * v), "interpolated"
            return float(np.exp(np.log(v0) + f * (np.log(v) - np.log(v0)))), "interpolated"
        prev = (v, e)
    return None, "not reached in the swept range"


def _gv_section(store, meta) -> list[str]:
    out = ["## (b) Device requirements: Gokmen and Vlasov, Front. Neurosci. 10:333 (2016)", ""]
    if "float" not in store or "gv/base" not in store:
        return out + ["(runs missing: run benchmarks/study_training.py)", ""]
    f_err, b_err = _err(store["float"]), _err(store["gv/base"])
    base_trials = [_err(store[k]) for k in sorted(store) if k == "gv/base" or k.startswith("gv/base/")]
    b_mean = float(np.mean(base_trials))
    p = meta["paper"]
    out += [f"Network 784-256-128-10 (sigmoid hidden layers, softmax), MNIST; the paper's settings: one sample per "
            f"update, learning rate {p['lr']}, stochastic pulse trains of BL = {p['bl']}, no update management, "
            f"weights bounded by |w| <= {p['weight_gain']}; reads exact (converters off) so the device alone is "
            f"swept, as in the paper's device study. Baseline device: constant step dw_min = 0.001 (1200 steps), "
            f"symmetric, noiseless; each sweep changes one parameter of it.", "",
            f"**Budget (stated):** the paper trains 30 epochs on 60,000 images; on this loaded 2-core machine every "
            f"run here trains {meta['epochs']} epochs on the first {meta['n_train']:,} training images and tests on "
            f"the first {meta['n_test']:,} test images (one trial per point). The float baseline therefore sits near "
            f"{f_err:.1f}% error instead of the paper's ~2%, and effects smaller than the test-set noise "
            f"(about +-{100 * 1.96 * math.sqrt(0.1 * 0.9 / meta['n_test']):.1f} points at 90% accuracy) are not "
            f"resolved.", "",
            f"| run | test error (%) |", "|---|---|",
            f"| archsim float training (same loop, exact reads and updates) | {f_err:.2f} |",
            f"| baseline RPU device (ideal steps of 0.001), trial 0 | {b_err:.2f} |",
            f"| baseline RPU device, mean of {len(base_trials)} trials (pulse noise) | {b_mean:.2f} "
            f"({', '.join(f'{e:.2f}' for e in base_trials)}) |", "",
            f"Ideal device against archsim's own float training (same initial weights, sample order and test "
            f"images): {b_mean - f_err:+.2f} points over {len(base_trials)} trials "
            f"({'within' if abs(b_mean - f_err) <= 0.5 else 'NOT within'} the 0.5-point criterion). The three trials "
            f"differ only in the pulse trains' random bits and agree to 0.1 point, so the gap is systematic: "
            f"stochastic trains of BL = 10 realise each update only on average and cap it where a probability "
            f"reaches 1.", ""]
    out += [f"| swept parameter | values: test error (%) | archsim threshold (+{CRITERION:g} point over the baseline "
            f"device) | paper (Table 1) | ratio | within 2x |",
            "|---|---|---|---|---|---|"]
    for key, values in meta["sweeps"].items():
        pts = [(1200.0 if key == "states" else 0.0, b_err)]
        if key == "states":
            pts = [(1200.0, b_err)]
        cells = []
        for v in values:
            r = store.get(f"gv/{key}={v}")
            if r is None:
                cells.append(f"{v}: (missing)")
                continue
            pts.append((float(v), _err(r)))
            cells.append(f"{v}: {_err(r):.2f}")
        if key != "states":
            cells.insert(0, f"0: {b_err:.2f}")
        else:
            cells.append(f"1200: {b_err:.2f}")
        worse = pts if WORSE_UP[key] else [q for q in pts if q[0] <= 1200.0]   # fewer states is the worse way
        thr, how = _threshold(worse, b_err, WORSE_UP[key])
        pv, ptext = PAPER_SPEC[key]
        if thr is None:
            ratio, ok = "-", "no (not reached)"
        else:
            ratio_v = thr / pv if WORSE_UP[key] else pv / thr
            ratio, ok = f"{ratio_v:.2f}", "yes" if 0.5 <= ratio_v <= 2.0 else "no"
        out.append(f"| {key} | {'; '.join(cells)} | {'-' if thr is None else f'{thr:.3g}'} ({how}) | {pv} ({ptext}) "
                   f"| {ratio} | {ok} |")
    out += ["", f"Threshold: the swept value at which the test error first exceeds the baseline device's error by "
            f"{CRITERION:g} point, interpolated between swept points. The paper's criterion is 0.3 points over "
            f"floating point after 30 full epochs; here one trial tested on {meta['n_test']:,} images resolves about "
            f"a point, so a larger margin over the baseline device is used and said. The paper's values are its "
            f"Table 1 specifications as read for this study (the paper's text could not be re-read on this "
            f"machine: check them against the paper before quoting). Cycle-to-cycle noise multiplies a step by "
            f"1 + c2c N(0,1) cut at 0 (a pulse never moves a device backwards), which raises the mean step at large "
            f"c2c (x1.08 at 1, x1.76 at 3): in this short budget, where learning is still step-limited, that can "
            f"lower the error.", ""]
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
    path.write_text("\n".join(lines) + "\n")
    return path

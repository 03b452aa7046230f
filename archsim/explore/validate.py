"""Validation against published figures: ``archsim validate`` writes ``reports/validation.md``.

For every preset and every published figure: the paper's number, archsim's
number, their ratio, and one line on the cause of any gap (the ``note`` of the
figure in its data file).  Figures are computed, never stored:

* ``tile_power``, ``tile_area``, ``chip_power``, ``chip_area``, ``peak_ops_per_W``,
  ``peak_ops_per_s_mm2``: bottom-up composition of the preset's components
  (:mod:`archsim.cost.peak`), every array busy;
* ``workload_ops_per_W``, ``workload_ops_per_s_mm2``: a full estimate of the
  preset's ``validate_workload``;
* ``workload_energy_J``, ``workload_ops_per_s``, ``chip_area_used``: the same estimate's energy per
  inference, throughput (ops per second) and the area of the tiles it uses;
* ``macro_ops_per_W``, ``macro_ops_per_s_mm2``: one tile's arrays with their drivers, converters and
  shift-add, kept busy at the default activity (:func:`archsim.cost.peak.macro`).

Every figure carries its ``role``, assigned by how archsim's figure was obtained: ``calibrated`` (a
constant of the design was read from or fitted to that source), ``predicted`` (no constant read from or
fitted to that source; parameters of its design description are allowed and the preset lists them) or
``consistency`` (a check of arithmetic: a peak figure that follows from the stated design, or the
source's own component figures composed back); and ``counts``: what the source counts (the boundary:
macro, core or chip; ops per MAC).

Presets of measured chips carry a ``silicon`` block (:data:`archsim.model.presets.SILICON_KEYS`); their
rows are the silicon rows, and :func:`silicon_summary` gives their table and the median ratio
(archsim / published) of the silicon rows whose role is predicted.

A ``__suffix`` names a second published value of the same metric.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from archsim.io import techlib
import workloads

from archsim.cost.peak import macro, peak
from archsim.io.files import atomic_write, check_target
from archsim.cost.price import Estimate, evaluate
from archsim.mapping.layout import map_workload
from archsim.model import presets
from archsim.model.arch import Architecture
from archsim.io import load
from archsim.model.errors import ArchsimError, ParameterError
from archsim.model.workload import Workload
from archsim.report import tables as report

#: metric -> (display unit, factor from SI to display)
DISPLAY = {
    "tile_power": ("mW", 1e3), "tile_area": ("mm2", 1e6), "chip_power": ("W", 1.0), "chip_area": ("mm2", 1e6),
    "peak_ops_per_W": ("GOPS/W", 1e-9), "peak_ops_per_s_mm2": ("GOPS/(s mm2)", 1e-9),
    "workload_ops_per_W": ("GOPS/W", 1e-9), "workload_ops_per_s_mm2": ("GOPS/(s mm2)", 1e-9),
    "workload_energy_J": ("uJ", 1e6), "workload_ops_per_s": ("TOPS", 1 / 1e12), "chip_area_used": ("mm2", 1e6),
    "macro_ops_per_W": ("TOPS/W", 1 / 1e12), "macro_ops_per_s_mm2": ("TOPS/mm2", 1 / 1e12),
    "peak_ops_per_s": ("TOPS", 1 / 1e12),
}
#: a silicon row is near when archsim / published lies within this factor either way (the goal set for silicon validation)
NEAR_FACTOR = 2.0
ROLE_TEXT = {
    "consistency": "a check of arithmetic: a peak figure that follows from the stated design, or the source's "
                   "own component figures composed back (its table read back): agreement by construction, a "
                   "check of the configuration or composition, not of the cost laws",
    "calibrated": "a constant of the design was read from or fitted to this source",
    "predicted": "no constant was read from or fitted to this source (parameters of its design description "
                 "are allowed, and the preset lists them): a test of the model",
}


def _estimate(workload: Workload | str, a: Architecture, task: str = "inference") -> Estimate:
    """Map and price one design: a workload (or a built-in's name) on ``a``."""
    wl = workloads.get(workload) if isinstance(workload, str) else workload
    return evaluate(map_workload(wl, a), task=task)


def _lut_1024(device: str) -> Architecture:
    """The default architecture with Marinella et al.'s tile: 1024 x 1024 arrays priced by the device's lookup table."""
    return Architecture().replace(cost_model="lut", rows=1024, cols=1024, device=device)


def _preset_metrics(p: presets.Preset) -> dict:
    a = p.architecture
    out = {}
    est = None
    if p.validate_workload:
        est = _estimate(p.validate_workload, a)
    tiles = a.mesh[0] * a.mesh[1] if a.mesh != "auto" else (est.summary["tiles"] if est else None)
    if tiles:
        pk = peak(a, tiles=tiles)
        out.update(tile_power=pk.tile_power_total_W, tile_area=pk.tile_area_total_mm2 * 1e-6,
                   chip_power=pk.chip_power_W, chip_area=pk.chip_area_mm2 * 1e-6,
                   peak_ops_per_W=pk.ops_per_W, peak_ops_per_s_mm2=pk.ops_per_s_mm2, peak_ops_per_s=pk.ops_per_s)
    if est is not None:
        s = est.summary
        used = est.layers["area_mm2"].sum() * 1e-6 + s["area_io_mm2"] * 1e-6
        out.update(workload_ops_per_W=s["tops_per_W"] * 1e12, workload_ops_per_s_mm2=s["tops_per_mm2"] * 1e12,
                   workload_energy_J=s["energy_per_inference_J"], workload_ops_per_s=s["tops"] * 1e12,
                   chip_area_used=used)
    if any(k.startswith("macro_") for k in p.published):
        mc = macro(a)
        out.update(macro_ops_per_W=mc["ops_per_J"], macro_ops_per_s_mm2=mc["ops_per_s_m2"] * 1e-6)
    return out


def preset_rows(name: str) -> list[dict]:
    p = presets.load(name)
    metrics = _preset_metrics(p)
    rows = []
    for key, q in p.published.items():
        metric = key.split("__")[0]
        if metric not in DISPLAY:
            raise ArchsimError(f"{p.file}: published figure '{key}' has no metric; allowed: {', '.join(DISPLAY)} (with an optional __suffix)")
        unit, f = DISPLAY[metric]
        ours = metrics.get(metric)
        rows.append(dict(
            source=p.name, figure=key, unit=unit, published=q.value * f,
            archsim=(ours * f if ours is not None else float("nan")),
            ratio=(ours / q.value if ours is not None and q.value else float("nan")),
            note=q.note, reference=q.source, role=q.role or "predicted", counts=q.counts, silicon=p.silicon is not None,
            workload=(p.validate_workload if metric.startswith(("workload", "chip_area_used")) else
                      "one tile's arrays busy" if metric.startswith("macro") else "peak (all arrays busy)")))
    return rows


def seed002_rows() -> list[dict]:
    """Marinella et al.'s tile table, read back through the estimator (lut cost model, one 1024 x 1024 layer)."""
    from archsim.model.workload import GraphBuilder
    b = GraphBuilder("one_layer", (1024,))
    b.dense("fc", 1024, relu=False, bias=False)
    wl = b.build()
    rows = []
    for dev in techlib.device_names():
        d = load.device(dev)
        if "vmm" not in d.lut:
            continue
        e_inf = _estimate(wl, _lut_1024(dev)).layers.iloc[0]
        e_tr = _estimate(wl, _lut_1024(dev), task="training").layers.iloc[0]
        per_mac = {"vmm": e_inf["energy_array_J"] / e_inf["macs"]}
        per_mac["mvm+opu"] = e_tr["energy_array_J"] / e_tr["macs"] - per_mac["vmm"]
        lat = {"vmm": e_inf["stage_latency_s"], "mvm+opu": e_tr["stage_latency_s"] - e_inf["stage_latency_s"]}
        lut = d.lut
        pub_e = {"vmm": lut["vmm"].energy_per_op, "mvm+opu": lut["mvm"].energy_per_op + lut["opu"].energy_per_op}
        pub_t = {"vmm": lut["vmm"].latency, "mvm+opu": lut["mvm"].latency + lut["opu"].latency}
        for op in ("vmm", "mvm+opu"):
            rows.append(dict(source="Marinella et al., IEEE JETCAS 2018, tile table", figure=f"{dev} {op} energy/op", unit="fJ",
                             published=pub_e[op] * 1e15, archsim=per_mac[op] * 1e15, ratio=per_mac[op] / pub_e[op],
                             note="", reference=d.record.q("lut.vmm.energy_per_op").source, workload="one 1024x1024 layer",
                             role="consistency", counts="the table's energy per operation (one MAC), tile included"))
            rows.append(dict(source="Marinella et al., IEEE JETCAS 2018, tile table", figure=f"{dev} {op} latency", unit="us",
                             published=pub_t[op] * 1e6, archsim=lat[op] * 1e6, ratio=lat[op] / pub_t[op],
                             note="", reference=d.record.q("lut.vmm.latency").source, workload="one vector",
                             role="consistency", counts="array latency per vector"))
    c = techlib.published("claims")
    for what, key in (("energy", "sram_over_reram_energy"), ("latency", "sram_over_reram_latency")):
        col = "energy_array_J" if what == "energy" else "stage_latency_s"
        # the training step prices the three kernels (VMM, MVM, OPU) once each, as the paper sums them
        ratio = {dev: _estimate(wl, _lut_1024(dev), task="training").layers.iloc[0][col] for dev in ("sram", "reram")}
        ours = ratio["sram"] / ratio["reram"]
        q = c.q(f"marinella2018.{key}")
        rows.append(dict(source="Marinella 2018", figure=f"SRAM / ReRAM {what} (VMM + MVM + OPU)", unit="x",
                         published=q.value, archsim=ours, ratio=ours / q.value,
                         note="Marinella et al.'s table's SRAM and ReRAM rows give the paper's abstract ratios",
                         reference=q.source, workload="one 1024x1024 layer", role="consistency",
                         counts="ratios of the table's SRAM and ReRAM rows"))
    return rows


def workload_rows() -> list[dict]:
    pub = techlib.published("workloads")
    rows = []
    for key, q in pub.quantities.items():
        name, what = key.split(".")
        wl = workloads.get(name)
        ours = wl.total_weights if what == "weights" else wl.total_macs
        rows.append(dict(source="layer counts", figure=f"{name} {what}", unit="1", published=q.value,
                         archsim=float(ours), ratio=ours / q.value, note="", reference=q.source, workload=name,
                         role="predicted", counts="conv and FC weights without bias; MACs per image"))
    return rows


def accuracy_rows(samples: int = 1000, trials: int = 2) -> list[dict]:
    """Accuracy claims archsim can check: Yao et al.'s MNIST accuracy on its own chip, and Marinella et al.'s
    device ordering (ReRAM >= SONOS > PCM, ResNet-50 on ImageNet there; LeNet-5 on MNIST here)."""
    from archsim.io import data
    from archsim.sim.accuracy import simulate
    from archsim.sim.tilesim import SimConfig
    c = techlib.published("claims")
    rows = []
    wl = workloads.get("mnist_cnn5", weights=True)
    x, y = data.for_workload(wl, "test", limit=samples)
    x_cal = data.for_workload(wl, "train", limit=128)[0]      # calibration never on the scored images
    r = simulate(map_workload(wl, presets.load("yao2020").architecture), x, y, trials=trials, seed=0, x_cal=x_cal,
                 calibration="128 images of the mnist training split")
    q = c.q("seed003.mnist_accuracy")
    rows.append(dict(source="accuracy claims", figure="yao2020 chip, mnist_cnn5, MNIST top-1", unit="1",
                     published=q.value, archsim=r.mean, ratio=r.mean / q.value, workload="mnist_cnn5",
                     note=f"paper: more than 96% after hybrid training on the chip; archsim: software-trained weights "
                          f"(float {r.reference:.4f}) on the yao2020 preset, {trials} chips, {samples} test images",
                     reference=q.source, role="predicted", counts="top-1 accuracy"))
    wl = workloads.get("lenet5", weights=True)
    x, y = data.for_workload(wl, "test", limit=samples)
    x_cal = data.for_workload(wl, "train", limit=128)[0]
    acc = {}
    for dev in ("reram", "sonos", "pcm"):
        cfg = SimConfig(time_s=86400.0 if load.device(dev).drift is not None else 0.0)   # a day, where it drifts
        # each weight on one device pair, as Marinella et al.'s study quantized it, where the levels allow; else as
        # few slices as the levels allow with the 7 magnitude bits spread evenly (PCM's 5-bit cells: 4 + 3, not
        # 5 + 2, whose top slice would amplify its cells' errors 4 times more)
        slices = -(-7 // min(7, load.device(dev).bits))
        a = presets.load("sonos_sandia").architecture.replace(device=dev, rows=128, cols=128,
                                                               bits_per_cell=-(-7 // slices))
        acc[dev] = simulate(map_workload(wl, a), x, y, trials=trials, seed=0, cfg=cfg, x_cal=x_cal,
                            calibration="128 images of the mnist training split").mean
    pub = {d: c[f"seed002.resnet50_top1_{d}"] for d in acc}
    pcm_last = acc["pcm"] < min(acc["reram"], acc["sonos"])
    reram_first = acc["reram"] >= acc["sonos"]
    note = (f"PCM lowest: {'holds' if pcm_last else 'does NOT hold'}; ReRAM >= SONOS: "
            + ("holds" if reram_first else "does NOT hold (archsim's ReRAM uses the HfO2 fit of Milo et al., whose "
               "error is largest at low conductance where most weights sit; Marinella et al., IEEE JETCAS 2018: TaOx error is smallest there, "
               "and no numeric TaOx fit is at hand)")
            + "; Marinella et al., IEEE JETCAS 2018 measure ResNet-50 on ImageNet, archsim LeNet-5 on MNIST (PCM after one day of drift, "
              "8-bit ADC, Sandia-style analog pair readout), so only the order compares")
    for dev in acc:
        rows.append(dict(source="accuracy claims", figure=f"device ordering: {dev} top-1", unit="1",
                         published=pub[dev], archsim=acc[dev], ratio=float("nan"), workload="lenet5 (MNIST)",
                         note=note, role="predicted", counts="top-1 accuracy (order only)",
                         reference=c.q(f"seed002.resnet50_top1_{dev}").source))
    return rows


def seed003_rows(samples: int = 1000, trials: int = 3, train_fraction: float = 0.03) -> list[dict]:
    """Yao et al.'s hybrid-training figures: the five-layer CNN above 96% after hybrid training, the error
    rates of three convolver groups before and after it (one programmed chip of archsim per group), and
    ResNet-56 on CIFAR-10 (not reproduced: neither ships)."""
    from archsim.io import data
    from archsim.sim.hybrid import hybrid_train
    c = techlib.published("claims")
    wl = workloads.get("mnist_cnn5", weights=True)
    x, y = data.for_workload(wl, "test", limit=samples)
    xt, yt = data.for_workload(wl, "train")
    r = hybrid_train(map_workload(wl, presets.load("yao2020").architecture), x, y, xt, yt, layers="fc",
                     train_fraction=train_fraction, trials=trials, seed=0, x_cal=xt[:128],
                     calibration="128 images of the mnist training split")
    t, h = r.stages["transfer"], r.stages["hybrid"]
    setting = (f"archsim: yao2020 preset, FC retrained on {r.train_images} training images "
               f"({100 * train_fraction:g}%) per chip, {samples} test images")
    q = c.q("seed003.mnist_accuracy")
    ok = h.mean() > q.value
    rows = [dict(source="Yao et al., Nature 2020, hybrid training", figure="mnist_cnn5 top-1 after hybrid training", unit="1",
                 published=q.value, archsim=float(h.mean()), ratio=float(h.mean()) / q.value, workload="mnist_cnn5",
                 role="predicted", counts="top-1 accuracy (the paper: more than 96%)", reference=q.source,
                 note=(f"{'reproduced' if ok else 'NOT reproduced'}: {h.mean():.4f} over {trials} chips (transfer "
                       f"{t.mean():.4f}, float {r.reference:.4f}); {setting}"))]
    for g in range(3):
        for stage, v in (("transfer", t), ("hybrid", h)):
            qq = c.q(f"seed003.{stage}_error_g{g + 1}")
            ours = float(1.0 - v[g]) if g < len(v) else float("nan")
            fell = g < len(v) and h[g] > t[g]      # accuracy up: error down
            rows.append(dict(
                source="Yao et al., Nature 2020, hybrid training", figure=f"group G{g + 1} error rate after {stage}", unit="1",
                published=qq.value, archsim=ours, ratio=ours / qq.value, workload="mnist_cnn5", role="predicted",
                counts="top-1 error rate; paper: entire training set, archsim: test images",
                reference=qq.source,
                note=(f"trend {'reproduced' if fell else 'NOT reproduced'} (error falls after tuning on chip {g}); "
                      f"values not: the paper's G1-G3 are one chip's replicated convolver groups scored on the training "
                      f"set, archsim's are independently programmed chips (trial {g}) scored on test images, with an "
                      f"assumed FC size, pooling and device spread; {setting}")))
    q = c.q("seed003.resnet56_hybrid_accuracy")
    rows.append(dict(source="Yao et al., Nature 2020, hybrid training", figure="ResNet-56 (CIFAR-10) after hybrid training, 3% data",
                     unit="1", published=q.value, archsim=float("nan"), ratio=float("nan"), workload="resnet56",
                     role="predicted", counts="top-1 accuracy, mean of 10 trials (std 0.8%)", reference=q.source,
                     note="not reproduced: archsim ships neither ResNet-56 nor CIFAR-10 weights and data; "
                          "`archsim accuracy --hybrid last` runs on any built-in network with shipped weights"))
    return rows


#: quantities of a techlib file that price nothing: a device's ``nodes`` (where it is demonstrated) only flags
#: or refuses a design, so citing a chip there is no constant taken from its paper
NOT_PRICED = ("nodes",)


def constants_citing(p: presets.Preset, text: str) -> list[tuple[str, str, str]]:
    """(file, key, source) of every constant in the techlib files ``p`` is priced with (its device file, its
    circuit library and the default files under it) whose source contains ``text`` (case ignored): an
    author's surname, or a quoted figure such as '10.5 TOPS/W'.  Keys in :data:`NOT_PRICED` are left out."""
    lib = p.architecture.circuits
    dev = str(p.architecture.device)
    dev_file = Path(dev) if dev.lower().endswith((".yaml", ".yml")) else techlib.DEVICE_DIR / f"{dev}.yaml"
    files = [dev_file] + sorted((techlib.ROOT / "circuits").glob("*.yaml"))
    if lib != "default":
        files += sorted((techlib.ROOT / "circuits" / lib).glob("*.yaml"))
    out = []
    for f in files:
        if not f.exists() or not f.resolve().is_relative_to(techlib.ROOT.resolve()):
            continue            # a device file outside techlib is the user's, not a cited constant
        qs, _ = techlib.load_file(f)
        for key, q in qs.items():
            if key not in NOT_PRICED and text.lower() in (q.source or "").lower():
                out.append((f"techlib/{f.resolve().relative_to(techlib.ROOT.resolve()).as_posix()}", key, q.source))
    return out


def silicon_summary(df: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """The silicon rows (presets with a ``silicon`` block) with each chip's technology, node, boundary and
    op counting, and the median ratio archsim / published of those whose role is predicted (NaN if none)."""
    rows = []
    for _, r in df[df.silicon].iterrows():
        si = presets.load(r.source).silicon
        rows.append(dict(preset=r.source, chip=si["chip"], technology=si["technology"], node=si["node"],
                         boundary=si["boundary"], ops=si["ops"], figure=r.figure, unit=r.unit,
                         published=r.published, archsim=r.archsim, ratio=r.ratio, role=r.role,
                         near=bool(1 / NEAR_FACTOR <= r.ratio <= NEAR_FACTOR), note=r.note))
    out = pd.DataFrame(rows, columns=["preset", "chip", "technology", "node", "boundary", "ops", "figure", "unit",
                                      "published", "archsim", "ratio", "role", "near", "note"])
    pred = out[(out.role == "predicted") & out.ratio.notna()]
    return out, (float(pred.ratio.median()) if len(pred) else float("nan"))


def validation_frame(accuracy: bool = False, progress: bool = False) -> pd.DataFrame:
    """Every figure of the report; ``progress``: a bar over its parts (presets, tables, accuracy claims)."""
    from archsim.io.progress import track
    parts = [functools.partial(preset_rows, name) for name in presets.names()] + [seed002_rows, workload_rows]
    if accuracy:
        parts += [accuracy_rows, seed003_rows]
    rows = []
    for part in track(parts, "validation", "part", progress):
        rows += part()
    df = pd.DataFrame(rows, columns=["source", "figure", "role", "unit", "published", "archsim", "ratio", "workload",
                                     "counts", "note", "reference", "silicon"])
    df["silicon"] = df["silicon"].fillna(False).astype(bool)
    return df


def write_report(out_dir: str | Path = "reports", accuracy: bool = True, progress: bool = False) -> list[Path]:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)      # before the work: an unusable --out fails at once
    except OSError as exc:
        raise ParameterError(f"{{param}} {out_dir}: cannot create that folder ({exc.strerror})", "out") from None
    for name in ("validation.csv", "validation.md"):   # regular files or absent, checked before the work
        check_target(out / name)
    df = validation_frame(accuracy=accuracy, progress=progress)
    csv = out / "validation.csv"
    lines = ["# Validation against published figures", "",
             "Generated by `archsim validate`. For each figure: the published number, archsim's, their ratio "
             "(archsim / published) and the cause of any gap. Peak figures compose the preset's components with every "
             "array busy (archsim.cost.peak); workload figures are full estimates. " + report.OPS_NOTE, "",
             "Each figure's role: " + "; ".join(f"**{k}**: {v}" for k, v in ROLE_TEXT.items()) + ".", ""]
    sil, med = silicon_summary(df)
    if len(sil):
        sp = sil[sil.role == "predicted"]
        lines += ["## Silicon: predictions against measured chips", "",
                  f"Median ratio (archsim / published) of the {len(sp)} predicted silicon rows: **{med:.2f}**; "
                  f"{int(sp.near.sum())} of {len(sp)} within {NEAR_FACTOR:g}x. Rows of another role are shown but "
                  "not in the median. Each row outside the factor says why in its note.", "",
                  report.to_markdown(sil[["chip", "technology", "node", "boundary", "ops", "figure", "unit", "published",
                                          "archsim", "ratio", "role"]]), ""]
        far = sil[~sil.near & sil.ratio.notna()]
        lines += [f"- **{r.preset} {r.figure}** ({r.ratio:.3g}): {r.note}" for _, r in far.iterrows()] + [""]
    pred = df[(df.role == "predicted") & df.ratio.notna()]
    if len(pred):
        lines += ["## Predicted figures at a glance", "",
                  report.to_markdown(pred[["source", "figure", "unit", "published", "archsim", "ratio", "counts"]]), ""]
    for src, grp in df.groupby("source", sort=False):
        lines += [f"## {src}", ""]
        if src in presets.names():
            p = presets.load(src)
            lines += [p.description, ""] + [f"- source: {s}" for s in p.sources] + \
                     [f"- assumption: {s}" for s in p.assumptions] + [""]
        show = grp[["figure", "role", "unit", "published", "archsim", "ratio", "workload", "counts", "note"]].copy()
        lines += [report.to_markdown(show), ""]
        refs = sorted(set(grp["reference"]))
        lines += ["References: " + "; ".join(refs), ""]
    md = out / "validation.md"
    try:
        atomic_write(csv, df.to_csv(index=False))
        atomic_write(md, "\n".join(lines))
    except OSError as exc:
        raise ParameterError(f"{{param}} {out_dir}: cannot write there ({exc.strerror})", "out") from None
    return [md, csv]

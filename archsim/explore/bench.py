"""The benchmark report (``archsim bench``): every built-in workload on every device, beside published chips.

Every built-in workload on every device (the default architecture, device swapped), with energy per
inference, latency, inferences/s, TOPS/W, TOPS/mm2, area and an accuracy column (Monte Carlo on the
networks with trained weights, :func:`archsim.explore.sizing_sim.sizing_accuracy`), beside the published
accelerators of Table II of Marinella et al., IEEE JETCAS 2018 (``techlib/published/accelerators.yaml``) as labelled published rows.
Writes ``bench.md``, ``bench.csv`` and, with matplotlib installed, the figures of
:mod:`archsim.report.plots`: energy per inference of every workload and device with one network's energy by
component, and TOPS/W versus TOPS/mm2 with whole-network figures and peak figures in separate panels
(archsim's peak per device from :func:`archsim.cost.peak.peak`, :func:`peak_table`).  The accuracy-versus-ADC-bits study (``benchmarks/study_adc_bits.py``) writes its own
``adc_bits.md``/``.png`` beside the benchmark; the report links them when they are there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from archsim.io import techlib
import workloads as _workloads

from archsim.explore.points import config_from_arch
from archsim.io.files import atomic_write, check_target
from archsim.explore.run import results_table, run_points
from archsim.model import arch as _arch
from archsim.model.errors import ParameterError
from archsim.report import tables as report
from archsim.report.plots import efficiency_picture, energy_breakdown_picture, matplotlib_available
from archsim.report.style import Picture

ACCURACY_NOTE = ("test images of the network's data set (MNIST; Fashion-MNIST for fashion_vgg), 1 programmed "
                 "chip, calibrated on training images; mean ± 95% interval (image sampling error); '-' where no "
                 "trained weights")

BENCH_COLUMNS = {  # summary column -> (title, scale)
    "energy_per_inference_J": ("energy/inference (uJ)", 1e6),
    "latency_s": ("latency (us)", 1e6),
    "inferences_per_s": ("inferences/s", 1.0),
    "tops_per_W": ("TOPS/W", 1.0),
    "tops_per_mm2": ("TOPS/mm2", 1.0),
    "area_mm2": ("area (mm2)", 1.0),
    "accuracy": (f"accuracy ({ACCURACY_NOTE})", 1.0),
}


# ---------------------------------------------------------------------------------------------------------------------
# tables

def published_accelerators() -> pd.DataFrame:
    """Marinella et al.'s TABLE II as one row per accelerator (numbers as published, TOPS as published)."""
    rec = techlib.published("accelerators")
    names = []
    for k in rec.fields:
        if k.endswith(".label"):
            names.append(k[: -len(".label")])
    rows = []
    for n in names:
        f = lambda key, d=None: rec.field(f"{n}.{key}", d)  # noqa: E731
        q = lambda key: rec.get(f"{n}.{key}", float("nan"))  # noqa: E731
        src = [rec.q(f"{n}.{k}").source for k in ("efficiency_TOPS_per_W", "efficiency_peak_TOPS_per_W")
               if rec.has(f"{n}.{k}")]
        rows.append(dict(
            kind="published", accelerator=f("label"), type=f("kind"), workload=f("workload"),
            measured=bool(f("measured")), process_nm=q("process"),
            clock_Hz=q("clock"), precision=f"{f('activation_resolution')} act. / {f('weight_resolution')} weights",
            tops=q("throughput_TOPS"), tops_peak=q("throughput_peak_TOPS"),
            tops_per_W=q("efficiency_TOPS_per_W"), tops_per_W_peak=q("efficiency_peak_TOPS_per_W"),
            tops_per_mm2=q("density_TOPS_per_mm2"), tops_per_mm2_peak=q("density_peak_TOPS_per_mm2"),
            reference=f("reference"), source=(src[0].split(",")[0] + ", TABLE II") if src else rec.field("table"),
            note="; ".join(x for x in (f("area_note"), f("precision_note"), f("circuit_note")) if x),
        ))
    return pd.DataFrame(rows)


def bench_devices() -> list[str]:
    """The devices the benchmark ranks: every registry device but the stated stress cases (``stress: true``
    in the file, e.g. yao_taox_noisy), which stay loadable by name but are not technologies to compare."""
    return techlib.real_device_names()


def bench_configs(arch: _arch.Architecture | None = None) -> list[dict]:
    a = arch or _arch.Architecture()
    return [config_from_arch(w, a.replace(device=d)) for w in _workloads.names() for d in bench_devices()]


def bench_table(workers: int | None = None, arch: _arch.Architecture | None = None,
                accuracy: bool = False, progress: bool = False) -> pd.DataFrame:
    """Every workload x device: the sweep table (configuration, error, summary) plus an accuracy column.

    ``accuracy=True`` simulates the accuracy of the networks with trained weights (archsim.sim.accuracy's
    sizing settings: a few hundred test images, one programmed chip per design); others stay NaN."""
    configs = bench_configs(arch)
    results = run_points(configs, workers=workers, progress=progress, desc="estimates")
    df = results_table(configs, results)
    df.insert(0, "kind", "archsim")
    df["accuracy"] = np.nan
    df["accuracy_ci95_low"] = np.nan
    df["accuracy_ci95_high"] = np.nan
    if accuracy:
        from archsim.explore.sizing_sim import sizing_result  # Monte Carlo: loaded only when asked for
        from archsim.io.progress import track
        for i, cfg in track(list(enumerate(configs)), "accuracy", "design", progress):
            if not (isinstance(df["error"].iloc[i], str) and df["error"].iloc[i]):
                r = sizing_result(dict(cfg))
                if r is not None:
                    lo, hi = r.ci95
                    df.loc[df.index[i], ["accuracy", "accuracy_ci95_low", "accuracy_ci95_high"]] = [r.mean, lo, hi]
    df["accuracy_note"] = ACCURACY_NOTE if accuracy else "not simulated (--no-accuracy)"
    return df


def bench_display(df: pd.DataFrame) -> pd.DataFrame:
    out = {"workload": df["workload"], "device": df["device"]}
    from archsim.sim.accuracy import format_ci
    for k, (title, scale) in BENCH_COLUMNS.items():
        out[title] = df[k].astype(float) * scale if scale != 1.0 else df[k].astype(float)
    if "accuracy_ci95_low" in df:   # the accuracy column carries its interval: "0.991 ± 0.004"
        acc = df["accuracy"].astype(float).to_numpy()
        lo, hi = (df[c].astype(float).to_numpy() for c in ("accuracy_ci95_low", "accuracy_ci95_high"))
        out[BENCH_COLUMNS["accuracy"][0]] = ["-" if not np.isfinite(p) else
                                             (format_ci(p, l, h) if np.isfinite(l) else f"{p:.3f}")
                                             for p, l, h in zip(acc, lo, hi)]
    return pd.DataFrame(out)


def published_display(pub: pd.DataFrame) -> pd.DataFrame:
    def both(a, b):
        out = []
        for x, y in zip(a, b):
            parts = ([] if math.isnan(x) else [report._fmt(float(x))]) + ([] if math.isnan(y) else
                                                                         [f"{report._fmt(float(y))} peak"])
            out.append(", ".join(parts) or "-")
        return out
    return pd.DataFrame({
        "accelerator": pub["accelerator"], "type": pub["type"],
        "process (nm)": [f"{x:.0f}" for x in pub["process_nm"]],
        "precision": pub["precision"], "workload": pub["workload"],
        "measured": ["measured" if m else "simulated" for m in pub["measured"]],
        "TOPS": both(pub["tops"], pub["tops_peak"]),
        "TOPS/W": both(pub["tops_per_W"], pub["tops_per_W_peak"]),
        "TOPS/mm2": both(pub["tops_per_mm2"], pub["tops_per_mm2_peak"]),
        "reference": pub["reference"],
    })


# ---------------------------------------------------------------------------------------------------------------------
# the report

#: the stem of the files ``benchmarks/study_adc_bits.py`` writes beside the benchmark (accuracy versus ADC bits)
ADC_BITS_STUDY = "adc_bits"


def adc_bits_note(out: Path) -> str:
    """The report's pointer to the accuracy-versus-ADC-bits study: a link when its report sits in ``out``."""
    md = f"{ADC_BITS_STUDY}.md"
    where = f"[{md}]({md})" if (out / md).exists() else f"reports/bench/{md}"
    return (f"Accuracy versus ADC bits: {where}, written by `python benchmarks/study_adc_bits.py` (LeNet-5 and "
            "fashion_vgg per device at 4 to 8 ADC bits, each bit count paired against 8 bits on the same chips and "
            "images; `archsim accuracy --adc-bits` gives one point). Accuracy column: " + ACCURACY_NOTE + "; "
            "networks without trained weights get fidelity from archsim accuracy, not here.")


def peak_table(df: pd.DataFrame, arch: _arch.Architecture) -> pd.DataFrame:
    """archsim's peak figures per device (every array busy, :func:`archsim.cost.peak.peak`) for a chip of as
    many tiles as the device's largest benchmark network uses: the like of the published peak figures."""
    from archsim.cost.peak import peak
    rows = []
    ok = df[df["error"].isna()]
    col = "tiles_total" if "tiles_total" in ok else "tiles"    # a sweep table's 'tiles' is the config key
    for d in dict.fromkeys(ok["device"]):
        tiles = int(ok.loc[ok["device"] == d, col].max())
        pk = peak(arch.replace(device=d), tiles=tiles)
        rows.append({"device": d, "tiles": tiles, "tops_per_W": pk.ops_per_W / 1e12,
                     "tops_per_mm2": pk.ops_per_s_mm2 / 1e12})
    return pd.DataFrame(rows, columns=["device", "tiles", "tops_per_W", "tops_per_mm2"])


@dataclass
class BenchResult:
    table: pd.DataFrame
    published: pd.DataFrame
    files: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    pictures: list = field(default_factory=list)     # the figures drawn (Picture), also written as PNG

    def summary_text(self) -> str:
        t = self.table
        ok = int(t["error"].isna().sum())
        return (f"benchmark: {len(t)} workload x device estimates ({ok} ok), {len(self.published)} published "
                f"accelerators")


#: the files ``archsim bench`` writes into its folder (each checked before the work)
BENCH_FILES = ("bench.csv", "bench.md", "energy_breakdown.png", "efficiency_pareto.png")


def write_bench_report(out: str | Path = "reports/bench", workers: int | None = None, plots: bool = True,
                       arch: _arch.Architecture | None = None, accuracy: bool = False,
                       progress: bool = False) -> BenchResult:
    out = Path(out)
    a = arch or _arch.Architecture()
    try:
        out.mkdir(parents=True, exist_ok=True)      # before the work: an unusable --out fails at once
    except OSError as exc:
        raise ParameterError(f"{{param}} {out}: cannot create ({exc.strerror})", "out") from None
    for name in BENCH_FILES:                        # and every file it will write: regular or absent
        check_target(out / name)
    df = bench_table(workers, a, accuracy=accuracy, progress=progress)
    pub = published_accelerators()
    res = BenchResult(df, pub)

    combined = pd.concat([df, pub], ignore_index=True, sort=False)
    cols = ["kind", "workload", "device", "accelerator"] + [c for c in combined.columns
                                                            if c not in ("kind", "workload", "device", "accelerator")]
    combined = combined[cols]
    csv = out / "bench.csv"
    try:
        atomic_write(csv, combined.to_csv(index=False))
    except OSError as exc:
        raise ParameterError(f"{{param}} {out}: cannot write there ({exc.strerror})", "out") from None
    res.files.append(csv)

    images = []
    if plots:
        if matplotlib_available():
            try:
                res.pictures = [energy_breakdown_picture(df), efficiency_picture(df, pub, peak_table(df, a))]
                images = [(p.caption, p.write(out)) for p in res.pictures]
            except OSError as exc:
                raise ParameterError(f"{{param}} {out}: cannot write a plot there ({exc.strerror})", "out") from None
            res.files += [p for _, p in images]
        else:
            res.notes.append("plots skipped: matplotlib is not installed (pip install matplotlib)")
    else:
        res.notes.append("plots skipped (--no-plots)")
    accuracy_plot = adc_bits_note(out)
    res.notes.append(accuracy_plot)
    if (out / f"{ADC_BITS_STUDY}.png").exists():
        images.append(("Accuracy versus ADC bits (benchmarks/study_adc_bits.py)", out / f"{ADC_BITS_STUDY}.png"))
        if plots:
            res.pictures.append(Picture(f"{ADC_BITS_STUDY}.png", images[-1][0],
                                        (out / f"{ADC_BITS_STUDY}.png").read_bytes()))

    rec = techlib.published("accelerators")
    failed = df[df["error"].notna()]
    arch_txt = ", ".join(f"{k}={v}" for k, v in a.as_dict().items() if k != "device")
    stress = [d for d in techlib.device_names() if techlib.is_stress_device(d)]
    lines = [
        "# Benchmark: built-in workloads on every device, beside published accelerators",
        "",
        f"Generated by `archsim bench`. {report.OPS_NOTE}",
        "",
        f"Every built-in workload ({', '.join(_workloads.names())}) on every device "
        f"({', '.join(bench_devices())}), default architecture with the device swapped: {arch_txt}."
        + (f" Stress devices left out: {', '.join(stress)} (stated stress cases, `stress: true`)." if stress else ""),
        "",
        "## archsim estimates",
        "",
        report.to_markdown(bench_display(df[df["error"].isna()])),
        "",
        f"Accuracy: {ACCURACY_NOTE} (Monte Carlo, archsim.explore.sizing_sim.sizing_accuracy; NaN with --no-accuracy).",
    ]
    if len(failed):
        lines += ["", "Estimates that could not be made:", ""]
        lines += [f"- {r.workload} on {r.device}: {r.error}" for r in failed.itertuples()]
    lines += [
        "",
        "## Published accelerators (Marinella et al., IEEE JETCAS 2018, Table II)",
        "",
        report.to_markdown(published_display(pub)),
        "",
        f"Source: {rec.field('table')}; numbers as published (`techlib/published/accelerators.yaml`).",
        "",
        f"Operations: {' '.join(str(rec.field('ops_convention')).split())}",
        "",
        f"{' '.join(str(rec.field('measured_note')).split())}",
        "",
        "## Plots",
        "",
    ]
    for title, p in images:
        lines += [f"![{p.stem}]({p.name})", "", title, ""]
    for n in [n for n in res.notes if not n.startswith("Accuracy versus")] + [accuracy_plot]:
        lines += [n, ""]
    lines += [report.assumptions_markdown(bench_devices()), ""]
    md = out / "bench.md"
    try:
        atomic_write(md, "\n".join(lines))
    except OSError as exc:
        raise ParameterError(f"{{param}} {out}: cannot write there ({exc.strerror})", "out") from None
    res.files.insert(0, md)
    return res

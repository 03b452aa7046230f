"""The figures of every command: a paper's widths, no text under 8 pt, units on the axes, a device's colour
the same everywhere, bars that add up to the tables' totals, and the bench's efficiency panels comparing
like with like."""
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib", reason="figures need the plots extra (matplotlib)")

import matplotlib  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import archsim.api as A  # noqa: E402
from archsim.model.errors import ArchsimError  # noqa: E402
from archsim.report import explore_figures as X  # noqa: E402
from archsim.report import figures as F  # noqa: E402
from archsim.report import plots as P  # noqa: E402
from archsim.report import style as S  # noqa: E402

DEVICES = ["reram", "sonos", "sram"]


def drawn(draw, *args):
    """A figure drawn in the paper style, its text laid out (so tick labels exist)."""
    with matplotlib.rc_context(S._RC):
        fig = draw(*args)
        fig.canvas.draw()
    return fig


def texts(fig) -> list:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.fixture(scope="module")
def est():
    return A.estimate("lenet5", "reram")


@pytest.fixture(scope="module")
def cmp_df():
    df = A.compare("lenet5", DEVICES)
    rng = np.random.default_rng(0)   # an accuracy column as compare --accuracy writes it
    df["accuracy"] = 0.98 + 0.01 * rng.random(len(df))
    df["accuracy_ci95_low"], df["accuracy_ci95_high"] = df["accuracy"] - 0.01, df["accuracy"] + 0.005
    return df


def _all_figures(est, cmp_df):
    s = est.summary
    sweep = cmp_df.assign(workload="lenet5", error=None)
    size = pd.DataFrame({"energy_per_inference_J": [1e-6, 2e-6, 3e-6, 5e-7], "area_mm2": [1.0, 2.0, 30.0, 4.0],
                         "inferences_per_s": [1e4, 2e4, 3e4, 5e3], "error": [None] * 4,
                         "feasible": [True, True, False, True], "pareto": [True, False, False, True],
                         "recommended": [True, False, False, False], "accuracy": [0.99, np.nan, np.nan, 0.90],
                         "accuracy_ci95_low": [0.98, np.nan, np.nan, 0.88],
                         "accuracy_ci95_high": [0.995, np.nan, np.nan, 0.92],
                         "floor": ["pass", "not simulated", "not simulated", "below floor"]})
    per_layer = pd.DataFrame({"layer": ["conv1", "fc1"], "relative_error": [0.02, 0.05]})
    acc = {"workload": "lenet5", "device": "reram", "metric": "accuracy", "accuracy_mean": 0.98, "ci95_low": 0.97,
           "ci95_high": 0.99, "digital_reference": 0.99, "samples": 100}
    val = pd.DataFrame({"source": ["a", "b", "layer counts"], "figure": ["workload_ops_per_W", "chip_area", "x"],
                        "role": ["predicted", "consistency", "consistency"], "ratio": [1.2, 1.0, 1.0]})
    return {
        "estimate components": (F._by_component, s, "t"),
        "estimate layers": (F._per_layer, est.layers, "t"),
        "compare bars": (F._compare_bars, cmp_df, "t"),
        "compare efficiency": (F._efficiency, cmp_df, "t"),
        "compare accuracy": (F._compare_accuracy, cmp_df, "accuracy", "t"),
        "accuracy": (F._accuracy, acc, [0.97, 0.99], per_layer, "t"),
        "size simulated": (X._size, size, "accuracy", 0.95, 0.99, "t"),
        "size not simulated": (X._size, size.drop(columns=["accuracy", "floor"]), None, None, None, "t"),
        "sweep": (X._sweep, sweep, "area_mm2", "energy_per_inference_J", "t"),
        "validate": (X._validate, val, "t"),
        "bench energy": (P._energy_breakdown, sweep, "lenet5"),
    }


def test_every_figure_is_paper_sized_with_readable_text(est, cmp_df):
    for name, (draw, *args) in _all_figures(est, cmp_df).items():
        fig = drawn(draw, *args)
        assert fig.get_size_inches()[0] in (S.SINGLE_IN, S.DOUBLE_IN), name
        small = sorted({(t.get_text()[:20], t.get_fontsize()) for t in texts(fig) if t.get_fontsize() < S.FONT_PT})
        assert not small, (name, small)
        for ax in fig.axes:
            if ax.get_xlabel() and ax.get_label() != "<colorbar>":
                label = ax.get_xlabel() + " " + ax.get_ylabel()
                assert "(" in label or "/" in label, (name, label)   # a unit, or a ratio such as TOPS/W


def test_bars_add_up_to_the_totals(est, cmp_df):
    fig = drawn(F._compare_bars, cmp_df, "t")
    ax_e = fig.axes[0]
    ends = {}
    for patch in ax_e.patches:
        y = round(patch.get_y() + patch.get_height() / 2, 6)
        ends[y] = max(ends.get(y, 0.0), patch.get_x() + patch.get_width())
    got = [ends[k] for k in sorted(ends, reverse=True)]      # top to bottom: the table's order
    # stacked in µJ from the per-component columns; float sums in another order: 1e-9 relative
    np.testing.assert_allclose(got, cmp_df["energy_per_inference_J"].to_numpy() * 1e6, rtol=1e-9)


def test_a_device_keeps_its_colour(cmp_df):
    a = S.device_colors(["sram", "reram"])
    b = S.device_colors(["reram", "pcm", "sram", "my_device.yaml"])
    assert a["sram"] == b["sram"] and a["reram"] == b["reram"]
    assert len(set(b.values())) == 4


def test_bench_efficiency_keeps_whole_network_and_peak_apart(cmp_df):
    from archsim.explore.bench import peak_table, published_accelerators
    from archsim.model.arch import Architecture
    pub = published_accelerators()
    whole = P._published_pairs(pub, peak=False)
    peak = P._published_pairs(pub, peak=True)
    assert set(whole["name"]) == set(pub.loc[pub["tops_per_W"].notna() & pub["tops_per_mm2"].notna(), "accelerator"])
    assert set(peak["name"]) == set(pub.loc[pub["tops_per_W_peak"].notna() & pub["tops_per_mm2_peak"].notna(),
                                            "accelerator"])
    df = cmp_df.assign(workload="lenet5", error=None)
    peaks = peak_table(df, Architecture())
    fig = drawn(P._efficiency, df, pub, peaks)
    ax_w, ax_p = fig.axes[:2]
    names_w = {t.get_text().split("\n")[0] for t in ax_w.texts}
    names_p = {t.get_text().split("\n")[0] for t in ax_p.texts}
    assert names_w == set(whole["name"]) and set(peak["name"]) <= names_p
    # no title or label cites an internal document
    assert not any("TABLE II" in t.get_text() or "seed" in t.get_text().lower() for t in texts(fig))
    # a peak figure bounds the same device's whole-network figures from above (every array busy)
    for r in peaks.itertuples():
        assert r.tops_per_mm2 >= df.loc[df["device"] == r.device, "tops_per_mm2"].max() * (1 - 1e-9)


def test_sweep_plot_names_a_bad_column(cmp_df):
    with pytest.raises(ArchsimError, match=r"column 'nope' is not a numeric column.*allowed: .*area_mm2"):
        X.sweep_pictures(cmp_df, "area_mm2", "nope", "s", "t")
    pics = X.sweep_pictures(cmp_df.assign(workload="lenet5"), "area_mm2", "tops_per_W", "s", "t")
    assert pics[0].name == "s_area_mm2_vs_tops_per_W.png" and pics[0].png[:4] == b"\x89PNG"


def test_axis_labels_carry_units():
    assert S.axis_label("energy_per_inference_J") == "energy per inference (J)"
    assert S.axis_label("area_mm2") == "area (mm²)"
    assert S.axis_label("inferences_per_s") == "inferences per second (1/s)"
    assert S.axis_label("latency_s") == "latency (s)"
    assert S.axis_label("tops_per_W") == "TOPS/W"

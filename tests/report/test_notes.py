"""What the reports print beside their figures: the unit of work, the read time and drift, the wires of an
IR-drop run, the lithography field, a one-line Estimate (archsim/report/notes.py, archsim/cost/price.py)."""
from __future__ import annotations

import math

import pytest

import archsim
from archsim.io import techlib
from archsim.model import presets
from archsim.model.arch import Architecture
from archsim.report import notes, tables


@pytest.fixture(scope="module")
def training():
    return archsim.estimate("lenet5", device="ecram", cost_model="lut", task="training")


def test_training_rows_are_titled_per_step_with_the_same_numbers(training):
    disp = tables.display_frame(training.totals())
    assert "energy/step (uJ)" in disp and "steps/s" in disp
    assert "energy/inference (uJ)" not in disp and "inferences/s" not in disp
    # renamed, not recomputed: the step's energy is the summary's, in uJ
    assert disp["energy/step (uJ)"].iloc[0] == pytest.approx(training.summary["energy_per_inference_J"] * 1e6, rel=1e-12)
    inf = tables.display_frame(archsim.estimate("lenet5", device="ecram", cost_model="lut").totals())
    assert "energy/inference (uJ)" in inf and "energy/step (uJ)" not in inf


def test_read_time_says_when_the_device_has_no_drift_law():
    assert notes.read_time("sonos", 86400) == ("read time: 1 d (86,400 s) after programming (--time); sonos has no "
                                               "drift law: --time changes nothing")
    pcm = notes.read_time("pcm", 3600)
    assert "1 h (3,600 s)" in pcm and "power law" in pcm and "changes nothing" not in pcm
    both = notes.read_time_devices(["pcm", "sonos"], 0)
    assert "drift laws: pcm" in both and "no drift law (sonos)" in both


def test_ir_drop_line_names_the_resistances_in_force():
    assert notes.ir_drop(Architecture()) == ""          # ideal wires: nothing to say
    a = Architecture().replace(r_wire_ohm=2.5, r_in_ohm=100, r_out_ohm=50)
    on = notes.ir_drop(a)
    assert on.startswith("IR drop: on") and "r_wire_ohm=2.5" in on and "r_in_ohm=100" in on and "r_out_ohm=50" in on
    assert notes.ir_drop(a, enabled=False).startswith("IR drop: off (--no-ir-drop)")
    dpe = presets.load("dpe").architecture.parasitics
    assert f"r_wire_ohm={dpe.r_wire:g}" in notes.ir_drop(presets.load("dpe").architecture)


def test_reticle_note_above_one_exposure_field():
    limit = notes.reticle_limit_mm2()
    # the field is 26 mm x 33 mm (its source in techlib/published/lithography.yaml)
    assert limit == pytest.approx(26 * 33, rel=1e-9)
    assert "26 mm x 33 mm" in techlib.published("lithography").q("reticle.field_area").source
    assert notes.reticle(limit) == "" and notes.reticle(0.5 * limit) == ""
    text = notes.reticle(1.5 * limit)
    assert "exceeds one exposure field" in text and "at least 2 dies" in text
    assert "at least 8 dies" in notes.reticle(6686)       # ceil(6686 / 858) = 8


def test_repr_is_one_line_with_the_headline_figures(training):
    est = archsim.estimate("lenet5", device="sonos")
    r = repr(est)
    s = est.summary
    assert "\n" not in r and len(r) < 250
    assert r.startswith("<Estimate lenet5 on sonos") and f"{s['energy_per_inference_J'] * 1e6:.4g} uJ/inference" in r
    assert f"{s['tops_per_W']:.4g} TOPS/W" in r and f"dominant energy: {s['dominant']}" in r
    assert "uJ/step" in repr(training) and "steps/s" in repr(training)
    assert "DataFrame" not in r and "layer" not in r        # the tables stay out of it

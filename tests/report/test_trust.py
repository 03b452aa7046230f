"""How far energy and area can be trusted: the ranges come from validation's predicted figures, per device
kind, each ratio turned into the ratio of the quantity it measures (archsim/report/trust.py)."""
from __future__ import annotations

import math

import pytest

from archsim.explore import validate
from archsim.model import presets
from archsim.model.device import load_device
from archsim.report import trust


@pytest.fixture(scope="module")
def ratios():
    return trust.ratios()


def test_every_ratio_is_a_predicted_validation_figure(ratios):
    assert len(ratios) >= 3
    for r in ratios.itertuples():
        row = next(x for x in validate.preset_rows(r.preset) if x["figure"] == r.figure)
        assert row["role"] == "predicted"
        quantity, power = trust.QUANTITY[r.figure.split("__")[0]]
        assert quantity == r.quantity
        # an efficiency (TOPS/W, TOPS/mm2) is inverted into the energy or area it implies
        assert r.ratio == pytest.approx(row["ratio"] ** power, rel=1e-12)
        assert r.kind == load_device(presets.load(r.preset).architecture.device).kind.value
        assert not r.figure.endswith(trust.RANGE_ENDS)


def test_statement_spans_the_ratios_of_the_kind(ratios):
    lines = trust.statement(["sonos", "sram"])
    analog = next(l for l in lines if l.strip().startswith("analog (sonos)"))
    e = ratios[(ratios.kind == "analog") & (ratios.quantity == "energy")].ratio
    assert f"{e.min():.2f}x" in analog and f"{e.max():.2f}x" in analog
    assert f"{len(e)} figures" in analog
    digital = next(l for l in lines if l.strip().startswith("digital (sram)"))
    assert "chih2021" in digital and "neurosim" not in digital


def test_a_kind_without_published_chips_is_unvalidated(ratios, monkeypatch):
    # the statement follows the validation data: take the charge-domain chips away and it says so
    monkeypatch.setattr(trust, "ratios", lambda: ratios[ratios.kind != "charge"])
    line = trust.statement(["sram_charge"])[1]
    assert "unvalidated" in line and "charge (sram_charge)" in line
    monkeypatch.setattr(trust, "ratios", lambda: ratios)
    if (ratios.kind == "charge").any():
        assert "unvalidated" not in trust.statement(["sram_charge"])[1]

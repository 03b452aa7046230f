"""The technology library: every number sourced, seed 002's tile table reproduced, circuits consistent."""
import math

import pytest

from archsim.io import techlib
from archsim.model.errors import ArchsimError
from tests.support import SEED002



def test_five_devices_present():
    assert {"reram", "sonos", "ecram", "sram", "pcm"} <= set(techlib.device_names())


def test_every_quantity_has_source_or_assumption():
    for rec in techlib.all_records():
        for q in rec.quantities.values():
            assert q.source or q.assumption, f"{rec.file}:{q.key}"
            assert q.unit in techlib.UNITS


@pytest.mark.parametrize("dev", sorted(SEED002))
def test_seed002_tile_table_in_data_files(dev):
    d = techlib.device(dev)
    for op, (e_fj, t_us) in SEED002[dev].items():
        assert d[f"lut.{op}.energy_per_op"] == pytest.approx(e_fj * 1e-15, rel=1e-12)
        assert d[f"lut.{op}.latency"] == pytest.approx(t_us * 1e-6, rel=1e-12)
        assert "Marinella et al." in d.q(f"lut.{op}.energy_per_op").source


def test_sram_over_reram_ratios_match_marinella_2018():
    # Marinella et al. (JETCAS 2018) abstract: analog ReRAM 430x less energy and 34x less latency than SRAM
    e = sum(SEED002["sram"][o][0] for o in SEED002["sram"]) / sum(SEED002["reram"][o][0] for o in SEED002["reram"])
    t = sum(SEED002["sram"][o][1] for o in SEED002["sram"]) / sum(SEED002["reram"][o][1] for o in SEED002["reram"])
    assert e == pytest.approx(430, rel=0.01)
    assert t == pytest.approx(34, rel=0.03)


def test_isaac_component_powers_recovered_from_per_event_energies():
    """Per-event energies were derived from ISAAC Table I powers; invert and compare."""
    cycle = techlib.circuit("dac")["crossbar_cycle"]
    assert techlib.circuit("dac")["energy_per_row_drive"] * 1024 / cycle == pytest.approx(4e-3, rel=1e-6)
    assert techlib.circuit("sample_hold")["energy_per_sample"] * 1024 / cycle == pytest.approx(10e-6, rel=1e-6)
    assert techlib.circuit("shift_add", "isaac")["energy_per_op"] * 8 * 1.28e9 == pytest.approx(0.2e-3, rel=1e-3)
    assert techlib.circuit("buffer")["area_per_kB"] * 64 == pytest.approx(0.083e-6, rel=1e-3)
    # ISAAC's ADC table at 8 bits: the area ISAAC lists (0.0096 mm2 for 8 ADCs)
    adc = techlib.circuit("adc", "isaac")
    i8 = list(adc["bits"]).index(8.0)
    assert adc["area"][i8] * 8 == pytest.approx(0.0096e-6, rel=1e-6)


def test_pcm_model_coefficients_from_published():
    d = techlib.device("pcm")
    assert d["conductance.g_max"] == pytest.approx(25e-6)
    assert d["programming_error.c0"] == pytest.approx(0.26348e-6)
    assert d["drift.t0"] == pytest.approx(20.0)


def test_units_convert_to_si():
    d = techlib.device("sonos")
    assert d["read.pulse"] == pytest.approx(10e-9)
    assert d["conductance.g_max"] == pytest.approx(16e-6)
    assert math.isclose(techlib.circuit("noc")["router_area"], 0.151e-6)


def _write(tmp_path, text):
    p = tmp_path / "dev.yaml"
    p.write_text(text)
    return p


def test_bare_number_rejected(tmp_path):
    p = _write(tmp_path, "name: x\nread:\n  voltage: 0.2\n")
    with pytest.raises(ArchsimError, match=r"dev.yaml: key 'read.voltage': bare number"):
        techlib.device(str(p))


def test_unknown_unit_rejected(tmp_path):
    p = _write(tmp_path, "name: x\nv: {value: 1, unit: furlong, source: s}\n")
    with pytest.raises(ArchsimError, match="unit 'furlong' is unknown"):
        techlib.device(str(p))


def test_quantity_without_provenance_rejected(tmp_path):
    p = _write(tmp_path, "name: x\nv: {value: 1, unit: V}\n")
    with pytest.raises(ArchsimError, match="neither 'source' nor 'assumption'"):
        techlib.device(str(p))


def test_malformed_yaml_names_file(tmp_path):
    p = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(ArchsimError, match="dev.yaml.*not valid YAML"):
        techlib.device(str(p))


def test_unknown_device_lists_choices():
    with pytest.raises(ArchsimError, match="unknown device 'mram'; choose one of: .*reram"):
        techlib.device("mram")


def test_yaml_tags_are_not_executed(tmp_path):
    p = _write(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ArchsimError):
        techlib.device(str(p))

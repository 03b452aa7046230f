"""ADC price laws (archsim/cost/adc.py): Walden's doubling per bit, flash comparators, the survey's
speed corner, node scaling by the scaling file, the fit reproduced from its published anchors, and the
tabulated libraries (isaac, yao2020) unchanged."""
import math

import pytest

from archsim.io import techlib
from archsim.cost.adc import ADC_ARCHITECTURES, adc_law, fit
from archsim.model import arch
from archsim.model.errors import ArchsimError

# Products and quotients of a few doubles: exact up to rounding, hence 1e-12.
EXACT = 1e-12


def test_default_library_is_sar_and_has_every_architecture():
    law = adc_law()
    assert techlib.circuit("adc").field("architecture") == "sar" and law.default == "sar"
    assert ADC_ARCHITECTURES == ("sar", "flash", "ramp")
    assert tuple(l.architecture for l in law.laws) == ADC_ARCHITECTURES
    assert law.energy(6, 1e8, 32) == law.energy(6, 1e8, 32, "sar")


def test_sar_5_to_4_bits_halves_energy_close_to_neurosim():
    """Walden's law: one bit less halves the energy per conversion (-50%).  DNN+NeuroSim V1.4 measured
    -47% ADC energy going from a 5- to a 4-bit ADC (shared/reference/ANCHORS.md): the law's cut is
    within 10% of NeuroSim's (|50 - 47| / 47 = 6.4%)."""
    law = adc_law()
    for node in (22, 32, 65):
        cut = 1 - law.energy(4, 1e8, node) / law.energy(5, 1e8, node)
        assert cut == pytest.approx(0.5, rel=EXACT)
        assert abs(cut - 0.47) / 0.47 < 0.10
    assert law.area(4, 1e8, 32) / law.area(5, 1e8, 32) == pytest.approx(0.5, rel=EXACT)


def test_flash_scales_with_comparators():
    """A flash ADC has 2^b - 1 comparators: 5 -> 4 bits is 31 -> 15 (NeuroSim's MLSA, also
    flash-like, cut 47%, the comparator count 52%)."""
    law = adc_law()
    for what in (law.energy, law.area):
        assert what(5, 1e9, 32, "flash") / what(4, 1e9, 32, "flash") == pytest.approx(31 / 15, rel=EXACT)


@pytest.mark.parametrize("architecture", ["sar", "flash"])
def test_energy_flat_below_corner_and_linear_in_rate_above(architecture):
    """Murmann survey Readme: below the speed corner the figure of merit is flat, above it energy per
    conversion grows linearly with rate (power quadratically)."""
    law = adc_law()
    fc = law.law(architecture).f_corner
    e = lambda f: law.energy(6, f, 32, architecture)
    assert e(fc / 100) == e(fc / 2) == e(fc)
    assert e(4 * fc) / e(2 * fc) == pytest.approx(2.0, rel=EXACT)
    assert e(3 * fc) / e(fc) == pytest.approx(3.0, rel=EXACT)
    assert law.area(6, 4 * fc, 32, architecture) == law.area(6, fc / 4, 32, architecture)


@pytest.mark.parametrize("architecture", ADC_ARCHITECTURES)
def test_smaller_node_scales_by_the_scaling_file(architecture):
    """Converters scale by the analog class of the scaling file (adc.yaml says class: analog)."""
    law = adc_law()
    sc = techlib.circuit("scaling")
    assert techlib.circuit("adc").field("class") == "analog"
    e = dict(zip(sc["nodes"], sc["analog.energy_scale"]))
    a = dict(zip(sc["nodes"], sc["analog.area_scale"]))
    for small, big in ((22, 32), (28, 65), (14, 130)):
        assert law.energy(6, 1e8, small, architecture) / law.energy(6, 1e8, big, architecture) == \
            pytest.approx(e[small] / e[big], rel=EXACT)
        assert law.area(6, 1e8, small, architecture) / law.area(6, 1e8, big, architecture) == \
            pytest.approx(a[small] / a[big], rel=EXACT)
        assert law.energy(6, 1e8, small, architecture) < law.energy(6, 1e8, big, architecture)


@pytest.mark.parametrize("architecture", ADC_ARCHITECTURES)
def test_fit_reproduces_stored_constants(architecture):
    """The file stores fit(anchors) rounded to 3 significant digits: within 1% (rounding is <= 0.5%)."""
    lib = adc_law()
    law = lib.law(architecture)
    refit = fit(law.anchors, law, lib.scaling)
    assert law.e_unit == pytest.approx(refit.e_unit, rel=0.01)
    assert law.a_unit == pytest.approx(refit.a_unit, rel=0.01)
    assert len(law.anchors.paper) >= 3


# Stated factor within which each law predicts every anchor (measured worst, energy / area):
# sar 2.40 / 3.06, flash 3.10 / 2.58, ramp 8.28 / 5.83.  The ramp anchors are hybrids (the survey has
# no column-parallel single-slope ADC; Liu 2016 resolves most of its 12 bits by SAR, hence the 8x).
FACTOR = {"sar": 3.5, "flash": 3.5, "ramp": 9.0}


@pytest.mark.parametrize("architecture", ADC_ARCHITECTURES)
def test_law_predicts_every_anchor_within_stated_factor(architecture):
    lib = adc_law()
    an = lib.law(architecture).anchors
    for p, b, f, n, e, a in zip(an.paper, an.bits, an.rate, an.node, an.energy, an.area):
        re = lib.energy(int(b), f, n, architecture) / e
        ra = lib.area(int(b), f, n, architecture) / a
        k = FACTOR[architecture]
        assert 1 / k < re < k, f"{p}: energy predicted / published = {re:.2f}"
        assert 1 / k < ra < k, f"{p}: area predicted / published = {ra:.2f}"


def test_sar_anchor_kull_2013_is_isaacs_converter():
    """The file's first SAR anchor is the converter ISAAC cites: 8 b, 1.2 GS/s, 32 nm, 2.55 pJ, 0.0015 mm2."""
    an = adc_law().law("sar").anchors
    assert "Kull" in an.paper[0]
    assert (an.bits[0], an.rate[0], an.node[0]) == (8, 1.2e9, 32)
    assert an.energy[0] == pytest.approx(2.55e-12, rel=EXACT) and an.area[0] == pytest.approx(1.5e-9, rel=EXACT)


def test_table_libraries_keep_their_published_figures():
    isaac = adc_law("isaac")
    assert isaac.default == "table"
    # ISAAC Table I: 16 mW for 8 ADCs at 1.28 GS/s = 1.5625 pJ per conversion, 1200 um2 each
    assert isaac.energy(8, 1.28e9, 32) == pytest.approx(1.5625e-12, rel=EXACT)
    assert isaac.area(8, 1.28e9, 32) == pytest.approx(1200e-12, rel=EXACT)
    assert adc_law("yao2020").energy(8, 1.2e9, 65) == pytest.approx(2.55e-12, rel=EXACT)
    with pytest.raises(ArchsimError, match=r"techlib/circuits/isaac/adc.yaml: key 'architecture' = 'sar'"):
        isaac.energy(8, 1.28e9, 32, "sar")


def test_default_library_has_no_table():
    """The default library prices by law; only a library that tabulates its paper's converter has a table."""
    with pytest.raises(ArchsimError, match=r"key 'architecture' = 'table' is not available .* allowed: sar, flash, ramp"):
        adc_law().energy(8, 1e9, 32, "table")


def test_conversion_time():
    law = adc_law()
    assert law.conversion_time(8, 1.28e9) == pytest.approx(1 / 1.28e9, rel=EXACT)
    assert law.conversion_time(8, 1.28e9, "flash") == pytest.approx(1 / 1.28e9, rel=EXACT)
    # Xiao et al. 2022: 8-bit ramp at 1 GHz -> 256 clock periods
    assert law.conversion_time(8, 1.28e9, "ramp") == pytest.approx(256e-9, rel=EXACT)
    assert law.conversion_time(8, 1e6, "ramp") == pytest.approx(1e-6, rel=EXACT)  # the rate is slower


def test_priced_for_an_architecture():
    """How the cost model would price a conversion: the architecture's bits, rate and node."""
    a = arch.Architecture(adc_rate_Hz=1.28e9)
    e = adc_law(a.circuits).energy(a.adc_bits, a.adc_rate_Hz, a.node_nm)
    law = adc_law().law("sar")
    expected = law.e_unit * 2 ** a.adc_bits * max(1.0, a.adc_rate_Hz / law.f_corner)
    assert e == pytest.approx(expected, rel=EXACT)


@pytest.mark.parametrize("call, match", [
    (lambda l: l.energy(13, 1e8, 32), r"adc.yaml: keys 'sar.bits_min/bits_max': 13 bits .* allowed: integers 2 to 12"),
    (lambda l: l.area(4.5, 1e8, 32), r"4.5 bits is outside"),
    (lambda l: l.energy(9, 1e8, 32, "flash"), r"'flash.bits_min/bits_max': 9 bits .* 1 to 8"),
    (lambda l: l.energy(8, 1e8, 7), r"adc.yaml: key 'sar.node': node 7 nm has no scaling factors in techlib/circuits/scaling.yaml; allowed: 130"),
    (lambda l: l.energy(8, 0.0, 32), r"adc.yaml: ADC rate 0.0 Hz is not allowed"),
    (lambda l: l.conversion_time(8, -1.0), r"ADC rate -1.0 Hz is not allowed"),
    (lambda l: l.energy(8, 1e8, 32, "pipeline"), r"key 'architecture' = 'pipeline' .* allowed: sar, flash, ramp"),
])
def test_bad_inputs_raise_one_line(call, match):
    with pytest.raises(ArchsimError, match=match) as err:
        call(adc_law())
    assert "\n" not in str(err.value)

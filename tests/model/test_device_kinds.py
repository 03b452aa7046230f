"""The behaviour tables of the device model: device kinds, error-law and drift-law families, ADC
architectures.  Each test walks one table entry by entry, as tests/model/test_kinds.py walks the layer
kinds: every entry is complete, every consumer reads it, and each entry's law holds."""
import dataclasses

import numpy as np
import pytest

from archsim.io import techlib
from archsim.cost.adc import adc_law
from archsim.cost.price import evaluate
from archsim.mapping.layout import map_workload
from archsim.model.adc_kinds import ADC_KINDS, LAW_ARCHITECTURES, TRANSFERS
from archsim.model.arch import AdcType, Architecture
from archsim.model.device import load_device
from archsim.model.device_kinds import KIND_BEHAVIOUR, DeviceKind, behaviour
from archsim.model.device_laws import ALLOWED, DRIFT_LAWS, SIGMA_LAWS, SigmaModel
from archsim.sim.tilesim import kernels as K_
from tests.support import single_dense


def _a_device_of(kind: DeviceKind) -> str:
    for name in techlib.device_names():
        if load_device(name).kind == kind:
            return name
    raise AssertionError(f"no shipped device of kind {kind}")


@pytest.mark.parametrize("kind", list(DeviceKind))
def test_every_device_kind_has_a_behaviour_and_a_shipped_device(kind):
    b = KIND_BEHAVIOUR[kind]
    assert b.kind is kind and behaviour(kind.value) is b and b.reads
    dev = load_device(_a_device_of(kind))
    assert dev.behaviour is b and dev.exact == b.exact and dev.digital == (not b.converts)
    if b.exact:   # exact bits: no error law at all
        assert dev.prog.is_none and dev.read.is_none and dev.drift is None and dev.d2d == 0.0


@pytest.mark.parametrize("kind", list(DeviceKind))
def test_the_cost_model_prices_each_kind_as_its_entry_says(kind):
    """A kind that converts pays ADC conversions and no adder bits, and the other way round; each is reported
    in its own energy column."""
    b = KIND_BEHAVIOUR[kind]
    a = Architecture(device=_a_device_of(kind), bits_per_cell="auto")
    est = evaluate(map_workload(single_dense(64, 32), a))
    from archsim.cost.events import events
    ev = events(map_workload(single_dense(64, 32), a))
    assert (ev.total("conversion") > 0) == b.converts
    assert (ev.total("adder_bit") > 0) == (not b.converts)
    # converters in energy_adc_J, adder trees in their own column (issue 21: a column names what it holds)
    part = "energy_adc_J" if b.converts else "energy_adder_tree_J"
    other = "energy_adder_tree_J" if b.converts else "energy_adc_J"
    assert est.summary[part] > 0 and est.summary[other] == 0


@pytest.mark.parametrize("family", list(SIGMA_LAWS))
def test_every_error_law_family_is_zero_at_zero_coefficients_and_grows_with_them(family):
    """Each family's sigma is 0 with every amplitude 0 (a law without noise adds none) and does not fall
    when every amplitude doubles from 1 (each family is a sum of non-negative terms there); shape keys
    (a saturation current, an exponent, a read time) stay at 1."""
    law = SIGMA_LAWS[family]
    assert any(family in ALLOWED[s] for s in law.sections)
    g = np.linspace(1e-6, 1e-4, 7)
    if law.sigma is None:
        assert SigmaModel("read_noise", family).is_none
        np.testing.assert_array_equal(SigmaModel("read_noise", family).sigma(g), 0.0)
        return
    shape = ("B", "t_read", "q_b")
    ones = {k: 1.0 for k in law.keys}
    base = SigmaModel(law.sections[0], family, ones, g_max=1e-4, v_read=0.2)
    zero = SigmaModel(law.sections[0], family, {k: (1.0 if k in shape + ("q_max",) else 0.0) for k in law.keys},
                      g_max=1e-4, v_read=0.2)
    np.testing.assert_array_equal(zero.sigma(g, t=10.0), 0.0)
    twice = SigmaModel(law.sections[0], family, {k: 2.0 * v if k not in shape else v
                                                  for k, v in ones.items()}, g_max=1e-4, v_read=0.2)
    assert np.all(twice.sigma(g, t=10.0) >= base.sigma(g, t=10.0))


@pytest.mark.parametrize("family", list(DRIFT_LAWS))
def test_every_drift_law_is_one_at_time_zero_and_falls_with_time(family):
    law = DRIFT_LAWS[family]
    p = {k: 0.0 for k in law.keys} | {"t0": 20.0, "nu_mean_b": 0.05, "nu_mean_hi": 1.0, "nu_std_hi": 1.0}
    model = law.model(p, 1e-4)
    g = np.array([1e-5, 5e-5])
    np.testing.assert_allclose(model.mean_factor(0.0, g), 1.0, rtol=1e-15)
    assert np.all(model.mean_factor(1e6, g) < model.mean_factor(1e3, g))
    assert isinstance(model.formula, str) and model.formula     # how reports name the law (report/notes.py)


@pytest.mark.parametrize("name", list(ADC_KINDS))
def test_every_adc_architecture_is_an_adc_type_with_a_transfer_and_a_price(name):
    kind = ADC_KINDS[name]
    assert name in {t.value for t in AdcType} and kind.transfer in TRANSFERS
    if name in LAW_ARCHITECTURES:
        law = adc_law("default")
        e6, e7 = law.energy(6, 1e8, 32, name), law.energy(7, 1e8, 32, name)
        # energy follows the entry's units of bits (2^b steps, 2^b - 1 comparators); same rate and node, so
        # the ratio is exact up to rounding (1e-12 relative)
        assert e7 / e6 == pytest.approx(kind.energy_units(7) / kind.energy_units(6), rel=1e-12)
    else:
        assert adc_law("isaac").default == name


@pytest.mark.parametrize("name", list(ADC_KINDS))
def test_the_transfer_function_is_the_kernels_and_its_twins(name):
    """The kernel and its numpy twin read a column value as the entry's transfer function says: round
    gives the nearest code, ceil the first code at or above; both stay within one LSB of the value."""
    tf = ADC_KINDS[name].transfer_code
    rng = np.random.default_rng(1)
    I = rng.uniform(0.0, 10.0, (1, 5, 8))
    lo, inv, step = np.zeros(8), np.full(8, 2.0), np.full(8, 0.5)
    a, b = np.zeros((5, 8)), np.zeros((5, 8))
    K_.run_adc_accumulate(I, lo, inv, step, 255.0, np.ones(1), a, True, tf=tf)
    K_.adc_accumulate_np(I, lo, inv, step, 255.0, np.ones(1), b, True, tf=tf)
    np.testing.assert_array_equal(a, b)
    err = a - I[0]
    if ADC_KINDS[name].transfer == "ceil":
        assert np.all((err >= 0) & (err < 0.5))
    else:
        assert np.all(np.abs(err) <= 0.25)


def test_adc_type_changes_what_the_simulator_computes():
    """The same cells (no programming error or read noise) read through a SAR (round) and a ramp (ceil)
    ADC: each matches the plain-numpy twin of the whole pipeline with its own transfer function, and the
    two differ (continuous column currents almost never sit on a code)."""
    from archsim.sim import tilesim as ts
    a = Architecture(device="reram", rows=16, cols=16, adc_bits=6, bits_per_cell=7)   # one slice, as set up
    W = np.random.default_rng(2).standard_normal((16, 8))
    X = np.random.default_rng(3).uniform(0, 1, (6, 16))
    cfg = ts.SimConfig(prog_error=False, read_noise=False, ir_drop=False)
    out = {}
    for t in ("sar", "ramp"):
        arch = a.replace(adc_type=t)
        m = map_workload(single_dense(16, 8), arch)
        pm = ts.ProgrammedMatrix.program(W, m.layer("fc"), arch, m.device, cfg, seed=0).calibrate(X)
        assert pm.adc_transfer == ADC_KINDS[t].transfer_code
        out[t] = pm.matmul(X, key=(0,))
        np.testing.assert_allclose(out[t], ts.reference_matmul(pm, X, key=(0,)), rtol=1e-12, atol=1e-12)
    assert not np.array_equal(out["sar"], out["ramp"])

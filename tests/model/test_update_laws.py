"""Update laws of the device files' ``update`` section (archsim/model/update_laws.py)."""
import math

import numpy as np
import pytest

from archsim.io import techlib
from archsim.model.device import load_device
from archsim.model.errors import ArchsimError
from archsim.model.update_laws import STEP_SHAPES, UPDATE_LAWS, UpdateModel, c2c_mean_factor, pulses_to_saturate, step_sizes

ONE = np.ones(1)


def steps(m, x, up):
    return step_sizes(m, np.atleast_1d(x), up, m.dw * ONE, m.asymmetry * ONE, ONE, -ONE)


def test_soft_bounds_saturate_at_the_bounds():
    m = UpdateModel("soft_bounds", states=100)
    x, trace = np.array([0.0]), []
    for _ in range(3000):
        x = np.clip(x + steps(m, x, True), -1, 1)
        trace.append(x[0])
    assert trace[-1] == pytest.approx(1.0, abs=1e-3)         # approaches b+ ...
    assert np.all(np.diff(trace) >= 0) and steps(m, 1.0, True)[0] == 0.0   # ... and the step vanishes there
    assert steps(m, -1.0, False)[0] == 0.0
    # the step shrinks linearly toward the bound: half the range left, half the step
    assert steps(m, 0.5, True)[0] == pytest.approx(0.5 * m.dw)


@pytest.mark.parametrize("law", ["constant", "linear", "soft_bounds", "exponential", "power"])
def test_asymmetry_sign(law):
    m = UpdateModel(law, states=200, asymmetry=0.1, gamma=1.0)
    assert steps(m, 0.0, True)[0] > steps(m, 0.0, False)[0]
    m2 = m.with_(asymmetry=-0.1)
    assert steps(m2, 0.0, True)[0] < steps(m2, 0.0, False)[0]


def test_soft_bounds_symmetric_point_is_the_asymmetry():
    m = UpdateModel("soft_bounds", states=200, asymmetry=0.3)
    assert steps(m, 0.3, True)[0] == pytest.approx(steps(m, 0.3, False)[0])


@pytest.mark.parametrize("states", [10, 128, 1000])
def test_constant_step_states_count(states):
    m = UpdateModel("constant", states=states)
    # from -1 to within 2% of the range of +1 in steps of 2/states
    assert pulses_to_saturate(m) == math.ceil(0.99 * states - 1e-9)


def test_nonlinear_laws_are_normalized_to_dw_mid_range():
    for law in ("exponential", "power"):
        m = UpdateModel(law, states=100, gamma=2.0)
        assert steps(m, 0.0, True)[0] == pytest.approx(m.dw)
        assert steps(m, -0.9, True)[0] > m.dw > steps(m, 0.9, True)[0]   # large at the bottom, small at the top


def test_device_files_have_update_sections():
    for name in ("ecram", "reram", "pcm", "sonos", "ideal"):
        u = load_device(name).update
        assert u is not None and u.law in UPDATE_LAWS and u.energy_per_pulse > 0 and u.pulse > 0
    assert load_device("pcm").update.potentiation_only
    assert load_device("reram").update.law == "table"
    assert load_device("ecram").update.states == 1000          # Tang et al. IEDM 2018
    assert load_device("dpe_taox").update is None
    # the TaOx table is strongly asymmetric: depression steps at the top dwarf potentiation steps there
    u = load_device("reram").update
    assert steps(u, 0.9, False)[0] > 10 * steps(u, 0.9, True)[0]
    # every update quantity carries a source or an assumption
    rec = techlib.device("ecram")
    assert all(q.source or q.assumption for k, q in rec.quantities.items() if k.startswith("update."))


def _with_update(tmp_path, text):
    src = (techlib.DEVICE_DIR / "ideal.yaml").read_text()
    body = src[:src.index("update:")] + text
    p = tmp_path / "dev.yaml"
    p.write_text(body)
    return str(p)


@pytest.mark.parametrize("text, match", [
    ("update:\n  law: wobbly\n  states: {value: 10, unit: levels, assumption: x}\n", "update.law"),
    ("update:\n  law: exponential\n  states: {value: 10, unit: levels, assumption: x}\n", "update.gamma"),
    ("update:\n  law: constant\n", "update.states"),
    ("update:\n  law: constant\n  states: {value: 10, unit: levels, assumption: x}\n"
     "  asymmetry: {value: 1.5, unit: '1', assumption: x}\n", "update.asymmetry"),
    ("update:\n  law: table\n  states: {value: 10, unit: levels, assumption: x}\n"
     "  table:\n    state: {value: [0, 1], unit: '1', assumption: x}\n", "update.table"),
    ("update:\n  law: constant\n  states: {value: 10, unit: levels, assumption: x}\n  c2c_signed: maybe\n",
     "update.c2c_signed"),
])
def test_bad_update_sections_are_one_line_errors(tmp_path, text, match):
    with pytest.raises(ArchsimError, match=match):
        load_device(_with_update(tmp_path, text))


def test_c2c_signed_is_read_from_the_file(tmp_path):
    text = ("update:\n  law: constant\n  states: {value: 10, unit: levels, assumption: x}\n"
            "  c2c: {value: 0.5, unit: '1', assumption: x}\n  c2c_signed: true\n")
    u = load_device(_with_update(tmp_path, text)).update
    assert u.c2c_signed and u.kernel_c2c == -0.5
    assert not load_device("ecram").update.c2c_signed          # the default: the cut factor


@pytest.mark.parametrize("c", [0.0, 0.05, 0.3, 1.0, 3.0])
def test_c2c_mean_factor_is_the_mean_of_the_cut_noise(c):
    """E[max(1 + c Z, 0)] by quadrature on a fine grid (error ~1e-9 at this spacing) against the closed form."""
    z = np.linspace(-12.0, 12.0, 240001)
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    f = np.maximum(1.0 + c * z, 0.0) * pdf
    mean = float(np.sum((f[1:] + f[:-1]) * 0.5 * np.diff(z)))
    assert c2c_mean_factor(c) == pytest.approx(mean, abs=1e-8)
    assert c2c_mean_factor(c) >= 1.0          # the cut only removes negative multipliers


def test_every_parametric_law_has_its_numpy_shape():
    """The table of shapes covers every law of ``UPDATE_LAWS`` but ``table`` (which reads its own lists), and
    every shape is 1 at the middle of a symmetric range (bounds -1, 1): the mean step there is ``dw``."""
    assert set(STEP_SHAPES) | {"table"} == set(UPDATE_LAWS) and "table" not in STEP_SHAPES
    for law in STEP_SHAPES:
        m = UpdateModel(law, states=100, gamma=1.5)
        for up in (True, False):
            np.testing.assert_allclose(steps(m, 0.0, up), m.dw, rtol=1e-12)   # reason: float rounding only

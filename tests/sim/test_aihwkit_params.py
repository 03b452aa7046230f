"""The archsim -> IBM aihwkit device mapping of the side-by-side benchmark (archsim/sim/training/aihwkit_params.py).

aihwkit itself is not needed: its documented pulse formulas are written here (Rasch et al., AICAS 2021;
aihwkit's ConstantStepDevice and SoftBoundsDevice documentation) and the mapped parameters must give
archsim's steps through them."""
import numpy as np
import pytest

from archsim.model.errors import ArchsimError
from archsim.model.update_laws import UpdateModel, step_sizes
from archsim.sim.training.aihwkit_params import DEVICE_CLASSES, device_params


def aihwkit_step(cls, kw, w, up):
    """aihwkit's mean step of one pulse (no noise, no device-to-device spread): ``dw_min (1 +- up_down)``,
    times ``1 - w / w_max`` up and ``1 - w / w_min`` down for soft bounds."""
    s = kw["dw_min"] * ((1.0 + kw["up_down"]) if up else (1.0 - kw["up_down"]))
    if cls == "SoftBoundsDevice":
        return s * (1.0 - w / (kw["w_max"] if up else kw["w_min"]))
    return s * np.ones_like(w)


@pytest.mark.parametrize("law", sorted(DEVICE_CLASSES))
@pytest.mark.parametrize("gain", [0.6, 1.3])
def test_mapped_device_steps_like_archsim(law, gain):
    m = UpdateModel(law, states=400, asymmetry=-0.15)
    cls, kw = device_params(m, gain)
    assert cls == DEVICE_CLASSES[law] and kw["w_max"] == gain and kw["w_min"] == -gain
    x = np.linspace(-1.0, 1.0, 41)
    one = np.ones_like(x)
    for up in (True, False):
        ours = gain * step_sizes(m, x, up, m.dw * one, m.asymmetry * one, one, -one)   # weight units
        # equal up to the last bits of the products (relative 1e-12)
        np.testing.assert_allclose(aihwkit_step(cls, kw, gain * x, up), ours, rtol=1e-12, atol=1e-18)
    # the step halves when the range of states doubles; the spread of the step follows the step
    _, kw2 = device_params(m.with_(states=800), gain)
    assert kw2["dw_min"] == pytest.approx(kw["dw_min"] / 2, rel=1e-12)


def test_spreads_map_one_to_one_and_other_effects_are_off():
    m = UpdateModel("soft_bounds", states=1200, c2c=0.3, dw_d2d=0.2, asymmetry_d2d=0.01, bound_d2d=0.1)
    cls, kw = device_params(m, 0.6, seed=7)
    assert (kw["dw_min_std"], kw["dw_min_dtod"], kw["up_down_dtod"]) == (0.3, 0.2, 0.01)
    assert kw["w_max_dtod"] == kw["w_min_dtod"] == 0.1 and kw["construction_seed"] == 7
    assert kw["mult_noise"] is True               # archsim's cycle noise multiplies the step
    for k in ("lifetime", "diffusion", "reset_std", "corrupt_devices_prob", "write_noise_std"):
        assert kw[k] == 0.0
    assert "mult_noise" not in device_params(m.with_(law="constant"), 0.6)[1]


@pytest.mark.parametrize("m", [UpdateModel("exponential", states=100, gamma=2.0),
                               UpdateModel("constant", states=100, potentiation_only=True)], ids=["law", "pair"])
def test_unmapped_models_are_refused_in_one_line(m):
    with pytest.raises(ArchsimError) as e:
        device_params(m, 0.6)
    assert "\n" not in str(e.value) and "aihwkit" in str(e.value)

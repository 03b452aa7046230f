"""The fused update's bookkeeping (archsim/sim/training/fused.py, tile.py): the read weights it keeps up to
date equal a fresh ``weights()`` bit for bit after every kind of state change, and a constant-step tile's
shared steps are the kernels' floats, taken only where every device has them bit for bit."""
import numpy as np
import pytest

from archsim.model.update_laws import UpdateModel
from archsim.sim.training.fused import uniform_steps
from archsim.sim.training.tile import AnalogTile

LAWS = [UpdateModel("constant", states=100),                                       # uniform: scalars
        UpdateModel("constant", states=100, c2c=0.3, dw_d2d=0.3, bound_d2d=0.2),    # packed per device
        UpdateModel("soft_bounds", states=50, c2c=0.3, asymmetry=0.1),
        UpdateModel("constant", states=40, asymmetry=-0.3, c2c=0.2, potentiation_only=True, refresh_threshold=0.5)]


@pytest.mark.parametrize("m", LAWS, ids=lambda m: f"{m.law}{'_pair' if m.potentiation_only else ''}{m.c2c}")
def test_read_weights_follow_every_state_change(m):
    t = AnalogTile(9, 7, m, 0.6, (1,))
    rng = np.random.default_rng(0)
    t.program(rng.uniform(-0.4, 0.4, (9, 7)))
    for step in range(6):
        w = t.read_weights()
        assert np.array_equal(w, t.weights()) and not w.flags.writeable
        x, d = rng.standard_normal((3, 9)), 0.5 * rng.standard_normal((3, 7))
        if step == 2:
            t.update_counts(rng.integers(-5, 6, (9, 7)))         # a change outside the fused kernel
        elif step == 4:
            t.Xp = t.Xp * 0.5                                      # assigned from outside
        else:
            t.update_stochastic(x, d, 2.0, True, 20, 3 * step)     # the kernel rewrites the moved devices
        assert np.array_equal(t.read_weights(), t.weights())
    assert t.counters.coincidences > 0
    if m.potentiation_only:
        assert t.counters.refreshes > 0                           # a refresh (in place) was followed too


def test_uniform_steps_are_the_kernels_floats_and_only_when_all_equal():
    rng = np.random.default_rng(1)
    dwu, asym = np.full((3, 4), 0.0017), np.full((3, 4), 0.3)
    same = uniform_steps(dwu, asym, -np.ones((3, 4)), np.ones((3, 4)))
    assert list(same) == [max(0.0017 * (1.0 + 0.3), 0.0), max(0.0017 * (1.0 - 0.3), 0.0), -1.0, 1.0]
    assert uniform_steps(dwu * rng.uniform(0.9, 1.1, (3, 4)), asym, -np.ones((3, 4)), np.ones((3, 4))).size == 0
    lo = np.zeros((2, 2))
    lo[1, 1] = -0.0                       # equal as numbers, not as floats: clipping to them can differ in sign
    assert uniform_steps(np.full((2, 2), 0.002), np.zeros((2, 2)), lo, np.ones((2, 2))).size == 0
    t = AnalogTile(5, 4, LAWS[0], 0.6, (0,))
    assert t._uniform_steps().size == 4 and AnalogTile(5, 4, LAWS[1], 0.6, (0,))._uniform_steps().size == 0

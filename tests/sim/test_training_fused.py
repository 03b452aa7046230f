"""The fused update's bookkeeping (archsim/sim/training/fused.py, tile.py): the read weights it keeps up to
date equal a fresh ``weights()`` bit for bit after every kind of state change, and the packed constant
steps hold the unpacked expressions' floats."""
import numpy as np
import pytest

from archsim.model.update_laws import UpdateModel
from archsim.sim.training.fused import constant_steps
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


def test_packed_constant_steps_are_the_kernels_floats():
    rng = np.random.default_rng(1)
    dwu, asym = rng.uniform(0, 0.01, (4, 5)), rng.uniform(-0.5, 0.5, (4, 5))
    bm, bp = -rng.uniform(0.5, 1, (4, 5)), rng.uniform(0.5, 1, (4, 5))
    pk = constant_steps(dwu, asym, bm, bp)
    assert pk.shape == (4, 5, 4)
    for i in range(4):
        for j in range(5):
            assert pk[i, j, 0] == max(dwu[i, j] * (1.0 + asym[i, j]), 0.0)
            assert pk[i, j, 1] == max(dwu[i, j] * (1.0 - asym[i, j]), 0.0)
    one = constant_steps(np.full((3, 3), 0.002), np.zeros((3, 3)), -np.ones((3, 3)), np.ones((3, 3)))
    assert one.shape == (1, 1, 4) and list(one[0, 0]) == [0.002, 0.002, -1.0, 1.0]
    lo = np.zeros((2, 2))
    lo[1, 1] = -0.0                       # equal as numbers, not as floats: clipping to them can differ in sign
    assert constant_steps(np.full((2, 2), 0.002), np.zeros((2, 2)), lo, np.ones((2, 2))).shape == (2, 2, 4)

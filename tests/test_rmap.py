"""Seed 001's mappings: exact gradient, DPE calibration, Representable Matrices beating both."""
import numpy as np
import pytest

from archsim.sim import crossbar as cb
from archsim.sim import rmap
from archsim.model.errors import ArchsimError

CELLS = rmap.CellRange(1 / 3e6, 1 / 2e3, 8)
PAR = cb.Parasitics(1.0, 100.0, 100.0)


def target(n, m=None, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 1.0, (n, m or n))


def test_gradient_matches_finite_differences():
    W = target(3, 4)  # 3 outputs x 4 inputs
    g = np.random.default_rng(1).uniform(1e-5, 4e-4, (4, 3))
    alpha = CELLS.g_max / W.max()
    R = W - cb.effective_matrix(g, PAR) / alpha
    grad = rmap._gradient(g, PAR, R, alpha)
    f = lambda gg: ((W - cb.effective_matrix(gg, PAR) / alpha) ** 2).sum()
    h = 1e-9
    for idx in [(0, 0), (3, 2), (1, 1)]:
        gp, gm = g.copy(), g.copy()
        gp[idx] += h
        gm[idx] -= h
        assert grad[idx] == pytest.approx((f(gp) - f(gm)) / (2 * h), rel=1e-4)


def test_linear_without_parasitics_is_exact_up_to_quantization():
    W = target(8)
    m = rmap.linear(W, cb.Parasitics(), CELLS)
    assert m.value_error < 1e-20
    step = (CELLS.g_max - CELLS.g_min) / 255 / m.alpha
    assert np.abs(W - m.w_r).max() <= step / 2 + 1e-12


def test_dpe_calibration_zeroes_error_on_v_cal():
    W = target(12)
    v_cal = np.full(12, 0.1)
    fine = rmap.CellRange(CELLS.g_min, CELLS.g_max, 30)  # no quantization to speak of
    alpha = 0.05 * CELLS.g_max / W.max()                  # low utilization: no cell pinned at g_max
    m = rmap.dpe(W, PAR, fine, v_cal, alpha=alpha, iters=200)
    lin = rmap.linear(W, PAR, fine)
    res = np.abs((W - m.w_r) @ v_cal).max() / np.abs(W @ v_cal).max()
    assert res < 1e-6
    # an input other than v_cal is not exact, but far better than no compensation
    v = np.random.default_rng(2).uniform(0, 0.2, 12)
    assert np.abs((W - m.w_r) @ v).max() < np.abs((W - lin.w_r) @ v).max()


def test_representable_beats_dpe_and_linear():
    W = target(16)
    v_cal = np.full(16, 0.1)
    rm = rmap.representable(W, PAR, CELLS, v_cal, scan=6, gd_iters=10)
    dpe = rmap.dpe(W, PAR, CELLS, v_cal, alpha=rm.alpha)
    lin = rmap.linear(W, PAR, CELLS)
    e = {k: rmap.max_output_error(W, m, 0.2) for k, m in (("rm", rm), ("dpe", dpe), ("lin", lin))}
    assert e["rm"] < e["dpe"] < e["lin"]
    assert rm.alpha < CELLS.g_max / W.max()   # IR drop pushes the search below full-range utilization
    assert 0 < rm.utilization < 1


def test_bad_target():
    with pytest.raises(ArchsimError, match="non-negative"):
        rmap.linear(-target(3), PAR, CELLS)


def test_realize_layer_splits_signs_and_blocks_and_is_exact_without_parasitics():
    rng = np.random.default_rng(7)
    W = rng.standard_normal((20, 30))            # 20 outputs x 30 inputs: 3 x 2 blocks per sign
    out = rmap.realize_layer(W, 16, 8, cb.Parasitics(), CELLS, 0.1, methods=("linear", "dpe"))
    for k, Wr in out.items():
        assert Wr.shape == W.shape
        # each array's scale is its own block's largest value: error within half a conductance step plus the
        # g_min floor (a zero weight reads g_min / alpha), for the W+ and the W- array
        for r0 in range(0, 30, 16):
            for c0 in range(0, 20, 8):
                blk = W[c0:c0 + 8, r0:r0 + 16]
                bound = (blk.max() - blk.min()) * (0.5 / 255 + CELLS.g_min / CELLS.g_max) + 1e-12
                assert np.abs(Wr[c0:c0 + 8, r0:r0 + 16] - blk).max() <= bound, k
    # the same layer through processes: identical
    again = rmap.realize_layer(W, 16, 8, cb.Parasitics(), CELLS, 0.1, methods=("linear",), workers=2)
    np.testing.assert_array_equal(again["linear"], out["linear"])


def test_realize_layer_rm_beats_linear_with_ir_drop():
    rng = np.random.default_rng(8)
    W = rng.standard_normal((12, 24))
    quick = dict(scan=4, quick_iters=2, gd_iters=6, refine=1)
    out = rmap.realize_layer(W, 16, 16, PAR, CELLS, 0.1, methods=("linear", "rm"), rm_kw=quick)
    err = {k: np.linalg.norm(v - W) / np.linalg.norm(W) for k, v in out.items()}
    assert err["rm"] < 0.5 * err["linear"]
    with pytest.raises(ArchsimError, match="method 'best' is not allowed"):
        rmap.realize_layer(W, 16, 16, PAR, CELLS, 0.1, methods=("best",))

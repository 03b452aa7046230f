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
    m = rmap.dpe(W, PAR, fine, v_cal, alpha=alpha, iters=400, tol=1e-11)   # converged far below the check
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
    with pytest.raises(ArchsimError, match="v_cal must hold 3 finite voltages"):
        rmap.dpe(target(3), PAR, CELLS, np.full(4, 0.1))


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


def test_every_method_of_the_table_realizes_a_layer_in_processes_as_in_one():
    """Each method of ``rmap.REALIZE`` (the five of ``METHODS``, in order) gives a matrix of the layer's shape,
    the same bit for bit through two worker processes (the table is read in each worker, never pickled)."""
    assert rmap.METHODS == ("linear", "dpe_plain", "dpe", "dpe_at_rm_alpha", "rm")
    W = np.random.default_rng(9).standard_normal((6, 8))          # 2 x 1 blocks per sign: small and quick
    quick = dict(scan=2, quick_iters=1, gd_iters=2, refine=1)
    one = rmap.realize_layer(W, 8, 4, PAR, CELLS, 0.1, methods=rmap.METHODS, rm_kw=quick)
    two = rmap.realize_layer(W, 8, 4, PAR, CELLS, 0.1, methods=rmap.METHODS, rm_kw=quick, workers=2)
    assert tuple(one) == rmap.METHODS
    for k in rmap.METHODS:
        assert one[k].shape == W.shape and np.isfinite(one[k]).all(), k
        np.testing.assert_array_equal(two[k], one[k])


def test_dpe_with_ideal_circuit_is_the_linear_mapping_within_a_step():
    # no parasitics at all: nothing to calibrate, the fallback never fires, W_r = quantized alpha W^T / alpha
    W = target(10, 7)
    m = rmap.dpe(W, cb.Parasitics(), CELLS, np.full(7, 0.1))
    assert m.alpha == CELLS.g_max / W.max()
    step = (CELLS.g_max - CELLS.g_min) / 255 / m.alpha
    assert np.abs(W - m.w_r).max() <= step / 2 + 1e-12      # half a conductance step (+ rounding of 1e-12)
    assert m.utilization_max == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("r_wire", [0.0, 1.0])
def test_dpe_fallback_calibrates_where_the_plain_calibration_pins_cells(r_wire):
    # seed 001's R_in = R_out = 100 ohm against 2 kohm cells: full range asks for more than g_max
    par = cb.Parasitics(r_wire, 100.0, 100.0)
    n = 24
    W = target(n)
    v_cal = np.full(n, 0.1)
    fine = rmap.CellRange(CELLS.g_min, CELLS.g_max, 30)      # quantization out of the way
    plain = rmap.dpe(W, par, fine, v_cal, fallback=False)
    fb = rmap.dpe(W, par, fine, v_cal, iters=400, tol=1e-11)    # converged far below the 1e-6 check

    def vcal_err(m):
        return np.abs((W - m.w_r) @ v_cal).max() / np.abs(W @ v_cal).max()

    assert vcal_err(plain) > 0.05                             # pinned cells keep a large error on v_cal itself
    assert (plain.g >= CELLS.g_max * (1 - 1e-9)).mean() > 0.1
    # the fallback: W v_cal reproduced (fixed point to 1e-11 of g_max), ideal currents lowered until the
    # largest cell sits at g_max
    assert vcal_err(fb) < 1e-6
    assert fb.alpha < CELLS.g_max / W.max()
    assert fb.utilization_max == pytest.approx(1.0, abs=1e-6)
    assert rmap.max_output_error(W, fb, 0.2) < 0.2 * rmap.max_output_error(W, plain, 0.2)


def test_dpe_fallback_within_quantization_on_v_cal_with_8_bit_cells():
    # with 8-bit cells the calibrated product misses W v_cal by at most half a step per cell, summed
    par = cb.Parasitics(0.0, 100.0, 100.0)
    W = target(16)
    v_cal = np.full(16, 0.1)
    m = rmap.dpe(W, par, CELLS, v_cal)
    step_w = (CELLS.g_max - CELLS.g_min) / 255 / m.alpha     # one conductance step in units of W
    assert np.abs((W - m.w_r) @ v_cal).max() <= 0.5 * step_w * v_cal.sum()


def test_utilization_is_a_share_of_the_range():
    W = target(12)
    v_cal = np.full(12, 0.1)
    lin = rmap.linear(W, cb.Parasitics(), CELLS)
    # linear at full range: the largest weight at g_max, the mean what alpha W implies, to half a step (1/510)
    assert lin.utilization_max == pytest.approx(1.0, abs=1e-12)
    expect = ((CELLS.clip(lin.alpha * W) - CELLS.g_min) / (CELLS.g_max - CELLS.g_min)).mean()
    assert lin.utilization == pytest.approx(expect, abs=0.5 / 255)
    rm = rmap.representable(W, PAR, CELLS, v_cal, scan=4, gd_iters=8, refine=1)
    for m in (lin, rm, rmap.dpe(W, PAR, CELLS, v_cal)):
        assert 0.0 <= m.utilization <= m.utilization_max <= 1.0
    # RM realizes W at its own scale alpha: its cells carry at least alpha W less the IR-drop compensation's
    # opposite (none: drops only shrink currents), so its largest cell is at least alpha max(W), to two steps
    assert rm.utilization_max >= (rm.alpha * W.max() - CELLS.g_min) / (CELLS.g_max - CELLS.g_min) - 2 / 255


def test_realize_layer_reports_utilization_per_method():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((10, 20))
    out, util = rmap.realize_layer(W, 16, 8, cb.Parasitics(), CELLS, 0.1, methods=("linear", "dpe"),
                                   utilization=True)
    for k, (mean, mx) in util.items():
        assert 0.0 < mean < mx <= 1.0
        assert mx == pytest.approx(1.0, abs=1e-12), k        # each block's largest weight sits at g_max


def test_partitioned_array_reads_back_the_product_in_an_ideal_circuit():
    # seed 000's layout: 3 parts of 8 rows x 4 outputs on one 8 x 12 array, signed weights, affine cells
    rng = np.random.default_rng(11)
    W = rng.standard_normal((4, 22))                           # 22 inputs: the last part is partly empty
    cells = rmap.CellRange(100e-6, 700e-6, 52)
    p = rmap.partition_affine(W, 8, 12, cells)
    assert p.parts == 3 and p.g.min() >= cells.g_min and p.g.max() == pytest.approx(cells.g_max, rel=1e-12)
    x = np.zeros((5, 24))
    x[:, :22] = rng.uniform(0, 1, (5, 22))
    G = cb.effective_matrix(p.g, cb.Parasitics())
    got = p.nominal(p.currents(G, x, 0.2), x, 0.2)
    # exact up to rounding: currents of 1e-4 A summed over 24 cells, relative 1e-12
    np.testing.assert_allclose(got, x[:, :22] @ W.T, rtol=0, atol=1e-10 * np.abs(x[:, :22] @ W.T).max())
    with pytest.raises(ArchsimError, match="need 16 columns"):
        rmap.partition_affine(W[:, :16], 4, 12, cells)


def test_dpe_demo_cell_is_dpe_taox_at_the_slides_precision():
    # seed 000: 100-700 uS programmed, 'Memristor is <4 bit for the given range'; the same range as dpe_taox
    from archsim.io import techlib
    from archsim.model.device import Device
    demo = Device.from_record(techlib.device(str(techlib.DEVICE_DIR / "variants" / "dpe_taox_demo.yaml")))
    full = Device.from_record(techlib.device("dpe_taox"))
    assert demo.levels <= 16 < full.levels
    assert (demo.g_min, demo.g_max) == (full.g_min, full.g_max)
    assert "dpe_taox_demo" not in techlib.device_names()      # a variant: sweeps over devices do not grow

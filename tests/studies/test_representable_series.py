"""Seed 001's paper circuit against archsim's: an access transistor's series resistance in every cell, and
one cell per weight (with a digital offset) in place of a differential pair."""
import re
import shutil

import numpy as np
import pytest

from archsim.model.errors import ArchsimError
from archsim.sim import crossbar as cb
from archsim.sim import rmap

PAR = cb.Parasitics(1.0, 100.0, 100.0)        # seed 001 section VI: r_w = 1 ohm, R_in = R_out = 100 ohm
V_CAL = 0.1                                    # v_max / 2


def target(n, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 1.0, (n, n))


def test_series_range_is_one_over_r_plus_r_series():
    c0 = rmap.CellRange.in_series(2e3, 3e6, 8)
    c8 = rmap.CellRange.in_series(2e3, 3e6, 8, 8e3)
    assert (c0.g_min, c0.g_max) == (1 / 3e6, 1 / 2e3)
    # 1 / (R + r_s): the range shrinks, the top far more than the bottom (rel 1e-15: two float roundings)
    assert c8.g_max == pytest.approx(1 / 10e3, rel=1e-15)
    assert c8.g_min == pytest.approx(1 / 3.008e6, rel=1e-15)
    assert c8.g_max / c8.g_min < c0.g_max / c0.g_min / 4
    for bad in [(2e3, 3e6, 8, -1.0), (3e6, 2e3, 8, 0.0), (0.0, 3e6, 8, 0.0), (2e3, 3e6, 8, float("nan"))]:
        with pytest.raises(ArchsimError, match="r_series"):
            rmap.CellRange.in_series(*bad)


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed (apt-get install ngspice)")
def test_series_pair_is_one_ideal_conductor_against_spice():
    # seed 001 section V-A replaces memristor + access transistor by one conductor; for linear devices that
    # is exact. ngspice gets every cell as two resistors through an inner node, archsim one 1/(R + r_s).
    r_s = 8e3
    M, N = 8, 6
    r_mem = 1 / np.random.default_rng(3).uniform(1 / 3e6, 1 / 2e3, (M, N))
    v = np.random.default_rng(4).uniform(0, 0.2, M)
    g_pair = 1 / (r_mem + r_s)
    deck = cb.spice_netlist(1 / r_mem, PAR, v)

    def split(m):
        i, j, a, b = m.group(1), m.group(2), m.group(3), m.group(4)
        return f"Rg{i}_{j} {a} p{i}_{j} {float(r_mem[int(i), int(j)]):.17g}\nRt{i}_{j} p{i}_{j} {b} {r_s:.17g}"

    deck, count = re.subn(r"^Rg(\d+)_(\d+) (\S+) (\S+) \S+$", split, deck, flags=re.M)
    assert count == M * N
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/x.cir", "w") as fh:
            fh.write(deck)
        out = subprocess.run(["ngspice", "-b", f"{d}/x.cir"], capture_output=True, text=True, timeout=120).stdout
    spice = np.array([float(x) for _, x in sorted(
        (int(m.group(1)), m.group(2)) for m in re.finditer(r"i\(vs(\d+)\)\s*=\s*([-+0-9.eE]+)", out))])
    ours = cb.effective_matrix(g_pair, PAR) @ v
    assert spice.shape == (N,)
    # 1e-6: ngspice's printed 15 digits and its default solver tolerances, as tests/test_crossbar.py
    assert np.abs(ours - spice).max() / np.abs(ours).max() < 1e-6


def test_dpe_calibrates_with_a_series_resistance_and_its_error_falls_as_it_grows():
    # the series resistance lowers every cell's current against R_in / R_out and the wires: less IR drop for
    # DPE to miss away from v_cal, while its calibration on v_cal stays exact
    n = 16
    W = target(n)
    v_cal = np.full(n, V_CAL)
    errs = []
    for r_s in (0.0, 2e3, 8e3):
        c = rmap.CellRange.in_series(2e3, 3e6, 30, r_s)          # 30 bits: quantization out of the way
        m = rmap.dpe(W, PAR, c, v_cal, iters=400, tol=1e-11)
        # fixed point converged to 1e-11 of g_max: the product under v_cal matches far below 1e-6
        assert np.abs((W - m.w_r) @ v_cal).max() / np.abs(W @ v_cal).max() < 1e-6
        errs.append(rmap.max_output_error(W, m, 0.2))
    assert errs[0] > errs[1] > errs[2]


def test_dpe_fallback_keeps_more_of_the_range_as_the_series_resistance_grows():
    # [5]'s fallback lowers the ideal currents until the largest cell sits at g_max; how far it must lower
    # them is set by how much of a full-range cell's current R_in, R_out and the wires take. With r_s in
    # series that share falls, so the scale (a share of full range, alpha max(W) / g_max) rises toward the
    # ideal circuit's 1, and with it the mean utilization (compared over r_s that keep g_max / g_min large:
    # at 1 Mohm the range itself is only 4:1 and the utilization means something else)
    n = 16
    W = target(n, seed=1)
    v_cal = np.full(n, V_CAL)
    share, util = [], []
    for r_s in (0.0, 2e3, 8e3, 1e6):
        c = rmap.CellRange.in_series(2e3, 3e6, 8, r_s)
        m = rmap.dpe(W, PAR, c, v_cal)
        share.append(m.alpha * W.max() / c.g_max)
        util.append(m.utilization)
    assert share[0] < share[1] < share[2] < share[3] <= 1.0
    assert util[0] < util[1] < util[2]
    # 1 Mohm in series: 16 cells of a row draw 16 x 0.1 V / 1 Mohm, 0.16 mV across R_in (0.16% of v_cal), and
    # a column the same across R_out: the scale is full range less about 0.3%, within 0.5%
    assert share[3] == pytest.approx(1.0, abs=5e-3)


def test_one_cell_per_weight_holds_the_shifted_matrix_and_takes_the_offset_off_exactly():
    rng = np.random.default_rng(5)
    W = rng.laplace(0.0, 0.05, (12, 20))                 # heavy-tailed, signed, like trained weights
    cells = rmap.CellRange.in_series(2e3, 3e6, 8)
    out = rmap.realize_layer(W, 16, 8, cb.Parasitics(), cells, V_CAL, methods=("linear", "dpe"), pairs=False)
    # ideal circuit: W - min(W) on the arrays, each block at its own full range; the error is at most half
    # a conductance step of the shifted range (plus 1e-12 of float rounding)
    step = (W.max() - W.min()) / 255
    for k, wr in out.items():
        assert np.abs(wr - W).max() <= step / 2 + 1e-12, k
    # with IR drop: the shifted matrix is dense and mid-range, so each array draws more current than a pair's
    # mostly-g_min arrays; DPE keeps more error and the cells use more of the range
    one, u1 = rmap.realize_layer(W, 16, 8, PAR, cells, V_CAL, methods=("dpe",), pairs=False, utilization=True)
    two, u2 = rmap.realize_layer(W, 16, 8, PAR, cells, V_CAL, methods=("dpe",), utilization=True)
    assert u1["dpe"][0] > 2 * u2["dpe"][0]

    def rel(wr):
        return np.linalg.norm(wr - W) / np.linalg.norm(W)
    assert rel(one["dpe"]) > rel(two["dpe"])

"""Crossbar circuit solver: exact in the ideal limit, equal to per-vector nodal solves and to SPICE."""
import shutil

import numpy as np
import pytest

from archsim.sim import crossbar as cb
from archsim.model.errors import ArchsimError

SEED001 = cb.Parasitics(r_wire=1.0, r_in=100.0, r_out=100.0)   # seed 001 section VI


def rand_g(shape, seed=0):
    # seed 001's range: 2 kohm .. 3 Mohm
    return np.random.default_rng(seed).uniform(1 / 3e6, 1 / 2e3, shape)


def test_single_cell_is_a_series_circuit():
    g = np.array([[1e-4]])
    p = cb.Parasitics(r_wire=3.0, r_in=50.0, r_out=20.0)
    expected = 1.0 / (50.0 + 3.0 + 1e4 + 3.0 + 20.0)
    assert cb.effective_matrix(g, p)[0, 0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("shape", [(20, 13), (13, 20), (1, 7), (7, 1), (32, 32)])
def test_effective_matrix_equals_per_vector_solves(shape):
    g = rand_g(shape)
    v = np.random.default_rng(1).uniform(0, 0.2, (shape[0], 3))
    G = cb.effective_matrix(g, SEED001)
    for k in range(3):
        ref = cb.solve_vector(g, SEED001, v[:, k])
        np.testing.assert_allclose(G @ v[:, k], ref, rtol=1e-10, atol=0)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (6, 1), (7, 5), (16, 16)])
def test_cell_voltages_equal_sparse_nodal_solves(shape):
    import scipy.sparse.linalg as spla

    g = rand_g(shape, seed=5)
    M, N = shape
    V = np.random.default_rng(6).uniform(0, 0.2, (M, 3))
    P, Q = cb.cell_voltages(g, SEED001, V, adjoint=True)
    Y, B, S = cb.nodal_system(g, SEED001)
    x = spla.spsolve(Y.tocsc(), B @ V).reshape(2 * M * N, 3)
    q = spla.spsolve(Y.tocsc(), S.T.toarray()).reshape(2 * M * N, N)
    np.testing.assert_allclose(P, (x[:M * N] - x[M * N:]).reshape(M, N, 3), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(Q, (q[:M * N] - q[M * N:]).reshape(M, N, N), rtol=1e-10, atol=1e-14)
    # the current through every cell, summed down a column and read through R_out, is the output
    out = (g[:, :, None] * P).sum(axis=0)
    np.testing.assert_allclose(out, cb.effective_matrix(g, SEED001) @ V, rtol=1e-10)


def test_zero_parasitics_give_ideal_product():
    g = rand_g((9, 5))
    assert np.array_equal(cb.effective_matrix(g, cb.Parasitics()), g.T)


def test_zero_wire_is_the_limit_of_small_wire():
    g = rand_g((12, 10))
    for r_in, r_out in [(100.0, 0.0), (0.0, 100.0), (100.0, 100.0)]:
        merged = cb.effective_matrix(g, cb.Parasitics(0.0, r_in, r_out))
        tiny = cb.effective_matrix(g, cb.Parasitics(1e-7, r_in, r_out))
        np.testing.assert_allclose(merged, tiny, rtol=1e-5)


@pytest.mark.parametrize("r_in,r_out", [(100.0, 0.0), (0.0, 100.0), (100.0, 100.0), (0.0, 0.0)])
def test_merged_wire_cell_voltages_are_the_small_wire_limit_and_give_the_sensitivity(r_in, r_out):
    g = rand_g((6, 5), seed=3)
    V = np.random.default_rng(4).uniform(0, 0.2, (6, 2))
    par = cb.Parasitics(0.0, r_in, r_out)
    P, Q = cb.cell_voltages(g, par, V, adjoint=True)
    Pt, Qt = cb.cell_voltages(g, cb.Parasitics(1e-7, r_in, r_out), V, adjoint=True)
    # the merged nodes are the limit of vanishing wire: the gap is of order r_w g N (1e-7 x 5e-4 x 6)
    np.testing.assert_allclose(P, Pt, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(Q, Qt, rtol=1e-5, atol=1e-9)
    # Kirchhoff: the cell currents summed down each column are the outputs
    np.testing.assert_allclose((g[:, :, None] * P).sum(axis=0), cb.effective_matrix(g, par) @ V, rtol=1e-10)
    # dG_eff[n, m] / dg_ij = -Q[i, j, n] P[i, j, m] (unit inputs), against central differences; h is 1e-6 of
    # g_max, small enough for the cubic term; rounding (eps x |G_eff| / h, about 1e-10 against entries up to
    # 1) is the floor, hence the absolute tolerance at 1e-8 of the largest entry
    Pu, _ = cb.cell_voltages(g, par, adjoint=True)
    h = 5e-10
    for i, j in [(0, 0), (5, 4), (2, 3)]:
        gp, gm = g.copy(), g.copy()
        gp[i, j] += h
        gm[i, j] -= h
        fd = (cb.effective_matrix(gp, par) - cb.effective_matrix(gm, par)) / (2 * h)
        np.testing.assert_allclose(fd, -np.outer(Q[i, j], Pu[i, j]), rtol=1e-5, atol=1e-8 * np.abs(fd).max())


def test_ir_drop_only_loses_current_and_grows_with_wire_and_size():
    err = {}
    for n in (16, 64):
        g = rand_g((n, n))
        for rw in (0.5, 2.0):
            G = cb.effective_matrix(g, cb.Parasitics(rw, 100.0, 100.0))
            v = np.full(n, 0.2)
            # sneak paths may add to one entry, but with every row driven each column loses current
            assert (G @ v < g.T @ v).all()
            err[n, rw] = np.abs(G @ v - g.T @ v).max() / np.abs(g.T @ v).max()
    assert err[16, 2.0] > err[16, 0.5] and err[64, 0.5] > err[16, 0.5]


def test_bad_input():
    with pytest.raises(ArchsimError, match="'r_wire' = -1"):
        cb.Parasitics(r_wire=-1)
    with pytest.raises(ArchsimError, match="conductances must be finite and >= 0"):
        cb.effective_matrix(np.array([[-1.0]]), SEED001)


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed (apt-get install ngspice)")
@pytest.mark.parametrize("shape", [(8, 6), (16, 16)])
def test_agrees_with_spice(shape):
    g = rand_g(shape, seed=3)
    v = np.random.default_rng(4).uniform(0, 0.2, shape[0])
    ours = cb.effective_matrix(g, SEED001) @ v
    spice = cb.spice_currents(g, SEED001, v)
    assert np.abs(ours - spice).max() / np.abs(ours).max() < 1e-6

"""Crossbar circuit with wire resistance: modified nodal analysis on sparse matrices.

The circuit (seed 001, eq. 2-3): an ``M``-input x ``N``-output crossbar.  Row
``i`` is driven from its left end by an ideal source ``V_i`` behind ``R_in``;
wire segments of ``r_w`` join the crosspoints along each row and each column,
the first row segment (driver to first crosspoint) included; a conductance
``g_ij`` joins row node ``(i, j)`` to column node ``(i, j)``; each column is
read at its far end (below the last row) through one more segment ``r_w`` and
``R_out`` into a virtual ground (a transimpedance amplifier).  The output is
the current into that ground.

Nodal analysis gives ``Y(g) v = B V`` and ``I = S v``, so the crossbar is the
linear map ``I = G_eff V`` with ``G_eff = S Y(g)^-1 B`` (N x M).  One sparse
LU factorization of ``Y`` and one solve with all ``N`` output directions at
once (``Y^T Z = S^T``, ``G_eff = Z^T B``) give the effective matrix; every
MVM afterwards is a plain matrix product.  With ``r_w = 0`` the nodes of a
wire merge and a small dense system (``M + N`` unknowns) is solved instead;
with ``r_w = R_in = R_out = 0`` the result is exactly ``G^T``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .errors import ArchsimError


@dataclass(frozen=True)
class Parasitics:
    """Wire resistance per segment and the driver / sense resistances, in ohms."""

    r_wire: float = 0.0
    r_in: float = 0.0
    r_out: float = 0.0

    def __post_init__(self):
        for k in ("r_wire", "r_in", "r_out"):
            v = getattr(self, k)
            if not np.isfinite(v) or v < 0:
                raise ArchsimError(f"crossbar parasitics: '{k}' = {v!r} ohm; allowed a finite value >= 0")

    @property
    def ideal(self) -> bool:
        return self.r_wire == 0 and self.r_in == 0 and self.r_out == 0


def _check(g: np.ndarray) -> np.ndarray:
    g = np.asarray(g, dtype=float)
    if g.ndim != 2 or min(g.shape) < 1:
        raise ArchsimError(f"crossbar: conductance matrix must be 2-D (rows x cols), got shape {g.shape}")
    if not np.isfinite(g).all() or (g < 0).any():
        raise ArchsimError("crossbar: conductances must be finite and >= 0 siemens")
    return g


def nodal_system(g: np.ndarray, par: Parasitics):
    """Sparse ``Y`` (2MN x 2MN), ``B`` (2MN x M) and ``S`` (N x 2MN) of the crossbar; needs ``r_wire > 0``."""
    g = _check(g)
    if par.r_wire <= 0:
        raise ArchsimError("crossbar: nodal_system needs r_wire > 0 (r_wire = 0 merges the wire nodes)")
    M, N = g.shape
    MN = M * N
    gw = 1.0 / par.r_wire
    g_in = 1.0 / (par.r_in + par.r_wire)
    g_out = 1.0 / (par.r_out + par.r_wire)
    row = np.arange(MN).reshape(M, N)
    col = MN + row
    rows_i, cols_i, vals = [], [], []

    def couple(a, b, c):
        rows_i.extend([a, b, a, b])
        cols_i.extend([a, b, b, a])
        vals.extend([c, c, -c, -c])

    gflat = g.ravel()
    couple(row.ravel(), col.ravel(), gflat)                            # devices
    couple(row[:, :-1].ravel(), row[:, 1:].ravel(), np.full(M * (N - 1), gw))  # row wires
    couple(col[:-1, :].ravel(), col[1:, :].ravel(), np.full((M - 1) * N, gw))  # column wires
    rows_i.extend([row[:, 0], col[-1, :]])
    cols_i.extend([row[:, 0], col[-1, :]])
    vals.extend([np.full(M, g_in), np.full(N, g_out)])
    Y = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))), shape=(2 * MN, 2 * MN))
    B = sp.csc_matrix((np.full(M, g_in), (row[:, 0], np.arange(M))), shape=(2 * MN, M))
    S = sp.csr_matrix((np.full(N, g_out), (np.arange(N), col[-1, :])), shape=(N, 2 * MN))
    return Y, B, S


def _merged_wires(g: np.ndarray, par: Parasitics) -> np.ndarray:
    """``r_wire = 0``: one node per row and per column; solve the (M + N) system densely."""
    M, N = g.shape
    if par.r_in == 0 and par.r_out == 0:
        return g.T.copy()
    # unknowns: row voltages u (M), column voltages w (N); sources enter through g_in
    if par.r_out == 0:  # columns held at virtual ground: I = g^T u
        if par.r_in == 0:
            return g.T.copy()
        g_in = 1.0 / par.r_in
        d = g_in + g.sum(axis=1)  # u_i = g_in V_i / (g_in + sum_j g_ij)
        return (g / d[:, None] * g_in).T
    g_out = 1.0 / par.r_out
    if par.r_in == 0:  # rows held at V: w = (g_out + sum_i g_ij)^-1 g^T V
        dw = g_out + g.sum(axis=0)
        return g_out * (g.T / dw[:, None])
    g_in = 1.0 / par.r_in
    A = np.zeros((M + N, M + N))
    A[:M, :M] = np.diag(g_in + g.sum(axis=1))
    A[:M, M:] = -g
    A[M:, :M] = -g.T
    A[M:, M:] = np.diag(g_out + g.sum(axis=0))
    rhs = np.zeros((M + N, M))
    rhs[:M, :M] = np.eye(M) * g_in
    sol = np.linalg.solve(A, rhs)
    return g_out * sol[M:, :]


def effective_matrix(g: np.ndarray, par: Parasitics) -> np.ndarray:
    """``G_eff`` (N x M): output currents per input volt, parasitics included.

    Each row wire is a tridiagonal chain; eliminating the row nodes leaves a
    block-tridiagonal system in the column nodes (one dense ``N x N`` block per
    row, coupled to the next row by the column wires, a diagonal ``r_w^-1``).
    A forward block elimination down the rows, carrying only the inputs seen so
    far, reaches the last row, where the columns are read: ``O(M N^3)`` dense
    work and no fill-in of a general sparse factorization.
    """
    g = _check(g)
    if par.r_wire == 0:
        return _merged_wires(g, par)
    M, N = g.shape
    gw = 1.0 / par.r_wire
    g_in = 1.0 / (par.r_in + par.r_wire)
    g_out = 1.0 / (par.r_out + par.r_wire)
    # row chain i: A_i = tridiag(-gw, diag, -gw) + diag(g_i) with the driver at node 0
    nbr = np.full(N, 2.0 * gw)
    nbr[-1] = gw
    if N == 1:
        nbr[0] = 0.0
    else:
        nbr[0] = gw
    ab = np.zeros((3, N))
    ab[0, 1:] = -gw
    ab[2, :-1] = -gw
    col_nbr = np.full(M, 2.0 * gw)
    col_nbr[0] = gw
    col_nbr[-1] = gw if M > 1 else 0.0
    shat = None
    rhat = None
    e0 = np.zeros((N, 1))
    e0[0, 0] = g_in
    for i in range(M):
        gi = g[i]
        ab[1] = nbr + gi
        ab[1, 0] += g_in
        rhs = np.concatenate([np.diag(gi), e0], axis=1)
        sol = sla.solve_banded((1, 1), ab, rhs, check_finite=False)  # A_i^-1 [D_i, g_in e_0]
        kd = -(gi[:, None] * sol[:, :N])
        kd[np.diag_indices(N)] += gi + col_nbr[i] + (g_out if i == M - 1 else 0.0)
        r_i = gi * sol[:, N]  # input i's drive reaching the column nodes of row i
        if i == 0:
            shat, rhat = kd, r_i[:, None]
        else:
            inv = np.linalg.inv(shat)
            shat = kd - (gw * gw) * inv
            rhat = np.concatenate([gw * (inv @ rhat), r_i[:, None]], axis=1)
    x = np.linalg.solve(shat, rhat)
    return g_out * x


def solve_vector(g: np.ndarray, par: Parasitics, v: np.ndarray) -> np.ndarray:
    """Output currents for one input vector, by a direct nodal solve (the per-vector reference)."""
    g = _check(g)
    if par.r_wire == 0:
        return _merged_wires(g, par) @ np.asarray(v, float)
    Y, B, S = nodal_system(g, par)
    return S @ spla.spsolve(Y, B @ np.asarray(v, float))


def spice_netlist(g: np.ndarray, par: Parasitics, v: np.ndarray) -> str:
    """The same circuit as a SPICE deck (ngspice): sources, wires, devices, 0 V sense sources at the outputs."""
    g = _check(g)
    M, N = g.shape
    lines = ["* archsim crossbar", ".options noacct"]

    def res(name, n1, n2, ohm):
        # a zero resistance is a short: a 0 V source joins the nodes
        lines.append(f"R{name} {n1} {n2} {ohm:.17g}" if ohm > 0 else f"Vz{name} {n1} {n2} DC 0")

    for i in range(M):
        lines.append(f"V{i} in{i} 0 DC {float(v[i]):.17g}")
        res(f"in{i}", f"in{i}", f"d{i}", par.r_in)
        res(f"w{i}_0", f"d{i}", f"r{i}_0", par.r_wire)
        for j in range(1, N):
            res(f"w{i}_{j}", f"r{i}_{j - 1}", f"r{i}_{j}", par.r_wire)
    for j in range(N):
        for i in range(1, M):
            res(f"c{i}_{j}", f"c{i - 1}_{j}", f"c{i}_{j}", par.r_wire)
        res(f"cl{j}", f"c{M - 1}_{j}", f"o{j}", par.r_wire)
        res(f"out{j}", f"o{j}", f"s{j}", par.r_out)
        lines.append(f"Vs{j} s{j} 0 DC 0")
    for i in range(M):
        for j in range(N):
            if g[i, j] > 0:
                lines.append(f"Rg{i}_{j} r{i}_{j} c{i}_{j} {1.0 / g[i, j]:.17g}")
    probes = " ".join(f"i(vs{j})" for j in range(N))
    lines += [".control", "set numdgt=15", "op", f"print {probes}", ".endc", ".end"]
    return "\n".join(lines)


def spice_currents(g: np.ndarray, par: Parasitics, v: np.ndarray, ngspice: str = "ngspice") -> np.ndarray:
    """Output currents from ngspice in batch mode (the current into each virtual ground)."""
    import re
    import subprocess
    import tempfile

    g = _check(g)
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/crossbar.cir"
        with open(path, "w") as fh:
            fh.write(spice_netlist(g, par, v))
        out = subprocess.run([ngspice, "-b", path], capture_output=True, text=True, timeout=600).stdout
    vals = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"i\(vs(\d+)\)\s*=\s*([-+0-9.eE]+)", out)}
    if len(vals) != g.shape[1]:
        raise ArchsimError(f"ngspice returned {len(vals)} of {g.shape[1]} output currents")
    # ngspice reports the current flowing into the source's + node: current into ground is its value
    return np.array([vals[j] for j in range(g.shape[1])])

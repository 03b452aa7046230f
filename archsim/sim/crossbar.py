"""Crossbar circuit with wire resistance: modified nodal analysis on sparse matrices.

The circuit (Zhang et al., ASP-DAC 2020, eq. 2-3): an ``M``-input x ``N``-output crossbar.  Row
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


import numpy as np
from numba import njit
from scipy.linalg import blas, lapack
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from archsim.io.files import atomic_write
from archsim.model.arch import Parasitics  # noqa: F401  (the wires of an array; crossbar.Parasitics)
from archsim.model.errors import ArchsimError


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


def _merged_matrix(g: np.ndarray, g_in: float, g_out: float) -> np.ndarray:
    """Nodal matrix of a crossbar with ideal wires, one node per row (M) then per column (N): each row node
    tied to its source through ``g_in`` and to every column through its cells; each column node to its
    sense node through ``g_out``."""
    M, N = g.shape
    A = np.zeros((M + N, M + N))
    A[:M, :M] = np.diag(g_in + g.sum(axis=1))
    A[:M, M:] = -g
    A[M:, :M] = -g.T
    A[M:, M:] = np.diag(g_out + g.sum(axis=0))
    return A


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
    A = _merged_matrix(g, g_in, g_out)
    rhs = np.zeros((M + N, M))
    rhs[:M, :M] = np.eye(M) * g_in
    sol = np.linalg.solve(A, rhs)
    return g_out * sol[M:, :]


@njit(cache=True)
def _row_diagonal(gi, gw, g_in):
    """Diagonal of a row chain's nodal matrix: its wire neighbours, its cells, the driver at node 0."""
    n = gi.shape[0]
    d = np.empty(n)
    for j in range(n):
        nb = 2.0 * gw
        if n == 1:
            nb = 0.0
        elif j == 0 or j == n - 1:
            nb = gw
        d[j] = nb + gi[j]
    d[0] += g_in
    return d


@njit(cache=True)
def _row_schur(gi, gw, g_in, kd, r):
    """One row chain eliminated: ``kd = -D A^-1 D`` and ``r = D A^-1 (g_in e_0)``, ``D = diag(gi)``.

    ``A`` is the row wire's symmetric tridiagonal matrix (off-diagonal ``-gw``, the cells and the
    driver on the diagonal).  Its inverse is built column by column from the forward and backward
    elimination pivots ``p``, ``q``: ``inv[k, k] = 1 / (p_k + q_k - d_k)`` and, away from the
    diagonal, ``inv[j, k] = (gw / p_j) inv[j + 1, k]`` (each factor below 1: stable), ``O(N^2)``.
    """
    n = gi.shape[0]
    d = _row_diagonal(gi, gw, g_in)
    p = np.empty(n)
    q = np.empty(n)
    b2 = gw * gw
    p[0] = d[0]
    for j in range(1, n):
        p[j] = d[j] - b2 / p[j - 1]
    q[n - 1] = d[n - 1]
    for j in range(n - 2, -1, -1):
        q[j] = d[j] - b2 / q[j + 1]
    for k in range(n):
        x = 1.0 / (p[k] + q[k] - d[k])
        gk = gi[k]
        kd[k, k] = -gk * x * gk
        if k == 0:
            r[0] = gk * x * g_in
        for j in range(k - 1, -1, -1):
            x = gw * x / p[j]
            v = -gi[j] * x * gk
            kd[j, k] = v
            kd[k, j] = v
            if j == 0:
                r[k] = gk * x * g_in


def effective_matrix(g: np.ndarray, par: Parasitics) -> np.ndarray:
    """``G_eff`` (N x M): output currents per input volt, parasitics included.

    Each row wire is a tridiagonal chain; eliminating the row nodes leaves a
    block-tridiagonal system in the column nodes (one dense symmetric ``N x N`` block
    per row, coupled to the next row by the column wires, a diagonal ``r_w^-1``).
    A forward block elimination down the rows (Cholesky factor and inverse of each
    Schur complement), carrying only the inputs seen so far, reaches the last row,
    where the columns are read: ``O(M N^3)`` dense work in ``N x N`` blocks and no
    fill-in of a general sparse factorization.  BLAS runs on one thread for blocks up
    to :data:`SERIAL_BLAS_MAX_N` (where waking the BLAS threads costs more than it saves).
    """
    g = _check(g)
    if par.r_wire == 0:
        return _merged_wires(g, par)
    with _blas_threads(1 if g.shape[1] <= SERIAL_BLAS_MAX_N else None):
        return _eliminate(g, par)


#: largest block size (columns) for which the block elimination keeps BLAS on one thread
SERIAL_BLAS_MAX_N = 192


def _blas_threads(limit):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional (extra 'fast'): without it BLAS keeps its own thread count
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")


def _conductances(par: Parasitics, M: int):
    """Wire, driver (plus first segment) and sense (plus last segment) conductances, and each row's
    column-wire neighbours (one at the top and bottom rows)."""
    gw = 1.0 / par.r_wire
    col_nbr = np.full(M, 2.0 * gw)
    col_nbr[0] = gw
    col_nbr[-1] = gw if M > 1 else 0.0
    return gw, 1.0 / (par.r_in + par.r_wire), 1.0 / (par.r_out + par.r_wire), col_nbr


def _eliminate(g: np.ndarray, par: Parasitics) -> np.ndarray:
    M, N = g.shape
    gw, g_in, g_out, col_nbr = _conductances(par, M)
    potrf, potri = lapack.dpotrf, lapack.dpotri
    rhat = np.empty((N, M), order="F")   # drive of inputs 0..i reaching the column nodes of row i
    r = np.empty(N)
    di = np.diag_indices(N)
    shat = None
    bufs = (np.empty((N, N), order="F"), np.empty((N, N), order="F"))
    for i in range(M):
        k = bufs[i % 2]                     # Schur complement of row i (only its upper triangle is used)
        _row_schur(g[i], gw, g_in, k, r)
        k[di] += g[i] + col_nbr[i] + (g_out if i == M - 1 else 0.0)
        if i > 0:
            c, info = potrf(shat, lower=0, overwrite_a=1, clean=1)
            if info == 0:
                c, info = potri(c, lower=0, overwrite_c=1)
            if info != 0:  # pragma: no cover - Y is symmetric positive definite for g >= 0
                raise ArchsimError(f"crossbar: elimination failed at row {i} (LAPACK info {info})")
            rhat[:, :i] = blas.dsymm(gw, c, rhat[:, :i], side=0, lower=0)
            k -= (gw * gw) * c              # upper triangles agree (potrf zeroed the lower one; it is not read)
        shat = k
        rhat[:, i] = r
    c, info = potrf(shat, lower=0, overwrite_a=1, clean=1)
    x, info2 = lapack.dpotrs(c, rhat, lower=0, overwrite_b=1)
    if info != 0 or info2 != 0:  # pragma: no cover
        raise ArchsimError(f"crossbar: final solve failed (LAPACK info {info}, {info2})")
    return g_out * x


@njit(cache=True)
def _row_solve(gi, gw, g_in, x, rhs, drive):
    """Row chain ``A u = D x + g_in e_0 drive`` for many right-hand sides (Thomas); returns ``u``.

    ``x`` (N, K): column-node voltages of the row; ``drive`` (K,): the row's input voltage per
    right-hand side.  ``rhs`` (N, K) is scratch and receives ``u``."""
    n, kk = x.shape
    p = _row_diagonal(gi, gw, g_in)
    for c in range(kk):
        rhs[0, c] = gi[0] * x[0, c] + g_in * drive[c]
    for j in range(1, n):
        m = gw / p[j - 1]              # off-diagonal is -gw: eliminating row j-1 adds m x row j-1
        p[j] -= gw * m
        for c in range(kk):
            rhs[j, c] = gi[j] * x[j, c] + m * rhs[j - 1, c]
    for c in range(kk):
        rhs[n - 1, c] /= p[n - 1]
    for j in range(n - 2, -1, -1):
        for c in range(kk):
            rhs[j, c] = (rhs[j, c] + gw * rhs[j + 1, c]) / p[j]
    return rhs


def cell_voltages(g: np.ndarray, par: Parasitics, V: np.ndarray | None = None, *, adjoint: bool = False):
    """Voltage across every cell (row node minus column node), by the same block elimination.

    ``V`` (M x K) holds input voltage vectors as columns (default: the identity, one unit input per
    row).  Returns ``P`` (M, N, K); with ``adjoint`` also ``Q`` (M, N, N): the cell voltages of
    ``Y^-1 S^T``, i.e. with a current ``g_out`` injected at the read end of each column and every
    input at 0 V (``Y`` is symmetric, so this is the adjoint solve).  With them the sensitivity of
    the effective matrix to one cell is ``dG_eff[n, m] / dg_ij = -Q[i, j, n] P[i, j, m]``.  With
    ``r_wire = 0`` the wire nodes merge and a dense ``M + N`` solve gives the same quantities.

    The forward sweep stores each Schur complement's inverse and right-hand side (``M N (N + K)``
    numbers); the back substitution recovers the column nodes of every row and a tridiagonal solve
    per row the row nodes: ``O(M N^2 (N + K))`` work, no sparse factorization.
    """
    g = _check(g)
    M, N = g.shape
    V = np.eye(M) if V is None else np.asarray(V, float)
    if V.ndim != 2 or V.shape[0] != M:
        raise ArchsimError(f"crossbar: input voltages must be (rows x vectors) = ({M}, K), got {V.shape}")
    if par.r_wire == 0:
        return _merged_cell_voltages(g, par, V, adjoint)
    with _blas_threads(1 if N <= SERIAL_BLAS_MAX_N else None):
        return _cell_voltages(g, par, V, adjoint)


def _merged_nodes(g, par, v_src, w_src):
    """``r_wire = 0``: row voltages ``u`` (M, K) and column voltages ``w`` (N, K) with source ``v_src`` behind
    each ``R_in`` and ``w_src`` behind each ``R_out`` (a zero resistance holds the node at its source)."""
    M, N = g.shape
    fix_u, fix_w = par.r_in == 0, par.r_out == 0
    if fix_u and fix_w:
        return v_src, w_src
    if fix_u:      # rows held: each column node is a divider between its cells and its sense resistor
        g_out = 1.0 / par.r_out
        return v_src, (g.T @ v_src + g_out * w_src) / (g_out + g.sum(axis=0))[:, None]
    g_in = 1.0 / par.r_in
    if fix_w:      # columns held: each row node is a divider between its driver and its cells
        return (g_in * v_src + g @ w_src) / (g_in + g.sum(axis=1))[:, None], w_src
    g_out = 1.0 / par.r_out
    A = _merged_matrix(g, g_in, g_out)
    x = np.linalg.solve(A, np.vstack([g_in * v_src, g_out * w_src]))
    return x[:M], x[M:]


def _merged_cell_voltages(g, par, V, adjoint):
    """:func:`cell_voltages` for ``r_wire = 0`` by a dense solve in the ``M + N`` merged nodes.

    The adjoint direction of output ``n`` is 1 V at the sense end of column ``n`` behind ``R_out`` with every
    input at 0 V (the Norton twin of the current ``g_out`` injected there), which stays defined when
    ``R_out = 0``."""
    M, N = g.shape
    K = V.shape[1]
    u, w = _merged_nodes(g, par, V, np.zeros((N, K)))
    P = u[:, None, :] - w[None, :, :]
    if not adjoint:
        return P
    uq, wq = _merged_nodes(g, par, np.zeros((M, N)), np.eye(N))
    return P, uq[:, None, :] - wq[None, :, :]


def _cell_voltages(g, par, V, adjoint):
    M, N = g.shape
    K = V.shape[1]
    gw, g_in, g_out, col_nbr = _conductances(par, M)
    potrf, potri = lapack.dpotrf, lapack.dpotri
    di = np.diag_indices(N)
    inv = np.empty((M, N, N))          # inverse of each row's Schur complement (upper triangle valid)
    rh = np.empty((M, N, K))           # forward-swept right-hand side of each row
    r = np.empty(N)
    k = np.empty((N, N), order="F")
    for i in range(M):
        _row_schur(g[i], gw, g_in, k, r)
        k[di] += g[i] + col_nbr[i] + (g_out if i == M - 1 else 0.0)
        rh[i] = r[:, None] * V[i][None, :]
        if i > 0:
            k -= (gw * gw) * inv[i - 1].T   # F-order view of the stored upper triangle
            rh[i] += blas.dsymm(gw, inv[i - 1].T, rh[i - 1], side=0, lower=0)
        c, info = potrf(k, lower=0, overwrite_a=1, clean=1)
        if info == 0:
            c, info = potri(c, lower=0, overwrite_c=1)
        if info != 0:  # pragma: no cover - Y is symmetric positive definite for g >= 0
            raise ArchsimError(f"crossbar: elimination failed at row {i} (LAPACK info {info})")
        inv[i] = c.T
    ncol = K + (N if adjoint else 0)
    X = np.zeros((N, ncol))
    X[:, :K] = rh[M - 1]
    if adjoint:
        X[:, K:] = g_out * np.eye(N)
    P = np.empty((M, N, K))
    Q = np.empty((M, N, N)) if adjoint else None
    drive = np.zeros(ncol)
    u = np.empty((N, ncol))
    for i in range(M - 1, -1, -1):
        if i < M - 1:
            X *= gw
            X[:, :K] += rh[i]
        X = blas.dsymm(1.0, inv[i].T, X, side=0, lower=0)     # column-node voltages of row i
        drive[:K] = V[i]
        _row_solve(g[i], gw, g_in, X, u, drive)              # row-node voltages of row i
        P[i] = u[:, :K] - X[:, :K]
        if adjoint:
            Q[i] = u[:, K:] - X[:, K:]
    return (P, Q) if adjoint else P


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
        atomic_write(path, spice_netlist(g, par, v))       # every file archsim writes: the one output rule
        out = subprocess.run([ngspice, "-b", path], capture_output=True, text=True, timeout=600).stdout
    vals = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"i\(vs(\d+)\)\s*=\s*([-+0-9.eE]+)", out)}
    if len(vals) != g.shape[1]:
        raise ArchsimError(f"ngspice returned {len(vals)} of {g.shape[1]} output currents")
    # ngspice reports the current flowing into the source's + node: current into ground is its value
    return np.array([vals[j] for j in range(g.shape[1])])

"""Conductance pairs of varying significance (Narayanan et al., IBM 2019): W = F (G+ - G-) + (g+ - g-), programmed in a closed loop.

Narayanan, Burr et al. (IBM 2019) holds each weight on four devices, a more significant pair
(MSP) ``G+, G-`` scaled by a gain ``F`` (e.g. 3) and a less significant pair (LSP) ``g+, g-``, and programs
them in "four phases" (Mackin et al., Adv. Electr. Mater. 2019) that drive the weight error ``W - W_T``
towards 0.  archsim's version of those four phases, in units of one conductance level ``dg`` (every cell
of both pairs has the same levels; ``x = G/dg - g_min/dg`` is a cell's level, so
``W = F (x[+,MSP] - x[-,MSP]) + (x[+,LSP] - x[-,LSP])`` in weight codes):

1. the MSP cell on the weight's sign side is programmed to ``rint(|W_T| / F)`` levels (at most ``L``);
2. the weight is read back (verify); if it overshot ``W_T`` by more than the LSP can take back
   (``L_lsp`` levels), the other MSP cell is programmed to the number of levels that brings the residual
   ``r = W_T - W`` nearest the LSP's reach (``floor`` or ``ceil`` of ``(|r| - L_lsp) / F``);
3. the LSP cell on the side of the residual ``r = W_T - W`` is programmed to ``rint(|r|)`` levels;
4. if that overshot, the other LSP cell is programmed to ``rint(|r|)`` levels.

Each cell is programmed once, from its reset state (level 0), and lands where the device's error laws put it
(``law``: device-to-device variation, programming error of its target, clip, stuck cells); each later phase
sees the conductances the earlier ones really left (the verify read is taken as exact: an assumption, the
seed does not say how many reads a verify averages).  Drift and read noise come after programming and are
not corrected.  With exact devices and ``L_lsp >= F/2`` the weight lands within half a level of ``W_T``; with
programming error the LSP corrects the MSP's error, leaving the LSP's own (``F`` times smaller per unit
conductance).  Phases 1-4 stand in for the slides' pulse-by-pulse loop: archsim's devices are described by
an error law per programmed target, not by a conductance step per pulse, so the pulse budget (the seed's
"Total Pulses") is not modelled.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: indices of the programmed arrays (copies, slices, ...): copy 0 = plus, 1 = minus; slice 0 = LSP, 1 = MSP
PLUS, MINUS = 0, 1
LSP, MSP = 0, 1


def weight_codes(X: np.ndarray, F: float) -> np.ndarray:
    """The weight (in LSP levels) that cell levels ``X`` (2, 2, ...) hold: ``F (x+ - x-)_MSP + (x+ - x-)_LSP``."""
    return F * (X[PLUS, MSP] - X[MINUS, MSP]) + (X[PLUS, LSP] - X[MINUS, LSP])


def _put(T: np.ndarray, s: int, side: np.ndarray, levels: np.ndarray) -> None:
    """Targets ``levels`` into slice ``s`` of the copy named per weight by ``side`` (0 plus, 1 minus)."""
    T[PLUS, s] = np.where(side == PLUS, levels, T[PLUS, s])
    T[MINUS, s] = np.where(side == MINUS, levels, T[MINUS, s])


def closed_loop(qT: np.ndarray, F: float, L: int, L_lsp: int,
                law: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The four programming phases (module docstring) for target weights ``qT`` (in LSP levels).

    ``law(T)`` gives the levels every cell reaches when programmed to integer targets ``T`` (2, 2, *qT.shape)
    (target 0: the reset state); it must act cell by cell, so that re-evaluating it after each phase leaves
    the cells already programmed where they were.  Returns ``(T, X)``: the targets (int64) and the levels."""
    T = np.zeros((2, 2) + qT.shape, dtype=np.int64)
    X = law(T)
    main = np.where(qT >= 0, PLUS, MINUS)
    sign = np.where(main == PLUS, 1.0, -1.0)
    # phase 1: the MSP cell on the weight's side, to the nearest MSP step
    _put(T, MSP, main, np.clip(np.rint(np.abs(qT) / F), 0, L).astype(np.int64))
    X = law(T)
    # phase 2: the other MSP cell, only where the first one overshot beyond the LSP's reach: the number of
    # MSP levels that leaves the residual nearest the LSP's reach [-L_lsp, L_lsp] (none if none brings it nearer)
    r = qT - weight_codes(X, F)
    a = np.where(r * sign < 0, np.abs(r), 0.0)              # the overshoot
    k = np.zeros(qT.shape, dtype=np.int64)
    best = np.maximum(a - L_lsp, 0.0)                          # what the LSP could not take back with k = 0
    k0 = np.floor(np.maximum(a - L_lsp, 0.0) / F)
    for cand in (k0, k0 + 1):
        cand = np.clip(cand, 0, L)
        miss = np.maximum(np.abs(a - F * cand) - L_lsp, 0.0)
        better = miss < best
        k = np.where(better, cand.astype(np.int64), k)
        best = np.where(better, miss, best)
    _put(T, MSP, 1 - main, k)
    X = law(T)
    # phase 3: the LSP cell on the residual's side
    r = qT - weight_codes(X, F)
    side = np.where(r >= 0, PLUS, MINUS)
    _put(T, LSP, side, np.clip(np.rint(np.abs(r)), 0, L_lsp).astype(np.int64))
    X = law(T)
    # phase 4: the other LSP cell, where phase 3 overshot
    r = qT - weight_codes(X, F)
    s3 = np.where(side == PLUS, 1.0, -1.0)
    k = np.where(r * s3 < 0, np.clip(np.rint(np.abs(r)), 0, L_lsp), 0).astype(np.int64)
    _put(T, LSP, 1 - side, k)
    X = law(T)
    return T, X


def ideal_levels(qT: np.ndarray, F: float, L: int, L_lsp: int) -> np.ndarray:
    """Targets (2, 2, ...) of error-free programming: the grid point ``F m + l`` nearest ``qT`` the pairs reach."""
    T, _ = closed_loop(qT, F, L, L_lsp, lambda T: T.astype(np.float64))
    return T

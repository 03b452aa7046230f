"""Hu et al.'s MNIST demonstration as the slides ran it: one 64 x 64 TaOx array holds the whole softmax.

The slides: a software-trained one-layer softmax, 10 classes, partitioned into six parts ("Part1 + ... +
Part6 = Current per class") on a single 64 x 64 crossbar programmed between 100 and 700 uS, cells "<4 bit
for the given range", wire about 1 ohm per segment, input/output about 1 ohm; 85% accuracy (90% ideal) "with
post processing".  Six parts of 64 rows hold 384 inputs, so the images were reduced; the slides do not say
how.  Here (an assumption): the 384 pixels with the largest variance over the training images.

Mapping (:func:`archsim.sim.rmap.partition_affine`; the demonstration predates the conversion algorithm, which
the slides list as a next step): one scale and one offset for the whole array, signed weights in one cell
each, 6 x 10 = 60 of the 64 columns; an image is read in six steps, step ``k`` driving the rows with input
slice ``k`` and reading part ``k``'s ten columns; the class current is the sum of the six.

Post processing: ``nominal`` removes the offset and scale as designed and adds the bias digitally;
``calibrated`` fits, per class, the logit as a linear function of the measured class current and the summed
input (least squares on training images, never the scored ones): a gain and offset per column.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from archsim.sim import crossbar as cb
from archsim.sim import rmap

PARTS = 6
CLASSES = 10


def select_pixels(x_train: np.ndarray, n: int) -> np.ndarray:
    """Indices (sorted) of the ``n`` pixels with the largest variance over the training images."""
    var = x_train.reshape(len(x_train), -1).var(axis=0)
    return np.sort(np.argsort(-var, kind="stable")[:n])


def train_softmax(x: np.ndarray, y: np.ndarray, l2: float = 1e-4, iters: int = 200):
    """Multinomial logistic regression by L-BFGS from zero (deterministic): ``W`` (10 x K), ``b`` (10)."""
    n, k = x.shape
    onehot = np.eye(CLASSES)[y]

    def f(theta):
        W = theta[:CLASSES * k].reshape(CLASSES, k)
        b = theta[CLASSES * k:]
        z = x @ W.T + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[onehot > 0] + 1e-300).mean() + 0.5 * l2 * (W ** 2).sum()
        d = (p - onehot) / n
        return loss, np.concatenate([(d.T @ x + l2 * W).ravel(), d.sum(axis=0)])

    res = minimize(f, np.zeros(CLASSES * (k + 1)), jac=True, method="L-BFGS-B", options=dict(maxiter=iters))
    return res.x[:CLASSES * k].reshape(CLASSES, k), res.x[CLASSES * k:]


def program(g_ideal: np.ndarray, cells: rmap.CellRange, sigma, rng) -> np.ndarray:
    """Quantize to the cell's equidistant levels in [g_min, g_max], add the programming error, clip."""
    g = cells.quantize(g_ideal)
    if sigma is not None:
        g = g + sigma(g) * rng.standard_normal(g.shape)
    return cells.clip(g)


def effective_bits(y: np.ndarray, ref: np.ndarray) -> float:
    """Bits of a uniform quantizer with the same RMS error over the range of ``ref``."""
    rms = float(np.sqrt(np.mean((y - ref) ** 2)))
    return math.log2(float(ref.max() - ref.min()) / (math.sqrt(12.0) * rms)) if rms > 0 else float("inf")


def demo(x_tr, y_tr, x_te, y_te, cases, *, g_min, g_max, sigma, v_read: float, rows: int = 64, cols: int = 64,
         trials: int = 10, train_images: int = 20000, calib_images: int = 2000, seed: int = 0):
    """Accuracy of the one-array demonstration for each case ``(label, levels, programming error?, parasitics)``.

    Returns the table and the facts of the trained softmax (ideal accuracy, inputs, columns used)."""
    pix = select_pixels(x_tr[:train_images], rows * PARTS)
    xtr = x_tr.reshape(len(x_tr), -1)[:train_images, pix].astype(float)
    xte = x_te.reshape(len(x_te), -1)[:, pix].astype(float)
    W, b = train_softmax(xtr, y_tr[:train_images])
    ideal_logits = xte @ W.T + b
    ideal = float((ideal_logits.argmax(1) == y_te).mean())
    xc, zc = xtr[:calib_images], xtr[:calib_images] @ W.T + b
    out = []
    for label, levels, prog, par in cases:
        bits = int(round(math.log2(levels)))
        if 2 ** bits != levels:
            raise ValueError(f"cell levels must be a power of two here, got {levels}")
        cells = rmap.CellRange(g_min, g_max, bits)
        lay = rmap.partition_affine(W, rows, cols, cells)
        acc = {"nominal": [], "calibrated": []}
        eff_bits = []
        n_trials = trials if prog else 1
        for t in range(n_trials):
            g = program(lay.g, cells, sigma if prog else None, np.random.default_rng([seed, levels, t]))
            G = cb.effective_matrix(g, par)
            I_te, I_c = lay.currents(G, xte, v_read), lay.currents(G, xc, v_read)
            z_nom = lay.nominal(I_te, xte, v_read) + b
            acc["nominal"].append(float((z_nom.argmax(1) == y_te).mean()))
            z_cal = np.empty_like(z_nom)
            for c in range(CLASSES):            # logit ~ p I_c + q sum(x) + r, fitted on training images
                A = np.column_stack([I_c[:, c], xc.sum(1), np.ones(len(xc))])
                coef, *_ = np.linalg.lstsq(A, zc[:, c], rcond=None)
                z_cal[:, c] = np.column_stack([I_te[:, c], xte.sum(1), np.ones(len(xte))]) @ coef
            acc["calibrated"].append(float((z_cal.argmax(1) == y_te).mean()))
            eff_bits.append(effective_bits(z_cal, ideal_logits))
        out.append(dict(case=label, cell_levels=levels, r_wire_ohm=par.r_wire, r_io_ohm=par.r_in,
                        accuracy_nominal=float(np.mean(acc["nominal"])),
                        accuracy_calibrated=float(np.mean(acc["calibrated"])),
                        std_calibrated=float(np.std(acc["calibrated"])),
                        logit_bits_calibrated=float(np.mean(eff_bits)), chips=n_trials))
    facts = dict(ideal=ideal, inputs=rows * PARTS, columns=PARTS * CLASSES, train_images=len(xtr),
                 calib_images=len(xc), test_images=len(y_te))
    return pd.DataFrame(out), facts

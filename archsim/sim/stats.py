"""Paired comparison of two devices' Monte Carlo accuracy on the same images.

Every device in ``archsim compare --accuracy`` is scored on the SAME images (same seed, same calibration
batch), so most of the image-sampling error of one device's accuracy is shared with the other's: an image
that is hard on SRAM is hard on SONOS.  Two separate intervals (:func:`archsim.sim.accuracy.ci95`) each
carry that whole error and overlap where the difference is real; the paired difference cancels it.

For devices A and B with ``T_A``, ``T_B`` chips, per-chip accuracy ``p_X,t`` over the same ``n`` images
and ``c_X,i`` = image ``i``'s correctness (top-1 agreement for fidelity) averaged over X's chips::

    D       = mean_t p_A,t - mean_t p_B,t                 (= mean_i (c_A,i - c_B,i))
    v_chip  = s_A^2 / T_A + s_B^2 / T_B                   (s_X: std over X's chips, ddof 1)
    v_image = var_i(c_A,i - c_B,i) / n                    (ddof 0: the McNemar variance for one chip each)
    h       = sqrt( (t_{0.975, nu} sqrt(v_chip))^2 + (1.96 sqrt(v_image))^2 )

``nu`` is the Welch-Satterthwaite degrees of freedom of ``v_chip``,
``v_chip^2 / ((s_A^2/T_A)^2/(T_A-1) + (s_B^2/T_B)^2/(T_B-1))`` (a device with one chip, or with no
spread over its chips, adds no chip term and no term to ``nu``).  With one chip per device and
per-image outcomes ``b`` = images right on A only, ``c`` = right on B only, ``v_image`` is McNemar's
``((b + c)/n - ((b - c)/n)^2) / n``; compared with itself it is 0.  The chips of the two devices are
treated as independent (they are programmed with the same seeds, so where their errors correlate the
interval is conservative).  The interval ``D -+ h`` *separates* the devices when it excludes 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.model.errors import ArchsimError, ParameterError
from archsim.sim.accuracy import Z975, ci95_halfwidth


@dataclass(frozen=True)
class PairedDifference:
    """``mean_A - mean_B`` with its paired 95% interval (see the module docstring)."""
    diff: float
    low: float
    high: float
    chip_halfwidth: float        # t_{0.975,nu} sqrt(v_chip)
    image_halfwidth: float       # 1.96 sqrt(v_image)
    dof: float                   # Welch-Satterthwaite nu (inf where there is no chip term)

    @property
    def halfwidth(self) -> float:
        return float(np.hypot(self.chip_halfwidth, self.image_halfwidth))

    @property
    def separated(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0.0 or self.high < 0.0


def _per_image(correct, per_trial, what: str) -> np.ndarray:
    c = np.asarray(correct, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != len(per_trial):
        raise ArchsimError(f"{what}: per-image outcomes of shape {c.shape}; expected (chips, images) with "
                           f"{len(per_trial)} chips")
    return c


def paired_difference(per_trial_a, correct_a, per_trial_b, correct_b) -> PairedDifference:
    """The paired difference ``A - B``: ``per_trial_X`` the metric per chip, ``correct_X`` a (chips, images)
    array of per-image outcomes (0/1) on the same images in the same order."""
    from scipy.stats import t as student_t
    pa, pb = np.asarray(per_trial_a, np.float64).ravel(), np.asarray(per_trial_b, np.float64).ravel()
    ca, cb = _per_image(correct_a, pa, "device A"), _per_image(correct_b, pb, "device B")
    if ca.shape[1] != cb.shape[1] or ca.shape[1] < 1:
        raise ArchsimError(f"paired comparison: {ca.shape[1]} and {cb.shape[1]} images; both devices must be "
                           f"scored on the same (non-empty) image set")
    n = ca.shape[1]
    d_i = ca.mean(axis=0) - cb.mean(axis=0)
    v_image = float(d_i.var()) / n
    parts = [float(p.var(ddof=1)) / len(p) for p in (pa, pb) if len(p) > 1]
    dofs = [len(p) - 1 for p in (pa, pb) if len(p) > 1]
    v_chip = sum(parts)
    if v_chip > 0:
        nu = v_chip ** 2 / sum(v ** 2 / k for v, k in zip(parts, dofs) if v > 0)
        chip = float(student_t.ppf(0.975, nu) * np.sqrt(v_chip))
    else:
        nu, chip = float("inf"), 0.0
    image = Z975 * float(np.sqrt(v_image))
    diff = float(pa.mean() - pb.mean())
    h = float(np.hypot(chip, image))
    return PairedDifference(diff, diff - h, diff + h, chip, image, float(nu))


def unpaired_halfwidth(per_trial_a, per_trial_b, n: int) -> float:
    """Half-width of the difference of two INDEPENDENT per-device intervals (each
    :func:`archsim.sim.accuracy.ci95_halfwidth`), combined in quadrature: what the difference would carry
    were the two devices scored on different images.  For comparison with :func:`paired_difference`."""
    return float(np.hypot(ci95_halfwidth(per_trial_a, n), ci95_halfwidth(per_trial_b, n)))


def _exact_device(name: str) -> bool:
    from archsim.io import load
    try:
        return bool(load.device(name).exact)
    except ArchsimError:
        return False


def versus_baseline(results, baseline: str | None = None) -> tuple[str, list[PairedDifference]]:
    """``(baseline device, [paired difference of each result minus the baseline's])`` for
    :class:`archsim.sim.accuracy.AccuracyResult` objects scored on the same images.  ``baseline``: a device
    among the results; default the first device of exact cells (digital SRAM: the error-free reference every
    analog device is measured against), else the one with the highest mean."""
    results = list(results)
    names = [r.device for r in results]
    if baseline is None:
        exact = [i for i, n in enumerate(names) if _exact_device(n)]
        b = exact[0] if exact else int(np.argmax([r.mean for r in results]))
    elif baseline in names:
        b = names.index(baseline)
    else:
        raise ParameterError(f"{{param}} {baseline}: not among the compared devices; allowed: {', '.join(names)}", "baseline")
    ref = results[b]
    for r in results:
        if r.correct is None:
            raise ArchsimError(f"{r.device}: the result carries no per-image outcomes; rerun the simulation")
    return ref.device, [paired_difference(r.per_trial, r.correct, ref.per_trial, ref.correct) for r in results]

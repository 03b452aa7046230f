"""Device error laws: the formula families a device file names for each error source.

A device is data: this module knows *formula families*, never devices.  The device file names the
family of each error source by a string and gives its coefficients as quantities (SI after loading).

Programming error (``programming_error`` section), a state-dependent standard deviation ``sigma(g)``
of the programmed conductance about its target ``g`` (``model`` key):

===================  ====================================================  ==========================
model                sigma(g)                                               keys
===================  ====================================================  ==========================
``none``             0                                                      -
``linear``           ``a g + b``, at least 0                                ``a``, ``b``
``saturating``       ``A (1 - exp(-I/B)) / V``, ``I = g V``, ``V`` =        ``A``, ``B`` (currents)
                     ``read.voltage`` (a current noise turned into a
                     conductance one: SONOS, Agrawal et al. 2022)
``polynomial_gmax``  ``c0 + c1 x + c2 x^2``, ``x = g / g_max``, at least 0  ``c0``, ``c1``, ``c2``
                     (IBM PCM model)
``proportional``     ``sigma_rel g`` (alias ``sigma_rel``)                  ``sigma_rel``
===================  ====================================================  ==========================

Optional ``valid_min`` / ``valid_max`` (conductances) clamp ``g`` into the range a fit was made on
before it is evaluated (e.g. the ReRAM fit of Milo et al. 2021, valid 50-225 uS).

Read noise (``read_noise`` section), drawn fresh on every read, the same families plus
``pcm_1overf``: ``sigma = |g| Q_s sqrt(ln((t + t_read) / (2 t_read)))`` with
``Q_s = min(q_a (g/g_max)^q_b, q_max)`` (IBM PCM model; keys ``q_a``, ``q_b``, ``q_max``,
``t_read``).  A ``read_noise`` section without ``model`` but with ``sigma_rel`` is ``proportional``.
Read noise is a *conductance* fluctuation: the noise current of a cell is ``v sigma(g)`` for an
applied pulse voltage ``v`` (so a column's noise variance is ``sum_i v_i^2 sigma_ij^2``, the
simulator's fast path).  For ``pcm_1overf`` the time ``t`` is the time since programming on the
drift clock, ``t0 + time_s`` (the convention of IBM's model as implemented in aihwkit: the first
read is ``t0`` after programming), and at least ``t_read``.

Drift (``drift`` section, ``model: pcm``, alias ``power_law``): ``g(t) = g0 ((t + t0)/t0)^-nu``,
with ``nu ~ N(mu, sd)`` drawn once per cell, ``mu = clip(nu_mean_a ln(g_T/g_max) + nu_mean_b,
nu_mean_lo, nu_mean_hi)`` and ``sd = clip(nu_std_a ln(g_T/g_max) + nu_std_b, nu_std_lo, nu_std_hi)``
evaluated at the target conductance ``g_T`` (as in aihwkit); ``nu`` itself is not clipped.

Stuck cells (``stuck.on_rate``, ``stuck.off_rate``) and device-to-device variation
(``d2d.sigma_rel``) are optional device quantities (0 when absent); ``SimConfig`` overrides them.

Conductance bounds: a programmed conductance is clipped below at 0 (a conductance cannot be
negative) and above at the optional device quantity ``programming_error.clip_max`` (no upper clip
when absent).

A ``kind: digital`` device (SRAM) stores exact bits: no programming error, read noise, drift or
device-to-device variation; its "conductances" are the bit values 0 and 1 (no unit).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from archsim.model.errors import ArchsimError, brief

def _linear(p, ge, g_max, v_read, t):
    return p["a"] * ge + p["b"]


def _saturating(p, ge, g_max, v_read, t):
    return p["A"] * (1.0 - np.exp(-np.abs(ge) * v_read / p["B"])) / v_read


def _polynomial_gmax(p, ge, g_max, v_read, t):
    x = ge / g_max
    return p["c0"] + p["c1"] * x + p["c2"] * x * x


def _proportional(p, ge, g_max, v_read, t):
    return p["sigma_rel"] * np.abs(ge)


def _pcm_1overf(p, ge, g_max, v_read, t):
    tr = p["t_read"]
    tt = max(float(t), tr)
    with np.errstate(divide="ignore"):
        qs = np.minimum(p["q_a"] * (np.abs(ge) / g_max) ** p["q_b"], p["q_max"])
    return np.abs(ge) * qs * np.sqrt(np.log((tt + tr) / (2.0 * tr)))


def _check_saturating(file: str, section: str, p: dict, v_read: float) -> None:
    if v_read <= 0:
        raise ArchsimError(f"{file}: model 'saturating' of '{section}' needs quantity 'read.voltage' > 0")
    if p["B"] <= 0:
        raise ArchsimError(f"{file}: key '{section}.B' must be > 0")


def _check_pcm_1overf(file: str, section: str, p: dict, v_read: float) -> None:
    if p["t_read"] <= 0:
        raise ArchsimError(f"{file}: key '{section}.t_read' must be > 0")


@dataclass(frozen=True)
class SigmaLaw:
    """One error-law family: the keys it needs, ``sigma(params, g, g_max, v_read, t)`` (before the floor
    at 0), an optional check of its coefficients, and the sections that may name it."""

    keys: tuple[str, ...]
    sigma: Callable | None            # None: no error at all
    sections: tuple[str, ...] = ("programming_error", "read_noise")
    check: Callable | None = None


#: error-law family -> its law (the table in the module docstring); a new family is one entry here
SIGMA_LAWS: Mapping[str, SigmaLaw] = MappingProxyType({
    "none": SigmaLaw((), None),
    "linear": SigmaLaw(("a", "b"), _linear),
    "saturating": SigmaLaw(("A", "B"), _saturating, check=_check_saturating),
    "polynomial_gmax": SigmaLaw(("c0", "c1", "c2"), _polynomial_gmax),
    "proportional": SigmaLaw(("sigma_rel",), _proportional),
    "pcm_1overf": SigmaLaw(("q_a", "q_b", "q_max", "t_read"), _pcm_1overf, sections=("read_noise",),
                           check=_check_pcm_1overf),
})
#: formula family -> keys it needs (beside the optional valid_min / valid_max)
SIGMA_FAMILIES: dict[str, tuple[str, ...]] = {k: law.keys for k, law in SIGMA_LAWS.items()}
ALIASES = {"sigma_rel": "proportional", "power_law": "pcm"}
ALLOWED = {sec: tuple(k for k, law in SIGMA_LAWS.items() if sec in law.sections)
           for sec in ("programming_error", "read_noise")}
DRIFT_KEYS = ("t0", "nu_mean_a", "nu_mean_b", "nu_mean_lo", "nu_mean_hi",
              "nu_std_a", "nu_std_b", "nu_std_lo", "nu_std_hi")


@dataclass(frozen=True)
class SigmaModel:
    """A state-dependent standard deviation ``sigma(g)`` in siemens."""

    section: str
    model: str
    params: Mapping[str, float] = field(default_factory=dict)
    g_max: float = 0.0
    v_read: float = 0.0
    valid: tuple[float, float] = (-np.inf, np.inf)

    @property
    def is_none(self) -> bool:
        return SIGMA_LAWS[self.model].sigma is None

    def sigma(self, g: np.ndarray, t: float = 0.0) -> np.ndarray:
        """sigma at conductances ``g`` (S); ``t`` (s) only for ``pcm_1overf``."""
        g = np.asarray(g, dtype=np.float64)
        ge = np.clip(g, self.valid[0], self.valid[1])
        law = SIGMA_LAWS[self.model]
        if law.sigma is None:
            return np.zeros_like(g)
        s = law.sigma(self.params, ge, self.g_max, self.v_read, t)
        return np.maximum(s, 0.0)


@dataclass(frozen=True)
class DriftModel:
    """Power-law conductance drift with a per-cell exponent (module docstring, ``model: pcm``)."""

    params: Mapping[str, float]
    g_max: float

    #: the law in words, as reports name it (every drift model states its own)
    formula = "power law g(t) = g0 ((t + t0)/t0)^-nu"

    def nu_stats(self, g_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        x = np.log(np.maximum(np.asarray(g_target, dtype=np.float64), np.finfo(np.float64).tiny) / self.g_max)
        mu = np.clip(p["nu_mean_a"] * x + p["nu_mean_b"], p["nu_mean_lo"], p["nu_mean_hi"])
        sd = np.clip(p["nu_std_a"] * x + p["nu_std_b"], p["nu_std_lo"], p["nu_std_hi"])
        return mu, sd

    def factor(self, time_s: float, nu: np.ndarray) -> np.ndarray:
        """``((t + t0)/t0)^-nu``."""
        t0 = self.params["t0"]
        return np.power((time_s + t0) / t0, -nu)

    def mean_factor(self, time_s: float, g_target: np.ndarray) -> np.ndarray:
        """Expected drift factor of a cell: ``E[tau^-nu] = exp(-mu L + sd^2 L^2 / 2)``, ``L = ln tau``."""
        mu, sd = self.nu_stats(g_target)
        L = np.log((time_s + self.params["t0"]) / self.params["t0"])
        return np.exp(-mu * L + 0.5 * sd * sd * L * L)


def _section_keys(dev, section: str) -> list[str]:
    pre = section + "."
    return [k[len(pre):] for k in list(dev.quantities) + list(dev.fields) if k.startswith(pre)]


def sigma_model(dev, section: str, g_max: float, v_read: float) -> SigmaModel:
    allowed = ALLOWED[section]
    model = dev.field(f"{section}.model")
    keys = [k for k in _section_keys(dev, section) if k not in ("model", "note")]
    if model is None:
        if not keys:
            model = "none"
        elif dev.has(f"{section}.sigma_rel"):
            model = "proportional"
        else:
            raise ArchsimError(f"{dev.file}: key '{section}.model' is missing; allowed: {', '.join(allowed)}")
    model = ALIASES.get(str(model), str(model))
    if model not in allowed:
        raise ArchsimError(f"{dev.file}: key '{section}.model' = {brief(model)} is not allowed; allowed: "
                           f"{', '.join(allowed)}")
    need = SIGMA_FAMILIES[model]
    missing = [k for k in need if not dev.has(f"{section}.{k}")]
    if missing:
        raise ArchsimError(f"{dev.file}: model '{model}' of '{section}' needs quantities "
                           f"{', '.join(f'{section}.{k}' for k in need)}; missing {', '.join(missing)}")
    params = {k: float(dev[f"{section}.{k}"]) for k in need}
    if SIGMA_LAWS[model].check is not None:
        SIGMA_LAWS[model].check(dev.file, section, params, v_read)
    valid = (float(dev.get(f"{section}.valid_min", -np.inf)), float(dev.get(f"{section}.valid_max", np.inf)))
    # a sigma_rel of exactly 0 (e.g. 'read noise neglected') is no noise at all
    if model == "proportional" and params["sigma_rel"] == 0.0:
        model, params = "none", {}
    return SigmaModel(section, model, MappingProxyType(params), g_max, v_read, valid)


def _check_pcm_drift(file: str, params: dict) -> None:
    if params["t0"] <= 0:
        raise ArchsimError(f"{file}: key 'drift.t0' must be > 0")


@dataclass(frozen=True)
class DriftLaw:
    """One drift-law family: the keys it needs, the model it builds (``model(params, g_max)``, with
    ``nu_stats``, ``factor`` and ``mean_factor``) and a check of its coefficients."""

    keys: tuple[str, ...]
    model: Callable
    check: Callable | None = None


#: drift-law family -> its law; ``none`` (or no section) is no drift.  A new family is one entry here
DRIFT_LAWS: Mapping[str, DriftLaw] = MappingProxyType({
    "pcm": DriftLaw(DRIFT_KEYS, DriftModel, _check_pcm_drift),
})


def drift_model(dev, g_max: float) -> DriftModel | None:
    model = dev.field("drift.model")
    keys = [k for k in _section_keys(dev, "drift") if k not in ("model", "note")]
    if model is None and not keys:
        return None
    model = ALIASES.get(str(model), str(model))
    if model == "none":
        return None
    if model not in DRIFT_LAWS:
        allowed = ", ".join(["none"] + [f"{k} ({a})" if (a := next((x for x, v in ALIASES.items() if v == k), None))
                                        else k for k in DRIFT_LAWS])
        raise ArchsimError(f"{dev.file}: key 'drift.model' = {brief(model)} is not allowed; allowed: {allowed}")
    law = DRIFT_LAWS[model]
    missing = [k for k in law.keys if not dev.has(f"drift.{k}")]
    if missing:
        raise ArchsimError(f"{dev.file}: model '{model}' of 'drift' needs quantities "
                           f"{', '.join('drift.' + k for k in law.keys)}; missing {', '.join(missing)}")
    params = {k: float(dev[f"drift.{k}"]) for k in law.keys}
    if law.check is not None:
        law.check(dev.file, params)
    return law.model(MappingProxyType(params), g_max)

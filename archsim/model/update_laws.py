"""How a device's conductance moves per write pulse: the ``update`` section of a device file, typed.

Training on the arrays (:mod:`archsim.sim.training`) changes weights by pulses, not by write-verify;
this module turns the device file's ``update`` section into an :class:`UpdateModel`.  A device is data:
the module knows *law families*, never devices.

State.  Each device holds a state ``x`` in normalized weight units: its conductance range maps to
``[b-, b+]`` with nominal bounds ``b- = -1``, ``b+ = +1`` (a differential pair or a reference column
makes the zero; the trainer multiplies ``x`` by a weight gain).  ``states`` is the number of steps of
the nominal range, so the nominal step is ``dw = 2 / states``.

Step per pulse (``law``), up (potentiation) and down (depression), at state ``x``, with asymmetry ``a``
(``dw_up = dw (1 + a)``, ``dw_down = dw (1 - a)`` for the constant law), ``r = b+ - b-``:

================  =====================================================  ===============================
law               step up / step down                                    keys
================  =====================================================  ===============================
``constant``      ``dw (1 + a)`` / ``dw (1 - a)``                         -
``linear``        ``dw (1 + a)(1 - g x)`` / ``dw (1 - a)(1 + g x)``         ``gamma`` (g)
``soft_bounds``   ``dw (1 + a)(1 - x / b+)`` / ``dw (1 - a)(1 - x / b-)``   -
``exponential``   ``dw (1 + a) e^(g/2) e^(-g (x - b-)/r)`` / mirror         ``gamma``
``power``         ``dw (1 + a) 2^g ((b+ - x)/r)^g`` / mirror                ``gamma``
``table``         measured jump table: mean and std of the step in each     ``table.state``, ``table.up_mean``,
                  state bin (fractions of the range ``r``), linearly        ``table.up_std``, ``table.down_mean``,
                  interpolated; the sign is the pulse's                     ``table.down_std``
================  =====================================================  ===============================

Every law is clipped at 0 (a pulse never moves the state backwards) and the state at ``[b-, b+]``.
``exponential`` and ``power`` are normalized so the step at the middle of the range is ``dw`` (the
strongly nonlinear filamentary ReRAM of Agarwal et al. IJCNN 2016; aihwkit's ``PowStepDevice`` form);
``soft_bounds`` is ``linear`` with ``g = 1`` on a symmetric range; its symmetric point (up = down) is
``x = a`` (with ``b+ = -b- = 1``).

Randomness: cycle-to-cycle noise multiplies each step by ``1 + c2c N(0, 1)`` cut at 0 (a pulse never
moves a device backwards), and the trainer divides each device's step by that factor's mean,
:func:`c2c_mean_factor`, so the noise leaves the mean step the law's (at ``c2c = 1`` the cut alone would
raise it by 8%, at 3 by 76%).  The cut caps the noise: however large ``c2c``, the step's relative standard
deviation stays below 1.47 (the half-normal's).  ``c2c_signed: true`` instead draws the step as Gokmen and
Vlasov (Front. Neurosci. 2016) and aihwkit's ``dw_min_std`` do, ``dw (1 + c2c N(0, 1))`` without a cut (a
pulse may move a device the wrong way; mean ``dw``, relative standard deviation ``c2c``); a table
device draws ``mean + std N(0, 1)`` instead); device-to-device spread draws, once per device,
``dw_ij = dw (1 + dw_d2d N)`` (at least 0, divided by that cut factor's mean so the spread keeps the mean
step), ``a_ij = a + asymmetry_d2d N`` and bounds
``b+- = +-(1 + bound_d2d N)`` (at least ``0.05``, a floor stated here so a bound never crosses zero).

Pairs: ``potentiation_only: true`` (PCM, Burr et al. 2015) means each device only grows; the weight is
a pair ``G+ - G-``, a down step is an up pulse on ``G-``, and a pair whose larger device passes
``refresh_threshold`` of its range is refreshed (both reset, the difference reprogrammed), counted.

Other keys: ``endurance`` (pulses a device survives; the trainer reports pulses per device against it),
``pulse`` (width of one update pulse, s), ``energy_per_pulse`` (J per pulse at one device),
``verify_reads`` (reads per pulse of a write-verify update loop, SONOS; 0 open loop).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from archsim.model.errors import ArchsimError, brief

#: law family -> (integer id used by the kernels, extra keys it needs)
UPDATE_LAWS: dict[str, tuple[int, tuple[str, ...]]] = {
    "constant": (0, ()),
    "linear": (1, ("gamma",)),
    "soft_bounds": (2, ()),
    "exponential": (3, ("gamma",)),
    "power": (4, ("gamma",)),
    "table": (5, ()),
}
TABLE_KEYS = ("state", "up_mean", "up_std", "down_mean", "down_std")
#: optional quantities of the section and their defaults (all dimensionless but pulse and energy)
OPTIONAL = {"asymmetry": 0.0, "gamma": 0.0, "dw_d2d": 0.0, "asymmetry_d2d": 0.0, "bound_d2d": 0.0, "c2c": 0.0,
            "endurance": math.inf, "refresh_threshold": 0.9, "verify_reads": 0.0}
#: smallest bound a device-to-device draw may give (normalized units)
BOUND_FLOOR = 0.05


@dataclass(frozen=True)
class UpdateModel:
    """A device's response to update pulses, in normalized state units (nominal range ``[-1, 1]``)."""

    law: str
    states: float
    asymmetry: float = 0.0
    gamma: float = 0.0
    dw_d2d: float = 0.0
    asymmetry_d2d: float = 0.0
    bound_d2d: float = 0.0
    c2c: float = 0.0
    endurance: float = math.inf
    pulse: float = 0.0              # s
    energy_per_pulse: float = 0.0   # J
    potentiation_only: bool = False
    c2c_signed: bool = False        # cycle-to-cycle factor 1 + c2c z not cut at 0 (Gokmen and Vlasov 2016)
    refresh_threshold: float = 0.9
    verify_reads: float = 0.0
    table: tuple | None = None      # (state, up_mean, up_std, down_mean, down_std) float arrays, or None
    file: str = ""

    @property
    def law_id(self) -> int:
        return UPDATE_LAWS[self.law][0]

    @property
    def kernel_c2c(self) -> float:
        """The kernels' cycle-to-cycle argument: ``c2c`` (factor cut at 0) or ``-c2c`` (signed, not cut)."""
        return -self.c2c if self.c2c_signed else self.c2c

    @property
    def dw(self) -> float:
        """Nominal step: the range 2 over ``states``."""
        return 2.0 / self.states

    def with_(self, **changes) -> "UpdateModel":
        """A copy with fields replaced (sweeps of one parameter); checked like a file."""
        m = replace(self, **changes)
        _check(m, m.file or "update model")
        return m

    def table_arrays(self) -> np.ndarray:
        """(5, n) float64: the jump table (a 2-row placeholder when the law has none)."""
        if self.table is None:
            return np.zeros((5, 2))
        return np.array(self.table, dtype=np.float64)


def _check(m: UpdateModel, where: str) -> None:
    if m.law not in UPDATE_LAWS:
        raise ArchsimError(f"{where}: key 'update.law' = {brief(m.law)} is not allowed; allowed: "
                           f"{', '.join(UPDATE_LAWS)}")
    if not (math.isfinite(m.states) and m.states >= 1):
        raise ArchsimError(f"{where}: key 'update.states' = {m.states} is not allowed; allowed a number >= 1")
    if not -1.0 < m.asymmetry < 1.0:
        raise ArchsimError(f"{where}: key 'update.asymmetry' = {m.asymmetry} is not allowed; allowed -1 < a < 1")
    for k in ("dw_d2d", "asymmetry_d2d", "bound_d2d", "c2c", "verify_reads"):
        v = getattr(m, k)
        if not (math.isfinite(v) and v >= 0):
            raise ArchsimError(f"{where}: key 'update.{k}' = {v} is not allowed; allowed a finite number >= 0")
    if not m.endurance > 0:
        raise ArchsimError(f"{where}: key 'update.endurance' = {m.endurance} is not allowed; allowed > 0")
    if not 0.0 < m.refresh_threshold <= 1.0:
        raise ArchsimError(f"{where}: key 'update.refresh_threshold' = {m.refresh_threshold} is not allowed; "
                           f"allowed above 0 up to 1")
    if "gamma" in UPDATE_LAWS[m.law][1] and not (math.isfinite(m.gamma) and m.gamma >= 0):
        raise ArchsimError(f"{where}: key 'update.gamma' = {m.gamma} is not allowed; allowed a finite number >= 0")
    if m.law == "table":
        t = m.table
        if t is None:
            raise ArchsimError(f"{where}: law 'table' needs quantities "
                               f"{', '.join('update.table.' + k for k in TABLE_KEYS)}")
        n = len(t[0])
        if n < 2 or any(len(a) != n for a in t):
            raise ArchsimError(f"{where}: the lists 'update.table.*' must have one equal length >= 2; got "
                               f"{', '.join(str(len(a)) for a in t)}")
        s = np.asarray(t[0])
        if not np.all(np.diff(s) > 0) or s[0] < -1.0 - 1e-12 or s[-1] > 1.0 + 1e-12:
            raise ArchsimError(f"{where}: key 'update.table.state' must increase strictly within [-1, 1]")
        if any(np.any(np.asarray(a) < 0) for a in t[1:]):
            raise ArchsimError(f"{where}: jump-table means and stds must be >= 0 (a pulse's sign is its direction)")


def update_model(dev) -> UpdateModel | None:
    """The ``update`` section of a techlib device record (None when the file has none)."""
    if not any(k.startswith("update.") for k in list(dev.quantities) + list(dev.fields)):
        return None
    where = dev.file
    law = dev.field("update.law")
    if law is None:
        raise ArchsimError(f"{where}: key 'update.law' is missing; allowed: {', '.join(UPDATE_LAWS)}")
    if not dev.has("update.states"):
        raise ArchsimError(f"{where}: missing quantity 'update.states' (steps over the device's range)")
    law = str(law)
    if law in UPDATE_LAWS:
        missing = [k for k in UPDATE_LAWS[law][1] if not dev.has(f"update.{k}")]
        if missing:
            raise ArchsimError(f"{where}: law '{law}' of 'update' needs quantities "
                               f"{', '.join('update.' + k for k in missing)}")
    vals = {k: float(dev.get(f"update.{k}", d)) for k, d in OPTIONAL.items()}
    po = dev.field("update.potentiation_only", False)
    if not isinstance(po, bool):
        raise ArchsimError(f"{where}: key 'update.potentiation_only' = {brief(po)} is not allowed; allowed true or false")
    signed = dev.field("update.c2c_signed", False)
    if not isinstance(signed, bool):
        raise ArchsimError(f"{where}: key 'update.c2c_signed' = {brief(signed)} is not allowed; allowed true or false")
    table = None
    if any(dev.has(f"update.table.{k}") for k in TABLE_KEYS):
        miss = [k for k in TABLE_KEYS if not dev.has(f"update.table.{k}")]
        if miss:
            raise ArchsimError(f"{where}: the jump table needs quantities "
                               f"{', '.join('update.table.' + k for k in TABLE_KEYS)}; missing "
                               f"{', '.join('update.table.' + k for k in miss)}")
        table = tuple(tuple(float(v) for v in np.atleast_1d(dev[f"update.table.{k}"])) for k in TABLE_KEYS)
    m = UpdateModel(law=law, states=float(dev["update.states"]), pulse=float(dev.get("update.pulse", 0.0)),
                    energy_per_pulse=float(dev.get("update.energy_per_pulse", 0.0)), potentiation_only=po,
                    c2c_signed=signed, table=table, file=where, **vals)
    _check(m, where)
    return m


IDEAL = UpdateModel(law="constant", states=1e6, file="ideal update (exact steps of 2e-6)")


def c2c_mean_factor(c2c: float) -> float:
    """Mean of ``max(1 + c2c Z, 0)``, ``Z`` standard normal: ``Phi(1/c) + c phi(1/c)`` (1 at ``c2c = 0``)."""
    if c2c <= 0:
        return 1.0
    t = 1.0 / c2c
    return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0))) + c2c * math.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- numpy laws (the twins)
#: each parametric law's shape ``f(x, up, gamma, bp, bm, r)``, ``r = bp - bm``: one pulse's mean step is
#: ``dw (1 +- a) f`` (cut at 0); the numpy twins of the training kernels' laws (by ``UPDATE_LAWS`` id).  ``table``
#: reads its own lists instead (:func:`step_sizes`)
STEP_SHAPES = {
    "constant": lambda x, up, g, bp, bm, r: np.ones_like(x),
    "linear": lambda x, up, g, bp, bm, r: 1.0 - g * x if up else 1.0 + g * x,
    "soft_bounds": lambda x, up, g, bp, bm, r: 1.0 - x / bp if up else 1.0 - x / bm,
    "exponential": lambda x, up, g, bp, bm, r: np.exp(0.5 * g - g * ((x - bm) if up else (bp - x)) / r),
    "power": lambda x, up, g, bp, bm, r: (2.0 ** g) * np.maximum((bp - x) if up else (x - bm), 0.0) ** g / r ** g,
}


def step_sizes(m: UpdateModel, x: np.ndarray, up: bool, dw: np.ndarray, a: np.ndarray,
               bp: np.ndarray, bm: np.ndarray) -> np.ndarray:
    """Mean step of one pulse (before cycle-to-cycle noise) at states ``x`` for devices with step ``dw``,
    asymmetry ``a`` and bounds ``bm < 0 < bp`` (arrays broadcast); >= 0."""
    x = np.asarray(x, dtype=np.float64)
    s = dw * ((1.0 + a) if up else (1.0 - a))
    r = bp - bm
    g = m.gamma
    if m.law == "table":
        t = m.table_arrays()
        mean = np.interp(x, t[0], t[1] if up else t[3])
        return np.maximum(mean * r * (dw / m.dw), 0.0)
    return np.maximum(s * STEP_SHAPES[m.law](x, up, g, bp, bm, r), 0.0)


def step_std(m: UpdateModel, x: np.ndarray, up: bool, mean: np.ndarray, r: np.ndarray, dw: np.ndarray):
    """Standard deviation of one step: ``c2c * mean`` (parametric laws) or the table's std."""
    if m.law == "table":
        t = m.table_arrays()
        return np.interp(x, t[0], t[2] if up else t[4]) * r * (dw / m.dw)
    return m.c2c * mean


def pulses_to_saturate(m: UpdateModel, up: bool = True, limit: int = 10 ** 7) -> int:
    """Pulses that carry a nominal device (no noise) from one bound to within 1% of the range of the
    other (the number of states it shows in a pulse sweep)."""
    one = np.ones(1)
    x = np.array([-1.0 if up else 1.0])
    target = 1.0 - 0.02 if up else -1.0 + 0.02
    for n in range(1, limit + 1):
        s = step_sizes(m, x, up, m.dw * one, m.asymmetry * one, one, -one)
        if s[0] <= 0:
            return n - 1
        x = np.clip(x + (s if up else -s), -1.0, 1.0)
        if (x[0] >= target) if up else (x[0] <= target):
            return n
    return limit

"""ADC price laws: energy per conversion, area and conversion time versus bits, rate and node.

One law per architecture; every constant, and the published converters each was fitted on, lives
in ``techlib/circuits/adc.yaml`` (no numbers here).  With ``b`` bits, rate ``f``, node factors
``s_E``, ``s_A`` of the file's circuit class (``class: analog``) in ``techlib/circuits/scaling.yaml``,
relative to the law's own ``node``:

- ``sar``:   E = e_step 2^b s_E max(1, f / f_corner);  A = a_step 2^b s_A;
  t = max(1/f, (b + 1) / f_bit_cycle): one comparator cycle per bit and one to sample, at no more than
  the fastest published bit cycle.
  Walden: constant energy per conversion step, so energy doubles per bit; above the survey's speed
  corner energy per conversion grows linearly with rate (Murmann ADC survey, Readme).
- ``flash``: E = e_comp (2^b - 1) s_E max(1, f / f_corner);  A = a_comp (2^b - 1) s_A;  t = 1/f.
- ``ramp``:  E = e_step 2^b s_E (the ramp and counter run 2^b steps whatever the rate);
  A = a_bit (c + b) s_A (a comparator worth ``c`` counter bits plus a b-bit counter per column);
  t = max(1/f, 2^b / f_clock).
- ``table``: a library that tabulates one paper's converter (``isaac/``, ``yao2020/``): energy and
  area interpolated geometrically between the listed bits, scaled from the table's node; t = 1/f.

:func:`fit` turns a law's anchors into its constants: the geometric mean over the anchors of the
measured value divided by the law's shape at each anchor's bits, rate and node.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from archsim.io import techlib
from archsim.cost.scaling import circuit_class, delay, node_scaling
from archsim.model.adc_kinds import ADC_KINDS, LAW_ARCHITECTURES, AdcArchitecture
from archsim.model.errors import ArchsimError

ADC_ARCHITECTURES = LAW_ARCHITECTURES     # the architectures of archsim.model.adc_kinds priced by a law
_TABLE = "table"


@dataclass(frozen=True)
class Scaling:
    """Node -> (energy, area) factors, as in ``techlib/circuits/scaling.yaml`` (one frame, any reference)."""

    file: str
    nodes: tuple[int, ...]
    energy: tuple[float, ...]
    area: tuple[float, ...]

    def factors(self, node_nm: float, ref_nm: float, where: str) -> tuple[float, float]:
        """(energy, area) factor from ``ref_nm`` to ``node_nm``."""
        idx = {n: i for i, n in enumerate(self.nodes)}
        for n in (node_nm, ref_nm):
            if int(round(n)) not in idx or abs(n - round(n)) > 1e-9:
                raise ArchsimError(f"{where}: node {n:g} nm has no scaling factors in {self.file}; "
                                   f"allowed: {', '.join(map(str, self.nodes))}")
        i, r = idx[int(round(node_nm))], idx[int(round(ref_nm))]
        return self.energy[i] / self.energy[r], self.area[i] / self.area[r]


@dataclass(frozen=True)
class Anchors:
    """Published converters a law was fitted on, aligned lists in SI (bits, Hz, nm, J, m2)."""

    paper: tuple[str, ...]
    bits: tuple[float, ...]
    enob: tuple[float, ...]
    rate: tuple[float, ...]
    node: tuple[float, ...]
    energy: tuple[float, ...]
    area: tuple[float, ...]


@dataclass(frozen=True)
class ArchLaw:
    """One architecture's constants: energy and area per unit at ``node_nm``, speed corner, bit range."""

    architecture: str
    file: str                  # the data file, for messages
    node_nm: float
    e_unit: float              # J per conversion step (sar, ramp) or per comparator (flash)
    a_unit: float              # m2 per step (sar), comparator (flash) or counter bit (ramp)
    bits_min: int
    bits_max: int
    f_corner: float = math.inf  # Hz, sar and flash
    f_clock: float = math.inf   # Hz, ramp
    f_bit_cycle: float = math.inf  # Hz, sar: fastest comparator cycle
    a_fixed_units: float = 0.0  # ramp: the comparator's area in counter-bit units
    f_design: float = math.nan  # Hz at node_nm: the clock of the law's design (adc_rate_Hz auto)
    anchors: Anchors | None = None

    def at(self, key: str) -> str:
        return f"{self.file}: key '{self.architecture}.{key}'"

    @property
    def kind(self) -> AdcArchitecture:
        """What the architecture's name means (:data:`archsim.model.adc_kinds.ADC_KINDS`): read here, not by name."""
        return ADC_KINDS[self.architecture]

    def energy_units(self, bits: int) -> float:
        return self.kind.energy_units(bits)

    def area_units(self, bits: int) -> float:
        return self.kind.area_units(bits, self.a_fixed_units)

    def rate_factor(self, rate_Hz: float) -> float:
        return max(1.0, rate_Hz / self.f_corner) if self.kind.rate_limited else 1.0


def fit(anchors: Anchors, law: ArchLaw, scaling: Scaling) -> ArchLaw:
    """``law`` with ``e_unit`` and ``a_unit`` fitted to ``anchors`` (geometric means of measured / shape)."""
    le, la = [], []
    for b, f, n, e, a in zip(anchors.bits, anchors.rate, anchors.node, anchors.energy, anchors.area):
        s_e, s_a = scaling.factors(n, law.node_nm, law.at("anchors.node"))
        le.append(math.log(e / (law.energy_units(int(b)) * s_e * law.rate_factor(f))))
        la.append(math.log(a / (law.area_units(int(b)) * s_a)))
    return replace(law, e_unit=math.exp(sum(le) / len(le)), a_unit=math.exp(sum(la) / len(la)))


@dataclass(frozen=True)
class Table:
    """A tabulated converter: energy and area at listed bits, at one node."""

    node_nm: float
    bits: tuple[float, ...]
    energy: tuple[float, ...]
    area: tuple[float, ...]

    def at(self, values: tuple[float, ...], bits: int, what: str, file: str) -> float:
        xs = np.asarray(self.bits, dtype=float)
        if bits < xs[0] or bits > xs[-1]:
            raise ArchsimError(f"{file}: {what} is tabulated for {int(xs[0])} to {int(xs[-1])} bits, not {bits}")
        return float(np.exp(np.interp(bits, xs, np.log(np.asarray(values, dtype=float)))))


@dataclass(frozen=True)
class AdcLaw:
    """The ADC laws of one circuit library; ``architecture=None`` means the library's default."""

    library: str
    file: str
    default: str
    laws: tuple[ArchLaw, ...]
    table: Table | None
    scaling: Scaling

    def law(self, architecture: str | None = None) -> ArchLaw:
        arch = self.default if architecture is None else architecture
        for law in self.laws:
            if law.architecture == arch:
                return law
        allowed = [law.architecture for law in self.laws] + ([_TABLE] if self.table else [])
        raise ArchsimError(f"{self.file}: key 'architecture' = {arch!r} is not available in this library; "
                           f"allowed: {', '.join(allowed)}")

    def _check(self, bits: int, rate_Hz: float, architecture: str | None) -> ArchLaw | None:
        if not (rate_Hz > 0 and math.isfinite(rate_Hz)):
            raise ArchsimError(f"{self.file}: ADC rate {rate_Hz!r} Hz is not allowed; it must be a finite number > 0")
        if (architecture or self.default) == _TABLE and self.table is not None:
            return None
        law = self.law(architecture)
        if int(bits) != bits or not law.bits_min <= bits <= law.bits_max:
            fits = [l.architecture for l in self.laws if l.bits_min <= bits <= l.bits_max]
            hint = f"; adc_type {' or '.join(fits)} covers {bits} bits" if fits else ""
            raise ArchsimError(f"{law.file}: keys '{law.architecture}.bits_min/bits_max': {bits} bits is outside the law's valid range; "
                               f"allowed: integers {law.bits_min} to {law.bits_max}{hint}")
        return law

    def energy(self, bits: int, rate_Hz: float, node_nm: float, architecture: str | None = None) -> float:
        """J per conversion."""
        law = self._check(bits, rate_Hz, architecture)
        if law is None:
            s_e, _ = self.scaling.factors(node_nm, self.table.node_nm, f"{self.file}: key 'node'")
            return s_e * self.table.at(self.table.energy, bits, "ADC energy", self.file)
        s_e, _ = self.scaling.factors(node_nm, law.node_nm, law.at("node"))
        return law.e_unit * law.energy_units(int(bits)) * s_e * law.rate_factor(rate_Hz)

    def area(self, bits: int, rate_Hz: float, node_nm: float, architecture: str | None = None) -> float:
        """m2 per ADC."""
        law = self._check(bits, rate_Hz, architecture)
        if law is None:
            _, s_a = self.scaling.factors(node_nm, self.table.node_nm, f"{self.file}: key 'node'")
            return s_a * self.table.at(self.table.area, bits, "ADC area", self.file)
        _, s_a = self.scaling.factors(node_nm, law.node_nm, law.at("node"))
        return law.a_unit * law.area_units(int(bits)) * s_a

    def conversion_time(self, bits: int, rate_Hz: float, architecture: str | None = None) -> float:
        """s per conversion: 1/rate, for a SAR at least (bits + 1) bit cycles, for a ramp at least 2^bits clock
        periods."""
        law = self._check(bits, rate_Hz, architecture)
        kind = law.kind if law is not None else None
        if kind is not None and kind.bit_cycles:
            return max(1.0 / rate_Hz, (bits + 1.0) / law.f_bit_cycle)
        if kind is not None and kind.clocked:
            return max(1.0 / rate_Hz, 2.0 ** bits / law.f_clock)
        return 1.0 / rate_Hz


    def auto_conversion_time(self, bits, node_nm, architecture: str | None = None):
        """s per conversion with ``adc_rate_Hz: auto``: the architecture's cycles per conversion (SAR ``bits + 1``,
        flash 1, ramp ``2^bits``) of its design clock moved to ``node_nm`` by the logic gate delay, a SAR no faster
        than the fastest published bit cycle.  Broadcasts over arrays of bits and nodes."""
        law = self.law(architecture) if (architecture or self.default) != _TABLE else None
        if law is None or not math.isfinite(law.f_design):
            raise ArchsimError(f"{self.file}: architecture key 'adc_rate_Hz' = auto needs a converter law with a design "
                               f"clock (sar, flash, ramp in techlib/circuits/adc.yaml); this library's converter is "
                               f"{architecture or self.default!r}: give adc_rate_Hz in Hz")
        kind = law.kind
        f = np.minimum(law.f_design / delay(node_nm, law.node_nm, self.library),
                       law.f_bit_cycle if kind.bit_cycles else math.inf)
        t = kind.cycles(np.asarray(bits, dtype=float)) / f
        return float(t) if np.ndim(t) == 0 else t


def _anchors(rec: techlib.Record, key: str) -> Anchors:
    paper = rec.field(f"{key}.paper")
    cols = {c: tuple(rec[f"{key}.{c}"]) for c in ("bits", "enob", "rate", "node", "energy", "area")}
    if not isinstance(paper, list) or any(len(v) != len(paper) for v in cols.values()) or len(paper) < 3:
        raise ArchsimError(f"{rec.file}: key '{key}': paper, bits, enob, rate, node, energy and area must be "
                           f"aligned lists of at least 3 published converters")
    return Anchors(tuple(map(str, paper)), **cols)


def _arch_law(rec: techlib.Record, arch: str) -> ArchLaw:
    kind = ADC_KINDS[arch]
    return ArchLaw(
        architecture=arch, file=rec.file, node_nm=rec[f"{arch}.node"],
        e_unit=rec[f"{arch}.{kind.energy_key}"], a_unit=rec[f"{arch}.{kind.area_key}"],
        bits_min=int(rec[f"{arch}.bits_min"]), bits_max=int(rec[f"{arch}.bits_max"]),
        f_corner=rec.get(f"{arch}.f_corner", math.inf), f_clock=rec.get(f"{arch}.f_clock", math.inf),
        f_bit_cycle=rec.get(f"{arch}.f_bit_cycle", math.inf),
        a_fixed_units=rec.get(f"{arch}.comparator_area_in_counter_bits", 0.0),
        f_design=rec.get(f"{arch}.{kind.clock_key}", math.nan),
        anchors=_anchors(rec, f"{arch}.anchors"))


def adc_law(library: str = "default") -> AdcLaw:
    """The ADC laws of a circuit library (``techlib.circuit("adc", library)``)."""
    rec = techlib.circuit("adc", library)
    sc = node_scaling(library)
    cls = circuit_class(rec)        # converters are analog (techlib/circuits/scaling.yaml)
    scaling = Scaling(sc.file, sc.nodes, tuple(sc.series(cls, "energy")), tuple(sc.series(cls, "area")))
    default = rec.field("architecture")
    allowed = ADC_ARCHITECTURES + (_TABLE,)
    if default not in allowed:
        raise ArchsimError(f"{rec.file}: key 'architecture' = {default!r}; allowed: {', '.join(allowed)}")
    laws = tuple(_arch_law(rec, a) for a in ADC_ARCHITECTURES if rec.field(f"{a}.anchors.paper") is not None)
    table = None
    if rec.has("energy_per_conversion"):
        table = Table(rec["node"], tuple(rec["bits"]), tuple(rec["energy_per_conversion"]), tuple(rec["area"]))
    if (table is None) if default == _TABLE else default not in [law.architecture for law in laws]:
        raise ArchsimError(f"{rec.file}: key 'architecture' = {default!r} but the file has no such law or table")
    return AdcLaw(library, rec.file, default, laws, table, scaling)

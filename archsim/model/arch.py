"""Architecture description: what the chip is built of, read from YAML and validated.

The :class:`Architecture` dataclass is the one source of its keys: each field carries its meaning,
unit and allowed range in its metadata (:func:`key`), choices are enums, and ``archsim list --keys``
is generated from the fields.  A YAML file may set any subset.  Bad input raises
:class:`~archsim.model.errors.ArchsimError` naming the file, the key and what is allowed.
Derived quantities (magnitude bits, input pulses, arrays per weight slice) are properties.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from archsim.io import techlib
from archsim.io.yaml import load_yaml
from archsim.model.choices import (AUTO, Accumulation, AdcRange, AdcType, Choice, ConvMapping,  # noqa: F401
                                   CostModel, DacRange, PowerGating, Readout, Replication, SignedMapping,
                                   StageTiming)   # the choices live in choices.py; callers import them from here
from archsim.model.errors import ArchsimError, brief
from archsim.model.keys import STEPS, Key, key  # noqa: F401  (what a key is; callers import them from here)


@dataclass(frozen=True)
class Parasitics:
    """Wire resistance per segment and the driver / sense resistances of every array, in ohms."""

    r_wire: float = 0.0
    r_in: float = 0.0
    r_out: float = 0.0

    def __post_init__(self):
        for k in ("r_wire", "r_in", "r_out"):
            v = getattr(self, k)
            if not math.isfinite(v) or v < 0:
                raise ArchsimError(f"crossbar parasitics: '{k}' = {v!r} ohm; allowed a finite value >= 0")

    @property
    def ideal(self) -> bool:
        return self.r_wire == 0 and self.r_in == 0 and self.r_out == 0


@dataclass(frozen=True)
class Architecture:
    device: str = key("reram", f"memory technology: a techlib device name ({', '.join(techlib.real_device_names())}) "
                      "or a path to a device .yaml", steps=('mapping', 'cost', 'simulator'))
    rows: int = key(128, "rows per crossbar array (inputs summed on one column)", lo=1, hi=65536,
                    steps=('mapping', 'cost', 'simulator'))
    cols: int = key(128, "columns per crossbar array", lo=1, hi=65536, steps=('mapping', 'cost', 'simulator'))
    r_wire_ohm: float = key(0.0, "wire resistance per segment between crosspoints (rows and columns; the "
                            "driver-to-first-cell segment counts); 0 = ideal wires", unit="ohm", lo=0.0, hi=1e6,
                            steps=('simulator',))
    r_in_ohm: float = key(0.0, "row driver output resistance", unit="ohm", lo=0.0, hi=1e9, steps=('simulator',))
    r_out_ohm: float = key(0.0, "column sense (transimpedance) input resistance", unit="ohm", lo=0.0, hi=1e9,
                           steps=('simulator',))
    parallel_rows: int | str = key(AUTO, "rows read at once per conversion (partial parallel read): a column is "
                                   "converted ceil(rows / parallel_rows) times per input pulse and the partial "
                                   "sums added digitally; auto = all rows at once", kind="int_or_auto", lo=1,
                                   hi=65536, steps=('cost', 'simulator'))
    conv_mapping: ConvMapping = key(ConvMapping.IM2COL, " ".join(ConvMapping.__doc__.split()), choices=ConvMapping,
                                    steps=('mapping', 'cost', 'simulator'))
    arrays_per_tile: int = key(8, "crossbar arrays in one tile", lo=1, hi=4096, steps=('mapping', 'cost'))
    weight_bits: int = key(8, "bits of weight precision (sign included); mapping pairs: not used, the pairs' "
                           "grid F m + l (m, l cell levels) sets the weight levels", unit="bit", lo=1, hi=32,
                           steps=('mapping', 'cost', 'simulator'))
    bits_per_cell: int | str = key(AUTO, "weight bits stored per cell; auto = as many as the device's levels "
                                   "allow, up to what the weight needs (mapping pairs: all the device's levels)",
                                   unit="bit", kind="int_or_auto", lo=1, hi=16, steps=('mapping', 'cost', 'simulator'))
    mapping: SignedMapping = key(SignedMapping.DIFFERENTIAL, " ".join(SignedMapping.__doc__.split()),
                                 choices=SignedMapping, steps=('mapping', 'cost', 'simulator'))
    # ---- conductance pairs of varying significance (mapping: pairs; Narayanan, Burr et al., IBM Research 2019)
    pair_gain: float = key(3.0, "mapping pairs: gain F of the more significant pair, W = F (G+ - G-) + (g+ - g-) "
                           "(Narayanan, Burr et al., IBM Research 2019: e.g. F = 3); F = 2^bits_per_cell with "
                           "lsp_range 1 gives the grid of two binary-weighted bit slices", lo=1.0, hi=1024.0, steps=('cost', 'simulator'))
    lsp_range: float = key(1.0, "mapping pairs: fraction of the cell's level range (g_min to g_max) the less "
                           "significant pair may use; the LSP must span at least F/2 levels to fill the gaps "
                           "between the MSP's steps", lo=0.001, hi=1.0, steps=('mapping', 'simulator'))
    differential_readout: Readout = key(
        Readout.DIGITAL, "differential pairs: digital = each array of the pair has its own ADC and the difference "
        "is taken after conversion; analog = the pair's column currents are subtracted before one conversion",
        choices=Readout, steps=('mapping', 'cost', 'simulator'))
    input_bits: int = key(8, "bits per input activation (also the activation width sent between tiles)",
                          unit="bit", lo=1, hi=32, steps=('mapping', 'cost', 'simulator'))
    dac_bits: int = key(1, "bits applied per input pulse; input_bits/dac_bits pulses per vector (1 = bit-serial)",
                        unit="bit", lo=1, hi=16, steps=('cost', 'simulator'))
    input_accumulation: Accumulation = key(
        Accumulation.DIGITAL, "digital = every input pulse is converted and shift-added; analog = the pulses' "
        "charge is accumulated (binary weighted) on the column and converted once per vector", choices=Accumulation,
        steps=('cost', 'simulator'))
    adc_bits: int = key(8, "ADC resolution", unit="bit", lo=1, hi=10, steps=('cost', 'simulator'))
    adc_type: AdcType = key(AdcType.AUTO, AdcType.__doc__, choices=AdcType, steps=('cost', 'simulator'))
    cols_per_adc: int = key(8, "columns sharing one ADC (converted one after another)", lo=1, hi=65536, steps=('cost',))
    adc_rate_Hz: float | str = key(AUTO, "conversions per second of one ADC; auto = the converter law's design clock "
                                   "moved to node_nm (SAR: adc_bits + 1 bit cycles per conversion, flash: one, ramp: "
                                   "2^adc_bits steps; techlib/circuits/adc.yaml design_clock)", unit="Hz",
                                   kind="float_or_auto", lo=1e3, hi=1e11, steps=('cost',))
    # ---- converter ranges (simulation only: the cost model reads none of these keys)
    adc_range: AdcRange = key(
        AdcRange.ARRAY, "ADC full scale: array = each array's own, from the calibration batch; layer = one shared by "
        "all arrays of a layer (the largest of their calibrated ranges); fixed = adc_full_scale; max = the worst "
        "case (every row of the block at the largest pulse on a g_max cell); granular = one LSB per input step "
        "on one conductance step", choices=AdcRange, steps=('simulator',))
    adc_percentile: float = key(100.0, "adc_range array or layer: the percentile of the calibration batch's "
                                "|column currents| taken as an array's full scale (100 = their max)", unit="%",
                                lo=50.0, hi=100.0, steps=('simulator',))
    adc_full_scale: float = key(1.0, "adc_range fixed: the full scale as a fraction of the worst-case current of "
                                "one conversion of a whole array (rows x largest pulse code x g_max; "
                                "g_max - g_min for a pair subtracted in analog)", unit="fraction",
                                lo=1e-6, hi=1.0, steps=('simulator',))
    dac_range: DacRange = key(
        DacRange.CALIBRATED, "DAC (input) full scale, per layer: calibrated = from the calibration batch "
        "(dac_percentile of |x|); fixed = dac_full_scale; larger inputs clip to the top code", choices=DacRange,
        steps=('simulator',))
    dac_percentile: float = key(100.0, "dac_range calibrated: the percentile of the calibration batch's |inputs| "
                                "(every element) taken as the full scale (100 = max |x|)", unit="%",
                                lo=50.0, hi=100.0, steps=('simulator',))
    dac_full_scale: float = key(1.0, "dac_range fixed: the input value at the DAC's top code, in the layer's "
                                "input units (the step is this / (2^input_bits - 1), or / (2^(input_bits-1) - 1) "
                                "for signed inputs)", unit="input", lo=1e-12, hi=1e12, steps=('simulator',))
    integration_time_s: float | str = key(
        AUTO, "window over which a column integrates (senses) its current per input pulse: the cell read energy "
        "is V^2 G times this; auto = the device's read pulse", unit="s", kind="float_or_auto", lo=1 / 1e12, hi=1e-3,
        steps=('cost',))
    mesh: tuple | str = key(AUTO, "tile mesh as [rows, cols]; auto = the smallest near-square mesh that holds "
                            "the tiles", kind="mesh", steps=('mapping',))
    tiles: int | str = key(AUTO, "tile budget when mesh is auto; auto = as many as the mapping needs",
                           kind="int_or_auto", lo=1, hi=1_000_000, steps=('mapping',))
    replicate: bool = key(True, "copy layers onto spare tiles of the budget to balance the pipeline",
                          steps=('mapping',))
    replication: Replication = key(Replication.GREEDY, " ".join(Replication.__doc__.split()), choices=Replication,
                                   steps=('mapping',))
    speedup_degree: int = key(8, "replication feature_map: NeuroSim's speedUpDegree, the most a layer of the largest "
                              "feature map is sped up by in each dimension", lo=1, hi=1024, steps=('mapping',))
    stage_timing: StageTiming = key(StageTiming.OVERLAP, " ".join(StageTiming.__doc__.split()), choices=StageTiming,
                                    steps=('cost',))
    clock_Hz: float | str = key(AUTO, "digital clock of tiles and network; auto = the sensing cycle of a circuit "
                                "library with subarray laws (e.g. neurosim), else ISAAC's 1.2 GHz at 32 nm moved to "
                                "node_nm by the logic gate delay (techlib/circuits/read_path.yaml)", unit="Hz",
                                kind="float_or_auto",
                                lo=1e6, hi=1e10, steps=('cost',))
    power_gating: PowerGating = key(PowerGating.NONE, " ".join(PowerGating.__doc__.split()), choices=PowerGating,
                                    steps=('cost',))
    link_width_bits: int = key(32, "network link (flit) width", unit="bit", lo=1, hi=4096, steps=('cost',))
    buffer_width_bits: int | str = key(AUTO, "tile buffer access width (bits read or written per access and "
                                       "clock); auto = the circuit library's: its buffer.yaml tile_buffer "
                                       "organisation where it has one (neurosim: input and partial-sum widths "
                                       "from the tile's cores), else its access_width", unit="bit",
                                       kind="int_or_auto", lo=1, hi=65536, steps=('cost',))
    buffer_kB: float | str = key(AUTO, "activation buffer per tile; auto = the tile's share of its layer's working "
                                 "set (conv: kernel_h + stride_h input rows and one output row; dense: its inputs "
                                 "and outputs), rounded up to 1 kB", unit="kB", kind="float_or_auto", lo=0.0, hi=1e6,
                                 steps=('mapping', 'cost'))
    node_nm: int = key(32, "CMOS node of the periphery circuits (techlib/circuits/scaling.yaml lists the nodes)",
                       unit="nm", lo=3, hi=500, steps=('cost',))
    circuits: str = key("default", "circuit library: default (techlib/circuits/*.yaml) or a folder under "
                        "techlib/circuits/ whose files replace the default ones (e.g. isaac)",
                        steps=('cost', 'simulator'))
    cost_model: CostModel = key(CostModel.CIRCUIT, "circuit: bottom-up from ADC, DAC, array, buffer, NoC "
                                "components; lut: the device's tile lookup table (Marinella et al., IEEE JETCAS "
                                "2018)", choices=CostModel, steps=('cost',))
    layer_overrides: tuple | dict = key(
        (), "per-layer design: a mapping of weighted-layer name -> {adc_bits, bits_per_cell, replication} that "
        "replaces those keys for that layer alone (mapping, cost and simulator honour it; replication fixes the "
        "layer's copies, the others share the spare tiles); empty = every layer as the keys above",
        kind="layer_overrides", steps=("mapping", "cost", "simulator"))
    source: str = "defaults"   # where the keys came from (a file, "defaults", "... + overrides")

    def __post_init__(self):
        where = self.source
        for k in KEYS:
            object.__setattr__(self, k.name, _checked(k, getattr(self, k.name), where))
        self.check_combinations()

    def check_combinations(self) -> None:
        """The checks that read several keys (each key's own value is checked on its own)."""
        where = self.source
        if self.dac_bits > self.input_bits:
            raise ArchsimError(f"{where}: key 'dac_bits' = {self.dac_bits} exceeds input_bits = {self.input_bits}")
        if self.parallel_rows != AUTO and self.parallel_rows > self.rows:
            raise ArchsimError(f"{where}: key 'parallel_rows' = {self.parallel_rows} exceeds rows = {self.rows}")
        if self.cols_per_adc > self.cols:
            raise ArchsimError(f"{where}: key 'cols_per_adc' = {self.cols_per_adc} exceeds cols = {self.cols}")
        if (self.mapping != SignedMapping.PAIRS and isinstance(self.bits_per_cell, int)
                and self.bits_per_cell > self.weight_bits):
            raise ArchsimError(f"{where}: key 'bits_per_cell' = {self.bits_per_cell} exceeds weight_bits = "
                               f"{self.weight_bits}")
        for name, ov in self.layer_overrides:
            b = dict(ov).get("bits_per_cell")
            if self.mapping != SignedMapping.PAIRS and b is not None and b > self.weight_bits:
                raise ArchsimError(f"{where}: key 'layer_overrides' layer '{name}': bits_per_cell = {b} exceeds "
                                   f"weight_bits = {self.weight_bits}")

    def with_checked(self, changes: Mapping, where: str) -> "Architecture":
        """``from_dict`` of this architecture's keys with ``changes`` (key -> value) applied, named ``where``,
        checking only the changed keys and the combinations: each key's check is a pure function of its value
        (:func:`_checked`), so the keys left alone keep this architecture's checked values."""
        a = object.__new__(Architecture)
        a.__dict__.update(self.__dict__)
        object.__setattr__(a, "source", where)
        for name, v in changes.items():
            object.__setattr__(a, name, _checked(KEY_BY_NAME[name], v, where))
        a.check_combinations()
        return a

    def replace(self, **changes) -> "Architecture":
        """A copy with some keys changed, validated like a YAML file."""
        merged = {k.name: getattr(self, k.name) for k in KEYS}
        merged.update({k: v for k, v in changes.items() if v is not None})
        return from_dict(merged, where=self.source if not changes else f"{self.source} + overrides")

    def as_dict(self) -> dict:
        """Every key as plain YAML/JSON values (choices as their strings, the mesh as a list)."""
        d = {k.name: getattr(self, k.name) for k in KEYS}
        for name, v in d.items():
            if isinstance(v, Choice):
                d[name] = v.value
        if isinstance(d["mesh"], tuple):
            d["mesh"] = list(d["mesh"])
        d["layer_overrides"] = {name: dict(ov) for name, ov in self.layer_overrides}
        return d

    def layer_override(self, name: str) -> dict:
        """The keys ``layer_overrides`` replaces for layer ``name`` (empty: none)."""
        for n, ov in self.layer_overrides:
            if n == name:
                return dict(ov)
        return {}

    def for_layer(self, name: str) -> "Architecture":
        """The architecture layer ``name`` is built with: its ``adc_bits`` and ``bits_per_cell`` overrides
        applied, no overrides left (itself when the layer has none)."""
        return _for_layer(self, name) if self.layer_overrides else self

    # ---- derived quantities ----
    @property
    def differential(self) -> bool:
        """Whether each weight sits on G+ and G- arrays (differential, and both pairs of ``pairs``)."""
        return self.mapping in (SignedMapping.DIFFERENTIAL, SignedMapping.PAIRS)

    @property
    def pairs(self) -> bool:
        """Two differential pairs of varying significance (``mapping: pairs``)."""
        return self.mapping == SignedMapping.PAIRS

    @property
    def magnitude_bits(self) -> int:
        """Bits of weight magnitude the arrays store: the sign rides on the pair (differential) or the offset."""
        return max(1, self.weight_bits - 1 if self.differential else self.weight_bits)

    def slices(self, bits_per_cell: int) -> int:
        """Arrays per weight (per pair side) when each cell holds ``bits_per_cell`` bits; ``pairs``: 2 (the less
        and the more significant pair)."""
        if self.pairs:
            return 2
        return -(-self.magnitude_bits // bits_per_cell)

    def pair_levels(self, bits_per_cell: int) -> tuple[int, int]:
        """``mapping: pairs``: the highest level of a more significant cell, ``L = 2^b - 1``, and of a less
        significant one, ``floor(lsp_range L)`` (at least 1, else an error naming ``lsp_range``)."""
        top = (1 << bits_per_cell) - 1
        lsp = int(math.floor(self.lsp_range * top + 1e-9))
        if lsp < 1:
            raise ArchsimError(f"{self.source}: key 'lsp_range' = {self.lsp_range:g} leaves the less significant "
                               f"pair no level of its {top} ({bits_per_cell}-bit cells); allowed "
                               f"{1 / top:.4g} to 1")
        return top, lsp

    @property
    def input_pulses(self) -> int:
        return -(-self.input_bits // self.dac_bits)

    @property
    def read_rows(self) -> int:
        """Rows read at once per conversion: ``parallel_rows``, or all rows."""
        return self.rows if self.parallel_rows == AUTO else int(self.parallel_rows)

    @property
    def row_chunks(self) -> int:
        """Conversions per column per input pulse: ``ceil(rows / parallel_rows)`` (partial parallel read)."""
        return -(-self.rows // self.read_rows)

    @property
    def parasitics(self) -> Parasitics:
        """Wire, driver and sense resistances of every array."""
        return Parasitics(self.r_wire_ohm, self.r_in_ohm, self.r_out_ohm)

    @property
    def conversions_per_vector(self) -> int:
        """ADC conversions per column per vector: one per pulse, or one when pulses accumulate in analog."""
        return 1 if self.input_accumulation == Accumulation.ANALOG else self.input_pulses

    @property
    def conversions_per_pair(self) -> int:
        """ADC conversions per column of a weight slice: 2 for a differential pair read out digitally."""
        return 2 if (self.differential and self.differential_readout == Readout.DIGITAL) else 1

    @property
    def copies(self) -> int:
        """Arrays per weight slice: 2 for a differential pair, 1 for offset mapping."""
        return 2 if self.differential else 1


#: keys one layer may override, each checked as the architecture key of that name (replication: 1 or more)
LAYER_OVERRIDE_KEYS = ("adc_bits", "bits_per_cell", "replication")


@functools.lru_cache(maxsize=4096)
def _for_layer(arch: Architecture, name: str) -> Architecture:
    ov = {k: v for k, v in arch.layer_override(name).items() if k != "replication"}
    return dataclasses.replace(arch, layer_overrides=(), **ov)


def _check_overrides(value: Any, where: str) -> tuple:
    """``layer_overrides`` as a canonical tuple ``((layer, ((key, value), ...)), ...)``, sorted by layer."""
    def bad(allowed: str):
        return ArchsimError(f"{where}: key 'layer_overrides' = {brief(value)} is not allowed; {allowed}")

    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return ()        # none (the default, also as JSON's empty list)
    if isinstance(value, tuple) and all(isinstance(x, tuple) and len(x) == 2 for x in value):
        value = {n: dict(ov) for n, ov in value}
    if not isinstance(value, Mapping):
        raise bad("allowed a mapping of layer name -> {adc_bits, bits_per_cell, replication}")
    out = []
    for name, ov in value.items():
        if not isinstance(name, str) or not name:
            raise bad("layer names are allowed as text")
        if not isinstance(ov, Mapping) or not ov:
            raise ArchsimError(f"{where}: key 'layer_overrides' layer '{brief(name, 40)[1:-1]}' = {brief(ov)} is not "
                               f"allowed; allowed a mapping of {', '.join(LAYER_OVERRIDE_KEYS)}")
        items = []
        for k, v in ov.items():
            if k not in LAYER_OVERRIDE_KEYS:
                raise ArchsimError(f"{where}: key 'layer_overrides' layer '{brief(name, 40)[1:-1]}': unknown key "
                                   f"{brief(k, 40)}; allowed: {', '.join(LAYER_OVERRIDE_KEYS)}")
            sub = f"{where}: layer_overrides '{brief(name, 40)[1:-1]}'"
            if k == "replication":
                v = _check(Key("replication", "int", 1, "", lo=1, hi=1_000_000), v, sub)
            else:
                v = _check(KEY_BY_NAME[k], v, sub)
                if v == AUTO:
                    raise ArchsimError(f"{sub}: key '{k}' = auto is not allowed; allowed a whole number (leave the "
                                       f"key out to keep the architecture's)")
            items.append((k, v))
        out.append((name, tuple(sorted(items))))
    return tuple(sorted(out))


def _key_of(f: dataclasses.Field) -> Key:
    m = f.metadata
    choices = tuple(c.value for c in m["choices"]) if m["choices"] is not None else ()
    default = f.default.value if isinstance(f.default, Choice) else f.default
    return Key(f.name, m["kind"], default, m["doc"], m["unit"], m["lo"], m["hi"], choices, m["steps"])


#: every architecture key, in field order, described by its field
KEYS: tuple[Key, ...] = tuple(_key_of(f) for f in dataclasses.fields(Architecture) if "doc" in f.metadata)
KEY_BY_NAME = {k.name: k for k in KEYS}


def keys_read_by(step: str) -> tuple[str, ...]:
    """The architecture keys ``step`` (mapping, cost, simulator) reads, in field order."""
    if step not in STEPS:
        raise ArchsimError(f"step '{step}' is unknown; allowed: {', '.join(STEPS)}")
    return tuple(k.name for k in KEYS if step in k.steps)
_CHOICES = {f.name: f.metadata["choices"] for f in dataclasses.fields(Architecture)
            if f.metadata.get("choices") is not None}


def _check(key: Key, value: Any, where: str):
    def bad(allowed: str):
        return ArchsimError(f"{where}: key '{key.name}' = {brief(value)} is not allowed; {allowed}")

    def rng(v):
        if (key.lo is not None and v < key.lo) or (key.hi is not None and v > key.hi):
            raise bad(f"allowed {key.lo:g} to {key.hi:g}")
        return v

    if key.kind == "int" or (key.kind == "int_or_auto" and value != AUTO):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise bad("allowed an integer" + (" or 'auto'" if key.kind == "int_or_auto" else ""))
        return rng(value)
    if key.kind in ("int_or_auto", "float_or_auto") and value == AUTO:
        return AUTO
    if key.kind in ("float", "float_or_auto"):
        if isinstance(value, str):  # PyYAML reads 1e9 (no dot, no sign) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("allowed a number" + (" or 'auto'" if key.kind == "float_or_auto" else ""))
        try:
            value_f = float(value)
        except OverflowError:   # an integer too large for a float
            raise bad(f"allowed {key.lo:g} to {key.hi:g}") from None
        if not math.isfinite(value_f):
            raise bad(f"allowed a finite number, {key.lo:g} to {key.hi:g}")
        return rng(value_f)
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise bad("allowed true or false")
        return value
    if key.kind == "choice":
        try:
            return _CHOICES[key.name](value)
        except (ValueError, TypeError):
            raise bad(f"allowed: {', '.join(key.choices)}") from None
    if key.kind == "str":
        if not isinstance(value, str) or not value:
            raise bad("allowed a name")
        return value
    if key.kind == "layer_overrides":
        return _check_overrides(value, where)
    if key.kind == "mesh":
        if value == AUTO:
            return AUTO
        if (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in value)):
            return (int(value[0]), int(value[1]))
        raise bad("allowed 'auto' or [rows, cols] with integers 1 to 4096")
    raise AssertionError(key.kind)


#: values already accepted, per key: ``(key, type, value, sign) -> the checked value``.  A check is a pure
#: function of the key and the value (``where`` only names the place in a refusal, and refusals are not kept),
#: so a sweep's thousands of points check each distinct value of each key once
_ACCEPTED: dict = {}
_SCALAR_TYPES = (int, float, str, bool, type(None))


def _checked(key: Key, value: Any, where: str):
    """:func:`_check`, remembered for hashable scalar values (numbers, names, true/false)."""
    t = type(value)
    if t not in _SCALAR_TYPES:
        return _check(key, value, where)
    k = (key.name, t, value, math.copysign(1.0, value) if t is float else 0)   # -0.0 kept apart from 0.0
    got = _ACCEPTED.get(k, _ACCEPTED)
    if got is _ACCEPTED:
        got = _check(key, value, where)
        if len(_ACCEPTED) > 65536:
            _ACCEPTED.clear()
        _ACCEPTED[k] = got
    return got


def from_dict(d: Mapping, where: str = "architecture") -> Architecture:
    if not isinstance(d, Mapping):
        raise ArchsimError(f"{where}: must be a mapping of keys; allowed keys: {', '.join(KEY_BY_NAME)}")
    for name in d:
        if not isinstance(name, str) or name not in KEY_BY_NAME:
            shown = f"'{name[:40]}...'" if isinstance(name, str) and len(name) > 40 else \
                (f"'{name}'" if isinstance(name, str) else brief(name, 40))
            raise ArchsimError(f"{where}: unknown key {shown}; allowed keys: {', '.join(KEY_BY_NAME)}")
    return Architecture(**d, source=where)  # every key is checked in __post_init__


def load(path: str | Path) -> Architecture:
    """Read an architecture YAML file (``yaml.safe_load`` only)."""
    p = Path(path)
    doc = load_yaml(p, "architecture")
    if doc is None:      # an empty file (or only comments): every key at its default
        doc = {}
    if isinstance(doc, Mapping) and "architecture" in doc and len(doc) == 1:
        doc = doc["architecture"]
    return from_dict(doc, where=str(p))


def keys_table() -> list[dict]:
    """One row per key: name, default, unit, what is allowed, the steps that read it and what it means
    (``archsim list --keys``)."""
    return [dict(key=k.name, default=(k.default if not isinstance(k.default, tuple) else
                                      {} if k.kind == "layer_overrides" else list(k.default)),
                 unit=k.unit or "-",
                 allowed=(", ".join(k.choices) if k.choices else
                          (f"{k.lo:g}..{k.hi:g}" if k.lo is not None else k.kind)),
                 read_by=",".join(k.steps), meaning=k.doc)
            for k in KEYS]

"""The named choices of architecture keys (enums that compare and print as their plain strings), and
``AUTO``, the value of a key the flow derives.  :mod:`archsim.model.arch` uses them in its fields."""
from __future__ import annotations

from enum import Enum

AUTO = "auto"


class Choice(str, Enum):
    """A named choice of an architecture key; compares and prints as its plain string."""

    __str__ = str.__str__
    __format__ = str.__format__


class SignedMapping(Choice):
    """Signed weights: a differential pair of arrays (G+ - G-), one array with an offset subtracted digitally, or
    two differential pairs of varying significance, W = F (G+ - G-) + (g+ - g-) (Narayanan, Burr et al., IBM
    Research 2019; keys pair_gain, lsp_range), programmed most significant pair first, the least significant pair correcting its error."""

    DIFFERENTIAL = "differential"
    OFFSET = "offset"
    PAIRS = "pairs"


class Readout(Choice):
    """Where the two arrays of a differential pair are subtracted: after conversion, or as currents before one."""

    DIGITAL = "digital"
    ANALOG = "analog"


class Accumulation(Choice):
    """Input pulses: each converted and shift-added (digital), or their charge summed on the column (analog)."""

    DIGITAL = "digital"
    ANALOG = "analog"


class AdcType(Choice):
    """ADC architecture priced by techlib/circuits/adc.yaml's laws; auto = the circuit library's own."""

    AUTO = "auto"
    SAR = "sar"
    FLASH = "flash"
    RAMP = "ramp"
    TABLE = "table"


class AdcRange(Choice):
    """ADC full scale: calibrated per array or shared by all arrays of a layer, fixed, worst case, or granular."""

    ARRAY = "array"
    LAYER = "layer"
    FIXED = "fixed"
    MAX = "max"
    GRANULAR = "granular"


class DacRange(Choice):
    """DAC (input) full scale: calibrated per layer on a calibration batch, or fixed."""

    CALIBRATED = "calibrated"
    FIXED = "fixed"


class ConvMapping(Choice):
    """How a convolution's kernel sits on arrays: im2col = the whole unrolled kernel (C_in x kh x kw rows) packed
    into consecutive arrays; kernel_position = each of the kh x kw kernel positions on arrays of its own
    (C_in rows each; NeuroSim's mapping), so partly filled arrays when C_in is not a multiple of rows."""

    IM2COL = "im2col"
    KERNEL_POSITION = "kernel_position"


class Replication(Choice):
    """How layers are copied onto more tiles: greedy = the slowest stage gets one more copy while the mesh's spare
    tiles last; feature_map = NeuroSim's pipeline speed-up, a convolution with an input feature map of height H
    copied ceil((H / B)^2) times, B = ceil(H_max / min(speedup_degree, H_max / H_min)) over the network's
    convolutions, dense layers once, and the chip sized to hold them (mesh and tiles auto)."""

    GREEDY = "greedy"
    FEATURE_MAP = "feature_map"


class StageTiming(Choice):
    """How a pipeline stage's compute, buffer traffic and link traffic combine: overlap = double-buffered, the
    longest of the three; serial = one after another, their sum (NeuroSim's layer latency: compute + buffer +
    interconnect)."""

    OVERLAP = "overlap"
    SERIAL = "serial"


class PowerGating(Choice):
    """Static power of tiles with no work: none = every tile leaks the whole pipeline period (idle tiles and
    unused ones too); idle_tiles = a tile's supply is cut while it has no work, so it leaks over its busy
    time plus one wake-up (the gate's break-even time, techlib/circuits/power_gating.yaml) per period, and
    an unused tile not at all."""

    NONE = "none"
    IDLE_TILES = "idle_tiles"


class CostModel(Choice):
    """circuit: bottom-up from the components; lut: the device's tile table (Marinella et al., IEEE JETCAS 2018)."""

    CIRCUIT = "circuit"
    LUT = "lut"

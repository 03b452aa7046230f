"""Signed-weight encodings of the sizing search (``compare --best``'s space): how a signed weight sits on the
cells (one differential pair, or two closed-loop pairs of varying significance) and where a pair is subtracted
(after its arrays' conversions, or as column currents before one)."""
from __future__ import annotations

from archsim.model import arch as _arch
from archsim.model.errors import ParameterError

#: how a signed weight sits on the cells and where its pair is subtracted, by name: the architecture keys each
#: sets.  ``pairs`` are two differential pairs of varying significance programmed in a closed loop, the less
#: significant correcting the more significant one's error, with gain F = 2^bits_per_cell (the grid of two
#: binary-weighted slices; Narayanan, Burr et al., IBM 2019; Ambrogio et al., Nature 2018), tried only where
#: two pairs hold the weight's magnitude bits.  ``analog`` readout subtracts the pair's column currents before
#: one conversion (Xiao et al., IEEE TCAS-I 2022, SONOS; Wan et al., Nature 2022, NeuRRAM's differential
#: sensing); ``digital`` converts each array and subtracts after.
ENCODINGS = {
    "differential": {"mapping": "differential", "differential_readout": "digital"},
    "differential/analog": {"mapping": "differential", "differential_readout": "analog"},
    "pairs": {"mapping": "pairs", "differential_readout": "digital"},
    "pairs/analog": {"mapping": "pairs", "differential_readout": "analog"},
}


def encoded(base: _arch.Architecture, dev, name: str | None, top_bits) -> tuple[_arch.Architecture, tuple] | None:
    """``(architecture, bits per cell allowed)`` of ``base`` under encoding ``name`` (None: as it is), or None
    where the encoding cannot hold the weight on this device (pairs on cells too coarse for two pairs to hold
    its magnitude bits).  ``top_bits(arch, device)``: the most bits per cell the device and mapping allow."""
    if name is None:
        return base, tuple(range(1, top_bits(base, dev) + 1))
    if name not in ENCODINGS:
        raise ParameterError(f"{{param}} {name!r}: allowed {', '.join(ENCODINGS)}", "encodings")
    a = base.replace(**ENCODINGS[name])
    top = top_bits(a, dev)
    if not a.pairs:
        return a, tuple(range(1, top + 1))
    low = -(-base.replace(mapping="differential").magnitude_bits // 2)   # two pairs of b bits: 2b magnitude bits
    return (a, tuple(range(low, top + 1))) if top >= low else None


def encoding_name(c) -> str:
    """The :data:`ENCODINGS` name of a design's mapping and readout (``offset`` for offset mapping)."""
    m, r = str(c["mapping"]), str(c["differential_readout"])
    return m if m == "offset" else (m if r == "digital" else f"{m}/{r}")


def encoding_of(row) -> str:
    """:func:`encoding_name` of a design row that names its mapping and readout; ``differential`` (the default
    architecture's) for a row that does not."""
    return encoding_name(row) if "mapping" in row and "differential_readout" in row else "differential"

"""What may be priced and simulated at all: one admissibility check shared by every command.

``estimate``, ``accuracy``, ``compare``, ``size`` and ``sweep`` (and the API, through
:func:`archsim.mapping.layout.map_workload`) refuse the same designs, in one line naming the key, before any
work.  The rules, one function each in :data:`RULES`:

* (offset mapping with 1-bit weights, priced but once refused by the simulator, is simulated as binary
  +-1 weights: :func:`archsim.sim.tilesim.support.weight_code_params`; the gap is closed there, not here.)
* ``mesh_budget``: a fixed mesh of more tiles than the tile budget allows (``tiles`` at most
  :data:`MAX_TILES`); a 4096 x 4096 mesh would be placed, routed and priced tile by tile.
* ``buffer_vector`` (needs the network): every input vector of a layer passes through its tiles' activation
  buffers, so a fixed ``buffer_kB`` must hold at least one array's input vector and its output vector
  (``min(K, rows) + min(N, cols)`` values of ``input_bits``) for every weighted layer; ``buffer_kB: 0`` (or
  1e-9) would price the buffers near zero while every vector still crosses them.
* ``tile_count`` (needs the network): the tiles the network needs without replication, at most
  :data:`MAX_TILES` (arrays too small for the network would make millions of tiles to place).

:func:`check` runs them all; each returns None or the refusal's text.
"""
from __future__ import annotations

import math
from typing import Callable

from archsim.model import arch as _arch
from archsim.model.arch import AUTO, Architecture
from archsim.model.errors import ArchsimError

#: the tile budget: the most tiles a chip may have (the ``tiles`` key's upper bound)
MAX_TILES = int(_arch.KEY_BY_NAME["tiles"].hi)
#: bits in a kB, as the buffers count them
KB_BITS = 8 * 1024


def _mesh_budget(a: Architecture, wl) -> str | None:
    if a.mesh != AUTO and a.mesh[0] * a.mesh[1] > MAX_TILES:
        return (f"{a.source}: key 'mesh' = [{a.mesh[0]}, {a.mesh[1]}] holds {a.mesh[0] * a.mesh[1]:,} tiles; the tile "
                f"budget allows at most {MAX_TILES:,} (rows x cols of the mesh)")
    return None


def vector_bits(layer, a: Architecture) -> int:
    """Bits one tile of ``layer`` must buffer at least: one array's input vector and its output vector."""
    return (min(layer.K, a.rows) + min(layer.N, a.cols)) * a.input_bits


def _buffer_vector(a: Architecture, wl) -> str | None:
    if wl is None or a.buffer_kB == AUTO:
        return None
    have = float(a.buffer_kB) * KB_BITS
    need, name = max(((vector_bits(l, a), l.name) for l in wl.weighted_layers()), default=(0, ""))
    if have < need:
        kb = math.ceil(need / KB_BITS * 1000) / 1000
        return (f"{a.source}: key 'buffer_kB' = {a.buffer_kB:g} is too small for {wl.name}: every input vector "
                f"passes through a tile's buffer, and layer '{name}' needs {need:,} bits (one array's input and "
                f"output vector at {a.input_bits}-bit activations); allowed buffer_kB >= {kb:g} or auto")
    return None


def _tile_count(a: Architecture, wl) -> str | None:
    if wl is None:
        return None
    per_tile = a.arrays_per_tile * a.rows * a.cols
    cells = sum(l.K * l.N for l in wl.weighted_layers())
    # a lower bound on the tiles (every cell used, one slice, one copy): cheap, exact enough to refuse millions
    if math.ceil(cells / per_tile) > MAX_TILES:
        return (f"{a.source}: {wl.name} needs more than {MAX_TILES:,} tiles of {a.arrays_per_tile} arrays of "
                f"{a.rows}x{a.cols} (the tile budget); use larger arrays ('rows', 'cols') or more "
                f"'arrays_per_tile'")
    return None


#: rule name -> check(arch, workload or None) -> refusal text or None; workload None: the rules over the
#: architecture alone
RULES: dict[str, Callable] = {
    "mesh_budget": _mesh_budget,
    "buffer_vector": _buffer_vector,
    "tile_count": _tile_count,
}


def problems(a: Architecture, workload=None) -> list[str]:
    """Every rule's refusal for ``a`` (and ``workload`` when given), in :data:`RULES` order."""
    return [msg for rule in RULES.values() if (msg := rule(a, workload)) is not None]


def check(a: Architecture, workload=None) -> None:
    """Refuse (the first rule's one line) a design that cannot be both priced and simulated."""
    found = problems(a, workload)
    if found:
        raise ArchsimError(found[0])

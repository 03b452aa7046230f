"""Published architectures as presets: ``techlib/presets/<name>.yaml``.

A preset holds an ``architecture`` mapping (validated like any architecture
file), its ``sources`` and ``assumptions`` (text), an optional
``validate_workload``, and ``published`` figures as techlib quantities
(``{value, unit, source}``) that ``archsim validate`` compares against.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import techlib

from archsim.model import arch as _arch
from archsim.model.errors import ArchsimError
from archsim.io.yaml import load_yaml

PRESET_DIR = techlib.ROOT / "presets"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    file: str
    architecture: _arch.Architecture
    sources: tuple
    assumptions: tuple
    validate_workload: str | None
    published: Mapping[str, techlib.Quantity]


def names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load(name: str) -> Preset:
    path = Path(name) if str(name).endswith((".yaml", ".yml")) else PRESET_DIR / f"{str(name).lower()}.yaml"
    if not path.exists():
        raise ArchsimError(f"unknown preset '{name}'; choose one of: {', '.join(names())}")
    rel = f"techlib/presets/{path.name}" if path.parent == PRESET_DIR else str(path)
    doc = load_yaml(path, "preset", shown=rel)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("architecture"), Mapping):
        raise ArchsimError(f"{rel}: a preset needs a mapping 'architecture' of architecture keys")
    allowed = {"name", "description", "sources", "assumptions", "architecture", "published", "validate_workload"}
    extra = set(doc) - allowed
    if extra:
        raise ArchsimError(f"{rel}: unknown key '{sorted(extra)[0]}'; allowed keys: {', '.join(sorted(allowed))}")
    a = _arch.from_dict(doc["architecture"], where=f"{rel} architecture")
    q: dict = {}
    s: dict = {}
    techlib._flatten(doc.get("published") or {}, "", rel, q, s)
    return Preset(str(doc.get("name", path.stem)), str(doc.get("description", "")), rel, a,
                  tuple(doc.get("sources") or ()), tuple(doc.get("assumptions") or ()),
                  doc.get("validate_workload"), q)

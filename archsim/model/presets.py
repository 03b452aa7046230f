"""Published architectures as presets: ``techlib/presets/<name>.yaml``.

A preset holds an ``architecture`` mapping (validated like any architecture
file), its ``sources`` and ``assumptions`` (text), an optional
``validate_workload``, and ``published`` figures as techlib quantities
(``{value, unit, source}``) that ``archsim validate`` compares against.

A preset of a measured chip or macro carries a ``silicon`` mapping of texts (:data:`SILICON_KEYS`):
what the chip is, its technology and node, the boundary of the published power (macro, core or chip)
and how it counts operations, and ``design_parameters``: the constants of the techlib files it uses
that were read from the chip's own paper (its design description, never its efficiency figures).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from archsim.io import techlib

from archsim.model import arch as _arch
from archsim.model.errors import ArchsimError, brief
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
    silicon: Mapping[str, object] | None = None


#: keys of a preset's ``silicon`` block: texts, and design_parameters a list of texts
SILICON_KEYS = ("chip", "technology", "node", "boundary", "ops", "paper", "design_parameters")


def _silicon(rel: str, v) -> Mapping[str, object] | None:
    if v is None:
        return None
    if not isinstance(v, Mapping):
        raise ArchsimError(f"{rel}: key 'silicon' must be a mapping of {', '.join(SILICON_KEYS)}")
    missing = [k for k in SILICON_KEYS if k not in v]
    extra = [k for k in v if k not in SILICON_KEYS]
    if missing or extra:
        bad = f"missing '{missing[0]}'" if missing else f"unknown key {brief(extra[0], 40)}"
        raise ArchsimError(f"{rel}: silicon: {bad}; allowed keys: {', '.join(SILICON_KEYS)}")
    out = {k: _texts(rel, f"silicon.{k}", v[k]) for k in SILICON_KEYS}
    return {k: (out[k] if k == "design_parameters" else " ".join(out[k])) for k in SILICON_KEYS}


def names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _texts(rel: str, key: str, v) -> tuple:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise ArchsimError(f"{rel}: key '{key}' = {brief(v)} is not allowed; allowed a text or a list of texts")


def load(name: str) -> Preset:
    """A preset by registry name (``isaac``) or by path to a YAML file; checked whole."""
    text = str(name)
    if text.lower().endswith((".yaml", ".yml")):
        path = Path(text)
        rel = text
    elif text.lower() in names():
        path = PRESET_DIR / f"{text.lower()}.yaml"
        rel = f"techlib/presets/{path.name}"
    else:
        raise ArchsimError(f"unknown preset {brief(text)}; choose one of: {', '.join(names())} (or a path to a "
                           f".yaml file)")
    doc = load_yaml(path, "preset", shown=rel)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("architecture"), Mapping):
        raise ArchsimError(f"{rel}: a preset needs a mapping 'architecture' of architecture keys")
    allowed = ("name", "description", "sources", "assumptions", "architecture", "published", "validate_workload",
               "silicon")
    extra = [k for k in doc if k not in allowed]
    if extra:
        raise ArchsimError(f"{rel}: unknown key {brief(extra[0], 40)}; allowed keys: {', '.join(sorted(allowed))}")
    for k in ("name", "description", "validate_workload"):
        if doc.get(k) is not None and not isinstance(doc[k], str):
            raise ArchsimError(f"{rel}: key '{k}' = {brief(doc[k])} is not allowed; allowed a text")
    if doc.get("published") is not None and not isinstance(doc["published"], Mapping):
        raise ArchsimError(f"{rel}: key 'published' must be a mapping of quantities ({{value, unit, source}})")
    arch_doc = dict(doc["architecture"])
    dev = arch_doc.get("device")
    if isinstance(dev, str) and dev.lower().endswith((".yaml", ".yml")) and not Path(dev).is_absolute():
        # a preset names a device file relative to techlib/devices/ (a variant of a registry device)
        arch_doc["device"] = str(techlib.DEVICE_DIR / dev)
    a = _arch.from_dict(arch_doc, where=f"{rel} architecture")
    q: dict = {}
    s: dict = {}
    techlib._flatten(doc.get("published") or {}, "", rel, q, s)
    return Preset(str(doc.get("name", path.stem)), str(doc.get("description", "")), rel, a,
                  _texts(rel, "sources", doc.get("sources")), _texts(rel, "assumptions", doc.get("assumptions")),
                  doc.get("validate_workload"), q, _silicon(rel, doc.get("silicon")))

"""Reading user YAML files: ``yaml.safe_load`` only, every failure one line naming the file."""
from __future__ import annotations

from pathlib import Path

import yaml

from archsim.model.errors import ArchsimError


def load_yaml(path: str | Path, what: str, shown: str | None = None):
    """Parse ``path`` (a ``what`` file, e.g. "architecture"); ``shown`` is how the file is named in errors."""
    p = Path(path)
    f = shown or str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArchsimError(f"{f}: {what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchsimError(f"{f}: cannot read {what} file ({exc.__class__.__name__})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ArchsimError(f"{f}:{line} not valid YAML ({problem})") from None

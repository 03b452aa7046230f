"""Reading YAML: the one reader of every user file and every techlib file.

Files are untrusted.  Before anything is parsed the path must be a regular file of at most
:data:`MAX_FILE_BYTES` that is UTF-8 text (no NUL byte).  The parser is PyYAML's ``SafeLoader``
(no Python objects are ever built) in a subclass, :class:`StrictLoader`, that refuses

- a mapping key given twice (YAML says keys are unique; PyYAML would keep the last silently),
- nesting deeper than :data:`MAX_DEPTH` (PyYAML's composer recurses once per level),
- more than :data:`MAX_NODES` nodes counted with every alias expanded, and any alias that refers to
  the node it sits in (a "billion laughs" file is refused while composing, before any object is built),
- integers written with more than :data:`MAX_INT_DIGITS` digits.

Every failure is one :class:`ArchsimError` line naming the file (and the line where known); values
are never formatted whole into a message (:func:`archsim.model.errors.brief`).  ``techlib`` reads its
data files through :func:`load_yaml` too: this module imports only PyYAML, the error class and
:mod:`archsim.io.bounded` (which imports only the error class), so the techlib reader (:mod:`archsim.io.techlib`, which ``archsim.model`` imports) can import it without a cycle.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode

from archsim.io.bounded import Refusals, read_bounded
from archsim.model.errors import ArchsimError

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_INT_DIGITS", "MAX_NODES", "StrictLoader", "load_yaml",
           "parse_yaml"]

#: largest YAML file read, in bytes (4 MiB; the largest file archsim ships is a few kB)
MAX_FILE_BYTES = 4 * 1024 * 1024
#: deepest nesting of sequences and mappings (archsim's own files nest 4 levels)
MAX_DEPTH = 64
#: most nodes in one document, every alias counted as the nodes it stands for
MAX_NODES = 200_000
#: most digits of one integer (Python refuses int <-> str beyond 4300 digits; no key needs more than 20)
MAX_INT_DIGITS = 64


class _Refused(Exception):
    """A limit of :class:`StrictLoader` hit: the problem and the 0-based line it was found on."""

    def __init__(self, problem: str, line: int | None):
        super().__init__(problem)
        self.problem = problem
        self.line = line


def _line(node_or_event) -> int | None:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line if mark is not None else None


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing duplicate keys, deep nesting, alias bombs and huge integers."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._aliases = 0
        self._expanded: dict[int, int] = {}   # id(anchored node) -> its node count, aliases expanded

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            node = self.anchors.get(event.anchor)
            if node is not None:
                size = self._expanded.get(id(node))
                if size is None:
                    raise _Refused(f"alias *{_brief_text(event.anchor)} refers to a node that contains it "
                                   f"(a recursive structure)", _line(event))
                self._aliases += 1
                self._count(size, event)
            return super().compose_node(parent, index)
        anchor = getattr(event, "anchor", None) if isinstance(
            event, (ScalarEvent, SequenceStartEvent, MappingStartEvent)) else None
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", _line(event))
        start = self._nodes
        self._count(1, event)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if anchor is not None:
            self._expanded[id(node)] = self._nodes - start
        return node

    def _count(self, n: int, event) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            what = " with its aliases expanded" if self._aliases else ""
            raise _Refused(f"more than {MAX_NODES:,} values{what}; allowed at most {MAX_NODES:,}", _line(event))

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    k = (key_node.tag, key_node.value)
                    if k in seen:
                        raise _Refused(f"key '{_brief_text(key_node.value)}' given twice (first on line "
                                       f"{seen[k] + 1}); allowed once", _line(key_node))
                    seen[k] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise _Refused(f"an integer of {digits} digits; allowed at most {MAX_INT_DIGITS}", _line(node))
        return super().construct_yaml_int(node)


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)


def _brief_text(text, limit: int = 40) -> str:
    s = str(text)
    return s if len(s) <= limit else s[:limit - 3] + "..."


def parse_yaml(text: str, where: str):
    """Parse YAML ``text`` with :class:`StrictLoader`; ``where`` names it in the one-line error."""
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        line = f" line {exc.line + 1}:" if exc.line is not None else ""
        raise ArchsimError(f"{where}:{line} {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark else ""
        problem = _brief_text(getattr(exc, "problem", None) or "syntax error", 100)
        raise ArchsimError(f"{where}:{line} not valid YAML ({problem})") from None
    except RecursionError:
        raise ArchsimError(f"{where}: nested too deeply to read; allowed at most {MAX_DEPTH} levels") from None
    except MemoryError:
        raise ArchsimError(f"{where}: too large to read (out of memory)") from None
    except (ValueError, OverflowError) as exc:   # a scalar Python cannot convert (e.g. a timestamp out of range)
        raise ArchsimError(f"{where}: a value cannot be read ({exc.__class__.__name__})") from None
    finally:
        loader.dispose()


def _a(what: str) -> str:
    return ("an " if what[:1].lower() in "aeiou" else "a ") + what


def _refusals(what: str) -> Refusals:
    """The messages :func:`read_text` refuses a ``what`` file with (``what`` kept literal in the templates)."""
    w = what.replace("{", "{{").replace("}", "}}")
    return Refusals(
        missing=f"{{where}}: {w} file not found",
        unreadable=f"{{where}}: cannot read {w} file ({{name}})",
        read=f"{{where}}: cannot read {w} file ({{strerror}})",
        folder=f"{{where}}: is a directory; allowed {_a(w)} YAML file",
        special=f"{{where}}: is not a regular file; allowed {_a(w)} YAML file",
        too_big=f"{{where}}: {w} file is {{size:,}} bytes; allowed at most {{limit:,}} bytes (4 MiB)",
        grew=f"{{where}}: {w} file is larger than {{limit:,}} bytes (4 MiB); allowed at most that")


def read_text(path: str | Path, what: str, shown: str | None = None) -> str:
    """The text of a ``what`` file, checked: a regular file, at most :data:`MAX_FILE_BYTES`, UTF-8 text."""
    f = shown or str(path)
    data = read_bounded(path, MAX_FILE_BYTES, f, _refusals(what))
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ArchsimError(f"{f}: not {_a(what)} YAML file (binary data, not UTF-8 text)") from None


def load_yaml(path: str | Path, what: str, shown: str | None = None):
    """Read and parse the ``what`` file ``path`` (e.g. "architecture"); ``shown`` names it in errors."""
    f = shown or str(path)
    return parse_yaml(read_text(path, what, f), f)

"""The package's shape: imports run one way through the flow's steps, with no cycle, and every folder says
what it holds.

Every module under ``archsim/`` is parsed with :mod:`ast` (nothing is imported) and each ``import archsim...``
/ ``from archsim... import ...`` it holds, at the top or inside a function, becomes an edge to the module it
names (``from archsim.explore import store`` names the module ``archsim.explore.store``; a name that is not a
module names the package).  ``workloads/`` sits outside ``archsim/`` and is not checked; ``techlib/`` is
checked to be data and an entry point that imports nothing of archsim.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

PKG = Path(__file__).resolve().parents[1] / "archsim"

#: rank of each top-level folder (and of api.py): an import may go to the same rank or below, never above
RANK = {"version": 0, "model": 0, "io": 0, "mapping": 1, "cost": 2, "sim": 2, "explore": 3, "report": 3, "cli": 4,
        "api": 5}
#: importers left out of the rank rule: the package's front door and ``python -m archsim``
EXEMPT = {"archsim", "archsim.__main__"}

#: upward imports tolerated (importer, imported); the cycle check leaves them out too.  None today.
KNOWN: set[tuple[str, str]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        parts = list(p.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _target(name: str) -> str | None:
    """The module a dotted name refers to: itself, else the nearest enclosing module (a name in a package)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(mod: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            names = [f"{src}.{a.name}" for a in node.names]  # a submodule, or a name in src
        else:
            continue
        for n in names:
            if n == "archsim" or n.startswith("archsim."):
                t = _target(n)
                if t is not None and t != mod:
                    out.add(t)
    return out


def import_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for mod, path in MODULES.items():
        g.add_node(mod)
        for t in _imports(mod, path):
            g.add_edge(mod, t)
    return g


def rank(mod: str) -> int:
    """A module's layer: its top-level folder's (``archsim`` itself counts as the top: it loads api.py)."""
    parts = mod.split(".")
    if len(parts) == 1:
        return RANK["api"]
    return RANK[parts[1]]


def test_every_module_has_a_layer():
    for mod in MODULES:
        if mod in EXEMPT:
            continue
        assert mod.split(".")[1] in RANK, f"{mod}: add its folder to RANK (which step of the flow is it?)"


def test_no_import_cycle():
    g = import_graph()
    g.remove_edges_from(KNOWN)
    cycles = sorted(sorted(c) for c in nx.simple_cycles(g))
    assert not cycles, "modules that import each other (directly or around a loop): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_no_upward_import():
    g = import_graph()
    up = set()
    for a, b in g.edges:
        if a in EXEMPT or a.split(".")[:2] == b.split(".")[:2]:
            continue  # the front door, or a module importing its own folder
        if rank(b) > rank(a):
            up.add((a, b))
    new = sorted(up - KNOWN)
    assert not new, "imports that run upward (" + " < ".join(f"{k}={v}" for k, v in RANK.items()) + "): " + \
        "; ".join(f"{a} -> {b}" for a, b in new)
    gone = sorted(KNOWN - up)
    assert not gone, "KNOWN lists upward imports that are gone; remove them from KNOWN: " + \
        "; ".join(f"{a} -> {b}" for a, b in gone)


def test_known_violations_are_outside_explore_report_cli():
    for a, _ in KNOWN:
        assert a.split(".")[1] not in ("explore", "report", "cli"), a


#: folders holding Python source (a leftover folder with only caches in it, e.g. after a move, is not one)
FOLDERS = sorted(p for p in PKG.rglob("*") if p.is_dir() and p.name != "__pycache__" and any(p.glob("*.py")))


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(PKG.parent)))
def test_every_folder_is_a_package_that_says_what_it_holds(folder):
    init = folder / "__init__.py"
    assert init.is_file(), f"{folder.relative_to(PKG.parent)} has no __init__.py"
    doc = " ".join((ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "").split())
    sentences = re.findall(r"[^.!?]+[.!?](?=\s|$)", doc)
    # a paragraph: two sentences or more, saying what the folder holds (a title line alone is not one)
    assert len(doc) >= 150 and len(sentences) >= 2, \
        f"{init.relative_to(PKG.parent)}: its docstring needs a paragraph on what the folder holds (got {doc!r})"


#: the data folders outside archsim/: techlib/ is data and a thin entry point (it says where its files are)
TECHLIB = PKG.parent / "techlib"


def test_techlib_is_data_and_a_thin_entry_point():
    """techlib/ holds data files and an __init__.py that imports nothing of archsim (or of workloads): its
    reader lives in archsim/io/techlib.py, so no arrow runs from the data up into the package."""
    sources = sorted(p for p in TECHLIB.rglob("*.py") if "__pycache__" not in p.parts)
    assert [p.name for p in sources] == ["__init__.py"], f"techlib/ should hold no code beyond its entry: {sources}"
    for p in sources:
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for n in names:
                assert n.split(".")[0] not in ("archsim", "workloads"), f"{p}: imports {n} (upward)"
    assert "archsim.io.techlib" in MODULES, "the techlib reader belongs in archsim/io/techlib.py"


# library errors name parameters, the command line words them as flags ------------------------------------------------

_FLAG = re.compile(r"(?:^|[\s(`'])--[a-z][a-z-]*")
#: modules outside archsim/cli that are a command line of their own (their errors name their own flags)
_OWN_COMMAND_LINES = {"archsim/io/data.py"}


def _raised_text(node: ast.Raise) -> str:
    """The literal text of the exception a ``raise`` builds (string constants and f-string parts), less whole
    commands it names (``archsim list --keys``: a command to run, not a flag of the call that failed)."""
    if node.exc is None:
        return ""
    text = " ".join(n.value for n in ast.walk(node.exc) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    return re.sub(r"archsim [a-z-]+ --[a-z-]+", "", text)


def test_library_errors_name_parameters_not_flags():
    """Outside ``archsim/cli`` an error names a parameter (``ParameterError``'s ``{param}``, which the CLI words
    as its flag through ``archsim.cli.args.FLAGS``), a file, a key or a layer, never a command-line flag: an API
    user has no flags."""
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).as_posix()
        if rel.startswith("archsim/cli/") or rel in _OWN_COMMAND_LINES:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Raise) and _FLAG.search(_raised_text(node)):
                bad.append(f"{rel}:{node.lineno}")
    assert bad == [], f"errors worded as command-line flags: {bad}"


# docs/ARCHITECTURE.md's tree names every module ------------------------------------------------------------------------

ARCHITECTURE_MD = PKG.parent / "docs" / "ARCHITECTURE.md"


def _tree_sections() -> dict[str, str]:
    """The text of each top-level folder's entry in the tree of docs/ARCHITECTURE.md (its block opening ``archsim/``)."""
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    block = next(b for b in text.split("```")[1::2] if b.lstrip().startswith("archsim/"))
    sections, name = {}, None
    for line in block.splitlines():
        m = re.match(r"^  (\w+)/", line)
        if m:
            name = m.group(1)
        elif not line.startswith("    "):
            name = None          # a line of its own (api.py, techlib/ ...): not a folder's entry
        if name is not None:
            sections[name] = sections.get(name, "") + " " + line
    return sections


def test_the_architecture_page_names_every_module_in_its_folder():
    """Each module of a step's folder (``archsim/<step>/**/<name>.py``) is named in that folder's entry of the tree
    in docs/ARCHITECTURE.md, so the page says where things are after a module is split or added."""
    sections = _tree_sections()
    missing = []
    for mod, path in MODULES.items():
        parts = mod.split(".")
        if len(parts) < 3 or path.name.startswith("__"):
            continue           # the package's own files (api.py, version.py), packages and entry points
        if re.search(rf"(?<![\w/]){re.escape(path.name)}", sections.get(parts[1], "")) is None:
            missing.append(str(path.relative_to(PKG.parent)))
    assert not missing, f"docs/ARCHITECTURE.md: name these modules in their folder's entry of the tree: {missing}"

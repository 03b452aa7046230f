"""Command line: ``archsim list | estimate | compare | accuracy | export | validate | sweep | size | bench``.

``--workload NAME`` (a built-in) or ``--model FILE.onnx`` (your own network,
``pip install archsim[onnx]``) names the network wherever one is taken.

This module builds the parser from the command groups (:mod:`archsim.cli.design`,
:mod:`archsim.cli.accuracy`, :mod:`archsim.cli.explore`) and runs the command: bad input prints one line
``archsim: error: ...`` on stderr and exits with 2.
"""
from __future__ import annotations

import argparse
import sys

from archsim.cli import accuracy, design, explore
from archsim.cli.args import FLAGS, OneLineParser, show_bounds
from archsim.model.errors import ArchsimError, ParameterError

#: the command groups: each module's ``COMMANDS`` maps a command to the function adding it to the parser
GROUPS = (design, accuracy, explore)
#: the order ``archsim --help`` lists the commands in
ORDER = ("list", "estimate", "compare", "accuracy", "export", "validate", "sweep", "size", "bench")


class _Flags:
    """A parameter's flag: :data:`archsim.cli.args.FLAGS`, else ``--`` and the name with dashes."""

    @staticmethod
    def get(param: str) -> str:
        return FLAGS.get(param) or "--" + param.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="archsim", description="Energy, latency, area (and accuracy) of neural networks "
                                "on analog in-memory-computing accelerators.")
    sub = p.add_subparsers(dest="command", required=True)
    adders = {name: add for group in GROUPS for name, add in group.COMMANDS.items()}
    assert set(adders) == set(ORDER), sorted(set(adders) ^ set(ORDER))
    for name in ORDER:
        adders[name](sub)
    show_bounds(p)
    return p


def _wants(flag: str, value=True):
    return lambda args: getattr(args, flag, None) not in (None, False, "") and \
        (value is True or getattr(args, flag) == value)


def _progress_on(args) -> bool:
    return hasattr(args, "no_progress") and not args.no_progress


def _module(name: str, required: bool, hint: str):
    """A start-up loader: import ``name``; when it is missing, a required one is an error (one line, exit 2) and
    an optional one is left out, as the command itself would leave it."""
    def load(args) -> None:
        import importlib
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if required:
                raise ArchsimError(f"{args.command}: needs the module {name} ({exc.__class__.__name__}: "
                                   f"{' '.join(str(exc).split())[:120]}); {hint}") from None
    return load


def _onnx(args) -> None:
    from archsim.io.onnx.guard import onnx_module
    onnx_module()         # its own one-line error: "ONNX import and export need the onnx package: ..."


def _dask(args) -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ArchsimError("--scheduler needs the Dask extra: pip install 'dask[distributed]'") from None


#: modules a command imports late, imported when it starts instead, so that a missing package or a late import
#: under a memory limit fails in one line before any work, never as a traceback after it:
#: ``(commands (empty: any), applies(args), loader(args))``.
STARTUP_IMPORTS = (
    (("accuracy", "compare", "size", "validate", "bench"), lambda a: True, _module("scipy.stats", True, "pip install scipy")),
    ((), _wants("model"), _onnx),
    (("export",), lambda a: True, _onnx),
    ((), _wants("scheduler"), _dask),
    ((), _progress_on, _module("tqdm", False, "pip install tqdm")),
    (("sweep",), lambda a: True, _module("pyarrow", False, "pip install pyarrow")),
    (("bench",), lambda a: not getattr(a, "no_plots", False), _module("matplotlib.figure", False, "pip install matplotlib")),
)


def import_at_startup(args) -> None:
    """Import the modules :data:`STARTUP_IMPORTS` names for this command now (see there)."""
    for commands, applies, load in STARTUP_IMPORTS:
        if (not commands or args.command in commands) and applies(args):
            load(args)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:   # a bad flag (one line already printed, status 2) or --help (0): the exit code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except (ImportError, MemoryError) as exc:
        print(f"archsim: error: cannot start ({exc.__class__.__name__}: {' '.join(str(exc).split())[:160]})",
              file=sys.stderr)
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)   # the command line report.html quotes
    try:
        import_at_startup(args)
        return args.func(args)
    except ParameterError as exc:     # a loader's parameter, worded as this command line's flag
        print(f"archsim: error: {exc.worded(_Flags())}", file=sys.stderr)
        return 2
    except ArchsimError as exc:
        print(f"archsim: error: {exc}", file=sys.stderr)
        return 2
    except RecursionError:
        # a network or file nested deeper than Python's stack: bad input, not a bug to show as a traceback
        print(f"archsim: error: {args.command}: the input is nested too deeply to read (recursion limit "
              f"{sys.getrecursionlimit()}); simplify the file or network", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"archsim: error: {args.command}: out of memory; use a smaller input (fewer --samples or "
              f"--trials, a smaller network or data file)", file=sys.stderr)
        return 2
    except ImportError as exc:
        # a late import that failed (a missing package, or no memory left to load one): one line, not a traceback
        print(f"archsim: error: {args.command}: a module could not be imported ({exc.__class__.__name__}: "
              f"{' '.join(str(exc).split())[:160]}); install it or run with more memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``archsim list | estimate | compare | accuracy | train | export | validate | sweep | size | bench``.

``--workload NAME`` (a built-in) or ``--model FILE.onnx`` (your own network,
``pip install archsim[onnx]``) names the network wherever one is taken.

This module builds the parser from the command groups (:mod:`archsim.cli.design`,
:mod:`archsim.cli.accuracy`, :mod:`archsim.cli.explore`) and runs the command: bad input prints one line
``archsim: error: ...`` on stderr and exits with 2.
"""
from __future__ import annotations

import argparse
import sys

from archsim.cli import accuracy, design, explore, train
from archsim.cli.args import OneLineParser
from archsim.model.errors import ArchsimError

#: the command groups: each module's ``COMMANDS`` maps a command to the function adding it to the parser
GROUPS = (design, accuracy, train, explore)
#: the order ``archsim --help`` lists the commands in
ORDER = ("list", "estimate", "compare", "accuracy", "train", "export", "validate", "sweep", "size", "bench")


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="archsim", description="Energy, latency, area (and accuracy) of neural networks "
                                "on analog in-memory-computing accelerators.")
    sub = p.add_subparsers(dest="command", required=True)
    adders = {name: add for group in GROUPS for name, add in group.COMMANDS.items()}
    assert set(adders) == set(ORDER), sorted(set(adders) ^ set(ORDER))
    for name in ORDER:
        adders[name](sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # a bad flag (one line already printed, status 2) or --help (0): the exit code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return args.func(args)
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
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

# PYTHON_ARGCOMPLETE_OK
"""The command line: the only place that prints or exits.

Each verb lives in its own module with `register(subparsers)`; errors of the
LabtoolError hierarchy are rendered here once, as `error: ...` and `hint: ...`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from labtool import __version__
from labtool.cancel import StoppedError
from labtool.cli import (
    check,
    compare,
    completion,
    daemons,
    doctor,
    down,
    handout,
    hosts,
    images,
    init,
    interrupts,
    provision,
    report,
    reset,
    room,
    serve,
    shell,
    snapshot,
    start,
    status,
    stop,
    up,
    verify,
)
from labtool.errors import LabtoolError
from labtool.host import children

VERBS = (
    init,
    up,
    status,
    provision,
    reset,
    snapshot,
    stop,
    start,
    down,
    verify,
    check,
    compare,
    report,
    handout,
    serve,
    shell,
    room,
    images,
    hosts,
    daemons,
    doctor,
    completion,
)
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = interrupts.EXIT_INTERRUPTED


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="labtool",
        description="Provision lab rooms of paired Vagrant VMs and Docker containers, and prove they match.",
    )
    top.add_argument("--version", action="version", version=f"labtool {__version__}")
    top.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    top.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="the lab project (default: LABTOOL_PROJECT, else the nearest directory above with inventories/ "
        "and playbooks/)",
    )
    subparsers = top.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        verb.register(subparsers)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    if argv is None:
        complete(top)
    args, left = top.parse_known_args(argv)
    if left and getattr(args, "trailing_words", False) and not any(w.startswith("-") for w in left):
        # `snapshot save ROOM --seat S NAME`: argparse leaves a positional after an option unparsed.
        args.extra = [*args.extra, *left]
    elif left:
        top.error(f"unrecognized arguments: {' '.join(left)}")
    with children.marking_children():  # so a later labtool can tell this one's leftovers, should it be killed
        code = _run(args)
    if code == EXIT_INTERRUPTED and interrupts.stuck_threads():
        # A worker still inside a call (its commands were stopped, the state written, the lock released)
        # would keep Python from exiting: leave now, as promised to the user who pressed Ctrl-C.
        interrupts.flush()
        os._exit(code)
    return code


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args))
    except StoppedError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except LabtoolError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `labtool verify | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, not a user error: still no traceback unless asked for
        if args.debug:
            traceback.print_exc()
        print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: re-run with --debug for the traceback, and report it", file=sys.stderr)
        return EXIT_ERROR


def complete(top: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit, when this run is one (`labtool completion` sets it up)."""
    try:
        import argcomplete
    except ImportError:  # an environment installed before labtool depended on it: no completion, everything else works
        return
    argcomplete.autocomplete(top)

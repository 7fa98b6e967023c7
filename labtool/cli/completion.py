"""`labtool completion SHELL`: print the shell code that completes labtool's verbs, rooms, seats and machines."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli.context import add_verb
from labtool.cli.output import say
from labtool.errors import LabtoolError

SHELLS = ("bash", "zsh", "fish")


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "completion",
        summary="print the shell code for tab completion of verbs, rooms, seats and machines",
        description="""Print the code that makes the shell complete labtool's command lines: verbs and options,
        room names (from the lab project's rooms directory), seats of the room named on the line, and machine names
        for `labtool ssh` and `labtool exec`. Load it from the shell's start-up file; completion runs labtool itself
        (through argcomplete), so it always knows the current rooms.""",
        examples=[
            'eval "$(labtool completion bash)"          # in ~/.bashrc',
            'eval "$(labtool completion zsh)"           # in ~/.zshrc',
            "labtool completion fish | source           # in ~/.config/fish/config.fish",
        ],
    )
    parser.add_argument("shell", nargs="?", default="bash", choices=SHELLS, help="the shell (default: bash)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from argcomplete.shell_integration import shellcode
    except ImportError as exc:
        raise LabtoolError(
            "shell completion needs the argcomplete package, which is not installed",
            "re-install labtool's dependencies: scripts/install-venv.sh (or `pip install -e .`)",
        ) from exc
    say(shellcode(["labtool"], shell=args.shell).rstrip("\n"))
    return 0

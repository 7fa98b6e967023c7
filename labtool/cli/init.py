"""`labtool init DIR`: a new lab project (a course) to edit, from an example."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labtool.cli.output import say
from labtool.examples import EXAMPLES
from labtool.scaffold import init


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("init", help="write a new lab project (playbook, roles, a room, tests, Molecule)")
    parser.add_argument("directory", type=Path, help="where to write it (absent or empty)")
    parser.add_argument(
        "--example",
        choices=EXAMPLES,
        default="minimal",
        help="minimal: one small role; labnotes: the reference course (nginx + a web app); default minimal",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    target = init(args.directory, args.example)
    say(f"wrote the {args.example} lab project in {target}")
    say(f"next: cd {target} && labtool up && labtool verify")
    return 0

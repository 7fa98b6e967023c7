"""`labtool init DIR`: a new lab project (a course) to edit, from an example."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labtool import config
from labtool.cli.context import add_verb, host_rooms
from labtool.cli.output import say
from labtool.examples import EXAMPLES
from labtool.scaffold import init
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "init",
        summary="write a new lab project (playbook, roles, a room, tests, Molecule)",
        description="""Write a new lab project, a course, into a directory that is absent or empty: a playbook and
        its roles, a room (inventories/default/ with its labtool.yml; named after the directory when another
        course's room is called default on this host, and on a network index no room here uses), a testinfra
        suite that `labtool verify` runs, and Molecule scenarios for both kinds of machine. The minimal example
        has one small role; labnotes is the reference course (nginx and a web app). Edit it, then bring its room
        up from inside it.""",
        examples=[
            "labtool init ~/courses/net101                       # the minimal example",
            "labtool init ~/courses/web --example labnotes",
            "cd ~/courses/net101 && labtool up && labtool verify",
        ],
    )
    parser.add_argument("directory", type=Path, help="where to write it (absent or empty)")
    parser.add_argument(
        "--example",
        choices=EXAMPLES,
        default="minimal",
        help="minimal: one small role; labnotes: the reference course (nginx + a web app); default minimal",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    target = init(args.directory, args.example, host_rooms(Settings.from_env()))
    (room,) = config.list_rooms(target / "inventories")
    say(f"wrote the {args.example} lab project in {target}, with room {room!r}")
    say(f"next: cd {target} && labtool up && labtool verify")
    return 0

"""`labtool down`: destroy a room's machines, networks and state (or only some seats' machines)."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli import interrupts
from labtool.cli.context import add_room_arguments, lab_for
from labtool.cli.output import progress, say


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("down", help="destroy a room (or some seats) and leave nothing behind")
    add_room_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with interrupts.stopping_on_signals(progress) as cancel:
        lab = lab_for(args, cancel=cancel)
        lab.check_free()
        lab.recover(progress)  # a killed labtool's `vagrant up` holds the machine: `vagrant destroy` would fail
        removed = lab.down(args.seats, progress)
    what = f"seats {', '.join(args.seats)}" if args.seats else "the room, its networks and state"
    say(f"room {lab.room.name!r}: removed {len(removed)} machines; destroyed {what}")
    return 0

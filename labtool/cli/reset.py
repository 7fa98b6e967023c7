"""`labtool reset`: a seat's machines back to freshly provisioned, while every other seat keeps running."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli import interrupts, snapshot, up
from labtool.cli.context import add_kind_arguments, add_room_arguments, add_verb, lab_for, positive_int
from labtool.cli.output import progress
from labtool.errors import LabtoolError

DESCRIPTION = """\
Destroy the seat's VM and container (or only one of them) and make them again from the
room's image pair, then converge them with the course's playbook: a student's broken
machine is back to its first state in minutes, with the student's account and password
kept. From a baked pair (`labtool images bake`) the converge has only per-seat work left.
Other seats are not touched."""


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "reset",
        summary="recreate a seat's machines from the room's images and converge them again",
        description=DESCRIPTION,
        examples=[
            "labtool reset --seat seat03              # both machines of seat03",
            "labtool reset lab2 --seat seat03 --vm    # only its VM",
            "labtool reset --seat seat03 --to before-ex2   # back to a checkpoint (labtool snapshot)",
        ],
    )
    add_room_arguments(parser, seat_required=True)
    add_kind_arguments(parser)
    parser.add_argument(
        "--to", metavar="NAME", help="back to the seat's checkpoint NAME instead (`labtool snapshot restore`)"
    )
    parser.add_argument("--parallel", type=positive_int, default=None, metavar="N", help="provisioning runs at once")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run, force_provision=False, dry_run=False, bake=False, force=False)


def run(args: argparse.Namespace) -> int:
    if args.to is not None:
        if args.kind is not None:
            raise LabtoolError("a checkpoint holds both machines of a seat", "drop --vm/--container with --to")
        return snapshot.run_restore(argparse.Namespace(**{**vars(args), "name": args.to}))
    kinds = [args.kind] if args.kind else None
    with interrupts.stopping_on_signals(progress) as cancel:  # as `down`, then `up` (which has its own)
        lab = lab_for(args, cancel=cancel)
        lab.check_free()
        lab.recover(progress)
        removed = lab.down(args.seats, progress, kinds)
    progress(f"room {lab.room.name!r}: removed {', '.join(removed) or 'nothing'}; making them again")
    return up.run(args)

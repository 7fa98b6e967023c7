"""`labtool snapshot save|list|restore|delete`: checkpoints of a seat, both machines together."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from labtool import snapshots
from labtool.cli.context import add_room_arguments, add_verb, lab_for
from labtool.cli.output import print_json, progress, say, table
from labtool.errors import LabtoolError
from labtool.snapshots import Done

DESCRIPTION = """\
Save a seat at a point of the class and go back to it: its VM (a libvirt snapshot of disk and
memory) and its container (committed to an image, then made again from it with the same
name, address and ports) are captured together and restored together. A restored seat keeps
the student's current account and password. A seat's checkpoints go when its machines do
(`down`, or a plain `reset`); `reset --seat S --to NAME` is the same as `snapshot restore`."""

SAVE = """Capture both machines of each given seat, which must be running, under NAME: the VM's disk and
memory, the container's files. When one of the two cannot be saved, neither is kept."""
RESTORE = """Bring both machines of each given seat back to checkpoint NAME, running: what was written since is
gone, the student's current account and password are set again."""
DELETE = """Remove checkpoint NAME of each given seat: the VM's snapshot and the container's image."""


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "snapshot",
        summary="save, list, restore or delete checkpoints of a seat",
        description=DESCRIPTION,
        examples=[
            "labtool snapshot save --seat seat03 before-ex2",
            "labtool snapshot list",
            "labtool snapshot restore --seat seat03 before-ex2",
            "labtool snapshot delete lab2 --seat seat03 before-ex2",
        ],
    )
    actions = parser.add_subparsers(dest="snapshot_verb", metavar="ACTION", required=True)
    for name, summary, description, run in (
        ("save", "capture the seat's two running machines under NAME", SAVE, run_save),
        ("restore", "bring the seat's two machines back to checkpoint NAME", RESTORE, run_restore),
        ("delete", "remove checkpoint NAME of the seat", DELETE, run_delete),
    ):
        example = f"labtool snapshot {name} --seat seat03 before-ex2"
        action = add_verb(actions, name, summary=summary, description=description, examples=[example])
        add_room_arguments(action, seat_required=True)
        # ROOM is optional and comes first: argparse cannot put an optional positional before a required one.
        action.add_argument("extra", nargs="*", metavar="NAME", help="the checkpoint's name (a-z, 0-9, . _ -)")
        action.add_argument("--json", action="store_true", help="print the result as JSON")
        action.set_defaults(run=run, trailing_words=True)
    listing = add_verb(
        actions,
        "list",
        summary="list the room's checkpoints",
        description="List the checkpoints of the room (or of the given seats), oldest first.",
        examples=["labtool snapshot list --json"],
    )
    add_room_arguments(listing)
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(run=run_list)


def _room_and_name(args: argparse.Namespace) -> argparse.Namespace:
    """`[ROOM] NAME`: the room argument holds the name when only one word was given."""
    words = [w for w in (args.room, *args.extra) if w is not None]
    if len(words) not in (1, 2):
        raise LabtoolError(
            f"`labtool snapshot {args.snapshot_verb}` takes [ROOM] NAME, got {len(words)} words",
            f"e.g. `labtool snapshot {args.snapshot_verb} --seat seat01 before-ex2`",
        )
    return argparse.Namespace(**{**vars(args), "room": words[0] if len(words) == 2 else None, "name": words[-1]})


def run_save(args: argparse.Namespace) -> int:
    args = _room_and_name(args)
    lab = lab_for(args)
    return _show("saved", [snapshots.save(lab, seat, args.name, progress) for seat in args.seats], args.json)


def run_restore(args: argparse.Namespace) -> int:
    if getattr(args, "name", None) is None:
        args = _room_and_name(args)
    lab = lab_for(args)
    return _show("restored", [snapshots.restore(lab, seat, args.name, progress) for seat in args.seats], args.json)


def run_delete(args: argparse.Namespace) -> int:
    args = _room_and_name(args)
    lab = lab_for(args)
    return _show("deleted", [snapshots.delete(lab, seat, args.name, progress) for seat in args.seats], args.json)


def run_list(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    found = snapshots.saved(lab.state_dir, args.seats)
    if args.json:
        print_json([asdict(s) for s in found])
    elif not found:
        say(f"room {lab.room.name!r} has no checkpoints; save one with `labtool snapshot save --seat SEAT NAME`")
    else:
        say(table(["seat", "checkpoint", "saved (UTC)"], [[s.seat, s.name, s.created] for s in found]))
    return 0


def _show(done: str, results: list[Done], as_json: bool) -> int:
    if as_json:
        print_json([{**asdict(r.snapshot), "action": done, "seconds": r.seconds} for r in results])
        return 0
    for result in results:
        took = ", ".join(f"{machine} {seconds:.1f} s" for machine, seconds in result.seconds.items())
        say(f"{result.snapshot.seat}: {done} checkpoint {result.snapshot.name!r} ({took})")
    return 0

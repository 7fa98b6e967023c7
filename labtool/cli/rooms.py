"""What the room verbs share: the ROOM and --seat arguments, and turning them into a Lab."""

from __future__ import annotations

import argparse

from labtool import config
from labtool.errors import LabtoolError
from labtool.lab import Lab, open_lab
from labtool.settings import Settings

DEFAULT_ROOM = "default"


def add_room_arguments(parser: argparse.ArgumentParser, *, seats: bool = True) -> None:
    parser.add_argument("room", nargs="?", default=DEFAULT_ROOM, help="the room: a directory under inventories/")
    if seats:
        parser.add_argument("--seat", action="append", dest="seats", metavar="SEAT", help="only this seat (repeatable)")


def lab_for(args: argparse.Namespace) -> Lab:
    settings = Settings.from_env()
    room = config.load(settings.rooms_dir, args.room)
    seats = getattr(args, "seats", None)
    if seats:
        known = {s.name for s in room.seats}
        unknown = sorted(set(seats) - known)
        if unknown:
            raise LabtoolError(
                f"room {room.name!r} has no seat {', '.join(unknown)}",
                f"its seats are: {', '.join(sorted(known))}",
            )
    return open_lab(settings, room)

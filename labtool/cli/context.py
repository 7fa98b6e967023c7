"""What the verbs share: the lab project and its rooms, the ROOM and --seat arguments, and turning them into a Lab."""

from __future__ import annotations

import argparse
from pathlib import Path

from labtool import config, project
from labtool.cancel import Cancel
from labtool.errors import LabtoolError
from labtool.images.pair import ImagePair
from labtool.lab import Lab, open_lab
from labtool.model import Room
from labtool.project import Project
from labtool.settings import Settings

DEFAULT_ROOM = "default"


def add_room_arguments(parser: argparse.ArgumentParser, *, seats: bool = True, seat_required: bool = False) -> None:
    parser.add_argument("room", nargs="?", default=DEFAULT_ROOM, help="the room: a directory under inventories/")
    if seats:
        parser.add_argument(
            "--seat",
            action="append",
            dest="seats",
            metavar="SEAT",
            required=seat_required,
            help="this seat (repeatable)" if seat_required else "only this seat (repeatable)",
        )


def positive_int(text: str) -> int:
    """argparse type for counts such as --parallel: a whole number of 1 or more (else a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def lab_project(args: argparse.Namespace) -> Project:
    """`--project DIR`, LABTOOL_PROJECT, or the lab project above the working directory."""
    explicit: Path | None = getattr(args, "project", None)
    return project.find(explicit)


def rooms_dir(settings: Settings, here: Project) -> Path:
    """The project's inventories/, unless LABTOOL_ROOMS_DIR puts the rooms elsewhere."""
    return settings.rooms_dir or here.rooms_dir


def load_room(args: argparse.Namespace, settings: Settings) -> Room:
    here = lab_project(args)
    return config.load(rooms_dir(settings, here), args.room, here)


def lab_for(args: argparse.Namespace, images: ImagePair | None = None, cancel: Cancel | None = None) -> Lab:
    """The room of the arguments, with its seats checked; `images` only for verbs that create machines."""
    settings = Settings.from_env()
    return open_lab(settings, room_for(args, settings), images, cancel)


def room_for(args: argparse.Namespace, settings: Settings) -> Room:
    room = load_room(args, settings)
    seats = getattr(args, "seats", None)
    if seats:
        known = {s.name for s in room.seats}
        unknown = sorted(set(seats) - known)
        if unknown:
            raise LabtoolError(
                f"room {room.name!r} has no seat {', '.join(unknown)}",
                f"its seats are: {', '.join(sorted(known))}",
            )
    return room

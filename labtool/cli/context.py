"""What the verbs share: their parsers, the lab project and its rooms, the ROOM and --seat arguments (with their
shell completion), and turning them into a Lab."""

from __future__ import annotations

import argparse
import os
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labtool import config, project, state
from labtool.cancel import Cancel
from labtool.errors import LabtoolError
from labtool.images.pair import ImagePair
from labtool.lab import Lab, open_lab
from labtool.model import Kind, Room
from labtool.project import Project
from labtool.settings import Settings

DEFAULT_ROOM = "default"
HELP_WIDTH = 78
COMPLETION_VARIABLES = ("_ARGCOMPLETE", "COMP_", "_ARC_")
Completer = Callable[..., list[str]]
"""argcomplete's completer: called with the word's prefix and the arguments parsed so far."""


def add_verb(
    subparsers: Any, name: str, *, summary: str, description: str, examples: Sequence[str]
) -> argparse.ArgumentParser:
    """A verb's parser: `summary` in `labtool --help`; a one-paragraph description and examples in its own --help."""
    return subparsers.add_parser(  # type: ignore[no-any-return]
        name,
        help=summary,
        description=textwrap.fill(" ".join(description.split()), HELP_WIDTH),
        epilog="examples:\n" + "\n".join(f"  {example}" for example in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_room_arguments(parser: argparse.ArgumentParser, *, seats: bool = True, seat_required: bool = False) -> None:
    room = parser.add_argument(
        "room", nargs="?", help="the room: a directory under inventories/ (default: default, or the only room)"
    )
    completes(room, complete_rooms)
    if seats:
        seat = parser.add_argument(
            "--seat",
            action="append",
            dest="seats",
            metavar="SEAT",
            required=seat_required,
            help="this seat (repeatable)" if seat_required else "only this seat (repeatable)",
        )
        completes(seat, complete_seats)


def add_kind_arguments(parser: argparse.ArgumentParser) -> None:
    """`--vm` or `--container`: only that machine of each seat (args.kind; None: both)."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--vm", action="store_const", const=Kind.VM, dest="kind", help="only the VM of each seat")
    which.add_argument(
        "--container", action="store_const", const=Kind.CONTAINER, dest="kind", help="only the container of each seat"
    )


def completes(action: argparse.Action, completer: Completer) -> None:
    """Tell argcomplete how to complete the argument's values (it looks for a `completer` attribute)."""
    action.completer = completer  # type: ignore[attr-defined]


# -- shell completion: each completer answers from the project's rooms, and with nothing when anything is wrong --


def complete_rooms(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    try:
        directory = rooms_dir(Settings.from_env(), lab_project(parsed_args))
        return [name for name in config.list_rooms(directory) if name.startswith(prefix)]
    except (LabtoolError, OSError):
        return []


def complete_seats(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    room = _room_or_none(parsed_args)
    return [s.name for s in room.seats if s.name.startswith(prefix)] if room else []


def complete_machines(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    room = _room_or_none(parsed_args)
    return [m.name for m in room.machines if m.name.startswith(prefix)] if room else []


def _room_or_none(parsed_args: argparse.Namespace) -> Room | None:
    """The room named so far (or the default room), or None when it cannot be read: completion never fails aloud."""
    try:
        here = lab_project(parsed_args)
        settings = Settings.from_env()
        directory = rooms_dir(settings, here)
        name = getattr(parsed_args, "room", None) or default_room(directory)
        with _without_completion_request():
            return config.load(directory, name, here, inventory_cache=settings.inventory_cache_dir)
    except (LabtoolError, OSError):
        return None


@contextmanager
def _without_completion_request() -> Iterator[None]:
    """Hide argcomplete's variables from child processes: `ansible-inventory`, which reads the room, would
    otherwise take the request as its own, answer it and exit."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(COMPLETION_VARIABLES)}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


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


def default_room(directory: Path) -> str:
    """The room a verb means when none is named: `default`, or else the project's only room."""
    rooms = config.list_rooms(directory)
    return rooms[0] if len(rooms) == 1 and DEFAULT_ROOM not in rooms else DEFAULT_ROOM


def host_rooms(settings: Settings) -> dict[str, Path]:
    """The rooms this host knows, of every lab project: no room may share a name or network index with them."""
    return state.known_rooms(settings.rooms_state_dir)


def load_room(args: argparse.Namespace, settings: Settings) -> Room:
    """The room the arguments name (or the default one); fills in `args.room` for the verb's messages."""
    here = lab_project(args)
    directory = rooms_dir(settings, here)
    args.room = args.room or default_room(directory)
    return config.load(directory, args.room, here, host_rooms(settings), settings.inventory_cache_dir)


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

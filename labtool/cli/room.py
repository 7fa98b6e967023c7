"""`labtool room new|list`: create a room directory to edit, or list the rooms there are."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labtool import config
from labtool.cli.context import add_verb, default_room, host_rooms, lab_project, rooms_dir
from labtool.cli.output import print_json, say, table
from labtool.errors import RoomError
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "room",
        summary="create or list rooms",
        description="""Create a new room to edit, or list the rooms of the lab project (or of LABTOOL_ROOMS_DIR). A
        room is a directory: an ordinary Ansible inventory of seats plus labtool.yml with its resources, its network
        index and what it teaches.""",
        examples=["labtool room new net101 --seats 12", "labtool room list"],
    )
    verbs = parser.add_subparsers(dest="room_verb", metavar="ACTION", required=True)
    new = add_verb(
        verbs,
        "new",
        summary="write inventories/NAME/ for a new room, ready to edit",
        description="""Write a new room directory with N seats (a VM and a container each), a free network index and
        the course the project's default room teaches; nothing is started. Edit it, then `labtool up NAME`.""",
        examples=["labtool room new net101 --seats 12"],
    )
    new.add_argument("name", help="the room's name (letters, digits, hyphens)")
    new.add_argument("--seats", type=int, default=1, help="how many seats (VM + container pairs); default 1")
    new.set_defaults(run=run_new)
    listing = add_verb(
        verbs,
        "list",
        summary="list the rooms",
        description="""List every room with its seats, network index and playbook; a broken room is listed with its
        first problem (exit 1) and does not hide the others.""",
        examples=["labtool room list", "labtool room list --json"],
    )
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(run=run_list)


def run_new(args: argparse.Namespace) -> int:
    here = lab_project(args)
    # A new room teaches what the project's own default room teaches, when it names a course.
    settings = Settings.from_env()
    default_settings = here.rooms_dir / default_room(here.rooms_dir) / config.SETTINGS_FILE
    path = config.new_room(
        rooms_dir(settings, here), args.name, args.seats, course_from=default_settings, host_rooms=host_rooms(settings)
    )
    shown = path.relative_to(here.root) if path.is_relative_to(here.root) else path
    say(f"created room {args.name!r} with {args.seats} seat(s) in {shown}/")
    say(f"edit it, then run `labtool up {args.name}`")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Every room, each loaded on its own: one broken room is listed with its first problem, not fatal to the rest."""
    here = lab_project(args)
    settings = Settings.from_env()
    directory = rooms_dir(settings, here)
    if not directory.is_dir():
        # An empty list would hide a mistyped LABTOOL_ROOMS_DIR or a project without rooms.
        raise RoomError(
            [f"{directory}: {'is not a directory' if directory.exists() else 'does not exist'}, so it holds no rooms"],
            "check LABTOOL_ROOMS_DIR (or run labtool in a lab project); `labtool room new NAME --seats N` makes one",
        )
    known = host_rooms(settings)
    rows: list[dict[str, object]] = []
    for name in config.list_rooms(directory):
        try:
            room = config.load(directory, name, here, known, settings.inventory_cache_dir)
        except RoomError as exc:
            more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            rows.append({"room": name, "error": exc.problems[0] + more})
            continue
        rows.append(
            {
                "room": room.name,
                "seats": len(room.seats),
                "network_index": room.networks.index,
                "playbook": _relative(room.course.playbook, here.root),
                "error": "",
            }
        )
    if args.json:
        print_json(rows)
    else:
        columns = ("room", "seats", "network_index", "playbook")
        say(table(("ROOM", "SEATS", "NETWORK INDEX", "PLAYBOOK"), [[r.get(c, "-") for c in columns] for r in rows]))
        for row in rows:
            if row["error"]:
                say(
                    f"room {row['room']} is invalid: {row['error']}; `labtool status {row['room']}` lists every problem"
                )
    return 1 if any(row["error"] for row in rows) else 0


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

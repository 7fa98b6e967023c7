"""`labtool room new|list`: create a room directory to edit, or list the rooms there are."""

from __future__ import annotations

import argparse
from typing import Any

from labtool import config
from labtool.cli.output import print_json, say, table
from labtool.settings import PROJECT_DIR, Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("room", help="create or list rooms")
    verbs = parser.add_subparsers(dest="room_verb", metavar="ACTION", required=True)
    new = verbs.add_parser("new", help="write inventories/NAME/ for a new room, ready to edit")
    new.add_argument("name", help="the room's name (letters, digits, hyphens)")
    new.add_argument("--seats", type=int, default=1, help="how many seats (VM + container pairs); default 1")
    new.set_defaults(run=run_new)
    listing = verbs.add_parser("list", help="list the rooms")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(run=run_list)


def run_new(args: argparse.Namespace) -> int:
    path = config.new_room(Settings.from_env().rooms_dir, args.name, args.seats)
    shown = path.relative_to(PROJECT_DIR) if path.is_relative_to(PROJECT_DIR) else path
    say(f"created room {args.name!r} with {args.seats} seat(s) in {shown}/")
    say(f"edit it, then run `labtool up {args.name}`")
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    rooms = [config.load(settings.rooms_dir, name) for name in config.list_rooms(settings.rooms_dir)]
    if args.json:
        print_json([{"room": r.name, "seats": len(r.seats), "network_index": r.networks.index} for r in rooms])
    else:
        say(table(("ROOM", "SEATS", "NETWORK INDEX"), [(r.name, len(r.seats), r.networks.index) for r in rooms]))
    return 0

"""`labtool provision`: re-run the roles on a room's machines and report changed/failed per machine."""

from __future__ import annotations

from typing import Any

from labtool.cli import up
from labtool.cli.context import add_room_arguments, positive_int


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("provision", help="re-run the playbook on a room's machines")
    add_room_arguments(parser)
    parser.add_argument("--parallel", type=positive_int, default=None, metavar="N", help="provisioning runs at once")
    up.add_force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=up.run, force_provision=True, dry_run=False)

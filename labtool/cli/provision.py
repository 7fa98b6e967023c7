"""`labtool provision`: re-run the roles on a room's machines and report changed/failed per machine."""

from __future__ import annotations

from typing import Any

from labtool.cli import up
from labtool.cli.context import add_kind_arguments, add_room_arguments, add_verb, positive_int


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "provision",
        summary="re-run the playbook on a room's machines",
        description="""Run the room's playbook again on every machine of the room, or of some seats, or only their
        VMs or containers, whether or not anything changed, and report per machine what changed or failed; drift
        that `labtool verify` found goes away. Machines that are absent or stopped are created or started first, as
        `labtool up` does.""",
        examples=[
            "labtool provision",
            "labtool provision net101 --seat seat03 --json",
            "labtool provision net101 --seat seat03 --container   # only the machine that drifted",
        ],
    )
    add_room_arguments(parser)
    add_kind_arguments(parser)
    parser.add_argument("--parallel", type=positive_int, default=None, metavar="N", help="provisioning runs at once")
    up.add_force_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=up.run, force_provision=True, dry_run=False)

"""`labtool status`: the room at a glance, one row per seat, VM and container side by side."""

from __future__ import annotations

import argparse
from typing import Any

from labtool import placement
from labtool.cli.context import add_room_arguments, add_verb, lab_for
from labtool.cli.output import print_json, say, table
from labtool.lab import MachineStatus
from labtool.model import Kind


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "status",
        summary="show a room's seats: state, address, app URL, provisioning",
        description="""Show a room at a glance, one row per seat with its VM and its container side by side: each
        machine's state (running, stopped or absent) and provisioning, the app's URL on a running machine, and the
        last error. It looks and changes nothing.""",
        examples=["labtool status", "labtool status net101 --seat seat03", "labtool status net101 --json"],
    )
    add_room_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    survey = lab.survey()
    by_name = {row.name: row for row in survey.machines}
    seats = [s for s in lab.room.seats if not args.seats or s.name in args.seats]
    if args.json:
        print_json(
            {
                "room": lab.room.name,
                "seats": [
                    {
                        "seat": s.name,
                        "host": placement.host_of(lab.room, lab.placed, s.name),
                        "vm": _as_json(by_name[s.vm.name]),
                        "container": _as_json(by_name[s.container.name]),
                    }
                    for s in seats
                ],
            }
        )
    else:
        rows: list[tuple[str, ...]] = []
        for seat in seats:
            vm, container = by_name[seat.vm.name], by_name[seat.container.name]
            errors = "; ".join(f"{m.name}: {m.error}" for m in (vm, container) if m.error and m.presence != "unknown")
            rows.append((seat.name, _cell(vm), vm.app_url or "-", _cell(container), container.app_url or "-", errors))
        headers: tuple[str, ...] = ("SEAT", "VM", "VM APP", "CONTAINER", "CONTAINER APP", "LAST ERROR")
        if len(lab.room.hosts) > 1:  # a room on one host says nothing of hosts
            hosts = [placement.host_of(lab.room, lab.placed, seat.name) for seat in seats]
            headers = ("SEAT", "HOST", *headers[1:])
            rows = [(row[0], host, *row[1:]) for row, host in zip(rows, hosts, strict=True)]
        say(table(headers, rows))
    if survey.unreachable:
        # The kind that answered is shown above; the other gets the one error every verb gives.
        raise next(iter(survey.unreachable.values()))
    return 0


def _cell(row: MachineStatus) -> str:
    if row.presence in ("absent", "unknown"):
        return str(row.presence)
    provisioned = f"changed={row.changed}" if row.provisioned else "unprovisioned"
    interrupted = f", interrupted while its {row.interrupted} step" if row.interrupted else ""
    return f"{row.presence} {provisioned}{interrupted}"


def _as_json(row: MachineStatus) -> dict[str, object]:
    return {
        "name": row.name,
        "kind": Kind(row.kind).value,
        "state": row.presence.value,
        "address": row.address,
        "app_url": row.app_url,
        "provisioned": row.provisioned,
        "changed": row.changed,
        "error": row.error,
        "interrupted": row.interrupted or None,
    }

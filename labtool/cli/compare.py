"""`labtool compare`: measure what the VM and the container of each live seat cost and isolate."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from labtool.cli.context import add_room_arguments, add_verb, lab_for
from labtool.cli.output import print_json, progress, say, table
from labtool.compare import compare


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "compare",
        summary="measure VM against container on each live seat: start time, disk, memory, kernel, isolation",
        description="""Measure each live seat's pair side by side, as the lab teaches it: start until ready, boot
        time as the guest's systemd saw it, disk (the shared image or box and each machine's own layer), memory used
        on the host, kernel, the host process that is the machine, which host namespaces it shares, and the limits
        each machine sees. Seats whose machines are not both running are named and skipped.""",
        examples=["labtool compare", "labtool compare net101 --seat seat01 --json"],
    )
    add_room_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    comparisons = compare(lab, args.seats, progress=progress)
    if args.json:
        print_json(
            {
                "room": lab.room.name,
                "seats": [{**asdict(c), "rows": [asdict(r) for r in c.rows()]} for c in comparisons],
            }
        )
    else:
        for comparison in comparisons:
            if comparison.error:
                say(f"{comparison.seat}: {comparison.error}")
                continue
            seat = lab.room.seat(comparison.seat)
            headers = ("MEASURE", f"VM {seat.vm.name}", f"CONTAINER {seat.container.name}", "VM ÷ CONTAINER")
            say(f"{comparison.seat}:")
            say(table(headers, [(r.measure, r.vm, r.container, r.ratio) for r in comparison.rows()]))
    return 1 if any(c.error for c in comparisons) else 0

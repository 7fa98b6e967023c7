"""`labtool compare`: measure what the VM and the container of each live seat cost and isolate."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from labtool.cli.context import add_room_arguments, lab_for
from labtool.cli.output import print_json, progress, say, table
from labtool.compare import compare


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare", help="measure VM against container on each live seat: start time, disk, memory, kernel, isolation"
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

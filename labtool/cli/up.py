"""`labtool up`: bring a room from whatever it is to every seat created and provisioned."""

from __future__ import annotations

import argparse
import os
from typing import Any

from labtool import requirements
from labtool.cli.context import add_room_arguments, add_verb, lab_for, positive_int
from labtool.cli.output import print_json, progress, say, table
from labtool.host import capacity
from labtool.lab import Lab, UpReport, default_parallel
from labtool.plan import Plan


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "up",
        summary="create, start and provision a room's machines",
        description="""Bring a room, or some seats, to every machine created, running and provisioned: labtool looks
        at both backends, plans per machine (create, start or provision, with the reason), then works in two lanes,
        containers and VMs, provisioning each machine as soon as it is ready. A stopped machine is started and
        provisioned only when its provisioning is out of date; a healthy room is left alone. --dry-run prints the
        plan and changes nothing.""",
        examples=[
            "labtool up                           # the default room",
            "labtool up net101 --dry-run          # what would be done, and why",
            "labtool up net101 --seat seat03 --json",
        ],
    )
    add_room_arguments(parser)
    parser.add_argument(
        "--parallel",
        type=positive_int,
        default=None,
        metavar="N",
        help="provisioning runs at once (default: from cores and free memory)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--json", action="store_true", help="print the plan or the result as JSON")
    parser.set_defaults(run=run, force_provision=False)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    if not args.dry_run:
        # Before planning: installed roles are part of the provisioning key.
        installed = requirements.install(lab.room.course.project)
        if installed:
            progress(f"installed roles from requirements.yml: {', '.join(installed)}")
    plan = lab.plan(args.seats, force_provision=args.force_provision)
    if args.dry_run:
        show_plan(plan, args.json)
        return 0
    if not plan.changes:
        if args.json:
            print_json({"room": lab.room.name, "changes": [], "machines": []})
        else:
            say(f"room {lab.room.name!r} is up to date: {len(plan.steps)} machines running and provisioned")
        return 0
    report = execute(lab, plan, args.parallel)
    show_report(report, args.json)
    return 1 if report.failed else 0


def execute(lab: Lab, plan: Plan, parallel: int | None) -> UpReport:
    progress(f"room {lab.room.name!r}: {len(plan.changes)} of {len(plan.steps)} machines need work")
    return lab.up(plan, parallel=parallel or default_parallel_here(), progress=progress)


def show_plan(plan: Plan, as_json: bool) -> None:
    rows = [(s.machine.name, s.machine.kind, ", ".join(s.actions) or "nothing", s.reason) for s in plan.steps]
    if as_json:
        print_json([dict(zip(("machine", "kind", "actions", "reason"), row, strict=True)) for row in rows])
    else:
        say(table(("MACHINE", "KIND", "ACTIONS", "WHY"), rows))


def show_report(report: UpReport, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "room": report.room,
                "seconds": round(report.seconds, 1),
                "machines": [
                    {
                        "machine": o.machine,
                        "kind": o.kind,
                        "actions": list(o.actions),
                        "ok": o.ok,
                        "changed": o.changed,
                        "seconds": round(o.seconds, 1),
                        "error": o.error,
                    }
                    for o in report.outcomes
                ],
            }
        )
        return
    say(
        table(
            ("MACHINE", "KIND", "RESULT", "CHANGED", "SECONDS", "ERROR"),
            [
                (
                    o.machine,
                    o.kind,
                    "ok" if o.ok else "FAILED",
                    "-" if o.changed is None else o.changed,
                    f"{o.seconds:.0f}",
                    o.error,
                )
                for o in report.outcomes
            ],
        )
    )
    failed = ", ".join(o.machine for o in report.failed)
    say(
        f"room {report.room!r}: {len(report.outcomes) - len(report.failed)} ok"
        + (f", FAILED: {failed}" if failed else "")
        + f" ({report.seconds:.0f} s)"
    )


def default_parallel_here() -> int:
    return default_parallel(os.cpu_count() or 1, capacity.available_memory() / 1024**3)

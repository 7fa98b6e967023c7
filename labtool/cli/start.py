"""`labtool start`: start a room's stopped machines (or some seats') and wait until each is ready."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli import stop
from labtool.cli.context import add_verb, lab_for
from labtool.cli.output import progress, say
from labtool.cli.up import default_parallel_here
from labtool.plan import Action


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "start",
        summary="start a room's stopped machines and wait until they are ready",
        description="""Start the stopped machines of a room, or of some seats, as `labtool stop` left them: each
        VM boots again (`vagrant up`) and each container starts again (the same container, the same disk), and
        labtool waits until systemd has finished booting on every one of them. Nothing is provisioned: a machine
        whose provisioning is out of date is named, and `labtool up` brings it up to date. Machines that do not
        exist are left to `labtool up`.""",
        examples=[
            "labtool start                        # every stopped machine of the default room",
            "labtool start net101 --seat seat03   # one seat's VM and container",
            "labtool start net101 --json          # what happened to each machine, as JSON",
        ],
    )
    stop.add_power_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    report = lab.start(args.seats, parallel=args.parallel or default_parallel_here(), progress=progress)
    # Started, a machine is what it was: say which ones `labtool up` would still provision, and why.
    stale = [s for s in lab.plan(args.seats).changes if Action.PROVISION in s.actions and not s.needs_machine]
    stop.show(report, args.json, {"provisioning_needed": [s.machine.name for s in stale]})
    if stale and not args.json:
        for step in stale:
            say(f"{step.machine.name} needs provisioning: {step.reason}")
        say(f"`labtool up {lab.room.name}` provisions them")
    return 1 if report.failed else 0

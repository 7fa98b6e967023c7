"""`labtool stop`: shut a room's machines (or some seats') down cleanly, keeping them for `labtool start`."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli.context import add_room_arguments, add_verb, lab_for, positive_int
from labtool.cli.output import print_json, progress, say, table
from labtool.cli.up import default_parallel_here
from labtool.lab import ABSENT, PowerReport


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "stop",
        summary="shut a room's machines down, keeping them (undo with `labtool start`)",
        description="""Shut down the running machines of a room, or of some seats, without destroying anything: each
        VM is halted cleanly (`vagrant halt`: the guest shuts itself down) and each container is stopped (systemd gets
        its stop signal and time to shut down). Disks, the students' work, the provisioning records and the networks
        stay; `labtool start` or `labtool up` brings them back. Containers and VMs stop in two lanes, several at
        once.""",
        examples=[
            "labtool stop                        # every machine of the default room",
            "labtool stop net101 --seat seat03   # one seat's VM and container",
            "labtool stop net101 --json          # what happened to each machine, as JSON",
        ],
    )
    add_power_arguments(parser)
    parser.set_defaults(run=run)


def add_power_arguments(parser: argparse.ArgumentParser) -> None:
    add_room_arguments(parser)
    parser.add_argument("--parallel", type=positive_int, default=None, metavar="N", help="machines of a kind at once")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    report = lab.stop(args.seats, parallel=args.parallel or default_parallel_here(), progress=progress)
    show(report, args.json)
    return 1 if report.failed else 0


def show(report: PowerReport, as_json: bool, extra: dict[str, object] | None = None) -> None:
    """The result of `stop` or `start`: one row per machine, then one line for the room."""
    if as_json:
        machines = [
            {
                "machine": o.machine,
                "kind": o.kind.value,
                "result": o.result,
                "ok": o.ok,
                "seconds": round(o.seconds, 1),
                "error": o.error,
            }
            for o in report.outcomes
        ]
        print_json(
            {
                "room": report.room,
                "verb": report.verb,
                "seconds": round(report.seconds, 1),
                "machines": machines,
                **(extra or {}),
            }
        )
        return
    rows = [(o.machine, o.kind, o.result, f"{o.seconds:.0f}" if o.seconds else "-", o.error) for o in report.outcomes]
    say(table(("MACHINE", "KIND", "RESULT", "SECONDS", "ERROR"), rows))
    done = "stopped" if report.verb == "stop" else "started"
    failed = ", ".join(o.machine for o in report.failed)
    say(
        f"room {report.room!r}: {done} {len(report.with_result(done))} machine(s)"
        + (f", FAILED: {failed}" if failed else "")
        + f" ({report.seconds:.0f} s)"
    )
    absent = [o.machine for o in report.with_result(ABSENT)]
    if absent and report.verb == "start":
        say(f"not created: {', '.join(absent)}; `labtool up {report.room}` creates and provisions them")

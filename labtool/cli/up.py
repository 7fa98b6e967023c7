"""`labtool up`: bring a room from whatever it is to every seat created and provisioned."""

from __future__ import annotations

import argparse
import os
from typing import Any

from labtool import state
from labtool.bring_up import UpOptions, assess, bring_up, planned
from labtool.cancel import Cancel, StoppedError
from labtool.cli import interrupts, live
from labtool.cli.context import add_room_arguments, add_verb, positive_int, room_for
from labtool.cli.output import print_json, progress, say, table
from labtool.errors import LabtoolError
from labtool.host import capacity
from labtool.lab import Lab, UpReport, default_parallel
from labtool.plan import Plan, Step
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "up",
        summary="create, start and provision a room's machines",
        description="""Bring a room, or some seats, to every machine created, running and provisioned: labtool looks
        at both backends, plans per machine (create, start or provision, with the reason), then works in two lanes,
        containers and VMs, provisioning each machine as soon as it is ready. A stopped machine is started and
        provisioned only when its provisioning is out of date; a healthy room is left alone. New machines are made
        from the room's baked pair when it is current, else from the base pair (--bake bakes first); a room the
        host lacks memory or disk for is refused (--force). --dry-run prints the plan and changes nothing.""",
        examples=[
            "labtool up                           # the default room",
            "labtool up net101 --bake             # bake the course first: seats start converged",
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
    parser.add_argument(
        "--bake",
        action="store_true",
        help="bake the room's course into an image pair first (`labtool images bake`), so seats start converged",
    )
    add_force_argument(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument("--json", action="store_true", help="print the plan or the result as JSON")
    parser.set_defaults(run=run, force_provision=False, kind=None)


def run(args: argparse.Namespace) -> int:
    with interrupts.stopping_on_signals(progress) as cancel:
        try:
            return _run(args, cancel)
        except LabtoolError as exc:
            if cancel.is_set() and not isinstance(exc, StoppedError):  # a command it was running was stopped
                raise StoppedError(
                    f"stopped by {cancel.reason}: {exc.message}", f"run `labtool {args.verb}` again to finish"
                ) from exc
            raise


def _run(args: argparse.Namespace, cancel: Cancel) -> int:
    settings = Settings.from_env()
    room = room_for(args, settings)
    options = UpOptions(
        args.seats,
        kinds=None if args.kind is None else [args.kind],
        parallel=args.parallel or default_parallel_here(),
        force_provision=args.force_provision,
        force=args.force,
        bake=getattr(args, "bake", False),
    )
    if args.dry_run:
        lab, plan = planned(settings, room, options, cancel)
        show_plan(plan, args.json)
        if plan.changes and len(room.hosts) == 1:  # across hosts, `up` places the seats by each host's room
            progress(capacity.summary(assess(lab, plan, options.parallel)))
        return 0
    result = bring_up(settings, room, options, cancel=cancel, progress=progress, view=live.view)
    if result.report is None:
        if args.json:
            print_json({"room": room.name, "changes": [], "machines": []})
        else:
            say(f"room {room.name!r} is up to date: {len(result.plan.steps)} machines running and provisioned")
            _hand_out_hint(result.lab)
        return 0
    show_report(result.report, args.json)
    if result.report.interrupted:
        return interrupts.EXIT_INTERRUPTED
    if not args.json:
        _hand_out_hint(result.lab)
    return 1 if result.report.failed else 0


def add_force_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="create the machines even when the host lacks the memory or disk for them"
    )


def _hand_out_hint(lab: Lab) -> None:
    """Students' accounts stay locked until their passwords are issued: say so, and how."""
    issued = state.read_passwords(lab.state_dir)
    waiting = [student.login for _, student in lab.room.students if student.login not in issued]
    if waiting:
        say(
            f"{len(waiting)} student account{'s are' if len(waiting) > 1 else ' is'} locked until "
            f"`labtool handout {lab.room.name}` issues the password{'s' if len(waiting) > 1 else ''}"
        )


def show_plan(plan: Plan, as_json: bool) -> None:
    rows = [(s.machine.name, s.machine.kind, _actions(s), s.reason) for s in plan.steps]
    if as_json:
        steps = [dict(zip(("machine", "kind", "actions", "reason"), row, strict=True)) for row in rows]
        print_json({"images": plan.images.to_json() if plan.images else None, "steps": steps})
        return
    say(table(("MACHINE", "KIND", "ACTIONS", "WHY"), rows))
    if plan.images:
        images = plan.images
        say(f"new machines are made from the {images.description}: {images.docker_ref} and box {images.box}")


def _actions(step: Step) -> str:
    return "cannot: unreachable" if step.blocked else ", ".join(step.actions) or "nothing"


def show_report(report: UpReport, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "room": report.room,
                "seconds": round(report.seconds, 1),
                "images": report.images.to_json() if report.images else None,
                "interrupted": report.interrupted or None,
                "machines": [
                    {
                        "machine": o.machine,
                        "kind": o.kind,
                        "actions": list(o.actions),
                        "ok": o.ok,
                        "state": o.state,
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
                    "ok" if o.ok else o.state if o.interrupted else "FAILED",
                    "-" if o.changed is None else o.changed,
                    f"{o.seconds:.0f}",
                    o.error,
                )
                for o in report.outcomes
            ],
        )
    )
    if report.interrupted:
        say(interrupted_summary(report))
        return
    failed = ", ".join(o.machine for o in report.failed)
    say(
        f"room {report.room!r}: {len(report.outcomes) - len(report.failed)} ok"
        + (f", FAILED: {failed}" if failed else "")
        + f" ({report.seconds:.0f} s)"
    )


def interrupted_summary(report: UpReport) -> str:
    """Which machines are in which state, for the user who stopped the run."""
    by_state: dict[str, list[str]] = {}
    for outcome in report.outcomes:
        by_state.setdefault(outcome.state, []).append(outcome.machine)
    states = "; ".join(f"{state}: {', '.join(names)}" for state, names in by_state.items())
    return (
        f"room {report.room!r}: stopped by {report.interrupted} after {report.seconds:.0f} s; {states}. "
        f"`labtool up {report.room}` finishes it (interrupted machines are redone)"
    )


def default_parallel_here() -> int:
    return default_parallel(os.cpu_count() or 1, capacity.available_memory() / 1024**3)

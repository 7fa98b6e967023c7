"""`labtool verify`: run the shared testinfra suite on every live machine and diff each seat's pair."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from labtool.cli.context import add_room_arguments, add_verb, lab_for, positive_int
from labtool.cli.output import print_json, progress, say, table
from labtool.cli.up import default_parallel_here
from labtool.parity.diff import Difference
from labtool.report import junit
from labtool.report.build import clip, shown_value
from labtool.verify import VerifyReport, verify

OUTCOMES = ("passed", "skipped", "failed", "error")


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "verify",
        summary="test every machine with the shared testinfra suite and diff each VM against its container",
        description="""Prove each seat's pair identical: run the room's testinfra suite on every live machine, then
        fingerprint both machines of each seat (packages, configuration files, managed files, services, ports,
        users, the app) and diff the VM against the container. Differences a VM and a container really have are
        listed with their reasons; anything else is drift. Exit 1 on a failed test or on drift; the result is kept
        for `labtool report`.""",
        examples=["labtool verify", "labtool verify net101 --seat seat02 --junit results.xml", "labtool verify --json"],
    )
    add_room_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML to FILE")
    parser.add_argument("--parallel", type=positive_int, default=None, metavar="N", help="machines checked at once")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    parallel = args.parallel or default_parallel_here()
    report = verify(lab, args.seats, parallel=parallel, progress=progress)
    if args.junit:
        junit.write(report, args.junit)
    if args.json:
        print_json({**asdict(report), "ok": report.ok})
    else:
        show(report)
    return 0 if report.ok else 1


def show(report: VerifyReport) -> None:
    say(table(("MACHINE", "KIND", "TESTS", "SECONDS", "PROBLEM"), [_machine_row(m) for m in report.machines]))
    failures = [(m.machine, c.name, clip(c.message, 100)) for m in report.machines for c in m.failed]
    if failures:
        say("\nfailed tests:")
        say(table(("MACHINE", "TEST", "MESSAGE"), failures))
    say("")
    say(
        table(
            ("SEAT", "PARITY", "ITEMS", "DRIFT", "EXPECTED", "PROBLEM"),
            [
                (s.seat, "ok" if s.ok else "FAILED", s.compared, len(s.drift), len(s.expected), s.error)
                for s in report.seats
            ],
        )
    )
    _show_expected(report)
    drift = [(s.seat, d) for s in report.seats for d in s.drift]
    if drift:
        say("\nDRIFT (the VM and the container differ where they must not):")
        say(table(("SEAT", "ITEM", "VM", "CONTAINER"), [_difference_row(seat, d) for seat, d in drift]))
        _show_why(drift)
    verdict = "OK" if report.ok else "FAILED"
    say(
        f"\nverify: room {report.room!r} {verdict}: {_count(len(report.machines), 'machine')}, "
        f"{_count(len(report.seats), 'seat')}, {_count(len(drift), 'drifted item')} ({report.seconds:.0f} s)"
    )


def _show_expected(report: VerifyReport) -> None:
    """Expected differences grouped under their reason: the reason is the point, the values the evidence."""
    by_reason: dict[str, list[tuple[str, ...]]] = {}
    for seat in report.seats:
        for difference in seat.expected:
            by_reason.setdefault(difference.reason, []).append(_difference_row(seat.seat, difference))
    if not by_reason:
        return
    say("\nexpected differences, by reason:")
    for reason, rows in by_reason.items():
        say(f"\n  {reason}:")
        say("\n".join("    " + line for line in table(("SEAT", "ITEM", "VM", "CONTAINER"), rows).splitlines()))


def _show_why(drift: list[tuple[str, Difference]]) -> None:
    """Each drifted item's cause and repair, under the table."""
    explained = [(seat, d) for seat, d in drift if d.why or d.details or d.repair]
    if not explained:
        return
    say("\nwhy, and how to repair it:")
    for seat, difference in explained:
        say(f"\n  {seat} {difference.item}")
        if difference.why:
            say(f"    why: {difference.why}")
        for line in difference.details:
            say(f"    | {line}")
        if difference.repair:
            say(f"    repair: {difference.repair}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _machine_row(machine: Any) -> tuple[object, ...]:
    if machine.error:
        return (machine.machine, machine.kind, "-", "-", machine.error)
    counts = Counter(case.outcome for case in machine.cases)
    tests = ", ".join(f"{counts[o]} {o.upper() if o in ('failed', 'error') else o}" for o in OUTCOMES if counts[o])
    return (machine.machine, machine.kind, tests, f"{machine.seconds:.0f}", "")


def _difference_row(seat: str, difference: Difference) -> tuple[str, ...]:
    return (seat, difference.item, shown_value(difference.vm, 40), shown_value(difference.container, 40))

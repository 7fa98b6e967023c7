"""`labtool check`: grade the students' work with the course's exercise checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from labtool import checks, config
from labtool.checks import CheckReport, GradeTable, cell_text, grade_table, points_text, total_text
from labtool.cli.context import add_room_arguments, add_verb, lab_for, positive_int
from labtool.cli.output import print_json, progress, say, table
from labtool.cli.up import default_parallel_here
from labtool.errors import LabtoolError
from labtool.report.build import clip
from labtool.state import atomic_write

DESCRIPTION = """\
Run the course's exercise checks (testinfra files in the lab project's checks/, or the room's
course.checks; each test worth the points of its @pytest.mark.points(N) marker, 1 without one) on
every running machine of the room, in parallel, and print a grade table: one row per seat and
machine kind, the points each check earned, and the total. A check that fails is a grade, not an
error: the exit status is 0 whenever the checks ran, 1 when they could not run on a machine (it is
named). The results are kept for `labtool report`.
"""


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "check",
        summary="grade the students' work: run the course's exercise checks on every machine",
        description=DESCRIPTION,
        examples=["labtool check", "labtool check default --seat seat01 --csv grades.csv"],
    )
    add_room_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the grade table as CSV to FILE")
    parser.add_argument("--parallel", type=positive_int, default=None, metavar="N", help="machines checked at once")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    checks.checks_of(lab.room)  # before reading the inventory: a room without checks says so first
    students = checks.students(lab.room, config.host_variables(lab.room.path, lab.settings.inventory_cache_dir))
    parallel = args.parallel or default_parallel_here()
    report = checks.check(lab, args.seats, students=students, parallel=parallel, progress=progress)
    grades = grade_table(report.machines)
    if args.csv:
        write_csv(args.csv, checks.to_csv(grades))
    if args.json:
        print_json(
            {
                "room": report.room,
                "finished_at": report.finished_at,
                "seconds": report.seconds,
                "complete": not report.errors,  # every machine was checked; points missing are not errors
                **checks.to_json(report.machines),
            }
        )
    else:
        show(report, grades)
    if args.csv:
        progress(f"wrote {args.csv}")
    if report.errors:
        raise LabtoolError(
            "the checks could not run on:\n"
            + "\n".join(f"  seat {m.seat}: {m.machine}: {m.error}" for m in report.errors),
            f"bring the seat's machines up (`labtool up {report.room}`) or fix the checks, then run "
            f"`labtool check {report.room}` again",
        )
    return 0


def show(report: CheckReport, grades: GradeTable) -> None:
    headers = ("SEAT", "STUDENT", "KIND", *(c.name for c in grades.columns), "TOTAL")
    rows = [
        (r.seat, r.student, r.kind, *(cell_text(r, c.name) for c in grades.columns), total_text(r)) for r in grades.rows
    ]
    say(table(headers, rows))
    if grades.columns:
        say("\nchecks:")
        say(
            table(
                ("CHECK", "POINTS", "WHAT"),
                [(c.name, points_text(c.points), clip(c.title, 100)) for c in grades.columns],
            )
        )
    ran = [m for m in report.machines if not m.error]
    say(
        f"\ncheck: room {report.room!r}: {len(ran)} of {len(report.machines)} machines checked, "
        f"{points_text(sum(m.earned for m in ran))} of {points_text(sum(m.possible for m in ran))} points "
        f"({report.seconds:.0f} s)"
    )


def write_csv(path: Path, text: str) -> None:
    if path.is_dir():
        raise LabtoolError(f"cannot write the grades to {path}: it is a directory", "name a file with --csv FILE")
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise LabtoolError(
            f"cannot write the grades to {path}: {exc.strerror or exc}", "choose a writable path with --csv FILE"
        ) from exc

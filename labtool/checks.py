"""`labtool check`: grade the students' work with the course's exercise checks.

A course's checks are testinfra files (`course.checks`, by default the project's
`checks/`), each test worth the points of its `@pytest.mark.points(n)` marker (see
checks_plugin). They run on every live machine of the chosen seats in parallel,
the way verify runs its suite (`verify.run_suite`), and each machine gets its own
score: a seat's VM and container are graded separately, per machine kind.

Checks are grading, not parity: a failed check is a result, never an error, and
verify knows nothing of them. What could not run (a machine that is absent, checks
that do not import) is an error of that machine. The results of each machine's
last run are kept in the room's state directory (CHECKS_FILE) for `labtool report`.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from labtool import state
from labtool.backends.base import Presence
from labtool.checks_plugin import POINTS_PROPERTY, TITLE_PROPERTY
from labtool.errors import LabtoolError
from labtool.lab import Lab
from labtool.model import Kind, Machine, Room, Seat
from labtool.progress import Progress
from labtool.state import atomic_write
from labtool.verify import MachineTests, close_ssh_connections, junit_path, not_running, parse_junit, run_suite

PLUGIN = "labtool.checks_plugin"
STUDENT_VARIABLE = "labtool_student"
"""The host variable that names who sits at a seat; read when present, else the student is blank."""
CHECKS_FILE = "checks.json"
COUNTED = ("passed", "failed", "error")
"""Outcomes that count towards a machine's maximum; a skipped check does not apply to the machine."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    """The test's id without the host, e.g. `test_note_added`."""
    outcome: str
    """passed, failed, error or skipped."""
    points: float
    """What the check is worth."""
    title: str = ""
    message: str = ""

    @property
    def earned(self) -> float:
        return self.points if self.outcome == "passed" else 0.0

    @property
    def counted(self) -> bool:
        return self.outcome in COUNTED


@dataclass(frozen=True)
class MachineChecks:
    machine: str
    kind: Kind
    seat: str
    student: str = ""
    checks: tuple[CheckResult, ...] = ()
    seconds: float = 0.0
    checked_at: str = ""
    error: str = ""
    """Why the checks could not run on the machine (not running, checks that do not import)."""
    log: str = ""

    @property
    def earned(self) -> float:
        return sum(c.earned for c in self.checks)

    @property
    def possible(self) -> float:
        return sum(c.points for c in self.checks if c.counted)

    def result(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)


@dataclass
class CheckReport:
    room: str
    machines: list[MachineChecks] = field(default_factory=list)
    seconds: float = 0.0
    finished_at: str = ""

    @property
    def errors(self) -> list[MachineChecks]:
        return [m for m in self.machines if m.error]


def check(
    lab: Lab,
    seats: Collection[str] | None,
    *,
    students: Mapping[str, str],
    parallel: int,
    progress: Progress,
) -> CheckReport:
    """Run the course's checks on every machine of the chosen seats; keep and return the results.

    Holds the room's lock, like verify: checks taken while the room is provisioned would grade
    a half-converged machine.
    """
    checks_dir = checks_of(lab.room)
    started = time.monotonic()
    chosen = [s for s in lab.room.seats if seats is None or s.name in seats]
    report = CheckReport(lab.room.name)
    with state.locked(lab.state_dir, f"room {lab.room.name!r}"):
        observed = lab.observe()
        machines = [m for seat in chosen for m in seat.machines]
        running = [m for m in machines if observed[m.name].presence is Presence.RUNNING]
        try:
            with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="check") as pool:
                runs = {
                    m.name: pool.submit(_run_checks, lab, m, checks_dir, students.get(m.seat, ""), progress)
                    for m in running
                }
                for machine in machines:
                    if machine.name in runs:
                        report.machines.append(runs[machine.name].result())
                    else:
                        absent = not_running(lab, machine, observed[machine.name])
                        report.machines.append(_from_tests(absent, machine, students.get(machine.seat, ""), ""))
        finally:
            close_ssh_connections(lab, [m for m in running if m.kind is Kind.VM])
        report.seconds = round(time.monotonic() - started, 1)
        report.finished_at = state.utc_now()
        save(lab.state_dir, report.machines)
    return report


def checks_of(room: Room) -> Path:
    """The room's checks directory; an error when its course has none."""
    if room.course.checks is None:
        settings = room.path / "labtool.yml"
        raise LabtoolError(
            f"room {room.name!r} has no exercise checks: {settings} names no course.checks and the lab project "
            f"{room.course.project.root} has no checks/ directory",
            "put testinfra files in checks/ of the lab project (mark each test with @pytest.mark.points(N)), "
            "or set course.checks in labtool.yml to the directory that holds them",
        )
    return room.course.checks


def _run_checks(lab: Lab, machine: Machine, checks_dir: Path, student: str, progress: Progress) -> MachineChecks:
    out_dir = lab.state_dir / "checks"
    tests = run_suite(lab, machine, checks_dir, out_dir, progress, what="the checks", plugins=(PLUGIN,))
    junit = junit_path(out_dir, machine.name)
    result = _from_tests(tests, machine, student, "" if tests.error else junit.read_text())
    if not result.error:
        progress(f"{machine.name}: {points_text(result.earned)} of {points_text(result.possible)} points")
    return result


def _from_tests(tests: MachineTests, machine: Machine, student: str, junit_text: str) -> MachineChecks:
    return MachineChecks(
        machine=machine.name,
        kind=machine.kind,
        seat=machine.seat,
        student=student,
        checks=parse_checks(junit_text, machine.name) if junit_text else (),
        seconds=tests.seconds,
        checked_at=state.utc_now(),
        error=tests.error,
        log=tests.log,
    )


def parse_checks(junit_text: str, machine: str) -> tuple[CheckResult, ...]:
    """Each check's outcome (as verify reads it) with the points and title the plugin recorded."""
    cases = parse_junit(junit_text, machine)
    elements = list(ElementTree.fromstring(junit_text).iter("testcase"))
    names = _unique_names([c.name for c in cases], [e.get("classname", "") for e in elements])
    results = []
    for case, element, name in zip(cases, elements, names, strict=True):
        properties = {p.get("name"): p.get("value", "") for p in element.iter("property")}
        results.append(
            CheckResult(
                name=name,
                outcome=case.outcome,
                points=_points(properties.get(POINTS_PROPERTY)),
                title=properties.get(TITLE_PROPERTY, ""),
                message=case.message,
            )
        )
    return tuple(results)


def _points(value: str | None) -> float:
    """The plugin's recorded points; a test the plugin did not see (a collection error) is worth nothing."""
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def _unique_names(names: list[str], modules: list[str]) -> list[str]:
    """A check is named by its test; a name two files share is qualified by its module, so neither hides."""
    return [f"{module}.{name}" if names.count(name) > 1 else name for name, module in zip(names, modules, strict=True)]


def points_text(points: float) -> str:
    """`3`, `2.5`: points without a trailing `.0`."""
    return f"{points:g}"


def worth_text(points: float) -> str:
    """`1 point`, `3 points`: what a check is worth, in a heading."""
    return f"{points_text(points)} point{'' if points == 1 else 's'}"


# -- students ----------------------------------------------------------------------------------


def students(room: Room, hostvars: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Who sits at each seat: the `labtool_student` host variable of its machines, when they have one."""
    found: dict[str, str] = {}
    for seat in room.seats:
        names = [_student_name(hostvars.get(m.name, {}).get(STUDENT_VARIABLE)) for m in seat.machines]
        distinct = list(dict.fromkeys(n for n in names if n))
        if distinct:
            found[seat.name] = " / ".join(distinct)  # two names on one seat: show both rather than guess
    return found


def _student_name(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("name")
    return value.strip() if isinstance(value, str) else ""


# -- the grade table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    points: float
    title: str


@dataclass(frozen=True)
class GradeRow:
    seat: str
    student: str
    kind: Kind
    machine: str
    results: Mapping[str, CheckResult]
    earned: float
    possible: float
    checked_at: str
    error: str


@dataclass(frozen=True)
class GradeTable:
    columns: tuple[Column, ...]
    rows: tuple[GradeRow, ...]


def grade_table(machines: Sequence[MachineChecks]) -> GradeTable:
    """One row per machine (seat, student, kind), one column per check, in the order the checks ran."""
    columns: dict[str, Column] = {}
    for machine in machines:
        for result in machine.checks:
            columns.setdefault(result.name, Column(result.name, result.points, result.title))
    rows = tuple(
        GradeRow(
            seat=m.seat,
            student=m.student,
            kind=m.kind,
            machine=m.machine,
            results={c.name: c for c in m.checks},
            earned=m.earned,
            possible=m.possible,
            checked_at=m.checked_at,
            error=m.error,
        )
        for m in machines
    )
    return GradeTable(tuple(columns.values()), rows)


def cell_text(row: GradeRow, column: str) -> str:
    """What a check earned on one machine: its points, `skipped`, or `-` when it did not run there."""
    result = row.results.get(column)
    if result is None:
        return "-"
    return "skipped" if not result.counted else points_text(result.earned)


def total_text(row: GradeRow) -> str:
    return "not run" if row.error else f"{points_text(row.earned)}/{points_text(row.possible)}"


CSV_HEADERS = ("seat", "student", "kind", "machine")
CSV_TRAILER = ("points", "max", "checked_at", "error")


def to_csv(table: GradeTable) -> str:
    """The grade table for a spreadsheet: a check's cell is the points earned, empty when it did not count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_HEADERS, *(c.name for c in table.columns), *CSV_TRAILER])
    for row in table.rows:
        cells = [_csv_cell(row.results.get(c.name)) for c in table.columns]
        totals = ("", "") if row.error else (points_text(row.earned), points_text(row.possible))
        who = (row.seat, _spreadsheet_safe(row.student), row.kind, row.machine)
        writer.writerow([*who, *cells, *totals, row.checked_at, _spreadsheet_safe(row.error)])
    return out.getvalue()


def _csv_cell(result: CheckResult | None) -> str:
    return points_text(result.earned) if result is not None and result.counted else ""


def _spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as text: a leading = + - @ would make it a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


# -- the kept results --------------------------------------------------------------------------


def save(state_dir: Path, machines: Sequence[MachineChecks]) -> None:
    """Keep each machine's latest results; machines not in this run keep theirs (`--seat`)."""
    kept = load(state_dir)
    kept.update({m.machine: m for m in machines})
    data = {"machines": {name: asdict(m) for name, m in sorted(kept.items())}}
    atomic_write(state_dir / CHECKS_FILE, json.dumps(data, indent=2, sort_keys=True) + "\n")


def load(state_dir: Path) -> dict[str, MachineChecks]:
    """The last checks of each machine of the room, by machine name; empty when never checked (or unreadable)."""
    try:
        raw = json.loads((state_dir / CHECKS_FILE).read_text())
        return {name: _machine_from(m) for name, m in raw["machines"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _machine_from(raw: dict[str, Any]) -> MachineChecks:
    return MachineChecks(
        machine=raw["machine"],
        kind=Kind(raw["kind"]),
        seat=raw["seat"],
        student=raw["student"],
        checks=tuple(CheckResult(**c) for c in raw["checks"]),
        seconds=raw["seconds"],
        checked_at=raw["checked_at"],
        error=raw["error"],
        log=raw["log"],
    )


def for_seats(seats: Sequence[Seat], kept: Mapping[str, MachineChecks]) -> list[MachineChecks]:
    """The kept results of the seats' machines, in the seats' order (machines never checked are left out)."""
    return [kept[m.name] for seat in seats for m in seat.machines if m.name in kept]


# -- JSON --------------------------------------------------------------------------------------


def to_json(machines: Sequence[MachineChecks]) -> dict[str, Any]:
    """The grade table as data, for `labtool check --json` and the report's `checks`."""
    table = grade_table(machines)
    return {
        "columns": [asdict(c) for c in table.columns],
        "machines": [{**asdict(m), "earned": m.earned, "possible": m.possible} for m in machines],
    }

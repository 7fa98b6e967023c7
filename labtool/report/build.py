"""What `labtool report` shows, gathered once: the room's state now, its last verify and checks, a live comparison.

The renderers (HTML, Markdown, JSON) share this model and the derived views below
(the verdict, the parity matrix, the expected differences by reason), so the three
formats always say the same thing.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from labtool import checks, placement, state, verify
from labtool.checks import MachineChecks
from labtool.compare import SeatComparison, compare
from labtool.lab import Lab, MachineStatus
from labtool.model import Seat
from labtool.parity.diff import Difference, SeatParity
from labtool.progress import Progress
from labtool.verify import MachineTests, VerifyReport

VALUE_WIDTH = 64
DIGEST = re.compile(r"\b(sha256:[0-9a-f]{12})[0-9a-f]{20,}")


class Verdict(StrEnum):
    OK = "verified OK"
    DRIFT = "DRIFT"
    FAILING = "tests failing"
    NOT_VERIFIED = "not verified"


class Cell(StrEnum):
    """One seat's entry in the parity matrix for one item."""

    DRIFT = "drift"
    EXPECTED = "expected"
    SAME = "same"
    NOT_COMPARED = "not compared"


@dataclass(frozen=True)
class RoomReport:
    room: str
    generated_at: str
    """UTC, ISO 8601 (`2025-01-31T09:00:00Z`)."""
    seats: tuple[Seat, ...]
    statuses: tuple[MachineStatus, ...]
    verify: VerifyReport | None
    """The room's last `labtool verify`, as it was kept; None when it was never verified."""
    comparisons: tuple[SeatComparison, ...]
    checks: tuple[MachineChecks, ...] = ()
    """Each machine's last `labtool check` (grading, not parity: never part of the verdict)."""
    hosts: Mapping[str, str] = field(default_factory=dict)
    """Seat -> the lab host it runs on, for a room across several hosts; empty for a room of one host."""

    def host(self, seat: str) -> str | None:
        return self.hosts.get(seat)

    def status(self, machine: str) -> MachineStatus | None:
        return next((s for s in self.statuses if s.name == machine), None)

    def tests(self, machine: str) -> MachineTests | None:
        return self.verify.machine(machine) if self.verify else None

    def parity(self, seat: str) -> SeatParity | None:
        return self.verify.seat(seat) if self.verify else None

    def comparison(self, seat: str) -> SeatComparison | None:
        return next((c for c in self.comparisons if c.seat == seat), None)


def build(lab: Lab, seats: Collection[str] | None, *, progress: Progress) -> RoomReport:
    """Gather the report; measuring the live seats takes a few seconds, verify is read, never run."""
    chosen = tuple(s for s in lab.room.seats if not seats or s.name in seats)
    names = {m.name for seat in chosen for m in seat.machines}
    statuses = tuple(s for s in lab.status() if s.name in names)
    return RoomReport(
        room=lab.room.name,
        generated_at=state.utc_now(),
        seats=chosen,
        statuses=statuses,
        verify=verify.load(lab.state_dir),
        comparisons=_measure(lab, chosen, progress),
        checks=tuple(checks.for_seats(chosen, checks.load(lab.state_dir))),
        hosts={s.name: lab.room.host(placement.host_of(lab.room, lab.placed, s.name)).name for s in chosen}
        if len(lab.room.hosts) > 1
        else {},
    )


def _measure(lab: Lab, seats: tuple[Seat, ...], progress: Progress) -> tuple[SeatComparison, ...]:
    try:
        return tuple(compare(lab, [s.name for s in seats], progress=progress))
    except Exception as exc:  # a measuring bug must not hide the tests and parity: the page shows it instead
        error = f"not measured: unexpected {type(exc).__name__}: {exc}"
        return tuple(SeatComparison(s.name, platform.release(), error=error) for s in seats)


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters, so a long value cannot stretch a table."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def shown_value(value: str | None, width: int = VALUE_WIDTH) -> str:
    """A fingerprint value for a table cell: `(absent)` for None, digests cut to 12 hex digits, clipped."""
    return "(absent)" if value is None else clip(DIGEST.sub(r"\1…", value), width)


def shown_time(iso: str) -> str:
    """`2025-01-31T09:00:00Z` -> `2025-01-31 09:00 UTC`, for people."""
    return f"{iso[:10]} {iso[11:16]} UTC" if len(iso) >= 16 else iso or "unknown"


# -- the verdict -----------------------------------------------------------------------------------


def verdict(report: RoomReport) -> Verdict:
    if report.verify is None:
        return Verdict.NOT_VERIFIED
    parities = [report.parity(s.name) for s in report.seats]
    tests = [report.tests(m.name) for s in report.seats for m in s.machines]
    if any(p is not None and p.drift for p in parities):
        return Verdict.DRIFT
    if any(t is not None and not t.ok for t in tests) or any(p is not None and p.error for p in parities):
        return Verdict.FAILING
    if None in parities or None in tests:
        return Verdict.NOT_VERIFIED
    return Verdict.OK


def problems(report: RoomReport) -> list[str]:
    """What keeps the room from being verified OK, one line each; empty when it is."""
    if report.verify is None:
        return [f"not verified yet: run `labtool verify {report.room}`"]
    lines = []
    for seat in report.seats:
        parity = report.parity(seat.name)
        if parity is None:
            lines.append(f"{seat.name}: not in the last verify: run `labtool verify {report.room}`")
        elif parity.error:
            lines.append(f"{seat.name}: {parity.error}")
        elif parity.drift:
            lines.append(f"{seat.name}: {_count(len(parity.drift), 'item')} drifted")
        lines += [f"{m.name}: {suite_result(report.tests(m.name))}" for m in seat.machines if _failing(report, m.name)]
    return lines


def headline(report: RoomReport) -> str:
    """The verdict in one line, e.g. `DRIFT: seat01: 2 items drifted`."""
    result = verdict(report)
    if report.verify is None:
        return problems(report)[0]
    if result is Verdict.OK:
        return f"{result}: {all_clear(report)}"
    return f"{result}: {'; '.join(problems(report))}"


def all_clear(report: RoomReport) -> str:
    """What a room verified OK has shown, e.g. `2 seats, 68 tests passed, no drift`."""
    passed = sum(passed_count(t) for m in _machines(report) if (t := report.tests(m)) is not None)
    return f"{_count(len(report.seats), 'seat')}, {passed} tests passed, no drift"


def suite_result(tests: MachineTests | None) -> str:
    """`36 passed`, `34 passed, 2 FAILED`, or why the suite did not run."""
    if tests is None:
        return "not verified"
    if tests.error:
        return f"suite did not run: {tests.error}"
    failed, skipped = len(tests.failed), skipped_count(tests)
    counts = [f"{passed_count(tests)} passed"]
    if failed:
        counts.append(f"{failed} FAILED")
    if skipped:
        counts.append(f"{skipped} skipped")
    return ", ".join(counts)


def passed_count(tests: MachineTests) -> int:
    return sum(c.outcome == "passed" for c in tests.cases)


def skipped_count(tests: MachineTests) -> int:
    return sum(c.outcome == "skipped" for c in tests.cases)


def _failing(report: RoomReport, machine: str) -> bool:
    tests = report.tests(machine)
    return tests is not None and not tests.ok


def _machines(report: RoomReport) -> list[str]:
    return [m.name for seat in report.seats for m in seat.machines]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# -- the parity matrix and the expected differences ------------------------------------------------


@dataclass(frozen=True)
class MatrixRow:
    item: str
    cells: tuple[tuple[Cell, Difference | None], ...]
    """One per seat of the report, in order; the difference is set for drift and expected cells."""

    @property
    def drifted(self) -> bool:
        return any(cell is Cell.DRIFT for cell, _ in self.cells)


@dataclass(frozen=True)
class ReasonGroup:
    reason: str
    items: tuple[str, ...]
    example: Difference


def parity_matrix(report: RoomReport) -> list[MatrixRow]:
    """Every item that differs on any seat: drifted items first, then expected ones, each by name."""
    parities = [report.parity(s.name) for s in report.seats]
    items = {d.item for p in parities if p is not None for d in (*p.drift, *p.expected)}
    rows = [MatrixRow(item, tuple(_cell(p, item) for p in parities)) for item in items]
    return sorted(rows, key=lambda row: (not row.drifted, row.item))


def _cell(parity: SeatParity | None, item: str) -> tuple[Cell, Difference | None]:
    if parity is None or parity.error:
        return Cell.NOT_COMPARED, None
    for cell, differences in ((Cell.DRIFT, parity.drift), (Cell.EXPECTED, parity.expected)):
        found = next((d for d in differences if d.item == item), None)
        if found is not None:
            return cell, found
    return Cell.SAME, None


def identical_items(parity: SeatParity | None) -> int | None:
    """How many compared items are the same on both machines; None when the seat was not compared."""
    if parity is None or parity.error:
        return None
    return parity.compared - len(parity.drift) - len(parity.expected)


def identical_text(report: RoomReport, seat: Seat) -> str:
    """The matrix's last row for a seat: how much matched, said once for every format."""
    same = identical_items(report.parity(seat.name))
    return "not compared" if same is None else f"{same} other items: identical"


def expected_by_reason(report: RoomReport) -> list[ReasonGroup]:
    """The expected differences of all seats, one group per reason, with the first one seen as example."""
    groups: dict[str, list[Difference]] = {}
    for seat in report.seats:
        parity = report.parity(seat.name)
        for difference in parity.expected if parity else ():
            groups.setdefault(difference.reason, []).append(difference)
    return [
        ReasonGroup(reason, tuple(sorted({d.item for d in differences})), differences[0])
        for reason, differences in groups.items()
    ]


@dataclass(frozen=True)
class DriftExplanation:
    seat: str
    difference: Difference


def drift_explanations(report: RoomReport) -> list[DriftExplanation]:
    """Every drifted item that verify could explain (why it differs, how to repair it), seat by seat."""
    return [
        DriftExplanation(seat.name, difference)
        for seat in report.seats
        for parity in (report.parity(seat.name),)
        if parity is not None
        for difference in parity.drift
        if difference.why or difference.details or difference.repair
    ]


# -- JSON ------------------------------------------------------------------------------------------


def to_json(report: RoomReport) -> dict[str, Any]:
    return {
        "room": report.room,
        "generated_at": report.generated_at,
        "verdict": verdict(report).value,
        "headline": headline(report),
        "problems": problems(report),
        "verified_at": report.verify.finished_at if report.verify else None,
        "seats": [_seat_json(report, seat) for seat in report.seats],
        "checks": {"checked_at": last_checked(report), **checks.to_json(report.checks)},
    }


def last_checked(report: RoomReport) -> str | None:
    """When the latest of the kept checks ran; None when the room's seats were never checked."""
    return max((m.checked_at for m in report.checks), default=None)


def _seat_json(report: RoomReport, seat: Seat) -> dict[str, Any]:
    parity = report.parity(seat.name)
    comparison = report.comparison(seat.name)
    return {
        "seat": seat.name,
        "host": report.host(seat.name),
        "vm": _machine_json(report, seat.vm.name),
        "container": _machine_json(report, seat.container.name),
        "parity": None if parity is None else {**asdict(parity), "ok": parity.ok},
        "comparison": None
        if comparison is None
        else {**asdict(comparison), "rows": [asdict(r) for r in comparison.rows()]},
    }


def _machine_json(report: RoomReport, name: str) -> dict[str, Any]:
    status, tests = report.status(name), report.tests(name)
    return {
        "name": name,
        "state": status.presence.value if status else None,
        "address": status.address if status else None,
        "app_url": status.app_url if status else None,
        "provisioned": status.provisioned if status else None,
        "changed": status.changed if status else None,
        "error": status.error if status else "",
        "tests": None
        if tests is None
        else {
            "passed": passed_count(tests),
            "failed": len(tests.failed),
            "skipped": skipped_count(tests),
            "ok": tests.ok,
            "error": tests.error,
            "seconds": tests.seconds,
            "failures": [{"name": c.name, "outcome": c.outcome, "message": c.message} for c in tests.failed],
        },
    }

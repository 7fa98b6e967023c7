"""The report as Markdown (GitHub pipe tables), e.g. for a CI job summary or an issue: the HTML page's sections."""

from __future__ import annotations

import re
from collections.abc import Sequence

from labtool.backends.base import Presence
from labtool.checks import cell_text, grade_table, total_text, worth_text
from labtool.lab import MachineStatus
from labtool.model import Machine, Seat
from labtool.parity.diff import Difference
from labtool.report.build import (
    Cell,
    MatrixRow,
    RoomReport,
    Verdict,
    all_clear,
    clip,
    drift_explanations,
    expected_by_reason,
    identical_text,
    parity_matrix,
    problems,
    shown_time,
    shown_value,
    suite_result,
    verdict,
)

MESSAGE_WIDTH = 160
HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
ENTITY_START = re.compile(r"&(?=#?\w+;)")
# Backticks are left alone: labtool's messages quote commands in them, as code.
EMPHASIS = re.compile(r"[*\\]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def render(report: RoomReport) -> str:
    sections = (
        _summary(report),
        _seat_grid(report),
        _checks(report),
        _parity_matrix(report),
        _drift_explanations(report),
        _expected_differences(report),
        _comparison(report),
    )
    return "\n\n".join(section for section in sections if section) + "\n"


def _summary(report: RoomReport) -> str:
    lines = [f"# labtool report: room {_code(report.room)}", ""]
    verified = (
        f"last verify {shown_time(report.verify.finished_at)} ({report.verify.seconds:.0f} s)"
        if report.verify
        else "never verified"
    )
    result = verdict(report)
    clear = f" {_text(all_clear(report))}." if result is Verdict.OK else ""
    lines.append(f"**{result}**.{clear} Generated {shown_time(report.generated_at)}; {verified}.")
    found = problems(report)
    if found:
        lines += ["", *(f"- {_text(line)}" for line in found)]
    return "\n".join(lines)


# -- seats -----------------------------------------------------------------------------------------


def _seat_grid(report: RoomReport) -> str:
    rows = [
        (_seat_name(report, seat), _machine(report, seat.vm), _machine(report, seat.container), _parity(report, seat))
        for seat in report.seats
    ]
    parts = ["## Seats", "", _table(("Seat", "VM", "Container", "Parity"), rows)]
    failures = [
        (_code(m.name), _code(c.name), _text(clip(c.message, MESSAGE_WIDTH)))
        for seat in report.seats
        for m in seat.machines
        if (tests := report.tests(m.name)) is not None
        for c in tests.failed
    ]
    if failures:
        parts += ["", "### Failed tests", "", _table(("Machine", "Test", "Message"), failures)]
    return "\n".join(parts)


def _seat_name(report: RoomReport, seat: Seat) -> str:
    host = report.host(seat.name)
    return _text(f"{seat.name} (on {host})" if host else seat.name)


def _machine(report: RoomReport, machine: Machine) -> str:
    status = report.status(machine.name)
    facts = [_text(suite_result(report.tests(machine.name)))]
    if status is not None:
        facts[:0] = _status_facts(status)
    return f"{_code(machine.name)}: " + ", ".join(facts)


def _status_facts(status: MachineStatus) -> list[str]:
    facts = [f"**{status.presence}**"]
    if status.app_url:
        facts.append(_text(status.app_url))
    elif status.address:
        facts.append(_code(status.address))
    if status.presence is not Presence.ABSENT:
        facts.append(f"provisioned (changed={status.changed})" if status.provisioned else "not provisioned")
    if status.error:
        facts.append(f"last error: {_text(clip(status.error, MESSAGE_WIDTH))}")
    return facts


def _parity(report: RoomReport, seat: Seat) -> str:
    parity = report.parity(seat.name)
    if parity is None:
        return "not verified"
    if parity.error:
        return f"**not compared**: {_text(parity.error)}"
    head = "ok" if parity.ok else f"**{len(parity.drift)} drifted**"
    return f"{head}: {parity.compared} items compared, {len(parity.expected)} expected differences"


# -- checks ----------------------------------------------------------------------------------------


def _checks(report: RoomReport) -> str:
    if not report.checks:
        return f"## Checks\n\nNot checked yet: run {_code(f'labtool check {report.room}')}."
    grades = grade_table(report.checks)
    headers = (
        "Seat",
        "Student",
        "Kind",
        *(f"{c.name} ({worth_text(c.points)})" for c in grades.columns),
        "Total",
        "Last run",
    )
    rows = [
        (
            _text(row.seat),
            _text(row.student),
            _text(row.kind.value),
            *(
                [_text(f"could not run: {clip(row.error, MESSAGE_WIDTH)}"), *[""] * (len(grades.columns) - 1)]
                if row.error and grades.columns
                else [_text(cell_text(row, c.name)) for c in grades.columns]
            ),
            _text(total_text(row)),
            _text(shown_time(row.checked_at)),
        )
        for row in grades.rows
    ]
    parts = ["## Checks", "", _table(headers, rows)]
    titles = [f"- {_code(c.name)}: {_text(c.title)}" for c in grades.columns if c.title]
    if titles:
        parts += ["", *titles]
    return "\n".join(parts)


# -- parity ----------------------------------------------------------------------------------------


def _parity_matrix(report: RoomReport) -> str:
    if report.verify is None:
        return f"## Parity\n\n{_not_verified(report)}"
    headers = ("Item", *(s.name for s in report.seats))
    rows: list[Sequence[str]] = [_matrix_row(row) for row in parity_matrix(report)]
    rows.append((_text("everything else"), *(identical_text(report, s) for s in report.seats)))
    return "## Parity\n\n" + _table(headers, rows)


def _matrix_row(row: MatrixRow) -> tuple[str, ...]:
    return (_code(row.item), *(_matrix_cell(cell, difference) for cell, difference in row.cells))


def _matrix_cell(cell: Cell, difference: Difference | None) -> str:
    if cell is Cell.DRIFT and difference is not None:
        return f"**DRIFT**: VM {_value(difference.vm)} vs container {_value(difference.container)}"
    return cell.value


def _drift_explanations(report: RoomReport) -> str:
    explanations = drift_explanations(report)
    if not explanations:
        return ""
    parts = ["## Why it drifted, and how to repair it"]
    for explanation in explanations:
        difference = explanation.difference
        parts += ["", f"### {_text(explanation.seat)}: {_code(difference.item)}", ""]
        if difference.why:
            parts.append(_text(difference.why))
        if difference.details:
            fence = "````" if "```" in "\n".join(difference.details) else "```"
            parts += ["", fence, *difference.details, fence]
        if difference.repair:
            parts += ["", f"Repair: {_text(difference.repair)}"]
    return "\n".join(parts)


def _expected_differences(report: RoomReport) -> str:
    if report.verify is None:
        return f"## Expected differences\n\n{_not_verified(report)}"
    rows = [
        (
            _text(group.reason),
            " ".join(_code(item) for item in group.items),
            f"VM {_value(group.example.vm)} vs container {_value(group.example.container)}",
        )
        for group in expected_by_reason(report)
    ]
    if not rows:
        return "## Expected differences\n\nNone."
    return "## Expected differences\n\n" + _table(("Why", "Items", "Example"), rows)


# -- comparison ------------------------------------------------------------------------------------


def _comparison(report: RoomReport) -> str:
    parts = ["## VM versus container"]
    for seat in report.seats:
        comparison = report.comparison(seat.name)
        parts += ["", f"### {seat.name}", ""]
        if comparison is None or comparison.error:
            parts.append(_text(comparison.error if comparison else "not measured"))
            continue
        headers = ("Measure", f"VM {seat.vm.name}", f"Container {seat.container.name}", "VM ÷ container")
        rows = [(_text(r.measure), _text(r.vm), _text(r.container), _text(r.ratio)) for r in comparison.rows()]
        parts.append(_table(headers, rows))
    return "\n".join(parts)


# -- shared ----------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A pipe table of Markdown cells (made with `_text` and `_code`); headers are plain text."""
    lines = [_row([_text(h) for h in headers]), _row(["---"] * len(headers))]
    lines += [_row(row) for row in rows]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    # GitHub splits rows on every unescaped `|`, inside code spans too.
    return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"


def _text(text: str) -> str:
    """Plain text, shown as is: never as HTML, an entity or emphasis (and still readable as source)."""
    line = " ".join(text.split())
    line = HTML_START.sub("&lt;", ENTITY_START.sub("&amp;", line))
    return EMPHASIS.sub(r"\\\g<0>", line)


def _code(text: str) -> str:
    """Inline code, whose content is literal; a backtick in it needs a longer fence."""
    line = " ".join(text.split())
    return f"`` {line} ``" if "`" in line else f"`{line}`"


def _value(value: str | None) -> str:
    return "(absent)" if value is None else _code(shown_value(value))


def _not_verified(report: RoomReport) -> str:
    return f"Not verified yet: run {_code(f'labtool verify {report.room}')}."

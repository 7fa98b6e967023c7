"""The Markdown report: the same sections as the HTML page, as pipe tables that values cannot break."""

from __future__ import annotations

import dataclasses
import re

from labtool.compare import SeatComparison
from labtool.parity.diff import Difference
from labtool.report.markdown import render
from tests.unit.report.sample import HOST_KERNEL, passing, sample_report

HEADINGS = [
    "# labtool report: room `default`",
    "## Seats",
    "## Checks",
    "## Parity",
    "## Why it drifted, and how to repair it",
    "## Expected differences",
]


def cells(line: str) -> list[str]:
    """A table row's cells, split as GitHub does: on every `|` not escaped with a backslash."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def table_after(text: str, heading: str) -> list[list[str]]:
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    return rows


def test_sections_come_in_the_order_of_the_html_page() -> None:
    text = render(sample_report())
    positions = [text.index(h) for h in [*HEADINGS, "## VM versus container", "### seat01\n", "### seat02\n"]]
    assert positions == sorted(positions)
    assert text.startswith("# labtool report: room `default`\n\n**DRIFT**. Generated 2025-11-27 21:45 UTC;")


def test_seat_table_and_failed_tests() -> None:
    text = render(sample_report())
    seats = table_after(text, "## Seats")
    assert seats[0] == ["Seat", "VM", "Container", "Parity"]
    assert seats[3][0] == "seat02"
    assert "**running**" in seats[3][2] and "34 passed, 2 FAILED" in seats[3][2]
    assert seats[3][3].startswith("**2 drifted**")
    failed = table_after(text, "### Failed tests")
    assert failed[2] == [
        "`seat02-ct`",
        "`test_service_enabled_and_running[nginx]`",
        "AssertionError: nginx.service is inactive",
    ]


def test_parity_table_marks_drift_per_seat() -> None:
    rows = table_after(render(sample_report()), "## Parity")
    assert rows[0] == ["Item", "seat01", "seat02"]
    curl = next(row for row in rows if row[0] == "`package:curl`")
    assert curl == ["`package:curl`", "same", "**DRIFT**: VM `7.88.1-10+deb12u8` vs container (absent)"]
    assert rows[-1] == ["everything else", "1429 other items: identical", "1428 other items: identical"]


def test_a_pipe_or_markup_in_a_value_cannot_break_the_table() -> None:
    report = sample_report()
    assert report.verify is not None
    drift = (Difference("file:/etc/a|b", "x | y", "<script>alert(1)</script>"),)
    seats = [report.verify.seats[0], dataclasses.replace(report.verify.seats[1], drift=drift)]
    report = dataclasses.replace(report, verify=dataclasses.replace(report.verify, seats=seats))
    rows = table_after(render(report), "## Parity")
    assert all(len(row) == 3 for row in rows)
    row = next(row for row in rows if "a\\|b" in row[0])
    assert row[2] == "**DRIFT**: VM `x \\| y` vs container `<script>alert(1)</script>`"


def test_plain_text_is_never_html_or_emphasis() -> None:
    report = sample_report()
    error = "not measured: <b>seat02</b> *down* _now_"
    report = dataclasses.replace(
        report, comparisons=(report.comparisons[0], SeatComparison("seat02", HOST_KERNEL, error=error))
    )
    assert "not measured: &lt;b>seat02&lt;/b> \\*down\\* \\_now\\_" in render(report)


def test_expected_differences_and_comparison_tables() -> None:
    text = render(sample_report())
    reasons = table_after(text, "## Expected differences")
    assert reasons[0] == ["Why", "Items", "Example"]
    assert [r[1] for r in reasons if "own kernel" in r[0]] == ["`app:kernel_release` `system:kernel_release`"]
    compare = table_after(text, "### seat01")
    assert compare[0] == ["Measure", "VM seat01-vm", "Container seat01-ct", "VM ÷ container"]
    assert ["memory used on the host", "700 MiB (QEMU's RSS)", "60 MiB (cgroup memory.current)", "11.7x"] in compare


def test_a_room_verified_ok_says_what_was_shown() -> None:
    report = sample_report()
    assert report.verify is not None
    machines = [passing(m.machine, m.kind) for m in report.verify.machines]
    seats = [dataclasses.replace(s, drift=()) for s in report.verify.seats]
    report = dataclasses.replace(report, verify=dataclasses.replace(report.verify, machines=machines, seats=seats))
    summary = render(report).split("\n## ")[0]
    assert "**verified OK**. 2 seats, 144 tests passed, no drift. Generated 2025-11-27 21:45 UTC;" in summary
    assert "\n- " not in summary


def test_a_room_never_verified() -> None:
    text = render(dataclasses.replace(sample_report(), verify=None))
    assert "**not verified**" in text
    assert "- not verified yet: run `labtool verify default`" in text
    assert "## Parity\n\nNot verified yet: run `labtool verify default`." in text


def test_checks_table_has_points_per_check_total_and_last_run() -> None:
    rows = table_after(render(sample_report()), "## Checks")
    assert rows[0] == [
        *("Seat", "Student", "Kind"),
        *("test_app_answers (1 point)", "test_gzip_json (3 points)", "test_note_signed (2 points)"),
        *("Total", "Last run"),
    ]
    assert rows[2] == ["seat01", "Ada Lovelace", "vm", "1", "3", "2", "6/6", "2025-11-27 21:30 UTC"]
    assert rows[4] == [
        "seat02",
        "",
        "vm",
        "could not run: stopped: bring it up",
        "",
        "",
        "not run",
        "2025-11-27 21:31 UTC",
    ]
    assert rows[5][3:7] == ["1", "3", "0", "4/6"]


def test_a_room_never_checked_says_how() -> None:
    text = render(dataclasses.replace(sample_report(), checks=()))
    assert "## Checks\n\nNot checked yet: run `labtool check default`." in text


def test_each_explained_drift_shows_its_cause_diff_and_repair() -> None:
    text = render(sample_report())
    section = text[text.index("## Why it drifted") : text.index("## Expected differences")]
    assert "### seat02: `file:/etc/nginx/nginx.conf`" in section
    assert "differs from the VM's by 1 line" in section
    assert "```\n--- VM\n+++ container\n@@ -1 +1,2 @@\n user www-data;\n+worker_processes <64>;\n```" in section
    assert "Repair: no role manages" in section and "`labtool reset default --seat seat02 --container`" in section
    assert "package:curl" not in section  # nothing to explain: no section entry


def test_a_room_without_explained_drift_has_no_such_section() -> None:
    report = sample_report()
    assert report.verify is not None
    seats = [dataclasses.replace(s, drift=()) for s in report.verify.seats]
    quiet = dataclasses.replace(report, verify=dataclasses.replace(report.verify, seats=seats))
    assert "## Why it drifted" not in render(quiet)


def test_a_room_across_hosts_names_each_seats_host() -> None:
    text = render(dataclasses.replace(sample_report(), hosts={"seat01": "here", "seat02": "lab2"}))
    assert "| seat02 (on lab2) |" in text and "| seat01 (on here) |" in text

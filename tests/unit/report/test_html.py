"""The HTML page, read back with a parser: sections, the seat grid, drift highlighted, escaping, self-containment."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

from labtool.backends.base import Presence
from labtool.compare import SeatComparison
from labtool.parity.diff import Difference
from labtool.report.build import RoomReport
from labtool.report.html import render
from tests.unit.report.sample import DIGEST_VM, HOST_KERNEL, failing, passing, sample_report, seat, status

SECTIONS = ("summary", "seat-grid", "checks", "parity-matrix", "expected-differences", "comparison")
INLINE = ("a", "code", "b", "strong", "em")
EVIL = '<script>alert("x")</script>'


class Page(HTMLParser):
    """The parts of a page the tests look at: each section's text, and each table row's cells."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self.rows: dict[str, list[list[tuple[str, str]]]] = {}
        self._section = ""
        self._cell: tuple[str, list[str]] | None = None
        self.feed(text)

    @property
    def text(self) -> dict[str, str]:
        """Each section's text as a person reads it: one space between words and between boxes."""
        return {section: " ".join("".join(parts).split()) for section, parts in self.sections.items()}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._separate(tag)
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(found["id"] or "")
        if tag == "section":
            self._section = found.get("id") or ""
            self.sections[self._section] = []
        elif tag == "tr":
            self.rows.setdefault(self._section, []).append([])
        elif tag in ("td", "th"):
            self._cell = (found.get("class") or "", [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            css_class, parts = self._cell
            self.rows[self._section][-1].append((css_class, " ".join("".join(parts).split())))
            self._cell = None
        self._separate(tag)

    def handle_data(self, data: str) -> None:
        if self._section:
            self.sections[self._section].append(data)
        if self._cell is not None:
            self._cell[1].append(data)

    def _separate(self, tag: str) -> None:
        if tag not in INLINE:
            self.handle_data(" ")

    def matrix_row(self, item: str) -> list[tuple[str, str]]:
        return next(row for row in self.rows["parity-matrix"] if row and row[0][1] == item)


def page(report: RoomReport) -> Page:
    return Page(render(report))


def test_every_section_is_there_once_with_its_id() -> None:
    ids = page(sample_report()).ids
    assert [i for i in ids if i in SECTIONS] == list(SECTIONS)
    assert len(ids) == len(set(ids))


def test_summary_gives_the_verdict_and_what_is_wrong() -> None:
    summary = page(sample_report()).text["summary"]
    assert "DRIFT" in summary
    assert "seat02: 2 items drifted" in summary
    assert "seat02-ct: 34 passed, 2 FAILED" in summary
    assert "2025-11-27 21:40" in summary


def test_seat_grid_shows_both_machines_of_each_seat_with_state_app_and_tests() -> None:
    found = page(sample_report())
    seat02 = next(row for row in found.rows["seat-grid"] if row[0][1] == "seat02")
    _, vm, container, parity = seat02
    assert vm[1].startswith("seat02-vm running") and "http://10.214.10.112/" in vm[1] and "36 passed" in vm[1]
    assert "34 passed, 2 FAILED" in container[1]
    assert "test_service_enabled_and_running[nginx] AssertionError: nginx.service is inactive" in container[1]
    assert "test_app_answers ConnectionRefusedError" in container[1]
    assert parity[1].startswith("2 drifted")


def test_drifted_cells_are_highlighted_and_show_both_values_clipped() -> None:
    found = page(sample_report())
    header = found.rows["parity-matrix"][0]
    assert [text for _, text in header] == ["Item", "seat01", "seat02"]
    nginx = found.matrix_row("file:/etc/nginx/nginx.conf")
    assert nginx[1] == ("same", "same")
    css_class, text = nginx[2]
    assert css_class == "drift"
    assert "VM file 0644 root:root sha256:a1a1a1a1a1a1…" in text and "CT file 0644 root:root sha256:b2b2" in text
    assert DIGEST_VM not in text
    assert found.matrix_row("package:curl")[2] == ("drift", "drift VM 7.88.1-10+deb12u8 CT (absent)")
    assert found.matrix_row("system:hostname")[1:] == [("expected", "expected"), ("expected", "expected")]
    assert found.matrix_row("everything else")[1:] == [
        ("", "1429 other items: identical"),
        ("", "1428 other items: identical"),
    ]


def test_drift_rows_come_before_expected_ones() -> None:
    items = [row[0][1] for row in page(sample_report()).rows["parity-matrix"][1:]]
    assert items.index("package:curl") < items.index("app:kernel_release")


def test_expected_differences_list_each_reason_once_with_its_items_and_an_example() -> None:
    rows = page(sample_report()).rows["expected-differences"][1:]
    kernel = next(row for row in rows if row[0][1].startswith("the VM runs its own kernel"))
    assert kernel[1][1] == "app:kernel_release system:kernel_release"
    assert kernel[2][1] == f"VM 6.1.0-27-amd64 CT {HOST_KERNEL}"
    assert len(rows) == 2


def test_comparison_has_a_table_per_seat() -> None:
    rows = page(sample_report()).rows["comparison"]
    assert [text for _, text in rows[0]] == ["Measure", "VM seat01-vm", "Container seat01-ct", "VM ÷ container"]
    memory = next(row for row in rows if row[0][1] == "memory used on the host")
    assert [text for _, text in memory[1:]] == ["700 MiB (QEMU's RSS)", "60 MiB (cgroup memory.current)", "11.7x"]


def test_values_from_the_room_stay_text() -> None:
    report = sample_report()
    assert report.verify is not None
    machines = [*report.verify.machines[:3], dataclasses.replace(failing("seat02-ct", report.verify.machines[3].kind))]
    bad_case = dataclasses.replace(machines[3].cases[-1], message=EVIL)
    machines[3] = dataclasses.replace(machines[3], cases=(*machines[3].cases[:-1], bad_case))
    drift = (Difference("file:/etc/motd", EVIL, '" onmouseover="x'),)
    seats = [report.verify.seats[0], dataclasses.replace(report.verify.seats[1], drift=drift)]
    report = dataclasses.replace(
        report, verify=dataclasses.replace(report.verify, machines=machines, seats=seats), room="<b>room</b>"
    )
    text = render(report)
    found = Page(text)
    assert found.tags.count("script") == 0 and "b" not in found.tags
    assert EVIL in found.text["seat-grid"] and EVIL in found.text["parity-matrix"]
    assert "&lt;script&gt;" in text
    assert 'title="&quot; onmouseover=&quot;x"' in text
    assert "<b>room</b>" in found.text["summary"]


def test_nothing_is_fetched_and_only_app_links_are_urls() -> None:
    text = render(sample_report())
    urls = set(re.findall(r"[a-z][a-z0-9+.-]*://[^\s\"'<>)]+", text))
    assert urls == {"http://10.214.10.111/", "http://10.213.10.2/", "http://10.214.10.112/", "http://10.213.10.3/"}
    for fetching in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url(", "@font-face"):
        assert fetching not in text


def test_a_room_never_verified_says_how_to_verify_it() -> None:
    found = page(dataclasses.replace(sample_report(), verify=None))
    assert "not verified" in found.text["summary"]
    assert "labtool verify default" in found.text["summary"]
    assert "Not verified yet: run labtool verify default." in found.text["parity-matrix"]
    assert "Not verified yet" in found.text["expected-differences"]
    assert "parity-matrix" not in found.rows
    seat01 = next(row for row in found.rows["seat-grid"] if row[0][1] == "seat01")
    assert "tests not verified" in seat01[1][1] and seat01[3][1] == "not verified"


def test_seats_that_are_not_running_show_why_they_were_not_measured() -> None:
    report = sample_report()
    stopped = "not measured: seat02-vm not running"
    report = dataclasses.replace(
        report,
        statuses=(*report.statuses[:2], status("seat02-vm", seat("seat02").vm.kind, "", Presence.STOPPED)),
        comparisons=(report.comparisons[0], SeatComparison("seat02", HOST_KERNEL, error=stopped)),
    )
    found = page(report)
    assert stopped in found.text["comparison"]
    assert sum(row[0][1] == "memory used on the host" for row in found.rows["comparison"]) == 1
    assert "seat02-vm stopped" in found.text["seat-grid"]
    assert "seat02-ct unknown" in found.text["seat-grid"]
    assert "Machines running 2 of 3" in found.text["summary"]


def test_a_room_verified_ok_says_what_was_shown() -> None:
    report = sample_report()
    assert report.verify is not None
    machines = [passing(m.machine, m.kind) for m in report.verify.machines]
    seats = [dataclasses.replace(s, drift=()) for s in report.verify.seats]
    found = page(dataclasses.replace(report, verify=dataclasses.replace(report.verify, machines=machines, seats=seats)))
    assert found.text["summary"].startswith(
        "labtool report Room default verified OK 2 seats, 144 tests passed, no drift"
    )
    assert "ul" not in found.tags and "drift" not in {css for row in found.rows["parity-matrix"] for css, _ in row}


def test_checks_show_each_machines_points_per_check_its_total_and_when_it_ran() -> None:
    found = page(sample_report())
    header, *rows = found.rows["checks"]
    assert [text for _, text in header] == [
        *("Seat", "Student", "Kind"),
        *("test_app_answers 1 point", "test_gzip_json 3 points", "test_note_signed 2 points"),
        *("Total", "Last run"),
    ]
    assert [text for _, text in rows[0]] == [
        "seat01",
        "Ada Lovelace",
        "vm",
        "1",
        "3",
        "2",
        "6/6",
        "2025-11-27 21:30 UTC",
    ]
    seat02_vm, seat02_ct = rows[2], rows[3]
    assert seat02_vm[3] == ("failed-text", "could not run: stopped: bring it up")
    assert [cell for cell in seat02_ct[3:7]] == [
        ("ok-text", "1"),
        ("ok-text", "3"),
        ("failed-text", "0"),
        ("", "4/6"),
    ]
    assert "test_note_signed A note signed with the student's name was added through the API" in found.text["checks"]


def test_checks_never_change_the_verdict_and_a_room_never_checked_says_how() -> None:
    unchecked = dataclasses.replace(sample_report(), checks=())
    assert page(unchecked).text["summary"] == page(sample_report()).text["summary"]
    assert page(unchecked).text["checks"] == "Checks Not checked yet: run labtool check default."


def test_check_names_titles_and_students_are_escaped() -> None:
    report = sample_report()
    evil = dataclasses.replace(report.checks[0], student=EVIL)
    text = render(dataclasses.replace(report, checks=(evil,)))
    assert EVIL not in text and "&lt;script&gt;" in text


def test_each_explained_drift_shows_its_cause_escaped_diff_and_repair() -> None:
    page = render(sample_report())
    section = page[page.index('<section id="drift-explanations">') :]
    section = section[: section.index("</section>")]
    assert "<dt>seat02: <code>file:/etc/nginx/nginx.conf</code></dt>" in section
    assert "<pre>--- VM\n+++ container\n@@ -1 +1,2 @@\n user www-data;\n+worker_processes &lt;64&gt;;</pre>" in section
    assert '<p class="repair">Repair: no role manages' in section
    sections = ("parity-matrix", "drift-explanations", "expected-differences")
    order = [page.index(f'id="{section}"') for section in sections]
    assert order == sorted(order)


def test_a_room_across_hosts_names_each_seats_host_in_the_grid() -> None:
    report = dataclasses.replace(sample_report(), hosts={"seat01": "here", "seat02": "lab2"})
    grid = page(report).rows["seat-grid"]
    assert [row[0][1] for row in grid[1:]] == ["seat01 on here", "seat02 on lab2"]
    assert [row[0][1] for row in page(sample_report()).rows["seat-grid"][1:]] == ["seat01", "seat02"]

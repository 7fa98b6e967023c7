"""`labtool report` as the instructor sees it: the page rendered in headless Chromium, on recorded and live data."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from labtool.report.html import render
from tests.integration.browser import WIDTH, chromium, open_file
from tests.integration.rooms import LiveRoom
from tests.unit.report.sample import sample_report, seat

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]
SECTIONS = ("summary", "seat-grid", "parity-matrix", "expected-differences", "comparison")


def rgb(page: Page, selector: str) -> tuple[int, ...]:
    colour = page.locator(selector).first.evaluate("element => getComputedStyle(element).backgroundColor")
    return tuple(int(n) for n in re.findall(r"\d+", str(colour))[:3])


def test_recorded_report_shows_every_section_and_the_drift_in_red(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(render(sample_report()))
    requests: list[str] = []
    with chromium() as browser:
        page = open_file(browser, path, requests)
        for section in SECTIONS:
            expect(page.locator(f"#{section}")).to_be_visible()
        expect(page.locator("#summary .verdict")).to_have_text("DRIFT")
        drift = page.locator("#parity-matrix tr", has_text="file:/etc/nginx/nginx.conf").locator("td").nth(1)
        expect(drift).to_be_visible()
        expect(drift).to_have_class(re.compile(r"\bdrift\b"))
        expect(drift).to_contain_text("sha256:a1a1a1a1a1a1")
        red, green, blue = rgb(page, "#parity-matrix td.drift")
        assert red >= 180 and green <= 90 and blue <= 90, (red, green, blue)
        expect(page.locator("#seat-grid")).to_contain_text("34 passed, 2 FAILED")
        expect(page.locator("#seat-grid")).to_contain_text("test_service_enabled_and_running[nginx]")
        expect(page.locator("#comparison table")).to_have_count(2)
    assert requests, "the page itself was loaded"
    assert all(url.startswith("file://") for url in requests), requests


def test_a_wide_room_scrolls_inside_the_matrix_not_the_page(tmp_path: Path) -> None:
    report = sample_report()
    many = tuple(seat(f"seat{i:02}") for i in range(1, 13))
    path = tmp_path / "wide.html"
    path.write_text(render(dataclasses.replace(report, seats=many)))
    with chromium() as browser:
        page = open_file(browser, path)
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        scroller = page.locator("#parity-matrix .scroll")
        assert scroller.evaluate("element => element.scrollWidth > element.clientWidth")


# -- the live room ---------------------------------------------------------------------------------


def report_json(room: LiveRoom) -> dict[str, Any]:
    result = room.labtool("report", room.name, "--format", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_report_of_the_live_room(running_room: LiveRoom, tmp_path: Path) -> None:
    room = running_room
    data = report_json(room)
    if data["verified_at"] is None:
        verified = room.labtool("verify", room.name)
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
        data = report_json(room)
    assert data["verified_at"] is not None
    seat01, _seat02 = data["seats"]
    assert (seat01["vm"]["state"], seat01["container"]["state"]) == ("running", "running")
    assert seat01["vm"]["tests"]["passed"] > 0 and seat01["container"]["tests"]["passed"] > 0
    assert seat01["parity"]["compared"] > 0
    comparison = seat01["comparison"]
    assert comparison["error"] == "" and comparison["rows"]
    for kind in ("vm", "container"):
        assert comparison[kind]["memtotal_bytes"] > 0
        assert comparison[kind]["host"]["memory_bytes"] > 0

    markdown = room.labtool("report", room.name, "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr[-3000:]
    assert "## Parity" in markdown.stdout and "\n| seat01 | `seat01-vm`: **running**" in markdown.stdout

    path = tmp_path / "report.html"
    written = room.labtool("report", room.name, "-o", str(path))
    assert written.returncode == 0, written.stderr[-3000:]
    assert written.stdout.startswith(f"wrote {path}\nroom {room.name!r}: ")
    requests: list[str] = []
    with chromium() as browser:
        page = open_file(browser, path, requests)
        for section in SECTIONS:
            expect(page.locator(f"#{section}")).to_be_visible()
        for machine in ("seat01-vm", "seat01-ct"):
            cell = page.locator("#seat-grid .machine", has_text=machine)
            expect(cell.locator(".badge")).to_have_text("running")
            expect(cell.locator("a.app")).to_be_visible()
    assert all(url.startswith("file://") for url in requests), requests

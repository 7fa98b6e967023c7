"""The report's model: gathering it from a lab, the verdict, the parity matrix, reasons, JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from labtool import verify
from labtool.compare import SeatComparison
from labtool.lab import Lab
from labtool.model import Kind
from labtool.parity.diff import SeatParity
from labtool.report import build as build_module
from labtool.report.build import (
    Cell,
    RoomReport,
    Verdict,
    build,
    expected_by_reason,
    headline,
    identical_items,
    parity_matrix,
    shown_value,
    suite_result,
    to_json,
    verdict,
)
from labtool.settings import Settings
from labtool.verify import VerifyReport
from tests.unit.fakes import FakeBackend
from tests.unit.report.sample import DIGEST_VM, KERNEL_REASON, failing, passing, sample_report
from tests.unit.rooms import paired_room


def with_verify(report: RoomReport, **changes: Any) -> RoomReport:
    assert report.verify is not None
    return dataclasses.replace(report, verify=dataclasses.replace(report.verify, **changes))


def all_passing(report: RoomReport) -> RoomReport:
    assert report.verify is not None
    machines = [passing(m.machine, m.kind) for m in report.verify.machines]
    seats = [dataclasses.replace(s, drift=()) for s in report.verify.seats]
    return with_verify(report, machines=machines, seats=seats)


# -- gathering -------------------------------------------------------------------------------------


def test_build_reads_the_kept_verify_and_measures_only_the_chosen_seats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    vms, containers = FakeBackend(Kind.VM), FakeBackend(Kind.CONTAINER)
    vms.running, containers.running = {"s1-vm", "s2-vm"}, {"s1-ct", "s2-ct"}
    lab = Lab(settings, paired_room(2, path=tmp_path), {Kind.VM: vms, Kind.CONTAINER: containers})
    verify.save(VerifyReport("demo", [passing("s2-vm", Kind.VM)], finished_at="2025-11-27T21:40:00Z"), lab.state_dir)
    measured: list[list[str]] = []

    def fake_compare(lab: Lab, seats: Collection[str], *, progress: object) -> list[SeatComparison]:
        measured.append(list(seats))
        return [SeatComparison(seat, "6.1.0", error="not measured: test") for seat in seats]

    monkeypatch.setattr(build_module, "compare", fake_compare)
    report = build(lab, ["s2"], progress=lambda _: None)

    assert measured == [["s2"]]
    assert [s.name for s in report.seats] == ["s2"]
    assert [s.name for s in report.statuses] == ["s2-vm", "s2-ct"]
    assert all(s.presence == "running" for s in report.statuses)
    assert report.verify is not None and report.verify.finished_at == "2025-11-27T21:40:00Z"
    assert report.tests("s2-vm") is not None
    assert report.generated_at.endswith("Z")


def test_build_of_a_room_never_verified_has_no_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    lab = Lab(settings, paired_room(1, path=tmp_path), {k: FakeBackend(k) for k in Kind})
    monkeypatch.setattr(build_module, "compare", lambda lab, seats, progress: [])
    report = build(lab, None, progress=lambda _: None)
    assert report.verify is None
    assert verdict(report) is Verdict.NOT_VERIFIED
    assert headline(report) == "not verified yet: run `labtool verify demo`"


def test_a_measuring_bug_is_shown_on_every_seat_instead_of_losing_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    lab = Lab(settings, paired_room(2, path=tmp_path), {k: FakeBackend(k) for k in Kind})

    def broken_compare(lab: Lab, seats: Collection[str], *, progress: object) -> list[SeatComparison]:
        raise TypeError("inspect_container() got an unexpected keyword argument 'size'")

    monkeypatch.setattr(build_module, "compare", broken_compare)
    report = build(lab, None, progress=lambda _: None)
    assert [c.seat for c in report.comparisons] == ["s1", "s2"]
    assert report.comparisons[0].error == (
        "not measured: unexpected TypeError: inspect_container() got an unexpected keyword argument 'size'"
    )


# -- the verdict -----------------------------------------------------------------------------------


def test_drift_outranks_failing_tests() -> None:
    report = sample_report()
    assert verdict(report) is Verdict.DRIFT
    assert headline(report) == "DRIFT: seat02: 2 items drifted; seat02-ct: 34 passed, 2 FAILED"


def test_failing_tests_without_drift() -> None:
    report = sample_report()
    assert report.verify is not None
    seats = [dataclasses.replace(s, drift=()) for s in report.verify.seats]
    assert verdict(with_verify(report, seats=seats)) is Verdict.FAILING


def test_a_seat_that_could_not_be_compared_is_failing() -> None:
    report = all_passing(sample_report())
    assert report.verify is not None
    seats = [report.verify.seats[0], SeatParity("seat02", 0, (), (), error="not compared: seat02-vm not running")]
    report = with_verify(report, seats=seats)
    assert verdict(report) is Verdict.FAILING
    assert "seat02: not compared: seat02-vm not running" in headline(report)


def test_all_passing_is_verified_ok() -> None:
    report = all_passing(sample_report())
    assert verdict(report) is Verdict.OK
    assert headline(report) == "verified OK: 2 seats, 144 tests passed, no drift"


def test_a_seat_missing_from_the_last_verify_is_not_verified() -> None:
    report = all_passing(sample_report())
    assert report.verify is not None
    report = with_verify(report, seats=report.verify.seats[:1], machines=report.verify.machines[:2])
    assert verdict(report) is Verdict.NOT_VERIFIED
    assert "seat02: not in the last verify: run `labtool verify default`" in headline(report)


def test_tests_summary_counts_failures_and_skips_apart() -> None:
    tests = failing("seat02-ct", Kind.CONTAINER)
    skipped = dataclasses.replace(tests, cases=(*tests.cases, verify.CaseResult("test_students", "skipped", 0.0)))
    assert suite_result(skipped) == "34 passed, 2 FAILED, 1 skipped"
    assert suite_result(None) == "not verified"
    broken = verify.MachineTests("seat02-ct", Kind.CONTAINER, error="stopped: bring it up")
    assert suite_result(broken) == "suite did not run: stopped: bring it up"


# -- the parity views ------------------------------------------------------------------------------


def test_matrix_lists_drift_first_then_expected_with_a_cell_per_seat() -> None:
    rows = parity_matrix(sample_report())
    assert [r.item for r in rows] == [
        "file:/etc/nginx/nginx.conf",
        "package:curl",
        "app:kernel_release",
        "system:hostname",
        "system:kernel_release",
    ]
    assert [cell for cell, _ in rows[0].cells] == [Cell.SAME, Cell.DRIFT]
    drift = rows[0].cells[1][1]
    assert drift is not None and drift.vm is not None and DIGEST_VM in drift.vm
    assert [cell for cell, _ in rows[2].cells] == [Cell.EXPECTED, Cell.EXPECTED]


def test_matrix_marks_seats_that_were_not_compared() -> None:
    report = sample_report()
    assert report.verify is not None
    seats = [report.verify.seats[0], SeatParity("seat02", 0, (), (), error="not compared")]
    rows = parity_matrix(with_verify(report, seats=seats))
    assert {cell for row in rows for cell, _ in row.cells[1:]} == {Cell.NOT_COMPARED}
    assert identical_items(seats[0]) == 1429
    assert identical_items(seats[1]) is None


def test_expected_differences_are_grouped_by_reason() -> None:
    groups = {g.reason: g for g in expected_by_reason(sample_report())}
    kernel = groups[KERNEL_REASON]
    assert kernel.items == ("app:kernel_release", "system:kernel_release")
    assert (kernel.example.vm, kernel.example.container) == ("6.1.0-27-amd64", "6.1.0-28-amd64")
    assert len(groups) == 2


def test_long_digests_are_cut_for_display() -> None:
    assert shown_value(f"file 0644 root:root {DIGEST_VM}") == "file 0644 root:root sha256:a1a1a1a1a1a1…"
    assert shown_value(None) == "(absent)"
    assert len(shown_value("x" * 500)) == 64


# -- JSON ------------------------------------------------------------------------------------------


def test_json_has_every_seat_with_status_tests_parity_and_measures() -> None:
    data = json.loads(json.dumps(to_json(sample_report())))
    assert data["verdict"] == "DRIFT" and data["verified_at"] == "2025-11-27T21:40:00Z"
    seat02 = data["seats"][1]
    assert seat02["container"]["state"] == "running"
    assert seat02["container"]["app_url"] == "http://10.213.10.3/"
    assert seat02["container"]["tests"]["failed"] == 2
    assert seat02["container"]["tests"]["failures"][0]["name"] == "test_service_enabled_and_running[nginx]"
    assert seat02["parity"]["ok"] is False and len(seat02["parity"]["drift"]) == 2
    assert seat02["comparison"]["vm"]["memtotal_bytes"] == 1024 * 1024 * 1024
    assert seat02["comparison"]["rows"][0]["ratio"] == "18.3x"


def test_json_of_a_room_never_verified() -> None:
    data = to_json(dataclasses.replace(sample_report(), verify=None))
    assert data["verdict"] == "not verified" and data["verified_at"] is None
    assert data["seats"][0]["parity"] is None and data["seats"][0]["vm"]["tests"] is None


def test_json_carries_the_checks_columns_and_each_machines_points() -> None:
    data = json.loads(json.dumps(to_json(sample_report())))
    graded = data["checks"]
    assert graded["checked_at"] == "2025-11-27T21:31:00Z"
    assert [c["name"] for c in graded["columns"]] == ["test_app_answers", "test_gzip_json", "test_note_signed"]
    seat02_ct = graded["machines"][3]
    assert (seat02_ct["seat"], seat02_ct["kind"], seat02_ct["earned"], seat02_ct["possible"]) == (
        "seat02",
        "container",
        4.0,
        6.0,
    )
    assert seat02_ct["checks"][2] == {
        "name": "test_note_signed",
        "outcome": "failed",
        "points": 2.0,
        "title": "A note signed with the student's name was added through the API",
        "message": "",
    }
    never = to_json(dataclasses.replace(sample_report(), checks=()))["checks"]
    assert never == {"checked_at": None, "columns": [], "machines": []}


def test_json_names_each_seats_host_in_a_room_across_hosts() -> None:
    across = dataclasses.replace(sample_report(), hosts={"seat01": "here", "seat02": "lab2"})
    assert [s["host"] for s in to_json(across)["seats"]] == ["here", "lab2"]
    assert {s["host"] for s in to_json(sample_report())["seats"]} == {None}

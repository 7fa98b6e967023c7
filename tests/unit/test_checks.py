"""`labtool check`'s library: points arithmetic, JUnit with points, the grade table, CSV, students, the run."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labtool import checks, state, verify
from labtool.backends.base import Backend
from labtool.checks import CheckResult, MachineChecks, cell_text, grade_table, parse_checks, to_csv, total_text
from labtool.errors import LabtoolError
from labtool.lab import Lab
from labtool.model import Course, Kind, Machine
from labtool.project import Project
from labtool.settings import Settings
from labtool.verify import MachineTests
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import REPO, paired_room

# What a run with the plugin writes: points and titles as test-case properties.
JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="4">
<testcase classname="test_notes" name="test_note_signed[ansible://seat01-ct]" time="0.5">
<properties><property name="labtool.points" value="2"/>
<property name="labtool.title" value="A signed note"/></properties>
<failure message="AssertionError: no note by 'Ada'">trace</failure></testcase>
<testcase classname="test_gzip" name="test_gzip_json[ansible://seat01-ct]" time="0.2">
<properties><property name="labtool.points" value="2.5"/></properties></testcase>
<testcase classname="test_app" name="test_app_answers[ansible://seat01-ct]" time="0.1">
<properties><property name="labtool.points" value="1"/></properties></testcase>
<testcase classname="test_app" name="test_only_on_vms[ansible://seat01-ct]" time="0">
<properties><property name="labtool.points" value="4"/></properties><skipped message="a VM check"/></testcase>
</testsuite></testsuites>"""


def result(name: str, outcome: str, points: float) -> CheckResult:
    return CheckResult(name, outcome, points)


def machine(name: str, *results: CheckResult, error: str = "", student: str = "") -> MachineChecks:
    kind = Kind.VM if name.endswith("-vm") else Kind.CONTAINER
    return MachineChecks(name, kind, name[:-3], student, results, 1.0, "2025-11-27T21:30:00Z", error)


# -- points ----------------------------------------------------------------------------------------


def test_points_are_earned_by_passing_checks_and_a_skipped_check_does_not_count() -> None:
    graded = machine(
        "s1-ct",
        result("a", "passed", 2.0),
        result("b", "failed", 3.0),
        result("c", "error", 1.0),
        result("d", "skipped", 4.0),
        result("e", "passed", 0.5),
    )
    assert graded.earned == 2.5
    assert graded.possible == 6.5  # 2 + 3 + 1 + 0.5: the skipped check is in neither
    assert machine("s1-ct").earned == machine("s1-ct").possible == 0


def test_junit_of_a_run_becomes_checks_with_points_titles_and_outcomes() -> None:
    found = parse_checks(JUNIT, "seat01-ct")
    assert [(c.name, c.outcome, c.points, c.title) for c in found] == [
        ("test_note_signed", "failed", 2.0, "A signed note"),
        ("test_gzip_json", "passed", 2.5, ""),
        ("test_app_answers", "passed", 1.0, ""),
        ("test_only_on_vms", "skipped", 4.0, ""),
    ]
    assert found[0].message == "AssertionError: no note by 'Ada'"
    assert sum(c.earned for c in found) == 3.5


def test_a_case_without_points_is_worth_nothing_and_a_name_two_files_share_is_qualified() -> None:
    text = """<testsuites><testsuite>
    <testcase classname="test_a" name="test_x[ansible://m]"><error message="collection failure"/></testcase>
    <testcase classname="test_b" name="test_x[ansible://m]"><properties>
    <property name="labtool.points" value="3"/></properties></testcase>
    </testsuite></testsuites>"""
    found = parse_checks(text, "m")
    assert [(c.name, c.points) for c in found] == [("test_a.test_x", 0.0), ("test_b.test_x", 3.0)]


# -- the grade table and CSV -----------------------------------------------------------------------


def sample() -> list[MachineChecks]:
    return [
        machine("s1-vm", result("note", "passed", 2), result("gzip", "failed", 3), student="Ada Lovelace"),
        machine("s1-ct", result("note", "passed", 2), result("gzip", "passed", 3), student="Ada Lovelace"),
        machine("s2-vm", error="absent: bring it up with `labtool up demo`"),
        machine("s2-ct", result("note", "skipped", 2), result("gzip", "failed", 3), result("extra", "passed", 1)),
    ]


def test_grade_table_has_a_row_per_machine_and_a_column_per_check_in_the_order_run() -> None:
    table = grade_table(sample())
    assert [(c.name, c.points) for c in table.columns] == [("note", 2), ("gzip", 3), ("extra", 1)]
    assert [(r.seat, r.student, r.kind) for r in table.rows] == [
        ("s1", "Ada Lovelace", Kind.VM),
        ("s1", "Ada Lovelace", Kind.CONTAINER),
        ("s2", "", Kind.VM),
        ("s2", "", Kind.CONTAINER),
    ]
    cells = [[cell_text(r, c.name) for c in table.columns] + [total_text(r)] for r in table.rows]
    assert cells == [
        ["2", "0", "-", "2/5"],
        ["2", "3", "-", "5/5"],
        ["-", "-", "-", "not run"],
        ["skipped", "0", "1", "1/4"],
    ]


def test_csv_has_the_points_earned_per_check_and_totals() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(grade_table(sample())))))
    assert rows[0] == [
        *("seat", "student", "kind", "machine"),
        *("note", "gzip", "extra"),
        *("points", "max", "checked_at", "error"),
    ]
    assert rows[1] == ["s1", "Ada Lovelace", "vm", "s1-vm", "2", "0", "", "2", "5", "2025-11-27T21:30:00Z", ""]
    assert rows[3][7:] == ["", "", "2025-11-27T21:30:00Z", "absent: bring it up with `labtool up demo`"]
    assert rows[4][4:10] == ["", "0", "1", "1", "4", "2025-11-27T21:30:00Z"]  # skipped: empty, not 0
    assert len(rows) == 5


def test_csv_keeps_a_spreadsheet_from_reading_a_name_as_a_formula() -> None:
    text = to_csv(grade_table([machine("s1-ct", result("a", "passed", 1), student="=HYPERLINK(1)")]))
    assert list(csv.reader(io.StringIO(text)))[1][1] == "'=HYPERLINK(1)"


# -- students --------------------------------------------------------------------------------------


def test_students_come_from_the_labtool_student_host_variable_when_the_room_sets_it() -> None:
    room = paired_room(4)
    hostvars: dict[str, dict[str, Any]] = {
        "s1-vm": {"labtool_student": "Ada Lovelace"},
        "s1-ct": {"labtool_student": " Ada Lovelace "},
        "s2-ct": {"labtool_student": {"name": "Grace Hopper", "email": "grace@example.org"}},
        "s3-vm": {"labtool_student": "Alan"},
        "s3-ct": {"labtool_student": "Alonzo"},
        "s4-vm": {"labtool_student": 42},
    }
    assert checks.students(room, hostvars) == {
        "s1": "Ada Lovelace",
        "s2": "Grace Hopper",
        "s3": "Alan / Alonzo",  # two names on one seat: both shown, neither guessed away
    }


# -- the run ---------------------------------------------------------------------------------------


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    (tmp_path / "checks").mkdir()
    course = Course(Project(REPO), REPO / "playbooks" / "site.yml", REPO / "molecule", checks=tmp_path / "checks")
    room = paired_room(2, path=tmp_path / "room", course=course)
    backends: dict[Kind, Backend] = {kind: FakeBackend(kind) for kind in Kind}
    for m in room.machines:
        backends[m.kind].running.add(m.name)  # type: ignore[attr-defined]
    monkeypatch.setenv("LABTOOL_HOME", str(tmp_path / "home"))
    return Lab(Settings.from_env(), room, backends)


@pytest.fixture
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path, tuple[str, ...]]]:
    """run_suite replaced: each machine 'runs' JUNIT; returns what was asked of it."""
    asked: list[tuple[str, Path, tuple[str, ...]]] = []

    def fake(
        lab: Lab, m: Machine, suite: Path, out_dir: Path, progress: object, *, what: str, plugins: tuple[str, ...]
    ) -> MachineTests:
        asked.append((m.name, suite, plugins))
        verify.junit_path(out_dir, m.name).parent.mkdir(parents=True, exist_ok=True)
        verify.junit_path(out_dir, m.name).write_text(JUNIT.replace("seat01-ct", m.name))
        return MachineTests(m.name, m.kind, (), 0.4)

    monkeypatch.setattr(checks, "run_suite", fake)
    return asked


def test_every_machine_is_checked_with_the_plugin_and_the_results_are_kept(
    lab: Lab, fake_runs: list[tuple[str, Path, tuple[str, ...]]]
) -> None:
    said: list[str] = []
    report = checks.check(lab, None, students={"s1": "Ada"}, parallel=3, progress=said.append)
    assert sorted(fake_runs) == sorted((m.name, lab.room.course.checks, (checks.PLUGIN,)) for m in lab.room.machines)
    assert [(m.machine, m.student, m.earned, m.possible) for m in report.machines] == [
        ("s1-vm", "Ada", 3.5, 5.5),
        ("s1-ct", "Ada", 3.5, 5.5),
        ("s2-vm", "", 3.5, 5.5),
        ("s2-ct", "", 3.5, 5.5),
    ]
    assert report.errors == []
    assert "s2-ct: 3.5 of 5.5 points" in said
    assert checks.load(lab.state_dir) == {m.machine: m for m in report.machines}


def test_a_machine_that_is_not_running_is_an_error_naming_it_and_the_others_are_graded(
    lab: Lab, fake_runs: list[tuple[str, Path, tuple[str, ...]]]
) -> None:
    lab.backends[Kind.VM].running.discard("s2-vm")  # type: ignore[attr-defined]
    report = checks.check(lab, None, students={}, parallel=2, progress=lambda _: None)
    (absent,) = report.errors
    assert (absent.machine, absent.seat, absent.checks) == ("s2-vm", "s2", ())
    assert absent.error == "absent: bring it up with `labtool up demo`"
    assert "s2-vm" not in [name for name, _, _ in fake_runs]
    assert all(m.possible == 5.5 for m in report.machines if m is not absent)


def test_checking_one_seat_keeps_the_other_seats_last_results(
    lab: Lab, fake_runs: list[tuple[str, Path, tuple[str, ...]]]
) -> None:
    first = checks.check(lab, None, students={}, parallel=2, progress=lambda _: None)
    lab.backends[Kind.CONTAINER].running.discard("s2-ct")  # type: ignore[attr-defined]
    again = checks.check(lab, ["s2"], students={}, parallel=2, progress=lambda _: None)
    assert [m.machine for m in again.machines] == ["s2-vm", "s2-ct"]
    kept = checks.load(lab.state_dir)
    assert kept["s1-ct"] == first.machines[1]
    assert kept["s2-ct"].error.startswith("absent")
    assert checks.for_seats(lab.room.seats[1:], kept) == again.machines


def test_checks_refuse_to_run_while_another_labtool_changes_the_room(
    lab: Lab, fake_runs: list[tuple[str, Path, tuple[str, ...]]]
) -> None:
    with state.locked(lab.state_dir, "room 'demo'"), pytest.raises(state.BusyError, match="is locked by pid"):
        checks.check(lab, None, students={}, parallel=2, progress=lambda _: None)


def test_a_course_without_checks_says_where_to_put_them(tmp_path: Path) -> None:
    room = paired_room(1, path=tmp_path / "room")
    with pytest.raises(LabtoolError) as caught:
        checks.checks_of(room)
    assert caught.value.message.startswith("room 'demo' has no exercise checks")
    assert "checks/" in caught.value.hint and "@pytest.mark.points" in caught.value.hint


def test_kept_results_that_are_missing_or_unreadable_read_as_none(tmp_path: Path) -> None:
    assert checks.load(tmp_path) == {}
    (tmp_path / checks.CHECKS_FILE).write_text('{"machines": {"x": {"machine": "x"}}}')
    assert checks.load(tmp_path) == {}


# -- with pytest itself ------------------------------------------------------------------------------


def test_a_real_pytest_run_with_the_plugin_gives_the_points_labtool_reads(tmp_path: Path) -> None:
    (tmp_path / "test_exercise.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.points(3)\n"
        "def test_worth_three():\n"
        '    """Three points for this."""\n\n'
        "def test_worth_one():\n"
        "    assert False\n"
    )
    junit = tmp_path / "out.xml"
    run = pytest_with_plugin(tmp_path, junit)
    assert run.returncode == 1, run.stdout + run.stderr
    found = parse_checks(junit.read_text(), "local")
    assert [(c.name, c.outcome, c.points, c.title) for c in found] == [
        ("test_worth_three", "passed", 3.0, "Three points for this."),
        ("test_worth_one", "failed", 1.0, ""),
    ]
    assert "PytestUnknownMarkWarning" not in run.stdout


def test_a_bad_points_marker_stops_the_run_naming_the_test(tmp_path: Path) -> None:
    (tmp_path / "test_bad.py").write_text("import pytest\n\n@pytest.mark.points('many')\ndef test_x():\n    pass\n")
    run = pytest_with_plugin(tmp_path, tmp_path / "out.xml")
    assert run.returncode == 4  # pytest's usage error: the run does not grade anything
    assert "ERROR: test_bad.py::test_x: @pytest.mark.points('many'): points must be a number" in run.stderr


def pytest_with_plugin(directory: Path, junit: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", str(directory), f"--junitxml={junit}", "--rootdir", str(directory)]
    argv += ["-c", "/dev/null", "-p", "no:cacheprovider", "-p", checks.PLUGIN, "-q", "-W", "error"]
    return subprocess.run(argv, capture_output=True, text=True, cwd=directory, timeout=120, check=False)


def test_checks_that_cannot_run_say_why_in_the_machines_error(lab: Lab) -> None:
    """Through verify's run_suite for real: pytest's usage error is the machine's error, with its log."""
    assert lab.room.course.checks is not None
    (lab.room.course.checks / "test_bad.py").write_text(
        "import pytest\n\n@pytest.mark.points(-2)\ndef test_x(): pass\n"
    )
    report = checks.check(lab, ["s1"], students={}, parallel=2, progress=lambda _: None)
    for graded in report.machines:
        assert graded.error.startswith("the checks could not run (pytest exit 4: test_bad.py::test_x: ")
        assert "points must be between 0 and 1000" in graded.error
        assert graded.error.endswith(f"see {lab.state_dir / 'checks' / graded.machine}.log")

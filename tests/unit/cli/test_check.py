"""`labtool check` on recorded results: the grade table, JSON, CSV, and the exit status."""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labtool import checks, config
from labtool.checks import CheckReport, MachineChecks
from labtool.cli import check as check_verb
from labtool.cli import main
from labtool.model import Course
from labtool.project import Project
from labtool.settings import Settings
from tests.unit.report.sample import sample_checks
from tests.unit.rooms import REPO, paired_room


def recorded(machines: tuple[MachineChecks, ...]) -> CheckReport:
    return CheckReport("default", list(machines), 12.0, "2025-11-27T21:31:00Z")


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The verb on recorded results instead of a live room; returns what checks.check was asked."""
    found: dict[str, Any] = {}
    course = Course(Project(REPO), REPO / "playbooks" / "site.yml", REPO / "molecule", checks=REPO / "checks")
    lab = SimpleNamespace(
        room=paired_room(2, name="default", path=tmp_path / "room", course=course), settings=Settings.from_env()
    )

    def fake_check(
        lab: object, seats: Collection[str] | None, *, students: Mapping[str, str], parallel: int, progress: object
    ) -> CheckReport:
        found.update(seats=seats, students=dict(students), parallel=parallel)
        return recorded(tuple(m for m in sample_checks() if not m.error))

    monkeypatch.setattr(check_verb, "lab_for", lambda args: lab)
    monkeypatch.setattr(config, "host_variables", lambda path, cache: {"s1-vm": {"labtool_student": "Ada Lovelace"}})
    monkeypatch.setattr(checks, "check", fake_check)
    monkeypatch.chdir(tmp_path)
    return found


def test_the_grade_table_has_a_row_per_machine_and_the_checks_worth(
    asked: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--seat", "s1", "--parallel", "3"]) == 0
    assert asked == {"seats": ["s1"], "students": {"s1": "Ada Lovelace"}, "parallel": 3}
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "SEAT",
        "STUDENT",
        "KIND",
        "test_app_answers",
        "test_gzip_json",
        "test_note_signed",
        "TOTAL",
    ]
    assert out[1].split() == ["seat01", "Ada", "Lovelace", "vm", "1", "3", "2", "6/6"]
    assert out[3].split() == ["seat02", "container", "1", "3", "0", "4/6"]
    assert "test_gzip_json 3 The app's JSON is sent gzip-compressed" in [" ".join(line.split()) for line in out]
    assert out[-1] == "check: room 'default': 3 of 3 machines checked, 16 of 18 points (12 s)"


def test_json_and_csv_carry_the_same_grades(
    asked: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["check", "--json", "--csv", "grades.csv"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["room"], data["complete"], data["seconds"]) == ("default", True, 12.0)
    assert [(m["machine"], m["earned"], m["possible"]) for m in data["machines"]] == [
        ("seat01-vm", 6.0, 6.0),
        ("seat01-ct", 6.0, 6.0),
        ("seat02-ct", 4.0, 6.0),
    ]
    rows = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert [(r["machine"], r["test_note_signed"], r["points"], r["max"]) for r in rows] == [
        ("seat01-vm", "2", "6", "6"),
        ("seat01-ct", "2", "6", "6"),
        ("seat02-ct", "0", "4", "6"),
    ]


def test_a_machine_that_could_not_be_checked_fails_the_command_naming_its_seat(
    asked: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(checks, "check", lambda *args, **kwargs: recorded(sample_checks()))
    assert main(["check"]) == 1
    captured = capsys.readouterr()
    rows = [line.split() for line in captured.out.splitlines()]
    assert ["seat02", "vm", "-", "-", "-", "not", "run"] in rows  # the table is still printed, with what did run
    assert "error: the checks could not run on:\n  seat seat02: seat02-vm: stopped: bring it up\n" in captured.err
    assert "hint: bring the seat's machines up (`labtool up default`)" in captured.err


def test_failing_checks_are_grades_not_errors(
    asked: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nothing = tuple(
        MachineChecks(
            m.machine, m.kind, m.seat, checks=tuple(c.__class__(c.name, "failed", c.points) for c in m.checks)
        )
        for m in sample_checks()
        if not m.error
    )
    monkeypatch.setattr(checks, "check", lambda *args, **kwargs: recorded(nothing))
    assert main(["check"]) == 0
    assert "0 of 18 points" in capsys.readouterr().out


def test_a_room_without_checks_is_an_error_with_a_hint(
    asked: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = Course(Project(REPO), REPO / "playbooks" / "site.yml", REPO / "molecule")
    lab = SimpleNamespace(room=paired_room(1, name="default", path=tmp_path / "room", course=course))
    monkeypatch.setattr(check_verb, "lab_for", lambda args: lab)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: room 'default' has no exercise checks")
    assert "hint: put testinfra files in checks/" in err
    assert asked == {}


def test_a_csv_path_that_is_a_directory_is_a_user_error(
    asked: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()
    assert main(["check", "--csv", "out"]) == 1
    assert "error: cannot write the grades to out: it is a directory" in capsys.readouterr().err


def test_a_bad_parallel_count_is_a_usage_error(asked: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--parallel", "0"])
    assert exited.value.code == 2

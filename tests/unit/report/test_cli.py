"""`labtool report` on a recorded report: where each format goes, and what it says when it cannot write."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import pytest

from labtool.cli import main
from labtool.cli import report as report_verb
from labtool.report.build import RoomReport
from tests.unit.report.sample import sample_report


@pytest.fixture(autouse=True)
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Collection[str] | None]:
    """The verb on the sample report instead of a live room; returns the seats it was asked for."""
    asked: list[Collection[str] | None] = []

    def fake_build(lab: object, seats: Collection[str] | None, *, progress: object) -> RoomReport:
        asked.append(seats)
        return sample_report()

    monkeypatch.setattr(report_verb, "lab_for", lambda args: None)
    monkeypatch.setattr(report_verb, "build", fake_build)
    monkeypatch.chdir(tmp_path)
    return asked


def test_html_goes_to_room_report_html_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == 0
    page = (tmp_path / "default-report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and 'id="parity-matrix"' in page
    out = capsys.readouterr().out
    assert (
        out
        == "wrote default-report.html\nroom 'default': DRIFT: seat02: 2 items drifted; seat02-ct: 34 passed, 2 FAILED\n"
    )


def test_json_goes_to_stdout_and_the_verdict_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["seats"][1]["parity"]["ok"] is False
    assert "report: room 'default': DRIFT" in captured.err


def test_markdown_to_a_file_with_seats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], recorded: list[Collection[str] | None]
) -> None:
    assert main(["report", "--format", "markdown", "--seat", "seat02", "-o", "out/room.md"]) == 0
    assert (tmp_path / "out/room.md").read_text().startswith("# labtool report: room `default`")
    assert recorded == [["seat02"]]
    assert capsys.readouterr().out.startswith("wrote out/room.md\n")


def test_dash_is_stdout_even_for_html(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["report", "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    assert not (tmp_path / "default-report.html").exists()


def test_an_unwritable_path_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("")
    assert main(["report", "-o", "a-file/report.html"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the report to a-file/report.html: ")
    assert "hint: choose a writable path with -o FILE" in err


def test_a_directory_is_not_a_report_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "-o", str(tmp_path)]) == 1
    assert f"error: cannot write the report to {tmp_path}: it is a directory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["report", "--format", "pdf"])
    assert caught.value.code == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err

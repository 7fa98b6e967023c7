"""`labtool room`: listing the rooms of a lab project."""

from pathlib import Path

import pytest

from labtool.cli import main


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_room_list_of_a_rooms_directory_that_is_not_one_fails_naming_it(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rooms = tmp_path / "rooms"
    if kind == "a file":
        rooms.write_text("")
    monkeypatch.setenv("LABTOOL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LABTOOL_ROOMS_DIR", str(rooms))
    assert main(["room", "list", "--json"]) == 1
    err = capsys.readouterr().err
    assert f"error: {rooms}: " in err and "LABTOOL_ROOMS_DIR" in err

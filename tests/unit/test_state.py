import multiprocessing
import shutil
import stat
from pathlib import Path

import pytest

from labtool import state


def test_state_round_trips(tmp_path: Path) -> None:
    room_state = state.RoomState()
    room_state.record("seat01-ct").changed = 3
    state.write(tmp_path, room_state)
    assert state.read(tmp_path).machines["seat01-ct"].changed == 3
    assert state.read(tmp_path / "absent").machines == {}


def _hold_lock(directory: str, ready: object, release: object) -> None:
    with state.locked(Path(directory), "room 'demo'"):
        ready.set()  # type: ignore[attr-defined]
        release.wait(10)  # type: ignore[attr-defined]


def test_a_second_process_is_told_who_holds_the_room(tmp_path: Path) -> None:
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(state.BusyError) as caught, state.locked(tmp_path, "room 'demo'"):
            pass
        assert f"room 'demo' is locked by pid {holder.pid}" in caught.value.message
    finally:
        release.set()
        holder.join(10)
    with state.locked(tmp_path, "room 'demo'"):
        pass


def test_a_room_name_belongs_to_one_room_directory_while_that_directory_exists(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "a" / "default", tmp_path / "b" / "default"
    for room in (mine, theirs):
        room.mkdir(parents=True)
        (room / "labtool.yml").write_text("network: {index: 10}\n")
    directory = tmp_path / "state" / "default"
    state.claim(directory, theirs)
    state.claim(directory, theirs)  # its own again: fine
    with pytest.raises(state.RoomClaimedError) as caught:
        state.claim(directory, mine)
    assert str(theirs) in caught.value.message
    shutil.rmtree(theirs)  # the other project is gone: its name is free again
    state.claim(directory, mine)
    state.check_claim(directory, mine)


def test_atomic_write_sets_the_mode_it_is_given(tmp_path: Path) -> None:
    state.atomic_write(tmp_path / "state.json", "{}\n")
    state.atomic_write(tmp_path / "report.html", "<p>\n", mode=state.SHARED)
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    state.atomic_write(target, "old\n")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("labtool.state.os.fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        state.atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_password_hashes_live_in_one_private_file_and_a_broken_one_reads_as_none(tmp_path: Path) -> None:
    entry = state.IssuedPassword("$6$salt$hash", "1a2b3c4d", "2026-11-28T10:00:00Z")
    state.write_passwords(tmp_path, {"ada": entry})
    assert state.read_passwords(tmp_path) == {"ada": entry}
    assert stat.S_IMODE((tmp_path / state.PASSWORDS_FILE).stat().st_mode) == 0o600
    (tmp_path / state.PASSWORDS_FILE).write_text('{"logins": {"ada": {"hash": "x"}, "bob": 3}}')
    assert state.read_passwords(tmp_path) == {}
    (tmp_path / state.PASSWORDS_FILE).write_text("not json")
    assert state.read_passwords(tmp_path) == {}

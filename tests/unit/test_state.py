import multiprocessing
import os
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from labtool import state
from labtool.host.children import Owner
from tests.conftest import FaultRow


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


def test_the_rooms_a_host_knows_are_those_whose_directories_still_exist(tmp_path: Path) -> None:
    rooms_state = tmp_path / "state"
    assert state.known_rooms(rooms_state) == {}
    kept, gone = tmp_path / "a" / "default", tmp_path / "b" / "net101"
    for room in (kept, gone):
        room.mkdir(parents=True)
        (room / "labtool.yml").write_text("network: {index: 10}\n")
        state.claim(rooms_state / room.name, room)
    (rooms_state / "half-made").mkdir()  # state without an owner: no room to count
    shutil.rmtree(gone)
    assert state.known_rooms(rooms_state) == {"default": kept}


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
    with pytest.raises(state.NoSpaceError, match=f"no space left on the filesystem of {target}: 4 bytes needed"):
        state.atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_lock_whose_holder_was_killed_is_taken_over_with_a_message(tmp_path: Path, fault_row: FaultRow) -> None:
    gone = subprocess.Popen(["sleep", "60"])
    gone_owner = Owner.of(gone.pid)
    (tmp_path / state.LOCK_FILE).write_text(f"pid {gone.pid} (labtool up demo)\nowner {gone_owner.marker}\n")
    gone.kill()  # kill -9: the kernel dropped its flock, its file still names it
    gone.wait()
    assert state.holder(tmp_path) == state.Holder(gone_owner, f"pid {gone.pid} (labtool up demo)")
    state.check_free(tmp_path, "room 'demo'")  # a dead holder does not block
    said: list[str] = []
    with state.locked(tmp_path, "room 'demo'", said.append) as stale:
        assert stale is not None and stale.owner == gone_owner
        now = state.holder(tmp_path)
        assert now is not None and now.owner == Owner.of(os.getpid()) and now.alive()
    assert said == [
        f"room 'demo': taking over the lock of pid {gone.pid} (labtool up demo), which is gone (it was stopped or "
        "crashed)"
    ]
    assert state.holder(tmp_path) is None  # released: the file is empty again
    fault_row(
        "`kill -9` of labtool: its room lock",
        "the kernel drops the lock; its file still names the holder, so the next labtool finds the pid gone "
        "(pid and start time) and says it takes the lock over",
        "automatic, by the next `up`/`down`",
    )


def test_a_second_up_is_refused_at_once_naming_the_holders_pid_and_command(tmp_path: Path, fault_row: FaultRow) -> None:
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(state.BusyError) as early:
            state.check_free(tmp_path, "room 'demo'")
        assert early.value.message.startswith(f"room 'demo' is locked by pid {holder.pid} (")
        holder_argv = Path(f"/proc/{holder.pid}/cmdline").read_text().split("\0")[:-1]
        assert " ".join(holder_argv[-4:]) in early.value.message  # the holder's command line (its last words)
        assert f"kill {holder.pid}" in early.value.hint
    finally:
        release.set()
        holder.join(10)
    state.check_free(tmp_path, "room 'demo'")
    fault_row(
        "two `up`s of one room at once",
        "the second fails at once, before planning: `room 'R' is locked by pid N (labtool up R)`",
        "wait for the first, or stop it (`kill N`)",
    )


def test_a_lock_waited_for_while_its_holder_removes_the_room_locks_the_room_anew(tmp_path: Path) -> None:
    """`down` removes the state directory, lock file included, before it lets go: whoever waited on the old
    file must hold the lock of the directory as it is now, or a third process would get the room too."""
    room = tmp_path / "room"
    second_holds, let_go = threading.Event(), threading.Event()

    def second() -> None:
        with state.locked(room, "room 'r'", wait=20):
            second_holds.set()
            let_go.wait(20)

    with state.locked(room, "room 'r'"):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)  # it has opened the lock file and waits on it
        shutil.rmtree(room)
    try:
        assert second_holds.wait(20)
        with pytest.raises(state.BusyError), state.locked(room, "room 'r'"):
            pass
    finally:
        let_go.set()
        waiter.join(20)


def test_two_rooms_are_locked_independently(tmp_path: Path) -> None:
    with state.locked(tmp_path / "a", "room 'a'"), state.locked(tmp_path / "b", "room 'b'"):
        with pytest.raises(state.BusyError):
            state.check_free(tmp_path / "a", "room 'a'")
        state.check_free(tmp_path / "c", "room 'c'")


def test_a_full_filesystem_is_a_clear_error_and_the_previous_state_stays_readable(
    tmp_path: Path, fault_row: FaultRow
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(home)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        room_dir = home / "rooms" / "demo"
        before = state.RoomState()
        before.record("s1-vm").provisioned_key = "k1"
        state.write(room_dir, before)
        (home / "filler").write_bytes(b"\0" * (200 << 10))  # nearly full: a few KiB left
        big = state.RoomState({f"m{i}": state.MachineRecord(error="x" * 2000) for i in range(40)})
        with pytest.raises(state.NoSpaceError) as caught:
            state.write(room_dir, big)
        message = caught.value.message
        assert message.startswith(f"no space left on the filesystem of {room_dir / 'state.json'}: ")
        assert "KiB needed" in message and "free" in message
        assert "LABTOOL_HOME" in caught.value.hint
        assert state.read(room_dir).machines["s1-vm"].provisioned_key == "k1"
        assert sorted(p.name for p in room_dir.iterdir()) == ["state.json"]  # no temporary left behind
        with pytest.raises(state.NoSpaceError, match=r"2\.0 MiB needed"):
            state.check_space(room_dir, 2 << 20)
    finally:
        subprocess.run(["umount", str(home)], check=True)
    fault_row(
        "`LABTOOL_HOME` on a full filesystem (a 256 KiB tmpfs)",
        "`up` refuses before starting (4 MiB per machine needed); a write that fails anyway is "
        "`error: no space left on the filesystem of PATH: N needed, M free`, no traceback",
        "free space or move `LABTOOL_HOME`; the previous state.json is intact (atomic write)",
    )


def test_password_hashes_live_in_one_private_file_and_a_broken_one_reads_as_none(tmp_path: Path) -> None:
    entry = state.IssuedPassword("$6$salt$hash", "1a2b3c4d", "2026-11-28T10:00:00Z")
    state.write_passwords(tmp_path, {"ada": entry})
    assert state.read_passwords(tmp_path) == {"ada": entry}
    assert stat.S_IMODE((tmp_path / state.PASSWORDS_FILE).stat().st_mode) == 0o600
    (tmp_path / state.PASSWORDS_FILE).write_text('{"logins": {"ada": {"hash": "x"}, "bob": 3}}')
    assert state.read_passwords(tmp_path) == {}
    (tmp_path / state.PASSWORDS_FILE).write_text("not json")
    assert state.read_passwords(tmp_path) == {}


def test_a_claimed_room_state_directory_is_its_owners_only_whatever_the_umask(tmp_path: Path) -> None:
    directory = tmp_path / "rooms" / "demo"
    directory.mkdir(parents=True, mode=0o755)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "labtool.yml").write_text("")
    state.claim(directory, tmp_path / "demo")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700

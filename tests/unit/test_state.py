import multiprocessing
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

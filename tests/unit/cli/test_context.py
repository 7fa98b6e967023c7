"""What the verbs share: which room a verb means when none is named, and the host's other rooms."""

import argparse
from pathlib import Path

import pytest

from labtool import state
from labtool.cli.context import default_room, load_room
from labtool.errors import RoomError
from labtool.scaffold import init
from labtool.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LABTOOL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LABTOOL_ROOMS_DIR", raising=False)
    return Settings.from_env()


def test_with_no_room_named_a_verb_means_default_or_else_the_only_room(tmp_path: Path) -> None:
    rooms = tmp_path / "inventories"
    assert default_room(rooms) == "default"  # none yet: the error then names `default`
    for name in ("net101", "net102"):
        (rooms / name).mkdir(parents=True)
        (rooms / name / "labtool.yml").write_text("network: {index: 11}\n")
        assert default_room(rooms) == ("net101" if name == "net101" else "default")
    (rooms / "default").mkdir()
    (rooms / "default" / "labtool.yml").write_text("network: {index: 12}\n")
    assert default_room(rooms) == "default"


def test_a_course_initialised_beside_an_up_room_is_loaded_by_its_own_name(tmp_path: Path, settings: Settings) -> None:
    first = init(tmp_path / "web", "minimal")
    state.claim(state.room_dir(settings, "default"), first / "inventories" / "default")  # as `up` does
    second = init(tmp_path / "net101", "minimal", state.known_rooms(settings.rooms_state_dir))
    args = argparse.Namespace(project=second, room=None)
    room = load_room(args, settings)
    assert (room.name, args.room, room.networks.index) == ("net101", "net101", 11)
    # The first course's room, copied into the second by hand, is refused by name and index, both rooms named.
    (second / "inventories" / "net101").rename(second / "inventories" / "default")
    with pytest.raises(RoomError) as caught:
        load_room(argparse.Namespace(project=second, room=None), settings)
    assert "room name 'default' is already used on this host by" in caught.value.message
    assert str(first / "inventories" / "default") in caught.value.message

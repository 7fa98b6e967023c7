"""A room's `ansible-inventory` listing is kept until anything it depends on changes; never with vault content."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtool import config, inventory_cache, proc
from labtool.errors import RoomError
from tests.unit.test_config import REFERENCE, demo, write

ARGV = ("ansible-inventory", "-i", "room", "--list")


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every `ansible-inventory` run (the real one runs all the same)."""
    runs: list[tuple[str, ...]] = []
    real = proc.run

    def counting(argv: list[str], **options: object) -> proc.Result:
        if Path(argv[0]).name == "ansible-inventory":
            runs.append(tuple(argv))
        return real(argv, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(proc, "run", counting)
    return runs


def test_a_room_read_again_unchanged_is_not_listed_again_and_a_change_is_read(
    rooms: Path, tmp_path: Path, listings: list[tuple[str, ...]]
) -> None:
    cache = tmp_path / "cache"
    write(rooms, demo(more={"demo/host_vars/seat01-vm.yml": "labtool_student: Ada\n"}))
    first = config.load(rooms, "demo", REFERENCE, inventory_cache=cache)
    again = config.load(rooms, "demo", REFERENCE, inventory_cache=cache)
    assert again == first and len(listings) == 1
    assert len(list(cache.glob("*.json"))) == 1 and all(p.stat().st_mode & 0o077 == 0 for p in cache.iterdir())

    # A variable file, not only the inventory file, is part of what the listing depends on.
    write(rooms, {"demo/host_vars/seat01-vm.yml": "labtool_student: Grace\n"})
    changed = config.load(rooms, "demo", REFERENCE, inventory_cache=cache)
    assert len(listings) == 2
    assert changed.seats[0].student is not None and changed.seats[0].student.name == "Grace"
    assert config.load(rooms, "demo", REFERENCE) == changed and len(listings) == 3  # no cache given: always run


def test_a_room_ansible_cannot_read_is_listed_each_time(
    rooms: Path, tmp_path: Path, listings: list[tuple[str, ...]]
) -> None:
    write(rooms, demo(hosts="lab:\n  hosts: [unclosed\n"))
    for _ in range(2):
        with pytest.raises(RoomError):
            config.load(rooms, "demo", REFERENCE, inventory_cache=tmp_path / "cache")
    assert len(listings) == 2 and not list((tmp_path / "cache").glob("*.json"))


def test_the_key_follows_ansibles_environment_and_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    room = tmp_path / "room"
    write(room.parent, {"room/hosts.yml": "lab:\n  hosts:\n    a:\n"})
    before = inventory_cache.key(room, ARGV, {})
    assert before is not None and inventory_cache.key(room, ARGV, {}) == before
    monkeypatch.setenv("ANSIBLE_VARS_ENABLED", "host_group_vars,other")
    with_env = inventory_cache.key(room, ARGV, {})
    (tmp_path / "ansible.cfg").write_text("[defaults]\nvars_plugins_enabled = other\n")
    with_config = inventory_cache.key(room, ARGV, {})
    assert len({before, with_env, with_config, inventory_cache.key(room, ARGV, {"ANSIBLE_X": "1"})}) == 4


def test_a_room_holding_vault_content_is_never_kept(tmp_path: Path) -> None:
    room = tmp_path / "room"
    write(room.parent, {"room/hosts.yml": "lab:\n  hosts:\n    a:\n"})
    assert inventory_cache.key(room, ARGV, {}) is not None
    write(room.parent, {"room/group_vars/lab.yml": "$ANSIBLE_VAULT;1.1;AES256\n6162\n"})
    assert inventory_cache.key(room, ARGV, {}) is None  # its listing would hold the decrypted values


def test_only_the_latest_entries_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inventory_cache, "KEPT", 3)
    for n in range(5):
        inventory_cache.put(tmp_path, f"{n:064x}", f'{{"n": {n}}}', "")
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == sorted(f"{n:064x}" for n in (2, 3, 4))
    assert inventory_cache.get(tmp_path, f"{4:064x}") == ('{"n": 4}', "")
    assert inventory_cache.get(tmp_path, f"{0:064x}") is None


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    inventory_cache.put(tmp_path / "file" / "cache", f"{1:064x}", "{}", "")  # its parent is a file: nothing kept
    assert inventory_cache.get(tmp_path / "file" / "cache", f"{1:064x}") is None

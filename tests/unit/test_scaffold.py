"""`labtool init`: an example project written whole, loadable as a room, never over existing files."""

from pathlib import Path

import pytest

from labtool import config, project
from labtool.errors import LabtoolError
from labtool.scaffold import init


@pytest.mark.parametrize("example", ["minimal", "labnotes"])
def test_an_example_is_a_lab_project_whose_default_room_loads(tmp_path: Path, example: str) -> None:
    target = init(tmp_path / "course", example)
    found = project.find(env={}, cwd=target / "roles")
    room = config.load(found.rooms_dir, "default", found)
    assert room.course.playbook == target / "playbooks" / "site.yml"
    assert room.course.tests.is_relative_to(target)
    for scenario in ("docker", "vagrant"):
        assert (target / "molecule" / scenario / "molecule.yml").is_file()
    assert (target / "README.md").is_file()
    assert ".labtool/" in (target / ".gitignore").read_text()
    assert not list(target.rglob("__pycache__"))


def test_the_labnotes_example_ships_its_exercise_checks_and_its_room_grades_them(tmp_path: Path) -> None:
    target = init(tmp_path / "course", "labnotes")
    found = project.find(env={}, cwd=target)
    room = config.load(found.rooms_dir, "default", found)
    assert room.course.checks == target / "checks"
    assert sorted(p.name for p in room.course.checks.glob("test_*.py")) == [
        "test_app.py",
        "test_gzip.py",
        "test_notes.py",
    ]
    assert "## Exercises" in (target / "README.md").read_text()


def test_the_minimal_example_has_no_checks(tmp_path: Path) -> None:
    target = init(tmp_path / "course", "minimal")
    found = project.find(env={}, cwd=target)
    assert config.load(found.rooms_dir, "default", found).course.checks is None


def test_init_never_writes_over_files(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(LabtoolError, match="not an empty directory"):
        init(tmp_path / "taken", "minimal")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no staging directory left


def test_init_writes_through_no_link_and_deletes_nothing_that_was_there(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "work").mkdir()
    # What the old fixed staging path was: a link there must not be written through nor its target deleted.
    (tmp_path / "work" / ".course.labtool-init").symlink_to(elsewhere)
    (elsewhere / "keep.txt").write_text("mine")
    target = init(tmp_path / "work" / "course", "minimal")
    assert (target / "playbooks" / "site.yml").is_file()
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [".course.labtool-init", "course"]
    (tmp_path / "link").symlink_to(tmp_path / "empty", target_is_directory=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabtoolError, match="is a symbolic link"):
        init(tmp_path / "link", "minimal")
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_second_course_on_a_host_gets_a_room_name_and_index_of_its_own(tmp_path: Path) -> None:
    first = init(tmp_path / "web", "labnotes")
    known = {"default": first / "inventories" / "default"}  # up on this host, index 10
    second = init(tmp_path / "Net 101", "minimal", known)
    assert config.list_rooms(second / "inventories") == ["net-101"]
    found = project.find(env={}, cwd=second)
    room = config.load(found.rooms_dir, "net-101", found, known)
    assert room.networks.index == 11
    assert init(tmp_path / "alone", "minimal", {}).joinpath("inventories", "default").is_dir()
    taken = {**known, "net-101": second / "inventories" / "net-101"}
    assert config.list_rooms(init(tmp_path / "net-101", "minimal", taken) / "inventories") == ["net-101-2"]


def test_an_unknown_example_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(LabtoolError) as caught:
        init(tmp_path / "x", "nope")
    assert "minimal" in caught.value.hint

"""Which pair `up` makes machines from: the course's baked pair while it is current, else the base pair."""

import json
from pathlib import Path

import pytest

from labtool.images import bake, build, pair
from labtool.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(build, "current_pair", lambda _settings: pair.base("base1"))
    return Settings.from_env({"LABTOOL_HOME": str(tmp_path)})


def record_bake(settings: Settings, images: pair.ImagePair) -> None:
    bake.baked_dir(settings).mkdir(parents=True, exist_ok=True)
    record = {"key": images.key, "docker_image": images.docker_ref, "box": images.box, "base_key": "base1"}
    (bake.baked_dir(settings) / f"{images.key}.json").write_text(json.dumps(record))


def test_without_a_bake_machines_come_from_the_base_pair(settings: Settings) -> None:
    assert bake.images_for(settings, "course1") == pair.base("base1")


def test_a_current_bake_of_the_course_is_used(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    baked = pair.baked("base1", "course1")
    record_bake(settings, baked)
    monkeypatch.setattr(build, "pair_present", lambda images: images == baked)
    assert bake.images_for(settings, "course1") == baked
    assert bake.images_for(settings, "course2") == pair.base("base1"), "another course's bake is not this one's"


def test_a_bake_whose_images_are_gone_is_not_used(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    record_bake(settings, pair.baked("base1", "course1"))
    monkeypatch.setattr(build, "pair_present", lambda _images: False)
    assert bake.images_for(settings, "course1") == pair.base("base1")


def test_records_are_read_back_as_pairs(settings: Settings) -> None:
    baked = pair.baked("base1", "course1")
    record_bake(settings, baked)
    assert [bake.pair_of(r) for r in bake.records(settings)] == [baked]
    bake.forget(settings, baked.key)
    assert bake.records(settings) == []

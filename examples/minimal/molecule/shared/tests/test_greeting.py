"""What every lab machine of the minimal course must look like (Molecule and `labtool verify`)."""

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _as_root(host: Any) -> Any:
    with host.sudo():  # VMs are reached as the `vagrant` user, containers as root
        yield


def test_the_message_of_the_day_greets_students(host: Any) -> None:
    motd = host.file("/etc/motd")
    assert motd.is_file
    assert motd.mode == 0o644
    assert "Welcome to the lab" in motd.content_string


def test_the_course_settings_are_written(host: Any) -> None:
    settings = host.file("/etc/course/settings.ini")
    assert settings.user == "root"
    assert "course = minimal" in settings.content_string

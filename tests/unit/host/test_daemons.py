import time
from pathlib import Path

import pytest

from labtool.errors import DaemonError
from labtool.host import daemons


def test_a_daemon_that_answers_is_left_alone() -> None:
    started: list[str] = []
    status = daemons._ensure("dockerd", lambda: True, lambda: started.append("x"), Path("/log"))
    assert (status.action, started) == ("running", [])


def test_a_silent_daemon_is_started_and_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([False, False, True])
    monkeypatch.setattr(time, "sleep", lambda _: None)
    status = daemons._ensure("libvirtd", lambda: next(answers), lambda: None, Path("/var/log/libvirtd.log"))
    assert status.action == "started"
    assert "/var/log/libvirtd.log" in status.detail


def test_a_daemon_that_never_answers_names_its_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemons, "START_TIMEOUT", 0.05)
    monkeypatch.setattr(daemons, "systemd_is_pid1", lambda: False)
    with pytest.raises(DaemonError) as caught:
        daemons._ensure("dockerd", lambda: False, lambda: None, Path("/srv/logs/dockerd.log"))
    assert "dockerd was started but did not answer" in caught.value.message
    assert "/srv/logs/dockerd.log" in caught.value.hint


def test_socket_probe_is_false_for_a_missing_or_dead_socket(tmp_path: Path) -> None:
    assert not daemons.unix_socket_answers(tmp_path / "absent.sock")
    dead = tmp_path / "dead.sock"
    dead.write_text("")
    assert not daemons.unix_socket_answers(dead)

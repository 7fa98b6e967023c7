"""A lab host's Docker engine: this host's socket (or DOCKER_HOST), another host's `ssh://` endpoint."""

import pytest

from labtool.backends.docker import engine
from labtool.model import THIS_HOST, LabHost

LAB2 = LabHost("lab2", "root@192.0.2.12")


def test_this_hosts_engine_is_docker_host_or_the_local_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine.url(THIS_HOST) == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/other.sock")
    assert engine.url(THIS_HOST) == "unix:///tmp/other.sock"


def test_another_hosts_engine_is_reached_over_ssh_whatever_docker_host_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/other.sock")
    assert engine.url(LAB2) == "ssh://root@192.0.2.12"


def test_an_unreachable_engine_names_where_labtool_looked_and_the_fix() -> None:
    local = engine.unreachable(THIS_HOST, ConnectionError("boom\nConnection refused"))
    assert "does not answer at unix://" in local.message and "(Connection refused)" in local.message
    assert "labtool daemons" in local.hint
    remote = engine.unreachable(LAB2, ConnectionError(""))
    assert "ssh://root@192.0.2.12 (lab host lab2)" in remote.message and "(ConnectionError)" in remote.message
    assert "lab host lab2" in remote.hint


def test_an_engine_that_does_not_answer_is_not_answering(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    assert engine.answers(THIS_HOST) is False

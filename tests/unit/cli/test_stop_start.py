"""`labtool stop` and `labtool start` on fake backends: the table, the JSON, the exit status."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from labtool import lab as lab_module
from labtool import state
from labtool.cli import main, start, stop
from labtool.lab import Lab
from labtool.model import Kind
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room


@pytest.fixture
def fake_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Lab, FakeBackend, FakeBackend]:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    vms, containers = FakeBackend(Kind.VM), FakeBackend(Kind.CONTAINER)
    vms.running, containers.running = {"s1-vm", "s2-vm"}, {"s1-ct"}
    lab = Lab(settings, paired_room(2, path=tmp_path), {Kind.VM: vms, Kind.CONTAINER: containers})
    room_state = state.RoomState()
    for name in ("s1-vm", "s1-ct", "s2-vm"):
        room_state.record(name).provisioned_key = "key1"
    state.write(lab.state_dir, room_state)

    def lab_for(args: argparse.Namespace) -> Lab:
        return lab

    monkeypatch.setattr(stop, "lab_for", lab_for)
    monkeypatch.setattr(start, "lab_for", lab_for)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    return lab, vms, containers


def test_stop_prints_each_machine_and_the_room(
    fake_lab: tuple[Lab, FakeBackend, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stop", "demo", "--parallel", "2"]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].split() == ["MACHINE", "KIND", "RESULT", "SECONDS", "ERROR"]
    assert lines[1].split()[:3] == ["s1-vm", "vm", "stopped"]
    assert lines[4].split() == ["s2-ct", "container", "absent", "-"]
    assert lines[-1].startswith("room 'demo': stopped 3 machine(s) (")
    assert "==> s1-vm: stopping" in out.err


def test_stop_and_start_as_json(
    fake_lab: tuple[Lab, FakeBackend, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    _, vms, containers = fake_lab
    assert main(["stop", "demo", "--seat", "s1", "--json"]) == 0
    stopped = json.loads(capsys.readouterr().out)
    assert stopped["room"] == "demo" and stopped["verb"] == "stop"
    assert [(m["machine"], m["kind"], m["result"], m["ok"]) for m in stopped["machines"]] == [
        ("s1-vm", "vm", "stopped", True),
        ("s1-ct", "container", "stopped", True),
    ]
    assert vms.running == {"s2-vm"}

    assert main(["start", "demo", "--json"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["verb"] == "start"
    assert {m["machine"]: m["result"] for m in started["machines"]} == {
        "s1-vm": "started",
        "s1-ct": "started",
        "s2-vm": "already running",
        "s2-ct": "absent",
    }
    assert started["provisioning_needed"] == []
    assert containers.running == {"s1-ct"} and vms.running == {"s1-vm", "s2-vm"}


def test_start_names_machines_up_would_provision_and_those_it_cannot_start(
    fake_lab: tuple[Lab, FakeBackend, FakeBackend],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, vms, _ = fake_lab
    vms.running = {"s2-vm"}
    vms.stopped = {"s1-vm"}
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key2")  # the course changed while it was off
    assert main(["start", "demo"]) == 0
    out = capsys.readouterr().out
    assert "s1-vm needs provisioning: playbooks, roles or the room's inventory changed since" in out
    assert "`labtool up demo` provisions them" in out
    assert "not created: s2-ct; `labtool up demo` creates and provisions them" in out


def test_a_failure_is_shown_and_exits_1(
    fake_lab: tuple[Lab, FakeBackend, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    _, vms, _ = fake_lab
    vms.broken = {"s2-vm"}
    assert main(["stop", "demo", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    failed = [m for m in result["machines"] if not m["ok"]]
    assert [(m["machine"], m["result"], m["error"]) for m in failed] == [("s2-vm", "failed", "s2-vm would not start")]

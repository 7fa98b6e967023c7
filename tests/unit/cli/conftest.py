"""The CLI's use cases on a two-seat room of fake backends: what each verb creates, destroys and provisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtool import bring_up, requirements
from labtool import lab as lab_module
from labtool.backends.vagrant import accel
from labtool.backends.vagrant.accel import Accel
from labtool.cli import main
from labtool.cli import reset as reset_cli
from labtool.cli import up as up_cli
from labtool.host import capacity
from labtool.images import bake, pair
from labtool.lab import Lab
from labtool.model import Kind, Room
from labtool.provision import ProvisionResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room


class CountingBackend(FakeBackend):
    def __init__(self, kind: Kind) -> None:
        super().__init__(kind)
        self.created: list[str] = []
        self.destroyed: list[str] = []
        self.provisioned: list[str] = []

    def bring_up(self, room: Room, machines: object) -> None:
        self.created += [m.name for m in machines]  # type: ignore[attr-defined]
        super().bring_up(room, machines)  # type: ignore[arg-type]

    def destroy(self, room: Room, machines: object) -> None:
        self.destroyed += [m.name for m in machines]  # type: ignore[attr-defined]
        super().destroy(room, machines)  # type: ignore[arg-type]


@pytest.fixture
def backends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[Kind, CountingBackend]:
    """A two-seat room, all four machines running and provisioned with the current key."""
    (tmp_path / "room").mkdir()
    room = paired_room(2, path=tmp_path / "room")
    fakes = {Kind.VM: CountingBackend(Kind.VM), Kind.CONTAINER: CountingBackend(Kind.CONTAINER)}
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home"), "LABTOOL_APT_CACHE": "off"})

    def fake_provision(room: Room, machine: str, *args: object, **kwargs: object) -> ProvisionResult:
        fakes[Kind.VM if machine.endswith("-vm") else Kind.CONTAINER].provisioned.append(machine)
        return ProvisionResult(machine, True, 1, "", ())

    def make_lab(*_args: object, **_kwargs: object) -> Lab:
        return Lab(settings, room, fakes, pair.base("base1"))

    for module in (up_cli, reset_cli):
        monkeypatch.setattr(module, "lab_for", make_lab, raising=False)
    monkeypatch.setattr(up_cli, "room_for", lambda args, settings: room)
    monkeypatch.setattr(bring_up, "open_lab", make_lab)
    monkeypatch.setattr(bring_up, "provision_key", lambda room: "key1")
    monkeypatch.setattr(bring_up, "assess", lambda *args: type("Fits", (), {"fits": True})())
    monkeypatch.setattr(capacity, "check", lambda assessment: None)
    monkeypatch.setattr(bake, "images_for", lambda settings_, key: pair.base("base1"))
    monkeypatch.setattr(requirements, "install", lambda project, on_wait=None: [])
    monkeypatch.setattr(accel, "detect", lambda setting: Accel("kvm", None, "test"))
    monkeypatch.setattr(lab_module, "provision", fake_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    assert main(["up", "demo"]) == 0
    for fake in fakes.values():
        fake.created.clear()
        fake.provisioned.clear()
    return fakes

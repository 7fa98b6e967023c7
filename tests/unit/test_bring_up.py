"""The `up` use case on fake backends: its steps in order, nothing printed (the verb prints)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from labtool import bring_up, requirements
from labtool import lab as lab_module
from labtool.backends.vagrant import accel
from labtool.backends.vagrant.accel import Accel
from labtool.bring_up import UpOptions
from labtool.cancel import Cancel
from labtool.errors import LabtoolError
from labtool.host import capacity
from labtool.host.capacity import Disk, HostFree
from labtool.images import bake, pair
from labtool.lab import Lab
from labtool.model import Kind, Room, VmResources
from labtool.progress import Progress
from labtool.provision import ProvisionResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room

GIB = 1024**3


class World:
    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "room").mkdir()
        # Two seats of 4 GiB VMs at KVM costs: one fits in 8 GiB free, two do not.
        self.room = paired_room(2, path=tmp_path / "room", vm=VmResources(memory_mib=4096))
        self.settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home"), "LABTOOL_VM_ACCEL": "kvm"})
        self.backends = {Kind.VM: FakeBackend(Kind.VM), Kind.CONTAINER: FakeBackend(Kind.CONTAINER)}
        self.events: list[str] = []
        self.shown: list[list[str]] = []

    def lab(self, settings: Settings, room: Room, images: Any = None, cancel: Cancel | None = None) -> Lab:
        self.events.append(f"open lab on {images.description if images else 'no images'}")
        return Lab(self.settings, self.room, self.backends, images, cancel)

    @contextmanager
    def view(self, machines: list[str]) -> Iterator[Progress]:
        self.shown.append(machines)
        yield lambda message: None

    def up(self, options: UpOptions) -> bring_up.UpResult:
        return bring_up.bring_up(
            self.settings, self.room, options, cancel=Cancel(), progress=self.events.append, view=self.view
        )


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    world = World(tmp_path)
    monkeypatch.setattr(bring_up, "open_lab", world.lab)
    monkeypatch.setattr(bring_up, "provision_key", lambda room: "key1")
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    monkeypatch.setattr(lab_module, "provision", lambda room, machine, *a, **k: ProvisionResult(machine, True, 1))

    def install(project: Path, on_wait: Progress | None = None) -> list[str]:
        world.events.append("requirements")
        return []

    monkeypatch.setattr(requirements, "install", install)
    monkeypatch.setattr(bake, "images_for", lambda settings, key: pair.base("base1"))
    monkeypatch.setattr(bake, "bake", lambda *args, **kwargs: world.events.append("bake"))
    monkeypatch.setattr(accel, "detect", lambda setting: Accel("kvm", None, "test"))
    disks = {kind: Disk(Path("/srv"), 500 * GIB, 1) for kind in Kind}
    monkeypatch.setattr(capacity, "read_free", lambda: HostFree(8 * GIB, disks))
    return world


def test_a_room_that_does_not_fit_is_refused_before_it_is_baked_or_created(world: World) -> None:
    with pytest.raises(LabtoolError, match="does not fit on this host"):
        world.up(UpOptions(bake=True))
    assert "bake" not in world.events
    assert world.backends[Kind.VM].running == set() and world.shown == []


def test_a_bake_comes_after_the_capacity_check_and_the_machines_come_from_a_new_plan(world: World) -> None:
    result = world.up(UpOptions(seats={"s1"}, bake=True))
    assert result.report is not None and not result.report.failed
    opened = [e for e in world.events if e.startswith("open lab")]
    assert world.events.index("requirements") < world.events.index("bake")
    assert len(opened) == 3  # to recover, to plan, to plan again after the bake
    assert [sorted(machines) for machines in world.shown] == [["s1-ct", "s1-vm"]]


def test_a_room_with_nothing_to_do_gets_no_report_and_no_capacity_check(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world.up(UpOptions(seats={"s1"}))
    monkeypatch.setattr(capacity, "check", lambda assessment: pytest.fail("checked a plan with no changes"))
    again = world.up(UpOptions(seats={"s1"}))
    assert again.report is None and not again.plan.changes
    assert capsys.readouterr() == ("", "")  # the use case prints nothing: the verb does

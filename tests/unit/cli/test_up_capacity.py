"""`labtool up` refuses a room the host cannot hold before creating anything; `--force` goes ahead."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtool import bring_up, requirements
from labtool import lab as lab_module
from labtool.backends.vagrant import accel
from labtool.backends.vagrant.accel import Accel
from labtool.cli import main
from labtool.cli import up as up_cli
from labtool.host import capacity
from labtool.host.capacity import Disk, HostFree
from labtool.images import bake, pair
from labtool.lab import Lab
from labtool.model import Kind, Room, VmResources
from labtool.provision import ProvisionResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room

GIB = 1024**3


@pytest.fixture
def backends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[Kind, FakeBackend]:
    """A 4-seat room of 4 GiB VMs (KVM costs) on a host with 8 GiB free: one seat fits (4.8 GiB), two do not."""
    (tmp_path / "room").mkdir()
    room = paired_room(4, path=tmp_path / "room", vm=VmResources(memory_mib=4096))
    fakes = {Kind.VM: FakeBackend(Kind.VM), Kind.CONTAINER: FakeBackend(Kind.CONTAINER)}
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home"), "LABTOOL_VM_ACCEL": "kvm"})

    def fake_provision(room: Room, machine: str, *args: object, **kwargs: object) -> ProvisionResult:
        return ProvisionResult(machine, True, 1, "", ())

    monkeypatch.setattr(up_cli, "room_for", lambda args, settings: room)
    monkeypatch.setattr(
        bring_up,
        "open_lab",
        lambda settings_, room_, images=None, cancel=None: Lab(settings, room, fakes, images, cancel),
    )
    monkeypatch.setattr(bake, "images_for", lambda settings_, key: pair.base("base1"))
    monkeypatch.setattr(bring_up, "provision_key", lambda room: "key1")
    monkeypatch.setattr(requirements, "install", lambda project, on_wait=None: [])
    monkeypatch.setattr(accel, "detect", lambda setting: Accel("kvm", None, "test"))
    monkeypatch.setattr(lab_module, "provision", fake_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    disks = {kind: Disk(Path("/srv"), 500 * GIB, 1) for kind in Kind}
    monkeypatch.setattr(capacity, "read_free", lambda: HostFree(8 * GIB, disks))
    return fakes


def running(backends: dict[Kind, FakeBackend]) -> set[str]:
    return backends[Kind.VM].running | backends[Kind.CONTAINER].running


def test_an_overcommitted_room_is_refused_before_anything_is_created(
    backends: dict[Kind, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", "demo", "--parallel", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: room 'demo' does not fit on this host: memory: 19.6 GiB needed, 8.0 GiB free\n")
    assert "this host fits 1 new seat of room 'demo'" in err
    assert "hint: " in err and "--force" in err
    assert "Traceback" not in err
    assert running(backends) == set()


def test_force_creates_it_anyway_and_says_so(
    backends: dict[Kind, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", "demo", "--parallel", "1", "--force"]) == 0
    assert "warning: --force: capacity: room 'demo' does NOT fit" in capsys.readouterr().err
    assert len(running(backends)) == 8


def test_the_seats_that_fit_come_up_without_force(backends: dict[Kind, FakeBackend]) -> None:
    assert main(["up", "demo", "--parallel", "1", "--seat", "s1"]) == 0
    assert running(backends) == {"s1-vm", "s1-ct"}
    # Only what `up` adds counts: s1 runs now, and the other three seats do not fit in 8 GiB.
    assert main(["up", "demo", "--parallel", "1"]) == 1
    assert running(backends) == {"s1-vm", "s1-ct"}


def test_dry_run_reports_the_verdict_and_changes_nothing(
    backends: dict[Kind, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["up", "demo", "--dry-run"]) == 0
    assert "capacity: room 'demo' does NOT fit on this host" in capsys.readouterr().err
    assert running(backends) == set()


def test_provision_creates_absent_machines_so_it_is_checked_too(
    backends: dict[Kind, FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["provision", "demo"]) == 1
    assert "does not fit" in capsys.readouterr().err
    assert main(["provision", "demo", "--force"]) == 0
    assert len(running(backends)) == 8

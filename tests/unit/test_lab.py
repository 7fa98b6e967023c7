"""The room lifecycle with fake backends and a fake provisioner: lanes, failures, state, down."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtool import lab as lab_module
from labtool import state
from labtool.lab import Lab
from labtool.model import Kind, Room
from labtool.plan import Action
from labtool.provision import ProvisionResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room


def make_room(tmp_path: Path, seats: int = 2) -> Room:
    (tmp_path / "room").mkdir(exist_ok=True)
    return paired_room(seats, path=tmp_path / "room")


@pytest.fixture
def provisioned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def fake_provision(
        room: Room, machine: str, inventory: Path, work_dir: Path, on_task: object, **options: object
    ) -> ProvisionResult:
        calls.append(machine)
        ok = machine != "s2-ct"
        return ProvisionResult(machine, ok, 3 if ok else 0, "" if ok else "boom", (f"/etc/{machine}.conf",))

    monkeypatch.setattr(lab_module, "provision", fake_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    return calls


def make_lab(tmp_path: Path, broken: set[str] | None = None) -> tuple[Lab, FakeBackend, FakeBackend]:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    vms, containers = FakeBackend(Kind.VM, broken), FakeBackend(Kind.CONTAINER, broken)
    return Lab(settings, make_room(tmp_path), {Kind.VM: vms, Kind.CONTAINER: containers}), vms, containers


def test_up_brings_up_and_provisions_every_machine_and_one_failure_stops_no_other(
    tmp_path: Path, provisioned: list[str]
) -> None:
    lab, _, _ = make_lab(tmp_path, broken={"s1-vm"})
    messages: list[str] = []
    report = lab.up(lab.plan(), parallel=2, progress=messages.append)

    assert sorted(provisioned) == ["s1-ct", "s2-ct", "s2-vm"]
    assert {o.machine: o.ok for o in report.outcomes} == {"s1-ct": True, "s1-vm": False, "s2-ct": False, "s2-vm": True}
    assert [o.machine for o in report.failed] == ["s1-vm", "s2-ct"]
    assert "s1-vm: FAILED: s1-vm would not start" in messages
    records = state.read(lab.state_dir).machines
    assert records["s2-vm"].provisioned_key == "key1" and records["s2-vm"].changed == 3
    assert records["s2-ct"].failed and records["s2-ct"].error == "boom"
    assert set(lab.inventory_path.read_text().split()) >= {"s1-ct:", "s2-ct:", "s2-vm:"}


def test_second_up_only_repairs_what_failed(tmp_path: Path, provisioned: list[str]) -> None:
    lab, _, _ = make_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    plan = lab.plan()
    assert [(s.machine.name, s.actions) for s in plan.changes] == [("s2-ct", (Action.PROVISION,))]
    assert [row.name for row in lab.status() if row.provisioned] == ["s1-vm", "s1-ct", "s2-vm"]


def test_down_of_a_seat_keeps_the_rest_and_down_of_the_room_removes_everything(
    tmp_path: Path, provisioned: list[str]
) -> None:
    lab, vms, containers = make_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    assert sorted(lab.down({"s1"}, progress=lambda _: None)) == ["s1-ct", "s1-vm"]
    assert vms.running == {"s2-vm"} and containers.running == {"s2-ct"}
    assert "s1-vm" not in state.read(lab.state_dir).machines
    assert vms.room_resources

    assert sorted(lab.down(None, progress=lambda _: None)) == ["s2-ct", "s2-vm"]
    assert not vms.room_resources and not containers.room_resources
    assert not lab.state_dir.exists()


def test_an_unexpected_backend_exception_fails_only_its_machine(tmp_path: Path, provisioned: list[str]) -> None:
    lab, _, containers = make_lab(tmp_path)
    containers.crashing = {"s1-ct"}
    report = lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    assert [(o.machine, o.error) for o in report.failed] == [
        ("s1-ct", "unexpected RuntimeError: the SDK fell over"),
        ("s2-ct", "boom"),
    ]
    assert sorted(provisioned) == ["s1-vm", "s2-ct", "s2-vm"]


def test_default_parallelism_follows_cores_and_memory() -> None:
    assert lab_module.default_parallel(2, 21.5) == 4
    assert lab_module.default_parallel(16, 3.2) == 3
    assert lab_module.default_parallel(1, 0.5) == 1

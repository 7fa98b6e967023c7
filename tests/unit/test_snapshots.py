"""Checkpoints of a seat: both halves saved, restored and removed together; none is ever left half."""

from pathlib import Path

import pytest

from labtool import lab as lab_module
from labtool import snapshots, state
from labtool.accounts import Account
from labtool.errors import LabtoolError
from labtool.lab import Lab
from labtool.model import Kind, Room, Student
from labtool.provision import AccountResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room, with_students

ADA = Student("Ada Lovelace", "ada_lovelace")


@pytest.fixture
def accounts_set(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    runs: list[str] = []

    def fake_account(
        room: Room, machine: str, account: Account, *args: object, how: object, env: object = None
    ) -> AccountResult:
        runs.append(machine)
        return AccountResult(machine, True, account.token)

    monkeypatch.setattr(lab_module, "provision_account", fake_account)
    return runs


def running_lab(tmp_path: Path) -> tuple[Lab, FakeBackend, FakeBackend]:
    (tmp_path / "room").mkdir()
    room = with_students(paired_room(2, path=tmp_path / "room"), {"s1": ADA})
    vms, containers = FakeBackend(Kind.VM), FakeBackend(Kind.CONTAINER)
    vms.running = {"s1-vm", "s2-vm"}
    containers.running = {"s1-ct", "s2-ct"}
    lab = Lab(
        Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")}), room, {Kind.VM: vms, Kind.CONTAINER: containers}
    )
    lab.state_dir.mkdir(parents=True)
    room_state = state.read(lab.state_dir)
    for name in ("s1-vm", "s1-ct"):
        room_state.record(name).provisioned_key = "key-then"
    state.write(lab.state_dir, room_state)
    return lab, vms, containers


def test_a_checkpoint_holds_both_machines_and_is_listed_with_how_they_were_provisioned(tmp_path: Path) -> None:
    lab, vms, containers = running_lab(tmp_path)
    done = snapshots.save(lab, "s1", "before-ex2", lambda _: None)
    assert vms.checkpoints == {("s1-vm", "before-ex2")} and containers.checkpoints == {("s1-ct", "before-ex2")}
    assert set(done.seconds) == {"s1-vm", "s1-ct"}
    [listed] = snapshots.saved(lab.state_dir)
    assert (listed.seat, listed.name) == ("s1", "before-ex2")
    assert listed.provisioned == {"s1-vm": "key-then", "s1-ct": "key-then"}
    assert snapshots.saved(lab.state_dir, ["s2"]) == []


def test_a_name_is_taken_once_per_seat(tmp_path: Path) -> None:
    lab, _, _ = running_lab(tmp_path)
    snapshots.save(lab, "s1", "cp", lambda _: None)
    snapshots.save(lab, "s2", "cp", lambda _: None)  # another seat may use it
    with pytest.raises(snapshots.SnapshotError, match="already has a checkpoint 'cp'") as caught:
        snapshots.save(lab, "s1", "cp", lambda _: None)
    assert "snapshot delete" in caught.value.hint


@pytest.mark.parametrize("name", ["", "Upper", "-dash-first", "a/b", "x" * 64, "has space"])
def test_a_bad_name_is_refused_before_anything_is_touched(tmp_path: Path, name: str) -> None:
    lab, vms, _ = running_lab(tmp_path)
    with pytest.raises(snapshots.SnapshotError, match="is not a checkpoint name"):
        snapshots.save(lab, "s1", name, lambda _: None)
    assert vms.checkpoints == set()


def test_when_one_half_cannot_be_saved_neither_is_kept(tmp_path: Path) -> None:
    lab, vms, containers = running_lab(tmp_path)
    containers.failing_checkpoints = {"s1-ct"}
    with pytest.raises(LabtoolError, match="no space left"):
        snapshots.save(lab, "s1", "cp", lambda _: None)
    assert vms.checkpoints == set() and containers.checkpoints == set()
    assert snapshots.saved(lab.state_dir) == []


def test_a_stopped_machine_cannot_be_checkpointed(tmp_path: Path) -> None:
    lab, vms, _ = running_lab(tmp_path)
    vms.running.discard("s1-vm")
    with pytest.raises(LabtoolError, match="s1-vm is not running"):
        snapshots.save(lab, "s1", "cp", lambda _: None)


def test_restore_brings_both_back_as_provisioned_then_and_sets_the_current_account(
    tmp_path: Path, accounts_set: list[str]
) -> None:
    lab, vms, containers = running_lab(tmp_path)
    snapshots.save(lab, "s1", "cp", lambda _: None)
    room_state = state.read(lab.state_dir)
    for name in ("s1-vm", "s1-ct"):  # provisioned again since, and its run failed
        record = room_state.record(name)
        record.provisioned_key, record.failed, record.error = "key-now", True, "boom"
    state.write(lab.state_dir, room_state)

    snapshots.restore(lab, "s1", "cp", lambda _: None)
    assert vms.restored == [("s1-vm", "cp")] and containers.restored == [("s1-ct", "cp")]
    records = state.read(lab.state_dir).machines
    assert {records[m].provisioned_key for m in ("s1-vm", "s1-ct")} == {"key-then"}
    assert not records["s1-vm"].failed and records["s1-vm"].error == ""
    assert sorted(accounts_set) == ["s1-ct", "s1-vm"]


def test_an_unknown_checkpoint_names_those_there_are(tmp_path: Path) -> None:
    lab, _, _ = running_lab(tmp_path)
    snapshots.save(lab, "s1", "one", lambda _: None)
    with pytest.raises(snapshots.SnapshotError, match=r"no checkpoint 'two' \(it has: one\)"):
        snapshots.restore(lab, "s1", "two", lambda _: None)
    with pytest.raises(snapshots.SnapshotError, match=r"it has: none"):
        snapshots.delete(lab, "s2", "one", lambda _: None)


def test_delete_removes_both_halves_and_the_record(tmp_path: Path) -> None:
    lab, vms, containers = running_lab(tmp_path)
    snapshots.save(lab, "s1", "cp", lambda _: None)
    snapshots.delete(lab, "s1", "cp", lambda _: None)
    assert vms.checkpoints == set() and containers.checkpoints == set()
    assert snapshots.saved(lab.state_dir) == []


def test_down_of_one_machine_takes_its_seats_checkpoints_whole_and_leaves_other_seats(tmp_path: Path) -> None:
    lab, vms, containers = running_lab(tmp_path)
    snapshots.save(lab, "s1", "cp", lambda _: None)
    snapshots.save(lab, "s2", "cp", lambda _: None)
    lab.down(["s1"], lambda _: None, [Kind.VM])  # `reset --seat s1 --vm`
    assert containers.checkpoints == {("s2-ct", "cp")}, "s1's container half went with the VM's"
    assert vms.checkpoints == {("s2-vm", "cp")}
    assert [(s.seat, s.name) for s in snapshots.saved(lab.state_dir)] == [("s2", "cp")]

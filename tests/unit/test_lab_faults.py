"""The room lifecycle under faults, with fake backends: interrupts, leftovers, daemons down, rooms side by side."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from labtool import lab as lab_module
from labtool import provision, state
from labtool.backends.base import Observed, Presence
from labtool.cancel import Cancel, StoppedError
from labtool.errors import DaemonError
from labtool.host import children
from labtool.lab import Lab
from labtool.model import Kind, Machine, Room
from labtool.plan import Action
from labtool.provision import ProvisionResult
from labtool.settings import Settings
from tests.conftest import FaultRow
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room

Provision = Callable[..., ProvisionResult]


@pytest.fixture
def provisioned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A provisioner that succeeds at once, except on machines named in `calls`' companion set `slow`."""
    calls: list[str] = []

    def fake_provision(room: Room, machine: str, *args: object, **options: object) -> ProvisionResult:
        calls.append(machine)
        return ProvisionResult(machine, True, 2)

    monkeypatch.setattr(lab_module, "provision", fake_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    return calls


def make_lab(tmp_path: Path, name: str = "demo", seats: int = 2) -> tuple[Lab, FakeBackend, FakeBackend]:
    (tmp_path / name).mkdir(exist_ok=True)
    room = paired_room(seats, name=name, path=tmp_path / name)
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    vms, containers = FakeBackend(Kind.VM), FakeBackend(Kind.CONTAINER)
    return Lab(settings, room, {Kind.VM: vms, Kind.CONTAINER: containers}, cancel=Cancel()), vms, containers


def interrupt_when(
    event: threading.Event,
    lab: Lab,
    then: Callable[[], None] = lambda: None,
    after: Callable[[], bool] = lambda: True,
) -> threading.Thread:
    """What the CLI's signal handler does: set the Cancel (and its reaper stops the commands: `then`)."""

    def fire() -> None:
        assert event.wait(10)
        deadline = time.monotonic() + 10
        while not after() and time.monotonic() < deadline:
            time.sleep(0.01)
        lab.cancel.set("SIGINT")
        then()

    thread = threading.Thread(target=fire)
    thread.start()
    return thread


def test_an_interrupt_during_a_vm_boot_stops_the_run_and_records_where_each_machine_stood(
    tmp_path: Path, provisioned: list[str], fault_row: FaultRow
) -> None:
    lab, vms, _ = make_lab(tmp_path, seats=1)
    vms.slow = {"s1-vm"}
    said: list[str] = []
    container_done = lambda: "s1-ct: ready, changed=2 (0 s)" in said  # noqa: E731
    signal = interrupt_when(vms.started, lab, then=vms.killed.set, after=container_done)
    started = time.monotonic()
    report = lab.up(lab.plan(), parallel=2, progress=said.append)
    signal.join()
    assert time.monotonic() - started < 20  # the fake VM boots for 30 s unless stopped
    assert report.interrupted == "SIGINT"
    assert {o.machine: o.state for o in report.outcomes} == {
        "s1-ct": "provisioned",
        "s1-vm": "interrupted while creating",
    }
    assert report.failed == []  # an interrupted machine is not a failure
    records = state.read(lab.state_dir).machines
    assert records["s1-vm"].working == "create" and records["s1-vm"].provisioned_key is None
    assert records["s1-vm"].error == "interrupted by SIGINT while creating"
    assert state.holder(lab.state_dir) is None  # the lock is released
    assert "s1-vm: interrupted by SIGINT while creating" in said

    # The next run: the half-made VM is made again, not trusted; nothing is duplicated.
    status = {row.name: row for row in lab.status()}
    assert status["s1-vm"].interrupted == "create" and status["s1-vm"].presence is Presence.RUNNING
    lab.cancel = Cancel()
    vms.slow = set()
    plan = lab.plan()
    assert [(s.machine.name, s.actions, s.reason) for s in plan.changes if s.machine.kind is Kind.VM] == [
        ("s1-vm", (Action.RECREATE, Action.PROVISION), "labtool was stopped while creating it")
    ]
    report = lab.up(plan, parallel=2, progress=said.append)
    assert all(o.ok for o in report.outcomes)
    assert vms.destructions == ["s1-vm"] and vms.creations == ["s1-vm", "s1-vm"] and vms.running == {"s1-vm"}
    assert state.read(lab.state_dir).machines["s1-vm"].working == ""
    fault_row(
        "Ctrl-C (SIGINT) or SIGTERM during `up`, a VM booting",
        "no new step starts; labtool's commands (vagrant, ansible-playbook, ssh) get SIGTERM, then SIGKILL 3 s "
        "later (at once on a second signal); each machine is reported provisioned, created, not started or "
        "interrupted while creating/provisioning; the state records the interrupted step; exit 130",
        "the next `up` recreates a machine whose creation was interrupted and provisions one whose provisioning was",
    )


def test_a_vm_whose_creation_failed_part_way_is_made_again_by_the_next_up_not_started_as_it_was(
    tmp_path: Path, provisioned: list[str]
) -> None:
    lab, vms, _ = make_lab(tmp_path, seats=1)
    vms.slow = {"s1-vm"}  # its `vagrant up` fails while it boots, its domain made: its lab host went off

    def host_goes_off() -> None:
        assert vms.started.wait(10)
        vms.killed.set()

    host_off = threading.Thread(target=host_goes_off)
    host_off.start()
    report = lab.up(lab.plan(), parallel=2, progress=lambda line: None)
    host_off.join()
    assert [o.machine for o in report.failed] == ["s1-vm"] and vms.running == {"s1-vm"}
    record = state.read(lab.state_dir).machines["s1-vm"]
    assert (record.working, record.failed) == ("create", True)
    assert {row.name: row.interrupted for row in lab.status()}["s1-vm"] == ""  # a failure, named by its error

    # While its host is still off the VM is only failed again; its record still says it was never finished.
    off = Observed("s1-vm", Presence.UNKNOWN, note="its lab host lab2 does not answer")
    with pytest.MonkeyPatch.context() as host_still_off:
        host_still_off.setattr(vms, "observe", lambda room: {"s1-vm": off})
        assert [o.machine for o in lab.up(lab.plan(), parallel=2, progress=lambda line: None).failed] == ["s1-vm"]
    assert state.read(lab.state_dir).machines["s1-vm"].working == "create"

    vms.slow = set()
    plan = lab.plan()
    assert [(s.machine.name, s.actions, s.reason) for s in plan.changes] == [
        ("s1-vm", (Action.RECREATE, Action.PROVISION), "its creation failed part way")
    ]
    report = lab.up(plan, parallel=2, progress=lambda line: None)
    assert all(o.ok for o in report.outcomes)
    assert vms.destructions == ["s1-vm"] and vms.creations == ["s1-vm", "s1-vm"]
    assert state.read(lab.state_dir).machines["s1-vm"].working == ""


def test_an_interrupt_during_provisioning_stops_ansible_and_leaves_the_machine_unprovisioned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, _, _ = make_lab(tmp_path, seats=1)
    running = threading.Event()

    def slow_provision(room: Room, machine: str, *args: object, **options: object) -> ProvisionResult:
        if machine == "s1-ct":
            return ProvisionResult(machine, True, 1)
        cancelled = options["cancelled"]
        assert callable(cancelled)
        running.set()
        while not cancelled():  # ansible-runner's cancel_callback: it kills the playbook's process group
            time.sleep(0.01)
        return ProvisionResult(machine, False, 0, "ansible-playbook ended canceled (rc 254)")

    monkeypatch.setattr(lab_module, "provision", slow_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    said: list[str] = []
    signal = interrupt_when(running, lab, after=lambda: "s1-ct: ready, changed=1 (0 s)" in said)
    report = lab.up(lab.plan(), parallel=2, progress=said.append)
    signal.join()
    assert {o.machine: o.state for o in report.outcomes} == {
        "s1-ct": "provisioned",
        "s1-vm": "interrupted while provisioning",
    }
    records = state.read(lab.state_dir).machines
    assert records["s1-vm"].working == "provision" and records["s1-vm"].provisioned_key is None
    assert records["s1-ct"].working == "" and records["s1-ct"].provisioned_key == "key1"
    lab.cancel = Cancel()
    assert [(s.machine.name, s.actions, s.reason) for s in lab.plan().changes] == [
        ("s1-vm", (Action.PROVISION,), "labtool was stopped before its provisioning ended")
    ]


def test_a_call_that_ignores_the_interrupt_does_not_keep_up_from_returning(
    tmp_path: Path, provisioned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab_module, "STOP_SECONDS", 0.5)
    lab, vms, _ = make_lab(tmp_path, seats=1)
    vms.stuck = {"s1-vm"}
    signal = interrupt_when(vms.started, lab)
    started = time.monotonic()
    report = lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    signal.join()
    assert time.monotonic() - started < 20  # the stuck call holds on for 30 s
    assert {o.machine: o.state for o in report.outcomes}["s1-vm"] == "interrupted while creating"
    assert state.holder(lab.state_dir) is None
    vms.unstuck.set()  # the stuck call ends later: it records nothing more
    time.sleep(0.2)
    assert state.read(lab.state_dir).machines["s1-vm"].working == "create"


def test_down_interrupted_says_what_is_destroyed_and_what_is_left(tmp_path: Path, provisioned: list[str]) -> None:
    lab, vms, _ = make_lab(tmp_path, seats=2)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    real_destroy = vms.destroy

    def destroy_then_interrupt(room: Room, machines: Sequence[Machine]) -> None:
        real_destroy(room, machines)
        lab.cancel.set("SIGTERM")

    vms.destroy = destroy_then_interrupt  # type: ignore[method-assign]
    with pytest.raises(StoppedError) as caught:
        lab.down(None, progress=lambda _: None)
    assert caught.value.message.startswith("room 'demo': `down` was stopped by SIGTERM; destroyed: s1-vm; still")
    assert "s2-vm" in caught.value.message and "labtool down demo" in caught.value.hint
    assert state.holder(lab.state_dir) is None and lab.state_dir.exists()


def test_leftovers_of_a_killed_labtool_are_stopped_before_anything_else(
    tmp_path: Path, provisioned: list[str], monkeypatch: pytest.MonkeyPatch, fault_row: FaultRow
) -> None:
    lab, _, _ = make_lab(tmp_path, seats=1)
    gone = children.Owner(4242, 17)
    lab.state_dir.mkdir(parents=True)
    (lab.state_dir / state.LOCK_FILE).write_text(f"pid 4242 (labtool up demo)\nowner {gone.marker}\n")
    asked: list[object] = []
    vagrant = children.Leftover(5000, "/usr/bin/ruby /usr/bin/vagrant up s1-vm", gone)

    def fake_leftovers(room_dir: Path, stale: children.Owner | None) -> list[children.Leftover]:
        asked.append((room_dir, stale))
        return [vagrant]

    stopped: list[list[int]] = []

    def fake_stop(pids: list[int]) -> list[int]:
        stopped.append(pids)
        return []

    monkeypatch.setattr(children, "leftovers", fake_leftovers)
    monkeypatch.setattr(children, "stop", fake_stop)
    secret = provision.account_vars_file(lab.state_dir, "s1-vm")  # its account play was under way
    secret.write_text('{"labtool_student_password_hash": "$6$x"}')
    said: list[str] = []
    assert lab.recover(said.append) == [vagrant]
    assert asked == [(lab.state_dir, gone)] and stopped == [[5000]]
    assert not secret.exists()
    assert said == [
        "room 'demo': stopping 1 process(es) left running by a labtool that is gone: "
        "pid 5000 (/usr/bin/ruby /usr/bin/vagrant up s1-vm) of the gone labtool pid 4242"
    ]
    report = lab.up(lab.plan(), parallel=2, progress=said.append)
    assert all(o.ok for o in report.outcomes)
    assert "room 'demo': taking over the lock of pid 4242 (labtool up demo), which is gone" in said[1]
    fault_row(
        "`kill -9` of labtool during `up` (a VM booting, a container provisioning)",
        "its `vagrant up` and ansible-playbook run on, orphaned; the next `up` or `down` finds them "
        "(marked LABTOOL_OWNER=pid:start of a process that is gone, or the room's VAGRANT_DOTFILE_PATH), "
        "names and stops them, and takes the lock over",
        "automatic: that `up` recreates the machine whose creation was cut and provisions the rest",
    )


def test_a_daemon_that_does_not_answer_leaves_its_kind_unknown_in_status_and_stops_every_other_verb(
    tmp_path: Path, provisioned: list[str], fault_row: FaultRow
) -> None:
    lab, vms, _ = make_lab(tmp_path, seats=1)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    vms.unreachable = DaemonError("libvirtd does not answer at qemu:///system", "start it with `labtool daemons`")
    survey = lab.survey()
    assert {row.name: row.presence for row in survey.machines} == {
        "s1-vm": Presence.UNKNOWN,
        "s1-ct": Presence.RUNNING,
    }
    assert list(survey.unreachable) == [Kind.VM]
    for verb in (lab.status, lab.plan, lab.observe, lambda: lab.down(None, lambda _: None)):
        with pytest.raises(DaemonError, match="libvirtd does not answer"):
            verb()
    fault_row(
        "libvirtd or dockerd not answering (simulated: fakes; a dead `virsh` and `DOCKER_HOST` on the real room)",
        "every verb stops with one `error: libvirtd does not answer at qemu:///system (…)` / "
        "`hint: start it with labtool daemons`, no traceback; `status` still shows the other kind",
        "`labtool daemons`, then the same command again",
    )


def test_two_rooms_come_up_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault_row: FaultRow) -> None:
    both_in = threading.Barrier(2, timeout=10)

    def meeting_provision(room: Room, machine: str, *args: object, **options: object) -> ProvisionResult:
        if machine.endswith("-vm"):
            both_in.wait()  # each room's VM waits for the other room's: they must run at the same time
        return ProvisionResult(machine, True, 1)

    monkeypatch.setattr(lab_module, "provision", meeting_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    labs = [make_lab(tmp_path, name)[0] for name in ("east", "west")]
    reports: dict[str, lab_module.UpReport] = {}
    threads = [
        threading.Thread(
            target=lambda lab=lab: reports.update(
                {lab.room.name: lab.up(lab.plan(), parallel=2, progress=lambda _: None)}
            )
        )
        for lab in labs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(reports) == ["east", "west"]
    assert all(o.ok for report in reports.values() for o in report.outcomes)
    fault_row(
        "two different rooms brought up at once",
        "both proceed: each room has its own lock, state directory, names and subnets",
        "nothing to repair",
    )

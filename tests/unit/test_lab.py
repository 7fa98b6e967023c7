"""The room lifecycle with fake backends and a fake provisioner: lanes, failures, state, down."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from labtool import accounts, lab_hosts, state
from labtool import lab as lab_module
from labtool.accounts import Account
from labtool.backends.base import Presence
from labtool.backends.spread import SpreadBackend
from labtool.backends.vagrant import address_guard
from labtool.backends.vagrant import backend as vagrant
from labtool.backends.vagrant.accel import Accel
from labtool.errors import DaemonError
from labtool.host import apt_cache
from labtool.lab import Lab
from labtool.model import THIS_HOST, Kind, LabHost, Room, Student
from labtool.plan import Action
from labtool.provision import AccountResult, ProvisionResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room, with_students

ADA, GRACE = Student("Ada Lovelace", "ada_lovelace"), Student("Grace Hopper", "grace_hopper")


def make_room(tmp_path: Path, seats: int = 2) -> Room:
    (tmp_path / "room").mkdir(exist_ok=True)
    return paired_room(seats, path=tmp_path / "room")


@pytest.fixture
def provisioned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(apt_cache, "answers", lambda: False)  # this host's apt cache plays no part
    monkeypatch.setattr(apt_cache, "answers_on", lambda host: False)  # nor another host's: no SSH from a unit test

    def fake_provision(
        room: Room, machine: str, inventory: Path, work_dir: Path, on_task: object, *, how: object, **options: object
    ) -> ProvisionResult:
        assert options["apt_proxy"] == "" and float(options["timeout"]) > 0  # type: ignore[arg-type]
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


@pytest.mark.parametrize(
    ("setting", "running", "expected"),
    [("on", True, "http://10.212.0.1:3142"), ("on", False, ""), ("off", True, "")],
)
def test_machines_are_pointed_at_the_apt_cache_only_when_it_is_on_and_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, running: bool, expected: str
) -> None:
    given: list[str] = []

    def fake_provision(
        room: Room,
        machine: str,
        inventory: Path,
        work_dir: Path,
        on_task: object,
        *,
        how: object,
        apt_proxy: str,
        **_: object,
    ) -> ProvisionResult:
        given.append(apt_proxy)
        return ProvisionResult(machine, True, 0)

    monkeypatch.setattr(lab_module, "provision", fake_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    monkeypatch.setattr(apt_cache, "answers", lambda: running)
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home"), "LABTOOL_APT_CACHE": setting})
    backends = {Kind.VM: FakeBackend(Kind.VM), Kind.CONTAINER: FakeBackend(Kind.CONTAINER)}
    lab = Lab(settings, make_room(tmp_path, seats=1), backends)
    messages: list[str] = []
    lab.up(lab.plan(), parallel=2, progress=messages.append)
    assert given == [expected, expected]
    # Turned on but not running is worth a warning; turned off is what the user asked for.
    assert any("apt cache does not answer" in m for m in messages) == (setting == "on" and not running)


# -- students' accounts ------------------------------------------------------------------------------


@pytest.fixture
def account_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Account]]:
    """The account play, faked: records each machine and the account it was asked to set; s2-vm's fails."""
    runs: list[tuple[str, Account]] = []

    def fake_account(
        room: Room, machine: str, account: Account, inventory: Path, work_dir: Path, *, how: object, env: object
    ) -> AccountResult:
        assert env == {}, "a machine of this host needs no environment of its own"
        runs.append((machine, account))
        if machine == "s2-vm":
            return AccountResult(machine, False, "", "student account: sshd -t failed")
        return AccountResult(machine, True, account.token)

    monkeypatch.setattr(lab_module, "provision_account", fake_account)
    return runs


def student_lab(tmp_path: Path) -> Lab:
    lab, _, _ = make_lab(tmp_path)
    lab.room = with_students(lab.room, {"s1": ADA, "s2": GRACE})
    return lab


def test_up_sets_each_students_account_after_the_course_and_a_failure_keeps_the_course(
    tmp_path: Path, provisioned: list[str], account_runs: list[tuple[str, Account]]
) -> None:
    lab = student_lab(tmp_path)
    report = lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    # s2-ct's course run fails (the provisioned fixture): its account waits for a good run.
    assert sorted(m for m, _ in account_runs) == ["s1-ct", "s1-vm", "s2-vm"]
    assert {a.login for _, a in account_runs} == {"ada_lovelace", "grace_hopper"}
    assert all(a.password_hash == "!" for _, a in account_runs), "locked until a handout issues the password"
    records = state.read(lab.state_dir).machines
    assert records["s1-vm"].account == "ada_lovelace:locked"
    assert records["s2-vm"].account == "" and records["s2-vm"].provisioned_key == "key1"
    assert {o.machine: o.error for o in report.failed} == {"s2-ct": "boom", "s2-vm": "student account: sshd -t failed"}

    account_runs.clear()
    plan = lab.plan()
    assert [(s.machine.name, s.actions) for s in plan.changes] == [
        ("s2-vm", (Action.ACCOUNT,)),
        ("s2-ct", (Action.PROVISION,)),
    ]


def test_an_issued_password_reaches_running_machines_through_apply_accounts(
    tmp_path: Path, provisioned: list[str], account_runs: list[tuple[str, Account]]
) -> None:
    lab = student_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    [new] = accounts.issue([ADA])
    state.write_passwords(lab.state_dir, {new.login: new.record})
    account_runs.clear()
    results = lab.apply_accounts(list(lab.room.seats[0].machines), progress=lambda _: None)
    assert [r.ok for r in results] == [True, True]
    assert {a.password_hash for _, a in account_runs} == {new.record.hash}
    assert state.read(lab.state_dir).machines["s1-ct"].account == f"ada_lovelace:{new.record.id}"
    assert [s.machine.name for s in lab.plan().changes if s.machine.seat == "s1"] == []


FAKE_VAGRANT = """#!/bin/sh
# `vagrant up` of s1-vm hangs (in a child process, as Vagrant's would); every other call answers at once.
case "$1 $2" in
  "up s1-vm") sleep 300 & echo $! > "$HUNG_PID_FILE"; wait ;;
  "ssh-config "*) printf 'Host %s\\n  HostName 10.214.10.7\\n  User vagrant\\n  Port 22\\n  IdentityFile /k\\n' "$2" ;;
esac
"""
FAKE_VIRSH = """#!/bin/sh
# No domain is ever defined or running.
case "$3" in domstate) echo "shut off" ;; esac
"""


def test_a_hung_vagrant_up_fails_only_its_vm_after_the_timeout_and_the_rest_of_the_room_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("vagrant", FAKE_VAGRANT), ("virsh", FAKE_VIRSH)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("HUNG_PID_FILE", str(tmp_path / "hung.pid"))
    monkeypatch.setattr(vagrant, "FIRST_UP_POLL_SECONDS", 0.05)
    # What follows a VM's `vagrant up` (its own key, its host keys) is tested on its own; here no VM answers SSH.
    monkeypatch.setattr(vagrant.VagrantBackend, "_ssh", lambda self, project, room, m: project.ssh_config(m.name))
    monkeypatch.setattr(vagrant.VagrantBackend, "_host_keys", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(address_guard, "guard", lambda *args: "")  # no domain: nothing to filter
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    monkeypatch.setattr(
        lab_module, "provision", lambda room, machine, *args, **kwargs: ProvisionResult(machine, True, 1)
    )
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home"), "LABTOOL_VAGRANT_TIMEOUT": "2"})
    vms = vagrant.VagrantBackend(
        THIS_HOST, tmp_path / "vagrant", Accel("qemu", "qemu64", "test"), timeout=settings.vagrant_timeout
    )
    lab = Lab(settings, make_room(tmp_path), {Kind.VM: vms, Kind.CONTAINER: FakeBackend(Kind.CONTAINER)})
    messages: list[str] = []

    started = time.monotonic()
    report = lab.up(lab.plan(), parallel=2, progress=messages.append)

    assert time.monotonic() - started < 120  # the hung `vagrant up` sleeps 300 s: it was given up on
    assert [o.machine for o in report.failed] == ["s1-vm"], [o.error for o in report.failed]
    assert {o.machine for o in report.outcomes if o.ok} == {"s1-ct", "s2-ct", "s2-vm"}
    error = report.failed[0].error
    assert "gave up trying to start the VM s1-vm: `vagrant up s1-vm --provider=libvirt`" in error
    assert "did not finish within 2 s and was stopped (LABTOOL_VAGRANT_TIMEOUT)" in error
    assert any(m.startswith("s1-vm: FAILED: gave up") for m in messages)
    assert state.read(lab.state_dir).machines["s1-vm"].failed
    hung = Path(f"/proc/{(tmp_path / 'hung.pid').read_text().strip()}/status")
    assert not hung.exists() or "\nState:\tZ" in hung.read_text(), "the hung vagrant's child outlived the timeout"


def test_stop_halts_every_running_machine_in_lanes_and_keeps_them(tmp_path: Path, provisioned: list[str]) -> None:
    lab, vms, containers = make_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    messages: list[str] = []
    report = lab.stop(None, parallel=2, progress=messages.append)

    assert [(o.machine, o.result) for o in report.outcomes] == [
        ("s1-vm", "stopped"),
        ("s1-ct", "stopped"),
        ("s2-vm", "stopped"),
        ("s2-ct", "stopped"),
    ]
    assert not report.failed and report.verb == "stop"
    assert vms.stopped == {"s1-vm", "s2-vm"} and containers.stopped == {"s1-ct", "s2-ct"}
    assert {row.name: row.presence for row in lab.status()} == dict.fromkeys(
        ("s1-vm", "s1-ct", "s2-vm", "s2-ct"), Presence.STOPPED
    )
    assert "s1-vm: stopping" in messages
    # Nothing was destroyed or forgotten: the records of the last provisioning stand.
    assert state.read(lab.state_dir).machines["s1-vm"].provisioned_key == "key1"


def test_stop_and_start_of_one_seat_leave_the_other_seat_alone(tmp_path: Path, provisioned: list[str]) -> None:
    lab, vms, containers = make_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    lab.stop({"s2"}, parallel=1, progress=lambda _: None)
    assert vms.running == {"s1-vm"} and containers.running == {"s1-ct"}

    report = lab.start({"s2"}, parallel=1, progress=lambda _: None)
    assert [(o.machine, o.result) for o in report.outcomes] == [("s2-vm", "started"), ("s2-ct", "started")]
    assert ("start", "s2-vm") in vms.calls and ("bring_up", "s2-vm") not in vms.calls[2:]
    assert vms.running == {"s1-vm", "s2-vm"} and not vms.stopped
    record = state.read(lab.state_dir).machines["s2-ct"]
    assert record.start_action == "start" and record.start_seconds is not None


def test_start_and_stop_name_what_they_left_alone(tmp_path: Path, provisioned: list[str]) -> None:
    lab, vms, containers = make_lab(tmp_path)
    vms.running = {"s1-vm"}
    containers.stopped = {"s1-ct"}
    report = lab.start(None, parallel=2, progress=lambda _: None)
    assert {o.machine: o.result for o in report.outcomes} == {
        "s1-vm": "already running",
        "s1-ct": "started",
        "s2-vm": "absent",
        "s2-ct": "absent",
    }
    assert all(o.ok for o in report.outcomes)
    assert [m for m, _ in containers.calls] == ["start"] and vms.calls == []

    report = lab.stop(None, parallel=2, progress=lambda _: None)
    assert {o.machine: o.result for o in report.outcomes} == {
        "s1-vm": "stopped",
        "s1-ct": "stopped",
        "s2-vm": "absent",
        "s2-ct": "absent",
    }
    assert lab.stop(None, parallel=2, progress=lambda _: None).with_result("already stopped") == [
        lab_module.PowerOutcome("s1-vm", Kind.VM, "already stopped"),
        lab_module.PowerOutcome("s1-ct", Kind.CONTAINER, "already stopped"),
    ]


def test_start_of_a_room_that_never_existed_leaves_no_state_behind(tmp_path: Path) -> None:
    lab, _, _ = make_lab(tmp_path)
    report = lab.start(None, parallel=2, progress=lambda _: None)
    assert {o.result for o in report.outcomes} == {"absent"}
    assert not lab.state_dir.exists()


def test_start_refreshes_how_ansible_reaches_the_machine(tmp_path: Path, provisioned: list[str]) -> None:
    lab, vms, _ = make_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    lab.stop({"s1"}, parallel=2, progress=lambda _: None)
    vms.connection = lambda room, machine: {"ansible_host": f"{machine.name}-new-address"}  # type: ignore[method-assign]
    lab.start({"s1"}, parallel=2, progress=lambda _: None)
    text = lab.inventory_path.read_text()
    assert "s1-vm-new-address" in text and "s2-vm-new-address" not in text
    assert "s2-ct:" in text  # the other machines' connections are kept


def test_a_machine_failing_to_stop_or_start_fails_alone(tmp_path: Path, provisioned: list[str]) -> None:
    lab, vms, containers = make_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    vms.broken = {"s1-vm"}
    containers.crashing = {"s2-ct"}
    report = lab.stop(None, parallel=2, progress=lambda _: None)
    assert [(o.machine, o.error) for o in report.failed] == [
        ("s1-vm", "s1-vm would not start"),
        ("s2-ct", "unexpected RuntimeError: the SDK fell over"),
    ]
    assert vms.stopped == {"s2-vm"} and containers.stopped == {"s1-ct"}
    report = lab.start(None, parallel=2, progress=lambda _: None)
    assert {o.machine: o.result for o in report.outcomes} == {
        "s1-vm": "already running",
        "s1-ct": "started",
        "s2-vm": "started",
        "s2-ct": "already running",
    }


def test_up_of_a_stopped_room_starts_it_and_provisions_only_what_is_out_of_date(
    tmp_path: Path, provisioned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, vms, containers = make_lab(tmp_path)
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)  # s2-ct's provisioning fails
    lab.stop(None, parallel=2, progress=lambda _: None)
    provisioned.clear()
    vms.calls.clear()

    plan = lab.plan()
    assert {s.machine.name: s.actions for s in plan.changes} == {
        "s1-vm": (Action.START,),
        "s1-ct": (Action.START,),
        "s2-vm": (Action.START,),
        "s2-ct": (Action.START, Action.PROVISION),
    }
    messages: list[str] = []
    report = lab.up(plan, parallel=2, progress=messages.append)
    assert provisioned == ["s2-ct"]
    assert sorted(vms.calls) == [("start", "s1-vm"), ("start", "s2-vm")]
    assert vms.running == {"s1-vm", "s2-vm"} and containers.running == {"s1-ct", "s2-ct"}
    assert {o.machine: (o.ok, o.changed) for o in report.outcomes} == {
        "s1-ct": (True, None),
        "s1-vm": (True, None),
        "s2-ct": (False, 0),
        "s2-vm": (True, None),
    }
    assert any(m.startswith("s1-vm: ready, provisioning current") for m in messages)
    records = state.read(lab.state_dir).machines
    assert records["s1-vm"].provisioned_key == "key1" and records["s1-vm"].changed == 3  # kept from the first up
    assert records["s1-vm"].start_action == "start"

    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key2")
    lab.stop({"s1"}, parallel=2, progress=lambda _: None)
    assert {s.machine.name: s.actions for s in lab.plan({"s1"}).changes} == {
        "s1-vm": (Action.START, Action.PROVISION),
        "s1-ct": (Action.START, Action.PROVISION),
    }


def test_teardown_names_what_down_would_destroy(tmp_path: Path, provisioned: list[str]) -> None:
    lab, vms, _ = make_lab(tmp_path)
    nothing = lab.teardown(None)
    assert nothing.machines == () and nothing.state_dir is None
    vms.room_resources = False
    lab.up(lab.plan(), parallel=2, progress=lambda _: None)
    lab.stop({"s2"}, parallel=2, progress=lambda _: None)

    seat = lab.teardown({"s2"})
    assert [m.name for m in seat.machines] == ["s2-vm", "s2-ct"]  # stopped machines are destroyed too
    assert seat.resources == () and seat.state_dir is None

    room = lab.teardown(None)
    assert [m.name for m in room.machines] == ["s1-vm", "s1-ct", "s2-vm", "s2-ct"]
    assert room.resources == ("fake container network of demo",)
    assert room.state_dir == lab.state_dir and not room.empty
    lab.down(None, progress=lambda _: None)
    assert lab.teardown(None).empty  # after down there is nothing left to name, so nothing to ask about


# -- a room across two lab hosts, one of which stops answering ------------------------------------------


def make_spread_lab(tmp_path: Path) -> tuple[Lab, dict[str, FakeBackend]]:
    """Seat s1 on this host, s2 on lab2: each kind's backend spread over the two hosts' fakes."""
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    room = dataclasses.replace(make_room(tmp_path), hosts=(THIS_HOST, LabHost("lab2", "root@192.0.2.12")))
    fakes = {f"{host}-{kind}": FakeBackend(kind) for host in ("here", "lab2") for kind in Kind}
    lab = Lab(settings, room, {})
    lab.placed.update({"s1": "here", "s2": "lab2"})
    lab.backends = {
        kind: SpreadBackend(kind, {h: fakes[f"{h}-{kind}"] for h in ("here", "lab2")}, lab.placed.__getitem__)
        for kind in Kind
    }
    return lab, fakes


LAB2_OFF = DaemonError("the Docker engine does not answer at ssh://root@192.0.2.12 (lab host lab2)")


def test_a_lab_host_that_does_not_answer_fails_only_its_seats_and_says_which_host(
    tmp_path: Path, provisioned: list[str]
) -> None:
    lab, fakes = make_spread_lab(tmp_path)
    fakes["lab2-vm"].unreachable = fakes["lab2-container"].unreachable = LAB2_OFF
    messages: list[str] = []
    report = lab.up(lab.plan(), parallel=2, progress=messages.append)
    assert sorted(provisioned) == ["s1-ct", "s1-vm"]
    assert {o.machine: o.ok for o in report.outcomes} == {"s1-ct": True, "s1-vm": True, "s2-ct": False, "s2-vm": False}
    assert all(o.error.startswith("its lab host lab2 does not answer: ") for o in report.failed)
    assert fakes["lab2-vm"].calls == fakes["lab2-container"].calls == []  # nothing was tried there
    rows = {row.name: row for row in lab.status()}
    assert rows["s2-vm"].presence is Presence.UNKNOWN and "lab host lab2 does not answer" in (rows["s2-vm"].error or "")
    assert rows["s1-vm"].presence is Presence.RUNNING


NO_ROUTE = "lab host lab2 (root@192.0.2.12) does not answer over SSH: No route to host"


def silent_hosts(monkeypatch: pytest.MonkeyPatch, *names: str) -> list[str]:
    """lab_hosts.silent without SSH: the named hosts do not answer; returns the hosts asked about."""
    asked: list[str] = []

    def silent(host: LabHost) -> str | None:
        asked.append(host.name)
        return NO_ROUTE if host.name in names else None

    monkeypatch.setattr(lab_hosts, "silent", silent)
    return asked


def test_a_lab_host_that_stops_answering_during_up_fails_only_its_seats_and_is_named(
    tmp_path: Path, provisioned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, fakes = make_spread_lab(tmp_path)
    plan = lab.plan()  # lab2 answered when the plan was made
    fakes["lab2-vm"].unreachable = fakes["lab2-container"].unreachable = LAB2_OFF
    asked = silent_hosts(monkeypatch, "lab2")
    report = lab.up(plan, parallel=2, progress=lambda _: None)
    assert {o.machine: o.ok for o in report.outcomes} == {"s1-ct": True, "s1-vm": True, "s2-ct": False, "s2-vm": False}
    # The engine's own words name only a lost connection; the failure begins with the host that went away.
    assert {o.error for o in report.failed} == {
        f"its lab host lab2 does not answer: {NO_ROUTE} (then: {LAB2_OFF.message})"
    }
    assert asked == ["lab2", "lab2"]
    records = state.read(lab.state_dir).machines
    assert records["s2-vm"].failed and records["s2-vm"].provisioned_key is None


@pytest.mark.parametrize("lab2_cache", [True, False])
def test_each_machine_gets_the_apt_cache_of_its_own_lab_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lab2_cache: bool
) -> None:
    given: dict[str, object] = {}

    def fake_provision(room: Room, machine: str, *_: object, **options: object) -> ProvisionResult:
        given[machine] = options["apt_proxy"]
        return ProvisionResult(machine, True, 0)

    asked: list[str] = []

    def answers_on(host: LabHost) -> bool:
        asked.append(host.name)
        return host.is_local or lab2_cache

    monkeypatch.setattr(lab_module, "provision", fake_provision)
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    monkeypatch.setattr(apt_cache, "answers", lambda: True)
    monkeypatch.setattr(apt_cache, "answers_on", answers_on)
    lab, _ = make_spread_lab(tmp_path)
    messages: list[str] = []
    lab.up(lab.plan(), parallel=2, progress=messages.append)
    cache = "http://10.212.0.1:3142"  # the same address on every host: each host's own cache answers there
    assert given == {
        "s1-ct": cache,
        "s1-vm": cache,
        "s2-ct": cache if lab2_cache else "",
        "s2-vm": cache if lab2_cache else "",
    }
    assert sorted(asked) == ["here", "lab2"]  # each host once a run, however many of its machines provision
    warned = [m for m in messages if "apt cache" in m]
    assert warned == (
        []
        if lab2_cache
        else [
            "warning: the apt cache of lab host lab2 does not answer (`labtool hosts prepare demo` starts it): "
            "its machines use the mirror"
        ]
    )


def test_a_failure_on_a_lab_host_that_still_answers_keeps_its_own_words(
    tmp_path: Path, provisioned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, fakes = make_spread_lab(tmp_path)
    plan = lab.plan()
    fakes["lab2-vm"].unreachable = LAB2_OFF
    asked = silent_hosts(monkeypatch)
    report = lab.up(plan, parallel=2, progress=lambda _: None)
    # s2-ct's playbook fails (the fixture's "boom"), s2-vm's engine call fails: lab2 answers, so both keep theirs.
    assert [(o.machine, o.error) for o in report.failed] == [("s2-ct", "boom"), ("s2-vm", LAB2_OFF.message)]
    assert asked == ["lab2", "lab2"]

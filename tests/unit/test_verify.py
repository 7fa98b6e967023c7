"""verify's orchestration with fake machines, and the pytest/JUnit plumbing it relies on."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest
from testinfra.utils.ansible_runner import get_ansible_host  # type: ignore[import-untyped]

from labtool import state
from labtool import verify as verify_module
from labtool.backends.base import Backend, Observed, Presence
from labtool.backends.vagrant import known_hosts
from labtool.lab import Lab
from labtool.model import Kind, Machine
from labtool.parity.fingerprint import Fingerprint
from labtool.settings import Settings
from labtool.verify import CaseResult, MachineTests, case_name, load, not_running, parse_junit, verify
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">
<testcase classname="test_lab" name="test_healthz[ansible://seat01-ct]" time="0.51"/>
<testcase classname="test_lab" name="test_service_enabled_and_running[ansible://seat01-ct-nginx]" time="1.2">
<failure message="AssertionError: nginx is not running&#10;assert False">trace</failure></testcase>
<testcase classname="test_lab" name="test_skipped_one[ansible://seat01-ct]" time="0"><skipped message="no"/></testcase>
</testsuite></testsuites>"""


def test_junit_results_become_named_cases_without_the_host() -> None:
    cases = parse_junit(JUNIT, "seat01-ct")
    assert [(c.name, c.outcome) for c in cases] == [
        ("test_healthz", "passed"),
        ("test_service_enabled_and_running[nginx]", "failed"),
        ("test_skipped_one", "skipped"),
    ]
    assert cases[1].message == "AssertionError: nginx is not running"
    assert cases[1].seconds == 1.2


def test_a_host_name_inside_a_parameter_is_left_alone() -> None:
    assert case_name("test_x[ansible://seat01-vm-a]", "seat01-vm") == "test_x[a]"
    assert case_name("test_x[ansible://seat010-vm]", "seat01-vm") == "test_x[ansible://seat010-vm]"


def fake_fingerprint(machine: Machine, drifted: set[str]) -> Fingerprint:
    items = {"package:nginx": "1.0", "system:kernel_release": "6.1" if machine.kind is Kind.VM else "6.18"}
    if machine.name in drifted:
        items["package:nginx"] = "2.0"
    return Fingerprint(machine.name, items, {})


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    (tmp_path / "room").mkdir()
    room = paired_room(2, path=tmp_path / "room", seat_name=lambda i: f"seat{i:02d}")
    backends: dict[Kind, Backend] = {kind: FakeBackend(kind) for kind in Kind}
    for machine in room.machines:
        backends[machine.kind].running.add(machine.name)  # type: ignore[attr-defined]
    monkeypatch.setenv("LABTOOL_HOME", str(tmp_path / "home"))
    return Lab(Settings.from_env(), room, backends)


def fake_suite(failing: set[str]) -> object:
    def run(lab: Lab, machine: Machine, progress: object) -> MachineTests:
        outcome = "failed" if machine.name in failing else "passed"
        return MachineTests(machine.name, machine.kind, (CaseResult("test_healthz", outcome, 0.1),), 1.0)

    return run


def test_a_clean_room_verifies_ok_and_the_report_is_kept(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "_run_suite", fake_suite(set()))
    monkeypatch.setattr(verify_module, "collect", lambda backend, room, m, files, **app: fake_fingerprint(m, set()))
    report = verify(lab, None, parallel=4, progress=lambda _: None)
    assert report.ok
    assert [m.machine for m in report.machines] == ["seat01-vm", "seat01-ct", "seat02-vm", "seat02-ct"]
    assert [(s.seat, len(s.expected)) for s in report.seats] == [("seat01", 1), ("seat02", 1)]
    assert load(lab.state_dir) == report


def test_drift_on_one_seat_fails_verify_and_names_seat_and_item(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "_run_suite", fake_suite(set()))
    monkeypatch.setattr(
        verify_module, "collect", lambda backend, room, m, files, **app: fake_fingerprint(m, {"seat02-ct"})
    )
    report = verify(lab, None, parallel=2, progress=lambda _: None)
    assert not report.ok
    seat01, seat02 = report.seats
    assert seat01.ok
    assert [(d.item, d.vm, d.container) for d in seat02.drift] == [("package:nginx", "1.0", "2.0")]


def test_a_failing_test_fails_verify(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "_run_suite", fake_suite({"seat01-vm"}))
    monkeypatch.setattr(verify_module, "collect", lambda backend, room, m, files, **app: fake_fingerprint(m, set()))
    report = verify(lab, ["seat01"], parallel=2, progress=lambda _: None)
    assert not report.ok
    assert [m.machine for m in report.machines if not m.ok] == ["seat01-vm"]
    assert [s.seat for s in report.seats] == ["seat01"]


def test_a_machine_that_is_not_running_is_reported_not_skipped(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "_run_suite", fake_suite(set()))
    monkeypatch.setattr(verify_module, "collect", lambda backend, room, m, files, **app: fake_fingerprint(m, set()))
    lab.backends[Kind.CONTAINER].running.discard("seat01-ct")  # type: ignore[attr-defined]
    report = verify(lab, None, parallel=2, progress=lambda _: None)
    assert not report.ok
    stopped = report.machine("seat01-ct")
    assert stopped is not None and "absent" in stopped.error and "labtool up" in stopped.error
    seat = report.seat("seat01")
    assert seat is not None and seat.error == "not compared: seat01-ct not running"


def test_a_machine_whose_lab_host_does_not_answer_is_reported_with_the_host(tmp_path: Path) -> None:
    lab = Lab(Settings.from_env({"LABTOOL_HOME": str(tmp_path)}), paired_room(1), {})
    machine = lab.room.machines[0]
    why = "its lab host lab2 does not answer: ssh: connect to host 192.0.2.12 port 22: No route to host"
    assert not_running(lab, machine, Observed(machine.name, Presence.UNKNOWN, note=why)).error == f"unknown: {why}"
    absent = not_running(lab, machine, Observed(machine.name, Presence.ABSENT)).error
    assert absent == "absent: bring it up with `labtool up demo`"


def test_no_kept_report_reads_as_none(tmp_path: Path) -> None:
    assert load(tmp_path) is None
    (tmp_path / "verify.json").write_text("{not json")
    assert load(tmp_path) is None


def test_verify_refuses_to_run_while_another_labtool_changes_the_room(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "_run_suite", fake_suite(set()))
    monkeypatch.setattr(verify_module, "collect", lambda backend, room, m, files, **app: fake_fingerprint(m, set()))
    with state.locked(lab.state_dir, "room 'demo'"), pytest.raises(state.BusyError, match="is locked by pid"):
        verify(lab, None, parallel=2, progress=lambda _: None)


def test_both_machines_of_a_seat_are_fingerprinted_on_the_files_either_run_managed(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = state.RoomState()
    records.record("seat01-vm").managed_files = ["/etc/a.conf", "/etc/vm-only.conf"]
    records.record("seat01-ct").managed_files = ["/etc/a.conf", "/etc/ct-only.conf"]
    state.write(lab.state_dir, records)
    asked: dict[str, tuple[list[str], dict[str, object]]] = {}

    def fake_collect(backend: object, room: object, m: Machine, files: list[str], **app: object) -> Fingerprint:
        asked[m.name] = (files, app)
        return fake_fingerprint(m, set())

    monkeypatch.setattr(verify_module, "_run_suite", fake_suite(set()))
    monkeypatch.setattr(verify_module, "collect", fake_collect)
    verify(lab, None, parallel=2, progress=lambda _: None)
    both = ["/etc/a.conf", "/etc/ct-only.conf", "/etc/vm-only.conf"]
    assert asked["seat01-vm"][0] == asked["seat01-ct"][0] == both
    assert asked["seat02-vm"][0] == []  # never provisioned: nothing recorded, nothing guessed
    # The reference course used by the unit rooms names no app: none is probed.
    assert asked["seat01-vm"][1] == {"fingerprint_url": None, "page_url": None, "page_ignore_id": None}


def test_testinfra_reaches_a_vm_with_its_rooms_host_key_options(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's environment adds shared connections but keeps each VM's host key options from the inventory."""
    known = Path("/home/l/rooms/my room/known_hosts")
    hostvars = {
        "seat01-vm": {
            "ansible_host": "10.214.42.7",
            "ansible_user": "vagrant",
            "ansible_ssh_common_args": known_hosts.common_args(known, "seat01-vm"),
        }
    }
    for name, value in verify_module.suite_env(lab).items():
        monkeypatch.setenv(name, value)
    inventory = {"all": {"hosts": ["seat01-vm"]}, "_meta": {"hostvars": hostvars}}
    host = get_ansible_host(configparser.ConfigParser(), inventory, "seat01-vm")
    assert host is not None
    words, args = host.backend._build_ssh_command("true")
    argv = shlex.split(" ".join(words) % tuple(shlex.quote(a) for a in args))
    options = known_hosts.ssh_options(known, "seat01-vm")
    assert any(argv[i : i + len(options)] == options for i in range(len(argv))), argv
    assert "ControlPath=/tmp/labtool-ssh-%C" in argv

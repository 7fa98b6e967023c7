"""labtool.yml's `hosts:` and a host's facts as its own commands print them."""

from __future__ import annotations

from typing import Any

import pytest

from labtool import lab_hosts
from labtool.errors import LabtoolError
from labtool.model import THIS_HOST, LabHost

WHERE = "inventories/r/labtool.yml"


def read(raw: Any) -> tuple[tuple[LabHost, ...], list[str]]:
    problems: list[str] = []
    return lab_hosts.read(raw, WHERE, problems), problems


def test_no_section_is_this_machine_alone() -> None:
    assert read(None) == ((THIS_HOST,), [])


def test_hosts_are_read_in_order_here_without_ssh() -> None:
    hosts, problems = read([{"name": "here"}, {"name": "lab2", "ssh": "root@192.0.2.12"}])
    assert problems == [] and hosts == (THIS_HOST, LabHost("lab2", "root@192.0.2.12"))
    assert not hosts[1].is_local


def test_another_hosts_students_reach_it_at_its_ssh_address_unless_another_is_given() -> None:
    hosts, problems = read(
        [
            {"name": "lab2", "ssh": "root@192.0.2.12"},
            {"name": "lab3", "ssh": "root@lab3.example", "address": "198.51.100.3"},
            {"name": "lab4", "ssh": "root@lab4.example"},
        ]
    )
    assert problems == []
    assert [h.student_address for h in hosts] == ["192.0.2.12", "198.51.100.3", None]
    assert THIS_HOST.student_address is None  # this machine's is the access section's own
    lab_hosts.check_access(hosts, WHERE, problems)
    assert problems == [
        f"{WHERE}: hosts[2].address: missing: the room publishes access (access:) and lab4's ssh (root@lab4.example) "
        "names no IP address; give the address students reach lab4 at"
    ]


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("lab2", "hosts: must be a list of hosts"),
        ([], "hosts: must be a list of hosts"),
        (["lab2"], "hosts[0]: must be a mapping"),
        ([{"name": "Lab2", "ssh": "root@x"}], 'hosts[0].name: "Lab2" is not a host name'),
        ([{"name": "lab2"}], "hosts[0].ssh: null is not an SSH destination"),
        ([{"name": "lab2", "ssh": "192.0.2.12; rm -rf /"}], "is not an SSH destination"),
        ([{"name": "lab2", "ssh": "-oProxyCommand=x@y"}], "is not an SSH destination"),
        ([{"name": "here", "ssh": "root@192.0.2.12"}], "hosts[0].ssh: 'here' is this machine"),
        ([{"name": "here", "address": "192.0.2.10"}], "its students' address is access.address"),
        ([{"name": "lab2", "ssh": "root@a", "address": "0.0.0.0"}], 'hosts[0].address: "0.0.0.0" is not one address'),
        ([{"name": "lab2", "ssh": "root@a", "address": "lab2.example"}], "give the IP address students reach lab2"),
        ([{"name": "lab2", "ssh": "root@a", "port": 22}], "hosts[0].port: unknown key"),
        ([{"name": "lab2", "ssh": "root@a"}, {"name": "lab2", "ssh": "root@b"}], "'lab2' is listed twice"),
    ],
)
def test_a_bad_hosts_section_names_the_entry_and_the_fix(raw: Any, said: str) -> None:
    _, problems = read(raw)
    assert problems and all(p.startswith(f"{WHERE}: hosts") for p in problems)
    assert any(said in p for p in problems), problems


MEMINFO = "MemTotal:       24683772 kB\nMemFree:        20703004 kB\nMemAvailable:   21000000 kB\n"
FLAGS = "flags\t\t: fpu vme de pse tsc msr\n"
DF_POOL = "/dev/vda 263174212 100 77341622 1% /\n"
DF_DOCKER = "/dev/vdb 1000 100 900 10% /var/lib/docker\n"


def fake_facts(monkeypatch: pytest.MonkeyPatch, text: str | LabtoolError, docker: str = "ok") -> None:
    def facts_text(host: LabHost) -> str:
        if isinstance(text, LabtoolError):
            raise text
        return text

    monkeypatch.setattr(lab_hosts, "_facts_text", facts_text)
    monkeypatch.setattr(lab_hosts, "_docker", lambda host: docker)
    monkeypatch.setattr(lab_hosts, "_libvirt", lambda host: "ok")


def test_a_hosts_facts_come_from_its_own_files(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_facts(monkeypatch, "@@".join([MEMINFO, FLAGS, "", DF_POOL, DF_DOCKER, "/usr/bin/socat\n", "apt-cache\n"]))
    [facts] = lab_hosts.survey([LabHost("lab2", "root@192.0.2.12")])
    assert facts.apt_cache is True and facts.as_json()["apt_cache"] is True
    assert facts.ok and facts.accel == "tcg" and facts.memory_available == 21000000 * 1024
    assert facts.disks == {"vm": 77341622 * 1024, "container": 900 * 1024}
    assert facts.as_json()["ssh"] == "root@192.0.2.12" and facts.as_json()["socat"] is True
    fake_facts(monkeypatch, "@@".join([MEMINFO, FLAGS, "", DF_POOL, DF_DOCKER, ""]))
    without = lab_hosts.facts(LabHost("lab2", "root@192.0.2.12"))
    assert without.socat is False and without.apt_cache is False


def test_kvm_is_named_only_where_the_cpu_and_the_device_both_have_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_facts(monkeypatch, "@@".join([MEMINFO, "flags\t: fpu vmx\n", "kvm\n", DF_POOL, DF_DOCKER]))
    assert lab_hosts.facts(LabHost("lab2", "root@a")).accel == "kvm"
    fake_facts(monkeypatch, "@@".join([MEMINFO, "flags\t: fpu vmx\n", "", DF_POOL, DF_DOCKER]))
    assert lab_hosts.facts(LabHost("lab2", "root@a")).accel == "tcg"


def test_a_host_that_does_not_answer_is_named_and_the_others_are_surveyed(monkeypatch: pytest.MonkeyPatch) -> None:
    def facts_text(host: LabHost) -> str:
        if host.name == "lab3":
            raise LabtoolError("lab host lab3 (root@b) does not answer over SSH: Connection refused")
        return "@@".join([MEMINFO, FLAGS, "", DF_POOL, ""])

    monkeypatch.setattr(lab_hosts, "_facts_text", facts_text)
    monkeypatch.setattr(lab_hosts, "_docker", lambda host: "ok")
    monkeypatch.setattr(lab_hosts, "_libvirt", lambda host: "ok")
    lab2, lab3 = lab_hosts.survey([LabHost("lab2", "root@a"), LabHost("lab3", "root@b")])
    assert lab2.ok and lab2.disks == {"vm": 77341622 * 1024}  # Docker's root is missing there: left out
    assert not lab3.ok and "Connection refused" in lab3.error and lab3.as_json()["memory_available"] is None


def test_a_host_whose_engine_does_not_answer_is_not_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_facts(monkeypatch, "@@".join([MEMINFO, FLAGS, "", DF_POOL, DF_DOCKER]), docker="no Docker engine answers")
    assert not lab_hosts.facts(LabHost("lab2", "root@a")).ok


def test_a_command_runs_as_is_here_and_over_key_only_ssh_on_another_host() -> None:
    command = ["qemu-img", "info", "/var/lib/libvirt/images/a b.img"]
    assert THIS_HOST.argv(command) == command
    remote = LabHost("lab2", "root@192.0.2.12").argv(command)
    assert remote[0] == "ssh" and "BatchMode=yes" in remote and remote[-2] == "root@192.0.2.12"
    assert remote[-1] == "qemu-img info '/var/lib/libvirt/images/a b.img'"


def test_labtool_host_pins_a_seat_and_a_bad_pin_names_the_machine_and_the_hosts() -> None:
    from tests.unit.rooms import paired_room

    seats = paired_room(3).seats
    hosts = (THIS_HOST, LabHost("lab2", "root@192.0.2.12"))
    hostvars = {"s1-ct": {"labtool_host": "lab2"}, "s2-vm": {"labtool_host": "lab9"}, "s3-vm": {"labtool_host": "here"}}
    hostvars["s3-ct"] = {"labtool_host": "lab2"}
    problems: list[str] = []
    pinned = lab_hosts.pin(seats, hostvars, hosts, "inventories/r/hosts.yml", problems)
    assert [s.pinned_host for s in pinned] == ["lab2", None, None]
    assert problems == [
        'inventories/r/hosts.yml: host s2-vm: labtool_host: "lab9" is not a lab host of the room; '
        "name one listed under hosts: in labtool.yml (here, lab2)",
        "inventories/r/hosts.yml: seat s3: labtool_host differs between s3-ct and s3-vm; a seat's two machines "
        "share a host: set it on one machine of the seat, or the same on both",
    ]


def test_silent_names_why_another_host_does_not_answer_and_never_asks_this_one(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str]] = []

    def facts_text(host: LabHost, command: str) -> str:
        asked.append((host.name, command))
        if host.name == "lab3":
            raise LabtoolError("lab host lab3 (root@b) does not answer over SSH: No route to host")
        return ""

    monkeypatch.setattr(lab_hosts, "_facts_text", facts_text)
    assert lab_hosts.silent(THIS_HOST) is None
    assert lab_hosts.silent(LabHost("lab2", "root@a")) is None
    assert (
        lab_hosts.silent(LabHost("lab3", "root@b"))
        == "lab host lab3 (root@b) does not answer over SSH: No route to host"
    )
    assert asked == [("lab2", "true"), ("lab3", "true")]

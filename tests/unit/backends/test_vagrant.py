import dataclasses
import json
import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtool import proc
from labtool.backends import vagrant
from labtool.errors import DaemonError
from labtool.host import addresses
from labtool.host.accel import Accel
from labtool.model import Access, VmResources
from tests.unit.rooms import paired_room

ROOM = paired_room(vm=VmResources(2, 2048), index=42)
SSH = {"HostName": "10.214.42.7", "Port": "22", "User": "vagrant", "IdentityFile": "/keys/private_key"}


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> vagrant.VagrantBackend:
    monkeypatch.setattr(vagrant.VagrantProject, "ssh_config", lambda self, name: SSH)
    return vagrant.VagrantBackend(tmp_path, Accel("qemu", "qemu64", "test"))


def test_exec_quotes_the_command_into_one_remote_shell_line(backend: vagrant.VagrantBackend) -> None:
    argv = backend.shell_argv(ROOM, ROOM.seats[0].vm, ["sh", "-c", "echo $(hostname) it's"])
    assert argv[-2] == "vagrant@10.214.42.7"
    assert shlex.split(argv[-1]) == ["sh", "-c", "echo $(hostname) it's"]
    assert "-t" not in argv


def test_ssh_without_a_command_asks_for_a_terminal(backend: vagrant.VagrantBackend) -> None:
    argv = backend.shell_argv(ROOM, ROOM.seats[0].vm, [])
    assert argv[-1] == "vagrant@10.214.42.7"
    assert "-t" in argv and "/keys/private_key" in argv


def test_connection_comes_from_vagrant_ssh_config(backend: vagrant.VagrantBackend) -> None:
    connection = backend.connection(ROOM, ROOM.seats[0].vm)
    assert connection["ansible_host"] == "10.214.42.7"
    assert connection["ansible_port"] == 22
    assert connection["ansible_ssh_private_key_file"] == "/keys/private_key"


def test_each_room_gets_its_own_vagrant_environment_network_and_prefix(
    backend: vagrant.VagrantBackend, tmp_path: Path
) -> None:
    project = backend.project(ROOM)
    assert project.state_dir == tmp_path / "demo" / "vagrant"
    assert project.network == vagrant.Network("labtool-demo", "10.214.42.0/24")
    assert project.domain_name("s1-vm") == "labtool-demo_s1-vm"
    project.define([vagrant.VmSpec("s1-vm", 2, 2048)])
    assert project.env["LABTOOL_MACHINES"] == str(project.machines_file)
    assert '"memory": 2048' in project.machines_file.read_text()


def test_the_rooms_first_vm_starts_alone_until_its_domain_runs_then_the_others_in_parallel(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = paired_room(3, index=43)
    running: set[str] = set()
    events: list[str] = []
    lock = threading.Lock()

    def fake_up(self: vagrant.VagrantProject, name: str) -> None:
        with lock:
            events.append(f"start {name}")
        time.sleep(0.3)  # box upload, network, domain definition
        with lock:
            running.add(self.domain_name(name))
        time.sleep(0.3)  # the guest boots
        with lock:
            events.append(f"end {name}")

    def fake_virsh(*args: str, check: bool = True) -> str:
        with lock:
            return "running" if args[0] == "domstate" and args[1] in running else "shut off"

    monkeypatch.setattr(vagrant.VagrantProject, "up", fake_up)
    monkeypatch.setattr(vagrant, "_virsh", fake_virsh)
    monkeypatch.setattr(vagrant, "FIRST_UP_POLL_SECONDS", 0.02)
    vms = [seat.vm for seat in room.seats]
    threads = [threading.Thread(target=backend.bring_up, args=(room, [vm])) for vm in vms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = events[0].split()[1]
    assert events.index(f"end {first}") > 1  # the others started before the first finished booting
    assert len([e for e in events[:3] if e.startswith("start")]) == 3
    assert sorted(e for e in events if e.startswith("end")) == sorted(f"end {vm.name}" for vm in vms)


def test_a_failing_first_vm_fails_its_own_bring_up_only(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = paired_room(2, index=44)

    def fake_up(self: vagrant.VagrantProject, name: str) -> None:
        if name == "s1-vm":
            raise vagrant.VagrantError("vagrant failed to start the VM s1-vm (exit 1)")

    monkeypatch.setattr(vagrant.VagrantProject, "up", fake_up)
    monkeypatch.setattr(vagrant, "_virsh", lambda *args, check=True: "shut off")
    with pytest.raises(vagrant.VagrantError):
        backend.bring_up(room, [room.seats[0].vm])
    backend.bring_up(room, [room.seats[1].vm])  # the room's shared resources are no longer waited for


def test_libvirt_not_answering_is_one_error_naming_labtool_daemons(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = (
        "error: failed to connect to the hypervisor\n"
        "error: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory\n"
    )
    monkeypatch.setattr(proc, "run", lambda argv, **options: proc.Result(tuple(argv), 1, "", stderr, 0.1))
    with pytest.raises(DaemonError) as caught:
        backend.observe(ROOM)
    assert caught.value.message == (
        "libvirtd does not answer at qemu:///system (Failed to connect socket to "
        "'/var/run/libvirt/libvirt-sock': No such file or directory)"
    )
    assert "labtool daemons" in caught.value.hint


class FakeLibvirt:
    """virsh as vagrant-libvirt leaves it: domains by state, volumes in the pool."""

    def __init__(self, domains: dict[str, str], volumes: set[str]) -> None:
        self.domains, self.volumes = domains, volumes
        self.calls: list[tuple[str, ...]] = []

    def virsh(self, *args: str, check: bool = True) -> str:
        self.calls.append(args)
        if args[0] == "domstate":
            return self.domains.get(args[1], "")
        if args[0] == "vol-info":
            return f"Name: {args[-1]}\n" if args[-1] in self.volumes else ""
        if args[0] == "undefine":
            self.domains.pop(args[1], None)
            self.volumes.discard(f"{args[1]}.img")
        return ""


def test_a_vm_undefined_behind_labtools_back_is_cleared_from_vagrant_before_it_is_made_again(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    libvirt = FakeLibvirt({}, {"labtool-demo_s1-vm.img"})  # `virsh undefine` keeps the disk volume
    events: list[str] = []
    monkeypatch.setattr(vagrant, "_virsh", libvirt.virsh)
    monkeypatch.setattr(vagrant.VagrantProject, "destroy", lambda self, name=None: events.append(f"destroy {name}"))
    monkeypatch.setattr(vagrant.VagrantProject, "up", lambda self, name: events.append(f"up {name}"))
    monkeypatch.setattr(vagrant, "FIRST_UP_POLL_SECONDS", 0.01)
    backend.bring_up(ROOM, [ROOM.seats[0].vm])
    # vagrant-libvirt would refuse to make the VM over the old volume: `vagrant destroy` removes it first.
    assert events == ["destroy s1-vm", "up s1-vm"]

    events.clear()
    libvirt.volumes.clear()
    backend.bring_up(ROOM, [ROOM.seats[1].vm])  # nothing left behind: nothing to clear
    assert events == ["up s2-vm"]


def test_a_running_vm_started_by_a_stopped_labtool_is_waited_for_until_ssh_answers(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    libvirt = FakeLibvirt({"labtool-demo_s1-vm": "running"}, {"labtool-demo_s1-vm.img"})
    answers: Iterator[Exception | str] = iter([vagrant.VagrantError("not ready"), vagrant.VagrantError("no"), "ok"])
    tries: list[str] = []

    def fake_ssh(self: vagrant.VagrantProject, name: str, command: str) -> str:
        tries.append(command)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(vagrant, "_virsh", libvirt.virsh)
    monkeypatch.setattr(vagrant.VagrantProject, "up", lambda self, name: None)
    monkeypatch.setattr(vagrant.VagrantProject, "ssh", fake_ssh)
    monkeypatch.setattr(vagrant, "READY_POLL_SECONDS", 0.01)
    backend._shared_ready.add(ROOM.name)
    backend.bring_up(ROOM, [ROOM.seats[0].vm])
    assert tries == ["true", "true", "true"]


def test_destroy_removes_a_domain_vagrant_never_recorded(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `vagrant up` killed after defining the domain, before writing its id: `vagrant destroy` does not know it.
    libvirt = FakeLibvirt({"labtool-demo_s1-vm": "running"}, {"labtool-demo_s1-vm.img"})
    monkeypatch.setattr(vagrant, "_virsh", libvirt.virsh)
    monkeypatch.setattr(vagrant.VagrantProject, "destroy", lambda self, name=None: None)
    backend.destroy(ROOM, [ROOM.seats[0].vm])
    assert ("destroy", "labtool-demo_s1-vm") in libvirt.calls
    assert ("undefine", "labtool-demo_s1-vm", "--remove-all-storage") in libvirt.calls
    assert libvirt.domains == {} and libvirt.volumes == set()


def test_a_room_with_access_forwards_each_vms_ssh_and_app_to_its_address_only(
    backend: vagrant.VagrantBackend, tmp_path: Path
) -> None:
    room = dataclasses.replace(ROOM, access=Access("127.0.0.1", 31000))
    project = backend.project(room)
    project.define(vagrant._specs(room))
    machines = json.loads(project.machines_file.read_text())["machines"]
    assert [m["forwarded_ports"] for m in machines] == [
        [
            {"id": "labtool-ssh", "guest": 22, "host": 31002, "host_ip": "127.0.0.1"},
            {"id": "labtool-http", "guest": 80, "host": 31003, "host_ip": "127.0.0.1"},
        ],
        [
            {"id": "labtool-ssh", "guest": 22, "host": 31006, "host_ip": "127.0.0.1"},
            {"id": "labtool-http", "guest": 80, "host": 31007, "host_ip": "127.0.0.1"},
        ],
    ]
    assert vagrant.forwarded_ports(ROOM, ROOM.seats[0].vm) == ()


def test_a_forward_that_never_listens_fails_the_vm_with_the_port_named(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = dataclasses.replace(ROOM, access=Access("127.0.0.1", 31000))
    monkeypatch.setattr(vagrant, "FORWARD_WAIT_SECONDS", 0.0)
    monkeypatch.setattr(addresses, "listens", lambda address, port, timeout: port != 31003)
    with pytest.raises(vagrant.VagrantError, match=r"s1-vm's port 80 is not published on 127.0.0.1:31003"):
        vagrant._wait_for_forwards(backend.project(room), room, room.seats[0].vm)
    vagrant._wait_for_forwards(backend.project(ROOM), ROOM, ROOM.seats[0].vm)  # nothing published: nothing to wait for

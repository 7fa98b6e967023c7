import dataclasses
import json
import re
import shlex
import stat
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from labtool import proc
from labtool.backends.vagrant import address_guard, forwards, known_hosts
from labtool.backends.vagrant import backend as vagrant
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.accel import Accel
from labtool.backends.vagrant.known_hosts import HostKey, HostKeyChangedError
from labtool.backends.vagrant.libvirt import Virsh
from labtool.errors import CommandError, DaemonError
from labtool.model import THIS_HOST, Access, LabHost, Machine, Room, VmResources
from tests.unit.backends.vagrant.test_known_hosts import key
from tests.unit.rooms import paired_room

ROOM = paired_room(vm=VmResources(2, 2048), index=42)
REAL_VIRSH = Virsh.__call__


def use_virsh(monkeypatch: pytest.MonkeyPatch, answer: Callable[..., str]) -> None:
    """Every virsh call of the test (on any host) is answered by `answer(*args, check=...)`."""
    monkeypatch.setattr(
        Virsh, "__call__", lambda self, *args, check=True, log=None, timeout=0: answer(*args, check=check)
    )


INSECURE = key("ssh-rsa", "vagrant insecure")


class Guests:
    """The VMs' side of SSH, as ssh-keyscan and ssh would find it: each VM's address and keys."""

    def __init__(self, dotfiles: Path) -> None:
        self.dotfiles = dotfiles
        self.offered: dict[str, set[HostKey]] = {}
        """Host keys each VM's sshd offers (by machine name)."""
        self.held: dict[str, set[HostKey]] = {}
        """Host keys in each VM's /etc/ssh, when not the offered ones."""
        self.authorized: dict[str, set[HostKey]] = {}
        self.scans: list[str] = []
        self.connections: list[list[str]] = []
        self.guarded: list[str] = []
        self.released: list[str] = []
        self.unreachable: dict[str, int] = {}
        """Machines whose sshd does not answer yet (still booting): how many more connections fail."""

    def boot(self, name: str, *keys: HostKey) -> None:
        self.offered[name] = set(keys)
        self.held.pop(name, None)

    def address(self, name: str) -> str:
        return f"10.214.42.{list(self.offered).index(name) + 10}"

    def ssh_config(self, project: vagrant.VagrantProject, name: str) -> dict[str, str]:
        private_key = project.dotfile_dir / "machines" / name / "libvirt" / "private_key"
        if not private_key.exists():
            private_key.parent.mkdir(parents=True)
            private_key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
            private_key.chmod(0o644)
        return {"HostName": self.address(name), "Port": "22", "User": "vagrant", "IdentityFile": str(private_key)}

    def scan(self, address: str, port: int, via: str | None = None) -> set[HostKey]:
        self.scans.append(address)
        return next((keys for name, keys in self.offered.items() if self.address(name) == address), set())

    def run(self, argv: Sequence[str], **kwargs: Any) -> proc.Result:
        """ssh as it behaves with labtool's options: strict, against the file and alias they name."""
        if argv[0] != "ssh":  # vagrant's own commands (`vagrant ssh -c true` while a VM boots) just answer
            return proc.Result(tuple(argv), 0, "", "", 0.1)
        self.connections.append(list(argv))
        options = dict(argv[i + 1].split("=", 1) for i, word in enumerate(argv) if word == "-o")
        assert options["StrictHostKeyChecking"] == "yes"
        name = options["HostKeyAlias"]
        if self.unreachable.get(name, 0) > 0:
            self.unreachable[name] -= 1
            return proc.Result(tuple(argv), 255, "", "ssh: connect to host: Connection refused\n", 0.1)
        recorded = known_hosts.KnownHosts(Path(options["UserKnownHostsFile"])).keys(name)
        if not self.offered[name] <= recorded:
            return proc.Result(tuple(argv), 255, "", "Host key verification failed.\n", 0.1)
        held = self.held.get(name, self.offered[name])
        authorized = self.authorized.get(name, {key("ssh-ed25519", f"inserted for {name}")})
        pub = "".join(f"{k.kind} {k.blob} root@{name}\n" for k in held)
        keys = "".join(f"{k.kind} {k.blob}\n" for k in authorized)
        return proc.Result(tuple(argv), 0, f"{pub}---\n{keys}", "", 0.1)


@pytest.fixture
def guests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Guests:
    world = Guests(tmp_path)
    for machine in (seat.vm for seat in paired_room(3).seats):
        world.boot(machine.name, key("ssh-ed25519", machine.name), key("ssh-rsa", machine.name))
    insecure = tmp_path / "vagrant.pub"
    insecure.write_text(f"{INSECURE.kind} {INSECURE.blob} vagrant insecure public key\n")

    def ssh_config(project: vagrant.VagrantProject, name: str) -> dict[str, str]:
        return world.ssh_config(project, name)

    monkeypatch.setattr(vagrant.VagrantProject, "ssh_config", ssh_config)
    monkeypatch.setattr(vagrant.VagrantProject, "up", lambda self, name: None)
    monkeypatch.setattr(vagrant.VagrantProject, "destroy", lambda self, name=None: None)
    monkeypatch.setattr(known_hosts, "scan", world.scan)
    monkeypatch.setattr(proc, "run", world.run)
    monkeypatch.setattr(vagrant_box, "insecure_public_key", lambda: insecure)
    use_virsh(monkeypatch, lambda *args, check=True: "")  # no domain yet: `up` creates

    # The address filter has tests of its own (test_address_guard.py); here it records whom it filtered.
    def guard(virsh: Any, domain: str, network: str) -> str:
        world.guarded.append(domain)
        return ""

    monkeypatch.setattr(address_guard, "guard", guard)
    monkeypatch.setattr(address_guard, "mac_on", lambda virsh, domain, network: f"mac of {domain}")
    monkeypatch.setattr(address_guard, "release", lambda virsh, network, mac: world.released.append(mac))
    return world


@pytest.fixture
def backend(tmp_path: Path, guests: Guests) -> vagrant.VagrantBackend:
    return vagrant.VagrantBackend(THIS_HOST, tmp_path, Accel("qemu", "qemu64", "test"))


VM = ROOM.seats[0].vm


def domains(*machines: Machine) -> Any:
    """A fake virsh that knows these machines' domains (they exist: `up` starts rather than creates)."""
    names = "\n".join(f"labtool-demo_{m.name}" for m in machines)
    return lambda *args, check=True: names if args[0] == "list" else "running"


def test_exec_quotes_the_command_into_one_remote_shell_line(backend: vagrant.VagrantBackend) -> None:
    argv = backend.shell_argv(ROOM, ROOM.seats[0].vm, ["sh", "-c", "echo $(hostname) it's"])
    assert argv[-2] == "vagrant@10.214.42.10"
    assert shlex.split(argv[-1]) == ["sh", "-c", "echo $(hostname) it's"]
    assert "-t" not in argv


def test_ssh_without_a_command_asks_for_a_terminal(backend: vagrant.VagrantBackend) -> None:
    argv = backend.shell_argv(ROOM, ROOM.seats[0].vm, [])
    assert argv[-1] == "vagrant@10.214.42.10"
    assert "-t" in argv and argv[argv.index("-i") + 1].endswith("/machines/s1-vm/libvirt/private_key")


def test_connection_comes_from_vagrant_ssh_config(backend: vagrant.VagrantBackend) -> None:
    connection = backend.connection(ROOM, ROOM.seats[0].vm)
    assert connection["ansible_host"] == "10.214.42.10"
    assert connection["ansible_port"] == 22
    assert str(connection["ansible_ssh_private_key_file"]).endswith("/machines/s1-vm/libvirt/private_key")


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


@pytest.fixture
def boots(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fake `vagrant up`s that take their time, in order: "start D" (the box upload, the domain defined),
    "running D" (what virsh then says), "end D" (the guest has booted), D being the domain."""
    running: set[str] = set()
    events: list[str] = []
    lock = threading.Lock()

    def fake_up(self: vagrant.VagrantProject, name: str) -> None:
        domain = self.domain_name(name)
        for event, seconds in (("start", 0.3), ("running", 0.3), ("end", 0.0)):
            with lock:
                events.append(f"{event} {domain}")
                if event == "running":
                    running.add(domain)
            time.sleep(seconds)

    def fake_virsh(*args: str, check: bool = True) -> str:
        with lock:
            return "running" if args[0] == "domstate" and args[1] in running else "shut off"

    monkeypatch.setattr(vagrant.VagrantProject, "up", fake_up)
    use_virsh(monkeypatch, fake_virsh)
    monkeypatch.setattr(vagrant, "FIRST_UP_POLL_SECONDS", 0.02)
    return events


def all_at_once(calls: list[tuple[vagrant.VagrantBackend, Room, Machine]]) -> None:
    threads = [threading.Thread(target=backend.bring_up, args=(room, [vm])) for backend, room, vm in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_the_rooms_first_vm_starts_alone_until_its_domain_runs_then_the_others_in_parallel(
    backend: vagrant.VagrantBackend, boots: list[str]
) -> None:
    room = paired_room(3, index=43)
    all_at_once([(backend, room, seat.vm) for seat in room.seats])
    first = boots[0].split()[1]
    assert boots[1] == f"running {first}"  # alone until its domain runs ...
    assert boots.index(f"end {first}") > 3  # ... and the others started before it finished booting
    assert len([e for e in boots if e.startswith("end")]) == 3


def test_two_rooms_first_vms_upload_the_box_one_after_the_other(
    tmp_path: Path, guests: Guests, boots: list[str]
) -> None:
    """Two labtools (two backends on one LABTOOL_HOME), one room each: vagrant-libvirt's own lock on the
    box upload is in-process only, so the second room's first VM waits until the first's domain runs."""
    rooms = [paired_room(1, index=45, name="one"), paired_room(1, index=46, name="two")]
    all_at_once(
        [
            (vagrant.VagrantBackend(THIS_HOST, tmp_path, Accel("qemu", "qemu64", "test")), r, r.seats[0].vm)
            for r in rooms
        ]
    )
    uploads = [e.split()[0] for e in boots if not e.startswith("end")]
    assert uploads == ["start", "running", "start", "running"], boots
    assert not (tmp_path / "one" / ".lock").exists()  # a host-wide lock, not a room's


def test_a_failing_first_vm_fails_its_own_bring_up_only(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = paired_room(2, index=44)

    def fake_up(self: vagrant.VagrantProject, name: str) -> None:
        if name == "s1-vm":
            raise vagrant.VagrantError("vagrant failed to start the VM s1-vm (exit 1)")

    monkeypatch.setattr(vagrant.VagrantProject, "up", fake_up)
    use_virsh(monkeypatch, lambda *args, check=True: "shut off")
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
    monkeypatch.setattr(Virsh, "__call__", REAL_VIRSH)
    with pytest.raises(DaemonError) as caught:
        backend.observe(ROOM)
    assert caught.value.message == (
        "libvirtd does not answer at qemu:///system (Failed to connect socket to "
        "'/var/run/libvirt/libvirt-sock': No such file or directory)"
    )
    assert "labtool daemons" in caught.value.hint


class FakeLibvirt:
    """virsh as vagrant-libvirt leaves it: domains by state, volumes in the pool."""

    def __init__(self, domains: dict[str, str], volumes: set[str], snapshots: set[str] | None = None) -> None:
        self.domains, self.volumes = domains, volumes
        self.snapshots = snapshots or set()
        """Snapshot names, of any domain."""
        self.calls: list[tuple[str, ...]] = []

    def virsh(self, *args: str, check: bool = True) -> str:
        self.calls.append(args)
        if args[0] == "snapshot-list":
            return "\n".join(sorted(self.snapshots)) + "\n"
        if args[0] == "snapshot-delete":
            self.snapshots.discard(args[-1])
        if args[0] == "undefine" and self.snapshots:
            raise AssertionError("libvirt refuses to undefine a domain that has snapshots")
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
    use_virsh(monkeypatch, libvirt.virsh)
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


def test_a_running_vm_started_by_a_stopped_labtool_is_waited_for_over_strict_ssh(
    backend: vagrant.VagrantBackend, guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = ROOM.seats[0].vm
    backend.known_hosts(ROOM).record(vm.name, guests.offered[vm.name])
    guests.unreachable[vm.name] = 2  # still booting: its sshd refuses two connections
    use_virsh(monkeypatch, FakeLibvirt({"labtool-demo_s1-vm": "running"}, set()).virsh)
    monkeypatch.setattr(vagrant, "READY_POLL_SECONDS", 0.01)
    backend._shared_ready.add(ROOM.name)
    backend.bring_up(ROOM, [vm])
    probes = [c for c in guests.connections if shlex.split(c[-1]) == ["true"]]
    assert len(probes) == 3  # every probe is labtool's strict ssh (Guests.run asserts it), not `vagrant ssh`
    assert guests.guarded == ["labtool-demo_s1-vm"]


def test_a_running_vm_answering_with_another_host_key_is_an_error_not_a_wait(
    backend: vagrant.VagrantBackend, guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = ROOM.seats[0].vm
    backend.known_hosts(ROOM).record(vm.name, {key("ssh-ed25519", "the real one")})
    use_virsh(monkeypatch, FakeLibvirt({"labtool-demo_s1-vm": "running"}, set()).virsh)
    backend._shared_ready.add(ROOM.name)
    with pytest.raises(HostKeyChangedError, match="s1-vm"):
        backend.bring_up(ROOM, [vm])
    assert guests.guarded == []  # nothing is trusted or changed for a machine that is not the one recorded


def test_destroy_removes_a_domain_vagrant_never_recorded(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `vagrant up` killed after defining the domain, before writing its id: `vagrant destroy` does not know it.
    libvirt = FakeLibvirt({"labtool-demo_s1-vm": "running"}, {"labtool-demo_s1-vm.img"})
    use_virsh(monkeypatch, libvirt.virsh)
    monkeypatch.setattr(vagrant.VagrantProject, "destroy", lambda self, name=None: None)
    backend.destroy(ROOM, [ROOM.seats[0].vm])
    assert ("destroy", "labtool-demo_s1-vm") in libvirt.calls
    assert ("undefine", "labtool-demo_s1-vm", "--remove-all-storage") in libvirt.calls
    assert libvirt.domains == {} and libvirt.volumes == set()


def test_a_vms_checkpoints_are_snapshots_of_its_running_domain_and_go_with_it(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    libvirt = FakeLibvirt({"labtool-demo_s1-vm": "running"}, {"labtool-demo_s1-vm.img"}, {"by-hand"})
    use_virsh(monkeypatch, libvirt.virsh)
    vm = ROOM.seats[0].vm
    backend.save_checkpoint(ROOM, vm, "cp")
    create = next(c for c in libvirt.calls if c[0] == "snapshot-create-as")
    assert create == ("snapshot-create-as", "--domain", "labtool-demo_s1-vm", "--name", "labtool-cp", "--atomic")
    libvirt.snapshots.add("labtool-cp")
    backend.delete_checkpoint(ROOM, vm, "other")  # not there: nothing to do
    assert not [c for c in libvirt.calls if c[0] == "snapshot-delete"]
    monkeypatch.setattr(vagrant.VagrantProject, "destroy", lambda self, name=None: None)
    backend.destroy(ROOM, [vm])
    assert libvirt.snapshots == set() and ("undefine", "labtool-demo_s1-vm", "--remove-all-storage") in libvirt.calls


def test_a_stopped_vm_is_not_checkpointed(backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    use_virsh(monkeypatch, FakeLibvirt({"labtool-demo_s1-vm": "shut off"}, set()).virsh)
    with pytest.raises(vagrant.VagrantError, match="s1-vm is not running") as caught:
        backend.save_checkpoint(ROOM, ROOM.seats[0].vm, "cp")
    assert "labtool start demo --seat s1" in caught.value.hint


class Published:
    """forwards' side, as the backend uses it: which relays it asked for, and on which host."""

    def __init__(self) -> None:
        self.published: list[tuple[forwards.Relays, str, str, tuple[forwards.ForwardedPort, ...]]] = []
        self.withdrawn: list[tuple[forwards.Relays, str | None]] = []

    def publish(self, relays: forwards.Relays, machine: str, guest_ip: str, ports: Sequence[Any]) -> None:
        self.published.append((relays, machine, guest_ip, tuple(ports)))

    def withdraw(self, relays: forwards.Relays, machine: str | None = None) -> None:
        self.withdrawn.append((relays, machine))


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Published:
    seen = Published()
    monkeypatch.setattr(forwards, "publish", seen.publish)
    monkeypatch.setattr(forwards, "withdraw", seen.withdraw)
    return seen


def test_a_room_with_access_publishes_each_vms_ssh_and_app_on_its_hosts_address(
    backend: vagrant.VagrantBackend, guests: Guests, published: Published
) -> None:
    room = dataclasses.replace(ROOM, access=Access("127.0.0.1", 31000))
    backend.bring_up(room, [room.seats[0].vm])
    [(relays, machine, guest_ip, ports)] = published.published
    assert (relays.host, machine, guest_ip) == (THIS_HOST, "s1-vm", "10.214.42.10")
    assert relays.records == forwards.directory(backend.project(room).state_dir)
    assert [(p.host_ip, p.host, p.guest) for p in ports] == [("127.0.0.1", 31002, 22), ("127.0.0.1", 31003, 80)]
    spec = json.loads(backend.project(room).machines_file.read_text())
    assert all("forwarded_ports" not in m for m in spec["machines"])  # not Vagrant's: its tunnels check no key
    assert spec["network"]["keep"] is True  # removed with the room by labtool, never by vagrant-libvirt
    assert vagrant.forwarded_ports(ROOM, ROOM.seats[0].vm, THIS_HOST) == ()


def test_a_vm_on_another_lab_host_is_published_there_on_that_hosts_address() -> None:
    room = dataclasses.replace(ROOM, access=Access("127.0.0.1", 31000))
    lab2 = LabHost("lab2", "root@192.0.2.12")
    ports = vagrant.forwarded_ports(room, room.seats[1].vm, lab2)
    assert [(p.host_ip, p.host) for p in ports] == [("192.0.2.12", 31006), ("192.0.2.12", 31007)]
    given = vagrant.forwarded_ports(room, room.seats[1].vm, LabHost("lab2", "root@lab2.example", "198.51.100.7"))
    assert {p.host_ip for p in given} == {"198.51.100.7"}
    relays = forwards.Relays.of(lab2, Path("/state/vagrant-lab2"), "demo")
    assert (relays.records, str(relays.logs)) == (
        Path("/state/vagrant-lab2/forwards"),
        "/var/lib/labtool/forwards/demo",
    )


def test_stopping_or_destroying_a_vm_withdraws_its_relays_only(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch, published: Published
) -> None:
    monkeypatch.setattr(vagrant.VagrantProject, "halt", lambda self, name: None)
    backend.stop(ROOM, [ROOM.seats[0].vm])
    backend.destroy(ROOM, [ROOM.seats[1].vm])
    assert [machine for _, machine in published.withdrawn] == ["s1-vm", "s2-vm"]
    assert {relays.host for relays, _ in published.withdrawn} == {THIS_HOST}


def test_stop_halts_each_vm_through_vagrant(backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    halted: list[str] = []
    monkeypatch.setattr(vagrant.VagrantProject, "halt", lambda self, name: halted.append(name))
    backend.stop(ROOM, [ROOM.seats[1].vm])
    assert halted == ["s2-vm"]
    assert '"s1-vm"' in backend.project(ROOM).machines_file.read_text()  # the Vagrantfile knows every VM


@pytest.mark.parametrize(("said", "ok"), [("running", True), ("degraded", True), ("starting", False), ("", False)])
def test_start_boots_the_vm_and_waits_until_systemd_has_finished_over_a_strict_ssh(
    backend: vagrant.VagrantBackend, guests: Guests, monkeypatch: pytest.MonkeyPatch, said: str, ok: bool
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(vagrant.VagrantProject, "up", lambda self, name: calls.append(f"up {name}"))
    use_virsh(monkeypatch, lambda *args, check=True: "running")
    monkeypatch.setattr(vagrant.VagrantProject, "ssh", lambda self, name, command: "")  # `true`: SSH answers

    def run(argv: Sequence[str], **kwargs: Any) -> proc.Result:
        if "is-system-running" not in argv[-1]:
            return guests.run(argv, **kwargs)
        calls.append(f"ssh {argv[-1]}")
        assert "StrictHostKeyChecking=yes" in argv
        return proc.Result(tuple(argv), 0, f"{said}\n", "", 0.1)

    monkeypatch.setattr(proc, "run", run)
    vm = ROOM.seats[0].vm
    if ok:
        backend.start(ROOM, [vm])
    else:
        with pytest.raises(vagrant.VagrantError, match=f"did not finish booting .*state: {said or 'unknown'}"):
            backend.start(ROOM, [vm])
    assert calls[0] == "up s1-vm"
    assert calls[1].startswith("ssh sh -c 'timeout ") and "systemctl is-system-running --wait" in calls[1]


def test_a_vm_whose_ssh_fails_while_it_boots_is_named_not_waited_for(
    backend: vagrant.VagrantBackend, guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_virsh(monkeypatch, lambda *args, check=True: "running")
    monkeypatch.setattr(vagrant.VagrantProject, "ssh", lambda self, name, command: "")

    def run(argv: Sequence[str], **kwargs: Any) -> proc.Result:
        if "is-system-running" in argv[-1]:  # e.g. another machine now answers at the VM's address
            return proc.Result(tuple(argv), 255, "", "Host key verification failed.\n", 0.1)
        return guests.run(argv, **kwargs)

    monkeypatch.setattr(proc, "run", run)
    with pytest.raises(vagrant.VagrantError, match="cannot reach s1-vm over SSH to wait for its boot: Host key ver"):
        backend.start(ROOM, [ROOM.seats[0].vm])


def test_the_rooms_libvirt_network_is_named_only_when_it_exists(
    backend: vagrant.VagrantBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    networks = ["default", "labtool-demo2"]
    use_virsh(monkeypatch, lambda *args, check=True: "\n".join(networks))
    assert backend.describe_room_resources(ROOM) == []
    networks.append("labtool-demo")
    assert backend.describe_room_resources(ROOM) == ["libvirt network labtool-demo (10.214.42.0/24)"]


def new_backend(tmp_path: Path) -> vagrant.VagrantBackend:
    """Another labtool run: nothing checked yet in this process."""
    return vagrant.VagrantBackend(THIS_HOST, tmp_path, Accel("qemu", "qemu64", "test"))


def test_a_new_vms_host_keys_are_recorded_and_every_connection_checks_them(
    backend: vagrant.VagrantBackend, guests: Guests
) -> None:
    backend.bring_up(ROOM, [VM])
    known = backend.known_hosts(ROOM)
    assert known.path == backend.rooms_home / "demo" / "known_hosts"
    assert known.keys(VM.name) == guests.offered[VM.name]
    options = known_hosts.ssh_options(known.path, VM.name)
    assert guests.connections[0][5 : 5 + len(options)] == options  # the guest's key files were read strictly
    connection = backend.connection(ROOM, VM)
    assert connection["ansible_ssh_common_args"] == known_hosts.common_args(known.path, VM.name)
    assert connection["ansible_host_key_checking"] is True
    timeout = connection["ansible_ssh_timeout"]
    assert isinstance(timeout, int) and timeout >= 60, "a VM under TCG on a busy host is slow to take a connection"
    argv = backend.shell_argv(ROOM, VM, ["true"])
    assert argv[5 : 5 + len(options)] == options
    assert guests.scans == [guests.address(VM.name)]  # scanned once in the run, when it was created


def test_the_vms_own_private_key_is_made_private(backend: vagrant.VagrantBackend) -> None:
    backend.bring_up(ROOM, [VM])
    private_key = Path(str(backend.connection(ROOM, VM)["ansible_ssh_private_key_file"]))
    assert private_key.is_relative_to(backend.project(ROOM).dotfile_dir)
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600


def test_a_recreated_vms_new_keys_replace_the_old(
    backend: vagrant.VagrantBackend, guests: Guests, tmp_path: Path
) -> None:
    backend.bring_up(ROOM, [VM])
    old = guests.offered[VM.name]
    backend.destroy(ROOM, [VM])
    assert backend.known_hosts(ROOM).keys(VM.name) == set()
    guests.boot(VM.name, key("ssh-ed25519", "reborn"))
    backend.bring_up(ROOM, [VM])
    assert backend.known_hosts(ROOM).keys(VM.name) == {key("ssh-ed25519", "reborn")}
    # Destroyed behind labtool's back (its domain gone): the `up` that recreates it records the new keys too.
    guests.boot(VM.name, *old)
    new_backend(tmp_path).bring_up(ROOM, [VM])
    assert backend.known_hosts(ROOM).keys(VM.name) == old


def test_a_changed_key_on_a_vm_labtool_did_not_recreate_is_an_error_naming_it(
    backend: vagrant.VagrantBackend, guests: Guests, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.bring_up(ROOM, [VM])
    recorded = backend.known_hosts(ROOM).keys(VM.name)
    guests.boot(VM.name, key("ssh-ed25519", "impostor"))
    use_virsh(monkeypatch, domains(VM))  # its domain exists: `up` only starts it
    calls: list[Any] = [
        lambda b: b.bring_up(ROOM, [VM]),
        lambda b: b.connection(ROOM, VM),
        lambda b: b.shell_argv(ROOM, VM, []),
    ]
    for call in calls:
        with pytest.raises(HostKeyChangedError) as caught:
            call(new_backend(tmp_path))
        assert "the SSH host key of s1-vm changed" in caught.value.message
        assert "`labtool down demo --seat s1`" in caught.value.hint
    assert backend.known_hosts(ROOM).keys(VM.name) == recorded


def test_a_running_vm_with_no_keys_on_record_is_trusted_on_first_reach(
    backend: vagrant.VagrantBackend, guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_virsh(monkeypatch, domains(VM))
    backend.shell_argv(ROOM, VM, ["true"])  # a room brought up before labtool kept known_hosts
    assert backend.known_hosts(ROOM).keys(VM.name) == guests.offered[VM.name]


def test_keys_the_guest_itself_does_not_hold_are_not_trusted(backend: vagrant.VagrantBackend, guests: Guests) -> None:
    guests.held[VM.name] = {key("ssh-ed25519", "the real one")}
    with pytest.raises(
        HostKeyChangedError, match=re.escape("s1-vm offered SSH host keys at 10.214.42.10:22 that its own")
    ):
        backend.bring_up(ROOM, [VM])
    assert backend.known_hosts(ROOM).keys(VM.name) == set()


def test_a_vm_that_still_accepts_vagrants_insecure_key_is_refused(
    backend: vagrant.VagrantBackend, guests: Guests
) -> None:
    guests.authorized[VM.name] = {key("ssh-ed25519", "inserted"), INSECURE}
    with pytest.raises(vagrant.VagrantError, match="s1-vm still accepts Vagrant's insecure key"):
        backend.bring_up(ROOM, [VM])


def test_a_vm_reached_with_a_key_not_its_own_is_refused(
    backend: vagrant.VagrantBackend, guests: Guests, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    insecure = tmp_path / "vagrant.d" / "insecure_private_key"
    insecure.parent.mkdir()
    insecure.write_text("-----BEGIN RSA PRIVATE KEY-----\n")
    settings = {"HostName": "10.214.42.10", "Port": "22", "User": "vagrant", "IdentityFile": str(insecure)}
    monkeypatch.setattr(vagrant.VagrantProject, "ssh_config", lambda self, name: settings)
    with pytest.raises(vagrant.VagrantError, match="not the private key labtool made for it") as caught:
        backend.shell_argv(ROOM, VM, [])
    assert "`labtool down demo --seat s1`" in caught.value.hint


def test_a_vm_that_offers_no_host_key_is_not_recorded(backend: vagrant.VagrantBackend, guests: Guests) -> None:
    guests.offered[VM.name] = set()
    with pytest.raises(vagrant.VagrantError, match=re.escape("s1-vm offered no SSH host key at 10.214.42.10:22")):
        backend.bring_up(ROOM, [VM])
    assert not backend.known_hosts(ROOM).path.exists()


def test_a_destroyed_vms_pinned_lease_is_released_once_it_is_gone(
    backend: vagrant.VagrantBackend, guests: Guests, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    record = backend.project(ROOM).dotfile_dir / "machines" / "s1-vm" / "libvirt" / "created_networks"
    record.parent.mkdir(parents=True)
    record.write_text("688b98b0-62e8-471b-84d6-f80782e61bd6\n")  # s1-vm made the room's network

    def destroy(project: vagrant.VagrantProject, name: str | None = None) -> None:
        assert not record.exists(), "vagrant-libvirt would remove the room's network with s1-vm"
        events.append(f"destroy {name}")

    monkeypatch.setattr(vagrant.VagrantProject, "destroy", destroy)
    monkeypatch.setattr(address_guard, "release", lambda virsh, network, mac: events.append(f"release {mac}"))
    backend.destroy(ROOM, [ROOM.seats[0].vm])
    # The pin goes only once the VM is gone: before, its address would be free while it still held it.
    assert events == ["destroy s1-vm", "release mac of labtool-demo_s1-vm"]


INDEX_RACE_TRACE = (
    "/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/lib/vagrant/machine_index.rb:304:in `delete': "
    "No such file or directory @ apply2files - /root/.vagrant.d/data/machine-index/fe07.lock (Errno::ENOENT)"
)


@pytest.mark.parametrize(("output", "calls"), [(INDEX_RACE_TRACE, 2), ("Error: the box could not be found", 1)])
def test_a_vagrant_command_that_lost_the_machine_index_race_runs_again_and_no_other_failure_does(
    monkeypatch: pytest.MonkeyPatch, output: str, calls: int
) -> None:
    """Vagrant 2.3 fails a command when another vagrant process deleted a machine's index lock first."""
    ran: list[str] = []

    def run() -> proc.Result:
        ran.append("vagrant up")
        if len(ran) == 1:
            raise CommandError("`vagrant up seat01-vm` exited with 1", output=output)
        return proc.Result(("vagrant", "up"), 0, "", "", 0.1)

    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    if calls == 1:
        with pytest.raises(CommandError):
            vagrant._again_on_index_race(run)
    else:
        assert vagrant._again_on_index_race(run).ok
    assert len(ran) == calls


def test_a_vm_about_to_be_created_gets_a_key_pair_of_its_own(tmp_path: Path) -> None:
    dotfile = tmp_path / "vagrant"
    vagrant.give_key_pair(dotfile, "s1-vm")
    vagrant.give_key_pair(dotfile, "s2-vm")
    first, second = vagrant.own_key(dotfile, "s1-vm"), vagrant.own_key(dotfile, "s2-vm")
    assert first.is_relative_to(dotfile) and stat.S_IMODE(first.stat().st_mode) == 0o600
    public = first.with_name("s1-vm.pub").read_text()
    assert (
        public.startswith("ssh-ed25519 ")
        and public.split()[1] in proc.run(["ssh-keygen", "-y", "-f", str(first)], timeout=60).stdout
    )
    assert public != second.with_name("s2-vm.pub").read_text()
    # Only a key and a comment go into the domain's OEM strings, which vagrant-libvirt writes into XML unescaped.
    assert re.fullmatch(r"ssh-ed25519 [A-Za-z0-9+/=]+ labtool\n", public)


def test_a_created_vm_keeps_its_key_pair_and_a_vm_made_again_gets_a_new_one(tmp_path: Path) -> None:
    dotfile = tmp_path / "vagrant"
    vagrant.give_key_pair(dotfile, "s1-vm")
    public = vagrant.own_key(dotfile, "s1-vm").with_name("s1-vm.pub")
    before = public.read_text()
    created = dotfile / "machines" / "s1-vm" / "libvirt" / "id"
    created.parent.mkdir(parents=True)
    created.write_text("a-domain-id")
    vagrant.give_key_pair(dotfile, "s1-vm")  # `vagrant up` of a stopped VM
    assert public.read_text() == before
    created.unlink()  # destroyed (Vagrant empties the machine's directory)
    vagrant.give_key_pair(dotfile, "s1-vm")
    assert public.read_text() != before


def test_the_vagrantfile_hands_each_vm_its_key_and_name_through_the_domain_and_inserts_none() -> None:
    text = (vagrant.VAGRANTFILE_DIR / "Vagrantfile").read_text()
    assert "config.ssh.insert_key = false" in text
    assert f'"{vagrant.KEYS_DIR}", name)' in text and "node.ssh.private_key_path = own_key" in text
    assert '"labtool:hostname=' in text and '"labtool:authorized_key=' in text
    assert "vm.hostname" not in text, "Vagrant would rename the VM over SSH, restarting its network"

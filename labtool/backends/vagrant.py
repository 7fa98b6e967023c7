"""The VM backend: labtool's one Vagrantfile (package data), driven through python-vagrant.

labtool writes the machine list as JSON (the Vagrantfile reads it from
LABTOOL_MACHINES) and keeps Vagrant's state per room (VAGRANT_DOTFILE_PATH), so
`vagrant status` by hand, with the same two variables, shows the same VMs.

Every VM is reached with its own private key (Vagrant replaces its insecure one at
the first boot) and its host keys checked against the room's known_hosts, recorded
when labtool created it (see known_hosts.py).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labtool import proc
from labtool.backends import known_hosts
from labtool.backends.base import HostView, Observed, Presence
from labtool.backends.known_hosts import HostKey, HostKeyChangedError, KnownHosts
from labtool.errors import LabtoolError
from labtool.host import processes
from labtool.host.accel import Accel
from labtool.host.daemons import LIBVIRT_URI
from labtool.images import recipe, vagrant_box
from labtool.model import Kind, Machine, Room
from labtool.state import SHARED, atomic_write

VAGRANTFILE_DIR = Path(__file__).parent / "files"
"""Holds the one Vagrantfile every room and Molecule's VM scenario use; it ships inside the package."""


class VagrantError(LabtoolError):
    """A Vagrant command failed."""


@dataclass(frozen=True)
class VmSpec:
    name: str
    cpus: int = 1
    memory: int = 1024


@dataclass(frozen=True)
class Network:
    """A libvirt management network of its own, so rooms never share a subnet or a bridge."""

    name: str
    subnet: str


class VagrantProject:
    """One Vagrant environment: labtool's Vagrantfile, a machine list and a dotfile directory."""

    def __init__(self, state_dir: Path, network: Network, accel: Accel, prefix: str) -> None:
        self.state_dir = state_dir
        self.network = network
        self.accel = accel
        self.prefix = prefix
        self.machines_file = state_dir / "machines.json"
        self.log = state_dir / "vagrant.log"

    @property
    def dotfile_dir(self) -> Path:
        """Vagrant's own state of the room's machines, their private keys included."""
        return self.state_dir / "vagrant"

    @property
    def env(self) -> dict[str, str]:
        return {
            "LABTOOL_MACHINES": str(self.machines_file),
            "VAGRANT_DOTFILE_PATH": str(self.dotfile_dir),
            "VAGRANT_DEFAULT_PROVIDER": "libvirt",
            "VAGRANT_CHECKPOINT_DISABLE": "1",  # no phoning home: the lab is offline
        }

    def define(self, machines: Sequence[VmSpec]) -> None:
        """Write the machine list the Vagrantfile reads."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "box": recipe.BOX_NAME,
            "driver": self.accel.driver,
            "cpu_model": self.accel.cpu_model,
            "prefix": self.prefix,
            "network": asdict(self.network),
            "machines": [asdict(m) for m in machines],
        }
        # Atomically: a `vagrant up` of another VM of the room may be reading it at this moment.
        atomic_write(self.machines_file, json.dumps(spec, indent=2) + "\n", mode=SHARED)

    def up(self, name: str) -> None:
        with self._vagrant(f"start the VM {name}") as v:
            v.up(vm_name=name, provider="libvirt")

    def destroy(self, name: str | None = None) -> None:
        with self._vagrant("destroy the VMs") as v:
            v.destroy(vm_name=name)

    def ssh_config(self, name: str) -> dict[str, str]:
        """`vagrant ssh-config NAME` as a dict (HostName, Port, User, IdentityFile ...)."""
        with self._vagrant(f"read the SSH settings of {name}") as v:
            return {str(k): str(val) for k, val in v.conf(vm_name=name).items()}

    def ssh(self, name: str, command: str) -> str:
        with self._vagrant(f"run `{command}` on {name}") as v:
            return str(v.ssh(vm_name=name, command=command))

    def states(self) -> dict[str, str]:
        with self._vagrant("read the VMs' states") as v:
            return {s.name: s.state for s in v.status()}

    def domain_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @contextmanager
    def _vagrant(self, doing: str) -> Iterator[Any]:
        import vagrant

        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_cm = vagrant.make_file_cm(str(self.log))  # type: ignore[no-untyped-call]
        client = vagrant.Vagrant(  # type: ignore[no-untyped-call]
            root=str(VAGRANTFILE_DIR), env=self._full_env(), out_cm=log_cm, err_cm=log_cm
        )
        try:
            yield client
        except subprocess.CalledProcessError as exc:
            raise VagrantError(f"vagrant failed to {doing} (exit {exc.returncode})", f"see {self.log}") from exc

    def _full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}


class VagrantBackend:
    """The VM backend for rooms: one Vagrant environment per room, with its own libvirt network."""

    kind = Kind.VM

    def __init__(self, rooms_home: Path, accel: Accel) -> None:
        self.rooms_home = rooms_home
        self.accel = accel
        # Rooms whose shared resources (the box volume in the pool, the libvirt network) exist.
        self._shared_ready: set[str] = set()
        self._first_up = threading.Lock()
        self._define = threading.Lock()
        # (room, machine) whose host keys this process has recorded or checked: one ssh-keyscan per VM per run.
        self._keys_checked: set[tuple[str, str]] = set()

    def project(self, room: Room) -> VagrantProject:
        return VagrantProject(
            self.rooms_home / room.name / "vagrant",
            Network(network_name(room), room.networks.vm_subnet),
            self.accel,
            f"labtool-{room.name}_",
        )

    def known_hosts(self, room: Room) -> KnownHosts:
        return KnownHosts(self.rooms_home / room.name / known_hosts.FILE_NAME)

    def observe(self, room: Room) -> dict[str, Observed]:
        project = self.project(room)
        domains = set(_virsh("list", "--all", "--name").split())
        observed = {}
        for machine in _vms(room):
            domain = project.domain_name(machine.name)
            if domain not in domains:
                observed[machine.name] = Observed(machine.name, Presence.ABSENT)
            elif _virsh("domstate", domain).strip() == "running":
                observed[machine.name] = Observed(machine.name, Presence.RUNNING, _domain_address(domain))
            else:
                observed[machine.name] = Observed(machine.name, Presence.STOPPED)
        return observed

    def bring_up(self, room: Room, machines: Sequence[Machine]) -> None:
        """Create or start the machines; safe to call from several threads at once for one room."""
        project = self.project(room)
        with self._define:
            project.define([VmSpec(m.name, room.vm.cpus, room.vm.memory_mib) for m in _vms(room)])
        for machine in machines:
            created = project.domain_name(machine.name) not in _virsh("list", "--all", "--name").split()
            self._up(project, room, machine)
            self._host_keys(room, machine, self._ssh(project, room, machine), created=created)

    def _up(self, project: VagrantProject, room: Room, machine: Machine) -> None:
        """`vagrant up`, with the room's first one alone until its domain runs.

        vagrant-libvirt uploads the box into the storage pool and creates the room's network
        during the first `up`; two at once both see neither and both create them, and one
        fails (or boots from a half-uploaded volume). Both are done once a domain runs, so
        the others start then, in parallel.
        """
        first: threading.Thread | None = None
        failures: list[BaseException] = []
        with self._first_up:
            if room.name not in self._shared_ready:
                first = threading.Thread(target=_catching, args=(project.up, machine.name, failures), daemon=True)
                first.start()
                domain = project.domain_name(machine.name)
                while first.is_alive() and _virsh("domstate", domain, check=False).strip() != "running":
                    time.sleep(FIRST_UP_POLL_SECONDS)
                self._shared_ready.add(room.name)
        if first is None:
            project.up(machine.name)
            return
        first.join()
        if failures:
            raise failures[0]

    def connection(self, room: Room, machine: Machine) -> dict[str, object]:
        ssh = self._ssh(self.project(room), room, machine)
        self._host_keys(room, machine, ssh)
        return {
            "ansible_host": ssh["HostName"],
            "ansible_port": int(ssh.get("Port", "22")),
            "ansible_user": ssh["User"],
            "ansible_ssh_private_key_file": ssh["IdentityFile"],
            "ansible_ssh_common_args": known_hosts.common_args(self.known_hosts(room).path, machine.name),
            # A project's ansible.cfg may turn host key checking off; Ansible (and mitogen) would then put
            # options that accept any key ahead of the ones above, and ssh takes the first it is given.
            # Host variables win over ansible.cfg.
            "ansible_host_key_checking": True,
            "ansible_ssh_host_key_checking": True,
        }

    def shell_argv(self, room: Room, machine: Machine, command: Sequence[str]) -> list[str]:
        ssh = self._ssh(self.project(room), room, machine)
        self._host_keys(room, machine, ssh)
        return self._ssh_argv(room, machine, ssh, command)

    def _ssh_argv(self, room: Room, machine: Machine, ssh: dict[str, str], command: Sequence[str]) -> list[str]:
        return [
            "ssh",
            "-i",
            ssh["IdentityFile"],
            "-p",
            ssh.get("Port", "22"),
            *known_hosts.ssh_options(self.known_hosts(room).path, machine.name),
            "-o",
            "LogLevel=ERROR",
            *([] if command else ["-t"]),
            f"{ssh['User']}@{ssh['HostName']}",
            # ssh joins its arguments into one remote shell line: quote them so they arrive as given.
            *([shlex.join(command)] if command else []),
        ]

    def _ssh(self, project: VagrantProject, room: Room, machine: Machine) -> dict[str, str]:
        """The VM's SSH settings, once sure they name its own private key (0600), not Vagrant's insecure one."""
        ssh = project.ssh_config(machine.name)
        key = Path(ssh["IdentityFile"].strip('"'))
        if not key.is_relative_to(project.dotfile_dir) or not key.is_file():
            raise VagrantError(
                f"{machine.name} would be reached with {key}, not a private key of its own: "
                "Vagrant did not replace its insecure key",
                f"recreate it: `labtool down {room.name} --seat {machine.seat}`, then `labtool up {room.name}`; "
                f"see {project.log}",
            )
        if key.stat().st_mode & 0o077:
            key.chmod(0o600)  # Vagrant writes it 0600; a copied or restored room may not be
        return {**ssh, "IdentityFile": str(key)}

    def _host_keys(self, room: Room, machine: Machine, ssh: dict[str, str], *, created: bool = False) -> None:
        """Record the VM's host keys when labtool created it (or has none on record); else check them.

        A key that differs on a VM labtool did not recreate is an error naming it.
        """
        if (room.name, machine.name) in self._keys_checked and not created:
            return
        known = self.known_hosts(room)
        offered = known_hosts.scan(ssh["HostName"], int(ssh.get("Port", "22")))
        if created or not known.keys(machine.name):
            self._trust(room, machine, ssh, offered)
        else:
            known.check(machine, room.name, offered)
        self._keys_checked.add((room.name, machine.name))

    def _trust(self, room: Room, machine: Machine, ssh: dict[str, str], offered: set[HostKey]) -> None:
        """Trust on first use: record the keys the VM offers, then keep those its own /etc/ssh holds.

        The scanned keys are written first, so the connection that reads the key files is
        already a strict one, made with the VM's own private key: another machine answering
        at the address (a re-used DHCP lease) fails it. The same connection shows that
        Vagrant's insecure key is gone from the VM.
        """
        address = f"{ssh['HostName']}:{ssh.get('Port', '22')}"
        if not offered:
            raise VagrantError(
                f"{machine.name} offered no SSH host key at {address}",
                f"check that it is up (`labtool status {room.name}`), then run `labtool up {room.name}` again",
            )
        known = self.known_hosts(room)
        known.record(machine.name, offered)
        script = "cat /etc/ssh/ssh_host_*_key.pub; echo ---; cat ~/.ssh/authorized_keys"
        output = proc.run(
            self._ssh_argv(room, machine, ssh, ["sh", "-c", script]),
            timeout=60,
            hint=f"labtool reads {machine.name}'s host keys over SSH at {address} after creating it",
        ).stdout
        host_part, _, authorized_part = output.partition("\n---\n")
        own = known_hosts.parse(host_part)
        if not offered <= own:
            known.forget([machine.name])
            raise HostKeyChangedError(
                f"{machine.name} offered SSH host keys at {address} that its own /etc/ssh does not hold",
                f"another machine may answer at its address; recreate it: `labtool down {room.name} --seat "
                f"{machine.seat}`, then `labtool up {room.name}`",
            )
        insecure = known_hosts.parse(vagrant_box.insecure_public_key().read_text())
        if insecure & known_hosts.parse(authorized_part):
            raise VagrantError(
                f"{machine.name} still accepts Vagrant's insecure key (in the vagrant user's authorized_keys)",
                "Vagrant replaces it at the first boot (config.ssh.insert_key in labtool's Vagrantfile); "
                f"recreate the VM: `labtool down {room.name} --seat {machine.seat}`, then `labtool up {room.name}`",
            )
        known.record(machine.name, own)

    def host_view(self, room: Room, machine: Machine) -> HostView:
        domain = self.project(room).domain_name(machine.name)
        pid = int(Path(QEMU_PID_DIR, f"{domain}.pid").read_text().strip())
        own_bytes, base_bytes = _disk_chain(domain)
        return HostView(
            pid=pid,
            process=processes.name(pid),
            ancestry=tuple(processes.ancestry(pid)),
            memory_bytes=processes.resident_bytes(pid),
            memory_source="QEMU resident set",
            base_disk_bytes=base_bytes,
            base_disk="box volume",
            own_disk_bytes=own_bytes,
            own_disk="qcow2 overlay",
            shared_namespaces=None,
        )

    def destroy(self, room: Room, machines: Sequence[Machine]) -> None:
        project = self.project(room)
        project.define([VmSpec(m.name, room.vm.cpus, room.vm.memory_mib) for m in _vms(room)])
        for machine in machines:
            project.destroy(machine.name)
            # Its next host keys are new ones: the next `up` records them (trust on first use).
            self.known_hosts(room).forget([machine.name])
            self._keys_checked.discard((room.name, machine.name))

    def remove_room_resources(self, room: Room) -> None:
        network = network_name(room)
        if network in _virsh("net-list", "--all", "--name").split():
            _virsh("net-destroy", network, check=False)
            _virsh("net-undefine", network)
        shutil.rmtree(self.project(room).state_dir, ignore_errors=True)


QEMU_PID_DIR = "/run/libvirt/qemu"  # libvirtd (system) keeps each running domain's QEMU pid here


def network_name(room: Room) -> str:
    return f"labtool-{room.name}"


def _vms(room: Room) -> list[Machine]:
    return [m for m in room.machines if m.kind is Kind.VM]


FIRST_UP_POLL_SECONDS = 1.0


def _catching(call: Callable[[str], None], argument: str, failures: list[BaseException]) -> None:
    try:
        call(argument)
    except BaseException as exc:  # handed to the caller's thread, which raises it
        failures.append(exc)


def _virsh(*args: str, check: bool = True) -> str:
    return proc.run(["virsh", "-c", LIBVIRT_URI, *args], timeout=60, check=check).stdout


def _disk_chain(domain: str) -> tuple[int, int]:
    """Bytes on disk of the VM's own overlay and of the box volume beneath it."""
    disk = next(
        line.split(None, 1)[1].strip()
        for line in _virsh("domblklist", domain).splitlines()
        if line.strip().startswith(("vda", "sda", "hda"))
    )
    chain = json.loads(proc.run(["qemu-img", "info", "--force-share", "--backing-chain", "--output=json", disk]).stdout)
    return int(chain[0]["actual-size"]), int(chain[-1]["actual-size"])


def _domain_address(domain: str) -> str | None:
    """The VM's IPv4 address from libvirt's DHCP leases."""
    for line in _virsh("domifaddr", domain, "--source", "lease", check=False).splitlines():
        words = line.split()
        if len(words) == 4 and words[2] == "ipv4":
            return words[3].split("/")[0]
    return None

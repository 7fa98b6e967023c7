"""The VM backend: labtool's one Vagrantfile (package data), driven through python-vagrant.

labtool writes the machine list as JSON (the Vagrantfile reads it from
LABTOOL_MACHINES) and keeps Vagrant's state per room (VAGRANT_DOTFILE_PATH), so
`vagrant status` by hand, with the same two variables, shows the same VMs.

python-vagrant builds the command lines and reads their output, but runs them with
bare subprocess calls that have no timeout; labtool's `_Vagrant` runs them through
proc.run instead, so a hung `vagrant up` is killed after LABTOOL_VAGRANT_TIMEOUT and
only its VM fails.

Every VM is reached with a private key of its own (made by labtool before the VM is
created, see give_key_pair) and its host keys checked against the room's known_hosts,
recorded when labtool created it (see known_hosts.py).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import vagrant

from labtool import access, proc
from labtool.backends.base import HostView, Observed, Presence
from labtool.backends.vagrant import address_guard, forwards, known_hosts
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.accel import Accel
from labtool.backends.vagrant.forwards import ForwardedPort
from labtool.backends.vagrant.known_hosts import HostKey, HostKeyChangedError, KnownHosts
from labtool.backends.vagrant.libvirt import STORAGE_POOL, Virsh
from labtool.errors import CommandError, CommandTimeoutError, LabtoolError
from labtool.host import process_view
from labtool.model import Kind, LabHost, Machine, Room
from labtool.settings import VAGRANT_TIMEOUT
from labtool.state import SHARED, atomic_write, locked

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
    keep: bool = True
    """Left to labtool to remove, with the room (remove_room_resources). vagrant-libvirt would remove it when it
    destroys a VM and sees no connections on it, and libvirt stops counting a VM's connection once its
    interface is updated live (address_guard.py): the room's other VMs would lose their network."""


class VagrantProject:
    """One Vagrant environment: labtool's Vagrantfile, a machine list and a dotfile directory."""

    def __init__(
        self,
        state_dir: Path,
        network: Network,
        accel: Accel,
        prefix: str,
        box: str | None = None,
        *,
        libvirt_uri: str,
        timeout: float = VAGRANT_TIMEOUT,
    ) -> None:
        self.state_dir = state_dir
        self.libvirt_uri = libvirt_uri
        """The libvirtd the VMs run on (vagrant-libvirt's `uri`)."""
        self.box = box
        """The box new VMs are made from; None when the project only looks at, stops or destroys VMs."""
        self.network = network
        self.accel = accel
        self.prefix = prefix
        self.timeout = timeout
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
            "box": self.box,
            "driver": self.accel.driver,
            "cpu_model": self.accel.cpu_model,
            "prefix": self.prefix,
            "uri": self.libvirt_uri,
            "network": asdict(self.network),
            "machines": [asdict(m) for m in machines],
        }
        # Atomically: a `vagrant up` of another VM of the room may be reading it at this moment.
        atomic_write(self.machines_file, json.dumps(spec, indent=2) + "\n", mode=SHARED)

    def up(self, name: str) -> None:
        """`vagrant up`; a VM about to be created first gets a key pair of its own (see give_key_pair)."""
        give_key_pair(self.dotfile_dir, name)
        with self._vagrant(f"start the VM {name}") as v:
            v.up(vm_name=name, provider="libvirt")

    def data_dir(self, name: str) -> Path:
        return machine_dir(self.dotfile_dir, name)

    def halt(self, name: str) -> None:
        """`vagrant halt`: `shutdown -h now` in the guest, forced off only after Vagrant's graceful-halt timeout."""
        with self._vagrant(f"shut down the VM {name}") as v:
            v.halt(vm_name=name)

    def forget_created_network(self, name: str) -> None:
        """Keep `vagrant destroy` of the VM from removing the room's network (see Network.keep).

        vagrant-libvirt records the network as the VM's own in the VM that created it, whatever
        `management_network_keep` says, and removes it on that VM's destroy when libvirt counts
        no connections on it.
        """
        (self.data_dir(name) / "created_networks").unlink(missing_ok=True)

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

    def domain_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @contextmanager
    def _vagrant(self, doing: str) -> Iterator[Any]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        client = _Vagrant(VAGRANTFILE_DIR, self._full_env(), self.log, self.timeout)
        try:
            yield client
        except CommandTimeoutError as exc:
            raise VagrantError(
                f"gave up trying to {doing}: {exc.message} (LABTOOL_VAGRANT_TIMEOUT)",
                f"see {self.log}; on a slow or busy host raise LABTOOL_VAGRANT_TIMEOUT (seconds), "
                "then run `labtool up` again",
            ) from exc
        except CommandError as exc:
            raise VagrantError(f"vagrant failed to {doing}: {exc.message}", exc.hint or f"see {self.log}") from exc

    def _full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}


KEYS_DIR = "labtool-keys"
"""Beside Vagrant's machine directories, not in them: Vagrant empties a machine's directory whenever it finds the
machine not created, which it does during the very `vagrant up` that creates it."""


def machine_dir(dotfile_dir: Path, name: str) -> Path:
    """Vagrant's directory for one machine: the `id` of its domain once created, emptied when Vagrant finds none."""
    return dotfile_dir / "machines" / name / "libvirt"


def own_key(dotfile_dir: Path, name: str) -> Path:
    """The private key labtool made for a VM (its public half beside it, `.pub`); labtool's Vagrantfile names both."""
    return dotfile_dir / KEYS_DIR / name


def give_key_pair(dotfile_dir: Path, name: str) -> None:
    """A new ed25519 key pair for a VM, unless Vagrant has created the VM already.

    The Vagrantfile gives the VM the public half through its domain and tells Vagrant to connect with the private
    one (`config.ssh.insert_key` is off): a VM is never reachable with a key that another VM, or Vagrant's
    well-known insecure one, would open.
    """
    if (machine_dir(dotfile_dir, name) / "id").is_file():
        return
    key = own_key(dotfile_dir, name)
    key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in (key, key.with_name(f"{name}.pub")):
        stale.unlink(missing_ok=True)
    proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "labtool", "-f", str(key)], timeout=60)


VAGRANT_QUERY_TIMEOUT = 300.0
"""`vagrant ssh-config`, `status`, `ssh -c`: they change nothing and take seconds, but start Ruby and ask libvirt."""


class _Vagrant(vagrant.Vagrant):
    """python-vagrant's client with its two ways of running `vagrant` replaced by proc.run.

    Up, halt, destroy (`_call_vagrant_command`) get the project's timeout, their output
    appended to the room's Vagrant log; queries (`_run_vagrant_command`) get
    VAGRANT_QUERY_TIMEOUT and return their output. labtool never asks for streamed output.
    """

    def __init__(self, root: Path, env: Mapping[str, str], log: Path, timeout: float) -> None:
        super().__init__(root=str(root), env=dict(env))  # type: ignore[no-untyped-call]
        self.log = log
        self.timeout = timeout

    def _call_vagrant_command(self, args: Sequence[str | None]) -> None:
        _again_on_index_race(
            lambda: proc.run(_argv(args), cwd=Path(self.root), env=self.env, log=self.log, timeout=self.timeout)
        )

    def _run_vagrant_command(self, args: Sequence[str | None]) -> str:
        timeout = min(self.timeout, VAGRANT_QUERY_TIMEOUT)
        return _again_on_index_race(
            lambda: proc.run(_argv(args), cwd=Path(self.root), env=self.env, timeout=timeout)
        ).stdout


INDEX_RACE = ("machine-index/", "Errno::ENOENT")
"""What Vagrant 2.3 prints when another vagrant process deleted the lock file of a machine in its global machine
index first (two processes touching one machine at once, as a `status` beside an `up` on a busy host): it rescues
only EACCES there. Nothing was done wrong; the same command run again succeeds."""
INDEX_RACE_ATTEMPTS = 3


def _again_on_index_race(run: Callable[[], proc.Result]) -> proc.Result:
    attempt = 1
    while True:
        try:
            return run()
        except CommandTimeoutError:
            raise
        except CommandError as exc:
            if attempt >= INDEX_RACE_ATTEMPTS or not all(sign in proc.tail(exc.output, 40) for sign in INDEX_RACE):
                raise
        time.sleep(attempt)
        attempt += 1


def _argv(args: Sequence[str | None]) -> list[str]:
    """python-vagrant passes absent options as None."""
    return ["vagrant", *(a for a in args if a is not None)]


class VagrantBackend:
    """The VM backend for rooms: one Vagrant environment per room, with its own libvirt network."""

    kind = Kind.VM

    def __init__(
        self,
        host: LabHost,
        rooms_home: Path,
        accel: Accel,
        box: str | None = None,
        *,
        timeout: float = VAGRANT_TIMEOUT,
    ) -> None:
        self.host = host
        self.virsh = Virsh(host)
        """Every libvirt call of this backend, on its host's libvirtd."""
        self.rooms_home = rooms_home
        self.accel = accel
        self.box = box
        self.timeout = timeout
        # Rooms whose shared resources (the box volume in the pool, the libvirt network) exist.
        self._shared_ready: set[str] = set()
        self._first_up = threading.Lock()
        self._define = threading.Lock()
        # (room, machine) whose host keys this process has recorded or checked: one ssh-keyscan per VM per run.
        self._keys_checked: set[tuple[str, str]] = set()

    def _relays(self, project: VagrantProject, room: Room) -> forwards.Relays:
        """The room's published-port relays: on this backend's host, recorded beside its Vagrant state."""
        return forwards.Relays.of(self.host, project.state_dir, room.name)

    def project(self, room: Room) -> VagrantProject:
        return VagrantProject(
            # Each lab host's VMs in a Vagrant environment of their own: one machine list per libvirtd.
            self.rooms_home / room.name / ("vagrant" if self.host.is_local else f"vagrant-{self.host.name}"),
            Network(network_name(room), room.networks.vm_subnet),
            self.accel,
            f"labtool-{room.name}_",
            self.box,
            libvirt_uri=self.virsh.uri,
            timeout=self.timeout,
        )

    def known_hosts(self, room: Room) -> KnownHosts:
        return KnownHosts(self.rooms_home / room.name / known_hosts.FILE_NAME)

    def observe(self, room: Room) -> dict[str, Observed]:
        project = self.project(room)
        domains = set(self.virsh("list", "--all", "--name").split())
        observed = {}
        for machine in _vms(room):
            domain = project.domain_name(machine.name)
            if domain not in domains:
                observed[machine.name] = Observed(machine.name, Presence.ABSENT)
            elif self.virsh("domstate", domain).strip() == "running":
                observed[machine.name] = Observed(machine.name, Presence.RUNNING, _domain_address(self.virsh, domain))
            else:
                observed[machine.name] = Observed(machine.name, Presence.STOPPED)
        return observed

    def bring_up(self, room: Room, machines: Sequence[Machine]) -> None:
        """Create or start the machines; safe to call from several threads at once for one room."""
        project = self.project(room)
        with self._define:
            project.define(_specs(room))
        for machine in machines:
            domain = project.domain_name(machine.name)
            before = _domain_state(self.virsh, domain)
            if before is None:
                _forget_stale(self.virsh, project, machine.name, domain)
            self._up(project, room, machine)
            if before == "running":
                # `vagrant up` of a running VM returns at once; one started by a labtool that was
                # stopped may still be booting.
                self._wait_for_ssh(room, machine)
            # Before its host keys are read: from here on no other VM of the room can answer at its address.
            address_guard.guard(self.virsh, domain, network_name(room))
            ssh = self._ssh(project, room, machine)
            self._host_keys(room, machine, ssh, created=before is None)
            self._publish(project, room, machine, ssh)

    def _publish(self, project: VagrantProject, room: Room, machine: Machine, ssh: dict[str, str]) -> None:
        """Start the VM's published ports (access:), each a relay on the VM's lab host (see forwards.py)."""
        ports = forwarded_ports(room, machine, self.host)
        if ports:
            forwards.publish(self._relays(project, room), machine.name, ssh["HostName"], ports)

    def _up(self, project: VagrantProject, room: Room, machine: Machine) -> None:
        """`vagrant up`, with the room's first one alone until its domain runs.

        vagrant-libvirt uploads the box into the storage pool and creates the room's network
        during the first `up`; two at once both see neither and both create them, and one
        fails (or boots from a half-uploaded volume). Both are done once a domain runs, so
        the others start then, in parallel. Another room's labtool may be uploading the same
        box at that moment (its lock is in-process only), so the first `up` of each room
        also holds a host-wide lock until its domain runs.
        """
        first: threading.Thread | None = None
        failures: list[BaseException] = []
        with self._first_up:
            if room.name not in self._shared_ready:
                with locked(self.rooms_home / BOX_UPLOAD_LOCK, "the box upload", wait=self.timeout):
                    if self.box is not None:  # what an upload cut off left: vagrant-libvirt would boot from it
                        vagrant_box.remove_cut_off_upload(self.virsh, self.box)
                    first = threading.Thread(target=_catching, args=(project.up, machine.name, failures), daemon=True)
                    first.start()
                    domain = project.domain_name(machine.name)
                    while first.is_alive() and self.virsh("domstate", domain, check=False).strip() != "running":
                        time.sleep(FIRST_UP_POLL_SECONDS)
                self._shared_ready.add(room.name)
        if first is None:
            project.up(machine.name)
            return
        first.join()
        if failures:
            raise failures[0]

    def stop(self, room: Room, machines: Sequence[Machine]) -> None:
        project = self.project(room)
        with self._define:
            project.define(_specs(room))
        for machine in machines:
            forwards.withdraw(self._relays(project, room), machine.name)
            project.halt(machine.name)

    def start(self, room: Room, machines: Sequence[Machine]) -> None:
        """`vagrant up` of a halted VM returns once SSH answers; ready also means its boot has finished."""
        self.bring_up(room, machines)
        for machine in machines:
            self._wait_for_systemd(room, machine)

    def _wait_for_ssh(self, room: Room, machine: Machine, timeout: float | None = None) -> None:
        """Until the VM answers over labtool's strict SSH, its recorded host key checked (`vagrant ssh` checks none)."""
        timeout = READY_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = proc.run(self.shell_argv(room, machine, ["true"]), timeout=SSH_PROBE_TIMEOUT, check=False)
                if result.ok:
                    return
                why = result.stderr.strip()[-300:] or f"ssh exited {result.returncode}"
                if HOST_KEY_REFUSED in result.stderr:
                    raise HostKeyChangedError(
                        f"{machine.name} answers over SSH with a host key labtool did not record: {why}",
                        f"something else may answer at its address; if it was rebuilt on purpose, recreate it: "
                        f"`labtool down {room.name} --seat {machine.seat}`, then `labtool up {room.name}`",
                    )
            except VagrantError as exc:  # no address leased yet, or no key offered yet: it is still booting
                why = exc.message
            if time.monotonic() > deadline:
                domain = self.project(room).domain_name(machine.name)
                raise VagrantError(
                    f"{machine.name} runs but does not answer over SSH within {timeout:.0f} s: {why}",
                    f"look at its console: `{self.virsh.command('console', domain)}`",
                )
            time.sleep(READY_POLL_SECONDS)

    def _wait_for_systemd(self, room: Room, machine: Machine) -> None:
        """Wait in the guest (`--wait`) until systemd has finished booting: SSH answers well before nginx and
        the rest. Over labtool's own SSH, which checks the VM's recorded host key (`vagrant ssh` checks none)."""
        command = f"timeout {BOOT_TIMEOUT_SECONDS} systemctl is-system-running --wait; true"
        argv = self.shell_argv(room, machine, ["sh", "-c", command])
        result = proc.run(argv, timeout=BOOT_TIMEOUT_SECONDS + 60, check=False)
        if result.returncode == SSH_FAILED:
            raise VagrantError(
                f"cannot reach {machine.name} over SSH to wait for its boot: {result.stderr.strip()[-300:]}",
                f"check it with `labtool status {room.name}`, then run the command again",
            )
        state = result.stdout.strip().splitlines()
        if not state or state[-1] not in READY_STATES:
            raise VagrantError(
                f"systemd in the VM {machine.name} did not finish booting within {BOOT_TIMEOUT_SECONDS} s "
                f"(state: {state[-1] if state else 'unknown'})",
                f"look inside with `labtool ssh {machine.name} --room {room.name}` and `systemctl list-jobs`",
            )

    def connection(self, room: Room, machine: Machine) -> dict[str, object]:
        ssh = self._ssh(self.project(room), room, machine)
        self._host_keys(room, machine, ssh)
        common = known_hosts.common_args(self.known_hosts(room).path, machine.name, self.host.ssh)
        return {
            "ansible_host": ssh["HostName"],
            "ansible_port": int(ssh.get("Port", "22")),
            "ansible_user": ssh["User"],
            "ansible_ssh_private_key_file": ssh["IdentityFile"],
            "ansible_ssh_common_args": common,
            "ansible_ssh_timeout": ANSIBLE_CONNECT_SECONDS,  # over a short `timeout` in the project's ansible.cfg too
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
            *self._ssh_options(room, machine, ssh),
            *([] if command else ["-t"]),
            f"{ssh['User']}@{ssh['HostName']}",
            # ssh joins its arguments into one remote shell line: quote them so they arrive as given.
            *([shlex.join(command)] if command else []),
        ]

    def _ssh_options(self, room: Room, machine: Machine, ssh: dict[str, str]) -> list[str]:
        """ssh and its options for the VM: its own private key, its recorded host keys checked."""
        return [
            "ssh",
            "-i",
            ssh["IdentityFile"],
            "-p",
            ssh.get("Port", "22"),
            *known_hosts.ssh_options(self.known_hosts(room).path, machine.name),
            *known_hosts.jump_options(self.host.ssh),
            "-o",
            "LogLevel=ERROR",
        ]

    def _ssh(self, project: VagrantProject, room: Room, machine: Machine) -> dict[str, str]:
        """The VM's SSH settings, once sure they name its own private key (0600), not Vagrant's insecure one."""
        ssh = project.ssh_config(machine.name)
        key = Path(ssh["IdentityFile"].strip('"'))
        if not key.is_relative_to(project.dotfile_dir) or not key.is_file():
            raise VagrantError(
                f"{machine.name} would be reached with {key}, not the private key labtool made for it",
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
        offered = known_hosts.scan(ssh["HostName"], int(ssh.get("Port", "22")), self.host.ssh)
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
                "its box may predate labtool's own keys (`labtool images build` makes a current one); "
                f"recreate the VM: `labtool down {room.name} --seat {machine.seat}`, then `labtool up {room.name}`",
            )
        known.record(machine.name, own)

    def host_view(self, room: Room, machine: Machine) -> HostView:
        domain = self.project(room).domain_name(machine.name)
        process = process_view.view_on(self.host, f"{QEMU_PID_DIR}/{domain}.pid")
        own_bytes, base_bytes = _disk_chain(self.virsh, domain)
        return HostView(
            pid=process.pid,
            process=process.name,
            ancestry=process.ancestry,
            memory_bytes=process.resident_bytes,
            memory_source="QEMU resident set",
            base_disk_bytes=base_bytes,
            base_disk="box volume",
            own_disk_bytes=own_bytes,
            own_disk="qcow2 overlay",
            shared_namespaces=None,
            host_kernel=process.kernel,
        )

    def destroy(self, room: Room, machines: Sequence[Machine]) -> None:
        project = self.project(room)
        project.define(_specs(room))
        for machine in machines:
            domain = project.domain_name(machine.name)
            mac = address_guard.mac_on(self.virsh, domain, network_name(room))
            forwards.withdraw(self._relays(project, room), machine.name)
            self._delete_snapshots(domain)  # libvirt refuses to undefine a domain that has any
            project.forget_created_network(machine.name)
            project.destroy(machine.name)
            if _domain_state(self.virsh, domain) is not None:
                # Vagrant has no record of it: its `vagrant up` was killed after defining the domain and
                # before writing the id down. The name is this room's own, so it is removed by name.
                self.virsh("destroy", domain, check=False)
                self.virsh("undefine", domain, "--remove-all-storage")
            if mac is not None:
                address_guard.release(self.virsh, network_name(room), mac)
            # Its next host keys are new ones: the next `up` records them (trust on first use).
            self.known_hosts(room).forget([machine.name])
            self._keys_checked.discard((room.name, machine.name))

    # -- checkpoints: libvirt's internal snapshots of the running VM (disk and memory, in its qcow2 overlay) --

    def save_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        domain = self._running_domain(room, machine)
        self.virsh(
            "snapshot-create-as", "--domain", domain, "--name", snapshot_name(name), "--atomic",
            timeout=SNAPSHOT_TIMEOUT,
        )  # fmt: skip

    def restore_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        """Back to the snapshot, running; its clock set to now and its published ports started again."""
        project = self.project(room)
        domain = self._running_domain(room, machine)
        # Their connections go back in time with the VM.
        forwards.withdraw(self._relays(project, room), machine.name)
        self.virsh(
            "snapshot-revert", "--domain", domain, "--snapshotname", snapshot_name(name), "--running",
            timeout=SNAPSHOT_TIMEOUT,
        )  # fmt: skip
        self._wait_for_ssh(room, machine)
        # The guest's clock resumes where the snapshot left it; TLS, make and logs want the real time.
        proc.run(self.shell_argv(room, machine, ["sudo", "-n", "date", "-u", "-s", f"@{time.time():.0f}"]), timeout=60)
        self._publish(project, room, machine, self._ssh(project, room, machine))

    def delete_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        domain = self.project(room).domain_name(machine.name)
        if snapshot_name(name) in self._snapshots(domain):
            self.virsh("snapshot-delete", "--domain", domain, "--snapshotname", snapshot_name(name))

    def _running_domain(self, room: Room, machine: Machine) -> str:
        domain = self.project(room).domain_name(machine.name)
        if _domain_state(self.virsh, domain) != "running":
            raise VagrantError(
                f"{machine.name} is not running", f"start it first: `labtool start {room.name} --seat {machine.seat}`"
            )
        return domain

    def _snapshots(self, domain: str) -> list[str]:
        if _domain_state(self.virsh, domain) is None:
            return []
        return self.virsh("snapshot-list", "--domain", domain, "--name").split()

    def _delete_snapshots(self, domain: str) -> None:
        for snapshot in self._snapshots(domain):
            self.virsh("snapshot-delete", "--domain", domain, "--snapshotname", snapshot)

    def describe_room_resources(self, room: Room) -> list[str]:
        if network_name(room) not in self.virsh("net-list", "--all", "--name").split():
            return []
        return [f"libvirt network {network_name(room)} ({room.networks.vm_subnet})"]

    def remove_room_resources(self, room: Room) -> None:
        network = network_name(room)
        if network in self.virsh("net-list", "--all", "--name").split():
            self.virsh("net-destroy", network, check=False)
            self.virsh("net-undefine", network)
        forwards.withdraw(self._relays(self.project(room), room))
        shutil.rmtree(self.project(room).state_dir, ignore_errors=True)


QEMU_PID_DIR = "/run/libvirt/qemu"  # libvirtd (system) keeps each running domain's QEMU pid here


def network_name(room: Room) -> str:
    return f"labtool-{room.name}"


def _vms(room: Room) -> list[Machine]:
    return [m for m in room.machines if m.kind is Kind.VM]


def _specs(room: Room) -> list[VmSpec]:
    return [VmSpec(m.name, room.vm.cpus, room.vm.memory_mib) for m in _vms(room)]


def forwarded_ports(room: Room, machine: Machine, host: LabHost) -> tuple[ForwardedPort, ...]:
    """The VM's published SSH and app ports on its lab host's access address (none when the room publishes none)."""
    address = access.address_on(room, host)
    if address is None:
        return ()
    names = {access.GUEST_SSH: "labtool-ssh"}
    return tuple(
        ForwardedPort(names.get(guest, "labtool-http"), guest, port, address)
        for guest, port in access.published(room, machine).items()
    )


FIRST_UP_POLL_SECONDS = 1.0
BOX_UPLOAD_LOCK = ".box-upload"
"""Beside the rooms' state directories, as the host-wide `.ports` lock (labtool/state.py)."""
BOOT_TIMEOUT_SECONDS = 600
"""How long a started VM's boot may take under TCG (measured: about 70 s) before it counts as failed."""
SSH_FAILED = 255
"""ssh's own exit status when it cannot connect or the host key does not match."""
SSH_PROBE_TIMEOUT = 60.0
HOST_KEY_REFUSED = "Host key verification failed"
"""What ssh prints when its strict host key check refuses the key a machine offers."""
ANSIBLE_CONNECT_SECONDS = 60
"""How long Ansible (with mitogen: ssh, then Python started in the guest) may take to connect to a VM. Its default,
10 s, is too short for a VM under TCG while the host boots and converges others: seen with four VMs on two cores,
a VM that had just answered labtool's SSH failed its first task with "Connection timed out"."""
READY_STATES = ("running", "degraded")
"""`systemctl is-system-running` once boot has finished ("degraded": a unit failed; the machine still works)."""


def _catching(call: Callable[[str], None], argument: str, failures: list[BaseException]) -> None:
    try:
        call(argument)
    except BaseException as exc:  # handed to the caller's thread, which raises it
        failures.append(exc)


QEMU_IMG_TIMEOUT = 60.0  # `qemu-img info` reads the image headers only


def _domain_state(virsh: Virsh, domain: str) -> str | None:
    """`virsh domstate` ("running", "shut off" ...), or None when there is no such domain."""
    return virsh("domstate", domain, check=False).strip() or None


def _forget_stale(virsh: Virsh, project: VagrantProject, name: str, domain: str) -> None:
    """Clear what a VM that is gone left behind, before it is created again.

    A domain undefined behind labtool's back (`virsh undefine`), or a `vagrant up` killed
    between making the VM's disk and defining its domain, leaves the disk volume in the
    pool (and Vagrant's record of the machine); vagrant-libvirt then refuses to create the
    VM ("volume for domain is already created"). `vagrant destroy` of a machine that does
    not exist removes exactly those.
    """
    record = project.data_dir(name) / "id"
    volume = virsh("vol-info", "--pool", STORAGE_POOL, f"{domain}.img", check=False)
    if volume.strip() or record.exists():
        project.destroy(name)


SNAPSHOT_TIMEOUT = 600.0
"""Saving or reverting a VM's memory and disk state: seconds under KVM, a minute or more under TCG on a busy host."""


def snapshot_name(checkpoint: str) -> str:
    """libvirt's name of a labtool checkpoint: prefixed, so a snapshot taken by hand is never taken for one."""
    return f"labtool-{checkpoint}"


READY_TIMEOUT = 900.0
"""How long a running VM may take to answer over SSH (a first boot under TCG on a busy host takes minutes)."""
READY_POLL_SECONDS = 5.0


def _disk_chain(virsh: Virsh, domain: str) -> tuple[int, int]:
    """Bytes on disk of the VM's own overlay and of the box volume beneath it."""
    disk = next(
        line.split(None, 1)[1].strip()
        for line in virsh("domblklist", domain).splitlines()
        if line.strip().startswith(("vda", "sda", "hda"))
    )
    info = ["qemu-img", "info", "--force-share", "--backing-chain", "--output=json", disk]
    chain = json.loads(proc.run(virsh.host.argv(info), timeout=QEMU_IMG_TIMEOUT).stdout)  # where the disk is
    return int(chain[0]["actual-size"]), int(chain[-1]["actual-size"])


def _domain_address(virsh: Virsh, domain: str) -> str | None:
    """The VM's IPv4 address from libvirt's DHCP leases."""
    for line in virsh("domifaddr", domain, "--source", "lease", check=False).splitlines():
        words = line.split()
        if len(words) == 4 and words[2] == "ipv4":
            return words[3].split("/")[0]
    return None

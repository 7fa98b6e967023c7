"""Fakes shared by the unit tests: a backend that keeps its machines in a set."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from labtool.backends.base import HostView, Observed, Presence
from labtool.errors import LabtoolError
from labtool.model import Kind, Machine, Room


class FakeBackend:
    def __init__(self, kind: Kind, broken: set[str] | None = None) -> None:
        self.kind = kind
        self.running: set[str] = set()
        self.stopped: set[str] = set()
        self.broken = broken or set()
        self.crashing: set[str] = set()
        self.room_resources = True
        self.calls: list[tuple[str, str]] = []
        """(method, machine) of every bring_up, start and stop, in order."""
        self.unreachable: LabtoolError | None = None
        """Raised by observe and by every call on a machine: the daemon does not answer."""
        self.slow: set[str] = set()
        """Machines whose bring_up waits (as `vagrant up` for a boot) until `killed` is set, then fails
        as a killed command does; the machine exists by then, half made."""
        self.stuck: set[str] = set()
        """Machines whose bring_up waits until `unstuck` is set whatever happens (a call that ignores signals)."""
        self.killed = threading.Event()
        self.unstuck = threading.Event()
        self.started = threading.Event()
        """Set when a slow or stuck bring_up has begun."""
        self.creations: list[str] = []
        self.destructions: list[str] = []
        self.checkpoints: set[tuple[str, str]] = set()
        """(machine, name) of every checkpoint the backend holds."""
        self.restored: list[tuple[str, str]] = []
        self.failing_checkpoints: set[str] = set()
        """Machines whose checkpoint cannot be saved."""

    def observe(self, room: Room) -> dict[str, Observed]:
        if self.unreachable is not None:
            raise self.unreachable
        return {m.name: Observed(m.name, self._presence(m.name)) for m in room.machines if m.kind is self.kind}

    def _presence(self, name: str) -> Presence:
        if name in self.running:
            return Presence.RUNNING
        return Presence.STOPPED if name in self.stopped else Presence.ABSENT

    def bring_up(self, room: Room, machines: Sequence[Machine]) -> None:
        for machine in machines:
            self.calls.append(("bring_up", machine.name))
            self._check(machine)
            if machine.name not in self.running:
                self.creations.append(machine.name)
            if machine.name in self.slow:
                self.running.add(machine.name)  # the domain is defined and booting
                self.started.set()
                self.killed.wait(30)
                raise LabtoolError(f"`vagrant up {machine.name}` exited with -15")
            if machine.name in self.stuck:
                self.started.set()
                self.unstuck.wait(30)
            self.stopped.discard(machine.name)
            self.running.add(machine.name)

    def start(self, room: Room, machines: Sequence[Machine]) -> None:
        for machine in machines:
            self.calls.append(("start", machine.name))
            if machine.name not in self.stopped | self.running:
                raise LabtoolError(f"{machine.name} does not exist")
            self._check(machine)
            self.stopped.discard(machine.name)
            self.running.add(machine.name)

    def stop(self, room: Room, machines: Sequence[Machine]) -> None:
        for machine in machines:
            self.calls.append(("stop", machine.name))
            self._check(machine)
            if machine.name in self.running:
                self.running.discard(machine.name)
                self.stopped.add(machine.name)

    def _check(self, machine: Machine) -> None:
        if self.unreachable is not None:
            raise self.unreachable
        if machine.name in self.broken:
            raise LabtoolError(f"{machine.name} would not start")
        if machine.name in self.crashing:
            raise RuntimeError("the SDK fell over")

    def connection(self, room: Room, machine: Machine) -> dict[str, object]:
        return {"ansible_host": machine.name}

    def shell_argv(self, room: Room, machine: Machine, command: Sequence[str]) -> list[str]:
        return ["true", *command]

    def host_view(self, room: Room, machine: Machine) -> HostView:
        return fake_host_view(machine)

    def save_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        if machine.name not in self.running:
            raise LabtoolError(f"{machine.name} is not running")
        if machine.name in self.failing_checkpoints:
            raise LabtoolError(f"{machine.name}: no space left for a checkpoint")
        self.checkpoints.add((machine.name, name))

    def restore_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        if (machine.name, name) not in self.checkpoints:
            raise LabtoolError(f"{machine.name} has no checkpoint {name}")
        self.restored.append((machine.name, name))

    def delete_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        self.checkpoints.discard((machine.name, name))

    def destroy(self, room: Room, machines: Sequence[Machine]) -> None:
        self.checkpoints = {c for c in self.checkpoints if c[0] not in {m.name for m in machines}}
        self.running -= {m.name for m in machines}
        self.stopped -= {m.name for m in machines}
        self.destructions += [m.name for m in machines]

    def remove_room_resources(self, room: Room) -> None:
        self.room_resources = False

    def describe_room_resources(self, room: Room) -> list[str]:
        return [f"fake {self.kind} network of {room.name}"] if self.room_resources else []


def fake_host_view(machine: Machine) -> HostView:
    """What a backend would measure: a VM costs more than a container, as on a real host."""
    vm = machine.kind is Kind.VM
    return HostView(
        pid=4242 if vm else 4343,
        process="qemu-system-x86_64" if vm else "systemd",
        ancestry=("systemd",) if vm else ("containerd-shim-runc-v2", "systemd"),
        memory_bytes=(700 if vm else 60) * 1024 * 1024,
        memory_source="QEMU resident set" if vm else "cgroup usage",
        base_disk_bytes=(774 if vm else 222) * 1024 * 1024,
        base_disk="box volume" if vm else "image",
        own_disk_bytes=(300 if vm else 20) * 1024 * 1024,
        own_disk="qcow2 overlay" if vm else "writable layer",
        shared_namespaces=None if vm else ("cgroup", "time", "user"),
    )

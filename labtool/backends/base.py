"""The one small Protocol every backend implements, and what backends report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from labtool.model import Kind, Machine, Room


class Presence(StrEnum):
    ABSENT = "absent"
    STOPPED = "stopped"
    RUNNING = "running"
    UNKNOWN = "unknown"
    """Its daemon does not answer: `status` shows it, `up` fails the machine, other verbs stop with the error."""


@dataclass(frozen=True)
class Observed:
    name: str
    presence: Presence
    address: str | None = None
    note: str = ""
    """Why the presence is unknown (its lab host does not answer); empty otherwise."""


@dataclass(frozen=True)
class HostView:
    """A running machine as the host sees it, measured for `labtool compare`."""

    pid: int
    """The host process that is the machine: the container's PID 1, or the VM's QEMU."""
    process: str
    ancestry: tuple[str, ...]
    """Names of that process's ancestors on the host, nearest first."""
    memory_bytes: int
    memory_source: str
    base_disk_bytes: int
    """What every machine of the kind shares: the image, or the box's volume."""
    base_disk: str
    own_disk_bytes: int
    """What this machine wrote itself: the container's writable layer, or the VM's overlay disk."""
    own_disk: str
    shared_namespaces: tuple[str, ...] | None
    """Host namespaces the machine's process is in; None for a VM, whose guest has a kernel of its own."""
    host_kernel: str = ""
    """The release of the kernel of the lab host the machine runs on."""


class Backend(Protocol):
    kind: Kind

    def observe(self, room: Room) -> dict[str, Observed]:
        """The state of every machine of this kind in the room (absent ones included)."""
        ...

    def bring_up(self, room: Room, machines: Sequence[Machine]) -> None:
        """Create or start the machines and wait until each is ready to be provisioned."""
        ...

    def connection(self, room: Room, machine: Machine) -> dict[str, object]:
        """Ansible host variables to reach the machine (for the generated inventory)."""
        ...

    def shell_argv(self, room: Room, machine: Machine, command: Sequence[str]) -> list[str]:
        """The command line that runs `command` (or a login shell, when empty) on the machine as its lab user."""
        ...

    def stop(self, room: Room, machines: Sequence[Machine]) -> None:
        """Shut the running machines down cleanly, keeping them (disk, identity) for `start`."""
        ...

    def start(self, room: Room, machines: Sequence[Machine]) -> None:
        """Start stopped machines and wait until each is ready, as bring_up does (systemd booted, reachable)."""
        ...

    def host_view(self, room: Room, machine: Machine) -> HostView:
        """Measure the running machine from the host: its process, memory and disk."""
        ...

    def destroy(self, room: Room, machines: Sequence[Machine]) -> None:
        """Remove the machines and everything that belongs to them."""
        ...

    def remove_room_resources(self, room: Room) -> None:
        """Remove what the room shares (networks); called once its machines are gone."""
        ...

    def describe_room_resources(self, room: Room) -> list[str]:
        """What remove_room_resources would remove now, one phrase each (only what exists), to ask before it."""
        ...


@runtime_checkable
class Checkpointing(Protocol):
    """A backend that can save a running machine's state under a name and bring it back (`labtool snapshot`).

    A machine's checkpoints belong to it: `destroy` removes them with it.
    """

    def save_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        """Capture the running machine as it is now, under `name` (not yet taken for it)."""
        ...

    def restore_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        """Bring the machine back to the checkpoint, running and ready, with its name, address and ports."""
        ...

    def delete_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        """Remove the checkpoint; nothing when it does not exist."""
        ...


@runtime_checkable
class ToolEnv(Protocol):
    """A backend whose machines the tools (ansible-playbook, testinfra's pytest) reach only with an environment
    of their own: another lab host's containers, through that host's Docker engine (DOCKER_HOST)."""

    def tool_env(self, room: Room, machine: Machine) -> Mapping[str, str]: ...

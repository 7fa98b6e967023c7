"""The room model: what `config.load` produces from inventories/<room>/ and everything downstream reads.

A room is N seats; a seat is a pair of machines, one VM and one container, that
must end up identical where it matters. All models are frozen: a room is loaded
and validated once, then passed along unchanged.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from labtool.project import Project


class Kind(StrEnum):
    VM = "vm"
    CONTAINER = "container"


# The one documented pairing rule: inventory group `vms` holds the VMs, group
# `containers` the containers; a machine's seat is its `labtool_seat` host variable,
# or else its name without the suffix (`seat01-vm` and `seat01-ct` form seat `seat01`).
LAB_GROUP = "lab"
"""The group holding both: the course's plays run on `hosts: lab`."""
GROUP_OF_KIND = {Kind.VM: "vms", Kind.CONTAINER: "containers"}
SUFFIX_OF_KIND = {Kind.VM: "-vm", Kind.CONTAINER: "-ct"}
SEAT_VARIABLE = "labtool_seat"


SSH_CONNECT_SECONDS = 10
"""How long labtool waits for another lab host to take an SSH connection."""


@dataclass(frozen=True)
class LabHost:
    """A machine that runs seats: the one labtool runs on, or another lab host reached over SSH.

    Backends are built for a host; each technology turns it into its engine's own remote address
    (Docker's `ssh://`, libvirt's `qemu+ssh://`), so a second host is a new value, not new code.
    """

    name: str
    ssh: str | None = None
    """`user@address` as key-based SSH reaches the host; None: this machine."""
    address: str | None = None
    """Where students reach this host's seats when the room publishes them (`access:`); None: the address in
    `ssh`. This machine's is the access section's own."""

    @property
    def is_local(self) -> bool:
        return self.ssh is None

    @property
    def student_address(self) -> str | None:
        """The address the room's published ports bind to on this host (another host's; None for this one, or
        when its SSH destination names no IP address and none is given)."""
        if self.address is not None or self.ssh is None:
            return self.address
        found = self.ssh.rsplit("@", 1)[-1]
        try:
            return str(ipaddress.ip_address(found))
        except ValueError:
            return None

    def argv(self, command: Sequence[str]) -> list[str]:
        """The command line that runs `command` on this host: as it is here, over key-based SSH on another host
        (never a question: no password prompt, no unknown host key accepted)."""
        if self.ssh is None:
            return list(command)
        return [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={SSH_CONNECT_SECONDS}",
            self.ssh,
            shlex.join(command),
        ]


THIS_HOST = LabHost("here")
"""The machine labtool runs on: every room's host unless its labtool.yml lists others."""


@dataclass(frozen=True)
class Machine:
    name: str
    """Inventory hostname; also the machine's hostname, container name suffix and Vagrant machine name."""
    kind: Kind
    seat: str


@dataclass(frozen=True)
class Student:
    """Who sits at a seat (students.csv or the host variable `labtool_student`): an account on both machines."""

    name: str
    login: str
    """The Unix account on the seat's machines: given, or derived from the name (labtool.students)."""
    email: str | None = None


STUDENT_VARIABLE = "labtool_student"


@dataclass(frozen=True)
class Seat:
    name: str
    vm: Machine
    container: Machine
    student: Student | None = None
    pinned_host: str | None = None
    """The lab host the room's inventory pins the seat to (host variable `labtool_host`); None: placed by room."""

    @property
    def machines(self) -> tuple[Machine, Machine]:
        return (self.vm, self.container)


@dataclass(frozen=True)
class VmResources:
    cpus: int = 1
    memory_mib: int = 1024


@dataclass(frozen=True)
class ContainerResources:
    cpus: float = 1.0
    memory_mib: int = 512
    relax_sandboxing: bool = True
    """Turn off, in the container only, the sandboxing directives its host cannot give it (labtool-sandbox-probe)."""


@dataclass(frozen=True)
class Networks:
    """Per-room subnets, derived from the room's network index so rooms on one host never collide."""

    index: int

    @property
    def container_subnet(self) -> str:
        return f"10.213.{self.index}.0/24"

    @property
    def container_subnet6(self) -> str:
        """A unique-local IPv6 prefix, so the containers have IPv6 (and `::1`) as the VMs do."""
        return f"fd6c:6162:{self.index:x}::/64"

    @property
    def vm_subnet(self) -> str:
        return f"10.214.{self.index}.0/24"


@dataclass(frozen=True)
class AppProbe:
    """The course's own app, fingerprinted by parity when the room names it (labtool.yml `course.app`)."""

    fingerprint_url: str | None = None
    """JSON the app serves about itself; flattened into `app:` items."""
    page_url: str | None = None
    """An HTML page whose shape (tags and attributes, not text) becomes `page:` items."""
    page_ignore_id: str | None = None
    """The id of an element on that page whose contents are students' data, not shape."""


@dataclass(frozen=True)
class Access:
    """Published access (labtool.yml `access:`): each seat's SSH and HTTP on the host, at predictable ports.

    Seat i (0-based, in the room's seat order) gets ports port_base + 4*i + PORT_OFFSETS[...];
    labtool.access computes them.
    """

    address: str
    """An address of this host (never a wildcard): where students connect."""
    port_base: int


@dataclass(frozen=True)
class Course:
    """What a room teaches: the lab project's playbook, its testinfra suite, its extra expected differences."""

    project: Project
    """The lab project the course comes from; the paths below lie inside it."""
    playbook: Path
    tests: Path
    expected_differences: Path | None = None
    app: AppProbe = AppProbe()
    checks: Path | None = None
    """The exercise checks `labtool check` grades (testinfra files with points); None: the course has none."""


@dataclass(frozen=True)
class Room:
    name: str
    path: Path
    """The room's directory: an ordinary Ansible inventory plus labtool.yml."""
    seats: tuple[Seat, ...]
    vm: VmResources
    container: ContainerResources
    networks: Networks
    course: Course
    access: Access | None = None
    """None: nothing is published; the seats are reachable from the lab host only."""
    student_sudo: bool = True
    """Whether students may use sudo (with their password) on their seat's machines."""
    hosts: tuple[LabHost, ...] = (THIS_HOST,)
    """The lab hosts the room may run seats on (labtool.yml's `hosts:`); this machine alone by default."""

    @property
    def machines(self) -> tuple[Machine, ...]:
        return tuple(m for seat in self.seats for m in seat.machines)

    def host(self, name: str) -> LabHost:
        """The listed lab host of that name (a seat's placement names one)."""
        return next(host for host in self.hosts if host.name == name)

    @property
    def students(self) -> tuple[tuple[Seat, Student], ...]:
        return tuple((seat, seat.student) for seat in self.seats if seat.student is not None)

    def seat(self, name: str) -> Seat:
        for seat in self.seats:
            if seat.name == name:
                return seat
        raise KeyError(name)

    def machine(self, name: str) -> Machine:
        for machine in self.machines:
            if machine.name == name:
                return machine
        raise KeyError(name)

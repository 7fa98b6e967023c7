"""What the host has to spare, and whether the machines an `up` adds fit in it.

The arithmetic takes values in (the room's sizes, per-machine costs, the host's free
memory and disk) and is pure, so it is tested without a host; `read_free` is the one
place that reads this host. Machines already running are already in the host's used
memory, so only what `up` would start (memory) and create (disk) is counted.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from labtool import proc
from labtool.backends.vagrant.libvirt import STORAGE_POOL_DIR
from labtool.errors import CommandError, LabtoolError
from labtool.model import Kind, Room
from labtool.plan import Action, Plan

MEMINFO = Path("/proc/meminfo")
DOCKER_ROOT_DIR = Path("/var/lib/docker")
"""Docker's root dir when the engine does not say otherwise."""

MIB = 1024**2
GIB = 1024**3

# Measured on this 2-core TCG host (QEMU 7.2, Docker 20.10) with room `capa1`, one seat of the
# default room, during and after `labtool up` (labnotes course, mitogen, 356 s): every 3 s, the
# resident sizes of the mappings in /proc/PID/smaps of the VM's qemu-system-x86_64, and VmRSS
# summed over labtool's child process tree; then the disks as `labtool compare` reports them.
QEMU_PROCESS = 256 * MIB
"""QEMU's own memory beside guest RAM and the TCG cache: 159-222 MiB resident (smaps: everything but the
1024 MiB `pc.ram` mapping and the 1023 MiB code buffer), rounded up; this part applies under KVM too."""
TCG_CODE_CACHE = 1024 * MIB
"""TCG only: QEMU 7.2's translation buffer (tb-size) defaults to 1 GiB; its mapping was 1023 MiB resident
within two minutes of boot, before provisioning (guest RAM was then 360 MiB resident, 878 MiB after), and stays."""
CONTAINER_PROCESS = 16 * MIB
"""A container's memory outside its cgroup limit: its containerd-shim-runc-v2, 14 MiB resident."""
VM_OVERLAY = 1024 * MIB
"""A VM's qcow2 overlay: 334 MiB after provisioning the labnotes course (`qemu-img info` actual-size; the
virtual size is 8 GiB); three times that, for what the class writes."""
CONTAINER_LAYER = 512 * MIB
"""A container's writable layer: 224 MiB after provisioning the labnotes course (`docker ps -s`); twice that,
rounded up, for what the class writes."""
PROVISION_RUN = 256 * MIB
"""One provisioning run on the host (ansible-playbook, its mitogen workers, ssh): 175-216 MiB resident, rounded
up. `--parallel` bounds how many run at once."""
VAGRANT_RUN = 256 * MIB
"""One `vagrant up` (Ruby, vagrant-libvirt) while its VM is created: 195 MiB resident, rounded up. The VM lane
runs up to `--parallel` at once."""


@dataclass(frozen=True)
class Costs:
    """What one machine of each kind takes on the host besides the memory its room gives it."""

    vm_memory: int = QEMU_PROCESS + TCG_CODE_CACHE
    container_memory: int = CONTAINER_PROCESS
    vm_disk: int = VM_OVERLAY
    container_disk: int = CONTAINER_LAYER
    provision_run: int = PROVISION_RUN
    vagrant_run: int = VAGRANT_RUN

    @classmethod
    def measured(cls, *, kvm: bool) -> Costs:
        """This host's figures; without TCG there is no code cache in the QEMU process."""
        return cls(vm_memory=QEMU_PROCESS if kvm else QEMU_PROCESS + TCG_CODE_CACHE)

    def memory_overhead(self, kind: Kind) -> int:
        return self.vm_memory if kind is Kind.VM else self.container_memory

    def disk(self, kind: Kind) -> int:
        return self.vm_disk if kind is Kind.VM else self.container_disk


@dataclass(frozen=True)
class Disk:
    path: Path
    free: int
    device: int
    """The filesystem (st_dev): paths on one filesystem share its free space."""


@dataclass(frozen=True)
class HostFree:
    memory: int
    """MemAvailable: what can be used without swapping."""
    disks: Mapping[Kind, Disk]
    """Where each kind's own disk goes: the VMs' storage pool, Docker's root dir."""


@dataclass(frozen=True)
class Work:
    """What an `up` adds to the host: machines started (memory), created (disk) and provisioned, `parallel` at once."""

    starts: Mapping[Kind, int] = field(default_factory=dict)
    creates: Mapping[Kind, int] = field(default_factory=dict)
    provisions: int = 0
    parallel: int = 1

    @classmethod
    def new_seats(cls, seats: int, parallel: int) -> Work:
        both = {Kind.VM: seats, Kind.CONTAINER: seats}
        return cls(both, both, 2 * seats, parallel)

    @property
    def provisioning(self) -> int:
        """Provisioning runs at once: one pool of `parallel` for the whole room."""
        return min(self.parallel, self.provisions)

    @property
    def vagrant_ups(self) -> int:
        """`vagrant up`s at once: the VM lane brings up to `parallel` VMs up together."""
        return min(self.parallel, self.starts.get(Kind.VM, 0))


def work_of(plan: Plan, parallel: int) -> Work:
    """A stopped machine costs memory when started but has its disk already; a running one costs nothing new."""
    changes = plan.changes
    starts = Counter(s.machine.kind for s in changes if s.needs_machine)
    creates = Counter(s.machine.kind for s in changes if Action.CREATE in s.actions)
    provisions = sum(1 for s in changes if Action.PROVISION in s.actions)
    return Work(dict(starts), dict(creates), provisions, max(1, parallel))


@dataclass(frozen=True)
class KindNeed:
    kind: Kind
    starts: int
    creates: int
    memory: int
    """Each machine's own memory: the VM's RAM, the container's limit."""
    overhead: int
    """Each machine's memory on the host besides it (QEMU, the container's shim)."""
    disk: int

    @property
    def memory_total(self) -> int:
        return self.starts * (self.memory + self.overhead)

    @property
    def disk_total(self) -> int:
        return self.creates * self.disk


@dataclass(frozen=True)
class Needs:
    kinds: tuple[KindNeed, ...]
    provisioning: int
    provision_run: int
    vagrant_ups: int
    vagrant_run: int

    @property
    def tools(self) -> int:
        """What the tools driving the machines take while `up` runs: Ansible and Vagrant, `--parallel` at once."""
        return self.provisioning * self.provision_run + self.vagrant_ups * self.vagrant_run

    @property
    def memory(self) -> int:
        return sum(k.memory_total for k in self.kinds) + self.tools

    def of(self, kind: Kind) -> KindNeed:
        return next(k for k in self.kinds if k.kind is kind)


def needs_of(room: Room, work: Work, costs: Costs) -> Needs:
    configured = {Kind.VM: room.vm.memory_mib * MIB, Kind.CONTAINER: room.container.memory_mib * MIB}
    kinds = tuple(
        KindNeed(
            kind,
            work.starts.get(kind, 0),
            work.creates.get(kind, 0),
            configured[kind],
            costs.memory_overhead(kind),
            costs.disk(kind),
        )
        for kind in (Kind.VM, Kind.CONTAINER)
    )
    return Needs(kinds, work.provisioning, costs.provision_run, work.vagrant_ups, costs.vagrant_run)


@dataclass(frozen=True)
class Shortfall:
    what: str
    """"memory", or "disk on PATH[, PATH]"."""
    needed: int
    free: int


def disk_needs(needs: Needs, free: HostFree) -> list[tuple[tuple[Disk, ...], int]]:
    """Bytes needed per filesystem: when both kinds' dirs are on one, their needs add up against its free space."""
    groups: dict[int, tuple[list[Disk], int]] = {}
    for kind_need in needs.kinds:
        disk = free.disks[kind_need.kind]
        disks, total = groups.get(disk.device, ([], 0))
        groups[disk.device] = ([*disks, disk], total + kind_need.disk_total)
    return [(tuple(disks), total) for disks, total in groups.values()]


def shortfalls(needs: Needs, free: HostFree) -> list[Shortfall]:
    found = []
    if needs.memory > free.memory:
        found.append(Shortfall("memory", needs.memory, free.memory))
    for disks, total in disk_needs(needs, free):
        if total > disks[0].free:
            found.append(Shortfall(f"disk on {', '.join(str(d.path) for d in disks)}", total, disks[0].free))
    return found


def seats_that_fit(room: Room, costs: Costs, free: HostFree, parallel: int) -> int:
    """The most new seats of this room's sizes that fit beside what runs now (each seat: one VM, one container)."""
    seats = 0
    while not shortfalls(needs_of(room, Work.new_seats(seats + 1, parallel), costs), free):
        seats += 1
    return seats


def parallel_that_fits(room: Room, work: Work, costs: Costs, free: HostFree) -> int | None:
    """The largest --parallel below the planned one that makes the room fit, when the tools' runs are what overflows."""
    for parallel in range(work.parallel - 1, 0, -1):
        if not shortfalls(needs_of(room, replace(work, parallel=parallel), costs), free):
            return parallel
    return None


@dataclass(frozen=True)
class Assessment:
    room: str
    needs: Needs
    free: HostFree
    short: tuple[Shortfall, ...]
    seats_fit: int
    parallel_fit: int | None

    @property
    def fits(self) -> bool:
        return not self.short


def assess(room: Room, plan: Plan, parallel: int, costs: Costs, free: HostFree) -> Assessment:
    work = work_of(plan, parallel)
    needs = needs_of(room, work, costs)
    short = tuple(shortfalls(needs, free))
    parallel_fit = parallel_that_fits(room, work, costs, free) if short else None
    return Assessment(room.name, needs, free, short, seats_that_fit(room, costs, free, parallel), parallel_fit)


class CapacityError(LabtoolError):
    """A room's new machines need more memory or disk than the host has free."""


def check(assessment: Assessment) -> None:
    """Refuse an overcommitted room, with the numbers, before anything is created."""
    if assessment.fits:
        return
    raise CapacityError(refusal(assessment), refusal_hint(assessment))


def refusal(a: Assessment) -> str:
    short = "; ".join(f"{s.what}: {gib(s.needed)} needed, {gib(s.free)} free" for s in a.short)
    lines = [f"room {a.room!r} does not fit on this host: {short}"]
    vm, container = a.needs.of(Kind.VM), a.needs.of(Kind.CONTAINER)
    lines.append(
        f"  VMs: {vm.starts} to start x ({mib(vm.memory)} RAM + {mib(vm.overhead)} QEMU) = {gib(vm.memory_total)};"
        f" {vm.creates} to create x {mib(vm.disk)} overlay = {gib(vm.disk_total)} disk"
    )
    lines.append(
        f"  containers: {container.starts} to start x ({mib(container.memory)} limit + {mib(container.overhead)})"
        f" = {gib(container.memory_total)}; {container.creates} to create x {mib(container.disk)} layer"
        f" = {gib(container.disk_total)} disk"
    )
    if a.needs.tools:
        lines.append(
            f"  while it runs: {a.needs.provisioning} provisioning runs x {mib(a.needs.provision_run)}"
            f" + {a.needs.vagrant_ups} vagrant up x {mib(a.needs.vagrant_run)} at once = {gib(a.needs.tools)}"
        )
    lines.append(f"  memory: {gib(a.needs.memory)} needed, {gib(a.free.memory)} free (MemAvailable)")
    for disks, total in disk_needs(a.needs, a.free):
        lines.append(
            f"  disk on {', '.join(str(d.path) for d in disks)}: {gib(total)} needed, {gib(disks[0].free)} free"
        )
    lines.append(f"  this host fits {a.seats_fit} new seat{'' if a.seats_fit == 1 else 's'} of room {a.room!r}")
    return "\n".join(lines)


def summary(a: Assessment) -> str:
    """One line for `up --dry-run` and `up --force`: the totals and the verdict."""
    disks = "; ".join(
        f"disk {gib(total)} needed, {gib(disks[0].free)} free on {', '.join(str(d.path) for d in disks)}"
        for disks, total in disk_needs(a.needs, a.free)
    )
    verdict = "fits on this host" if a.fits else "does NOT fit on this host"
    return (
        f"capacity: room {a.room!r} {verdict}: memory {gib(a.needs.memory)} needed, {gib(a.free.memory)} free;"
        f" {disks}; the host fits {a.seats_fit} new seat{'' if a.seats_fit == 1 else 's'} of it"
    )


def refusal_hint(a: Assessment) -> str:
    if a.parallel_fit is not None:
        return f"provision fewer machines at once (`--parallel {a.parallel_fit}`), or pass --force to go ahead anyway"
    return (
        "bring up fewer seats (`--seat`), give the machines less memory in labtool.yml, stop other rooms"
        " (`labtool down`), or pass --force to create it anyway"
    )


def mib(value: int) -> str:
    return f"{value / MIB:.0f} MiB"


def gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"


# -- this host ----------------------------------------------------------------------------------


def available_memory(meminfo: Path = MEMINFO) -> int:
    """Bytes of memory the kernel says can be used without swapping (MemAvailable)."""
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def disk(path: Path) -> Disk:
    """Free space for `path`, measured on its nearest existing ancestor (a fresh host may lack the dir)."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return Disk(path, shutil.disk_usage(existing).free, os.stat(existing).st_dev)


def docker_root_dir() -> Path:
    """Where Docker keeps images and containers (`docker info`), or its default when the engine does not say."""
    try:
        result = proc.run(["docker", "info", "--format", "{{.DockerRootDir}}"], timeout=15, check=False)
    except CommandError:
        return DOCKER_ROOT_DIR
    answer = result.stdout.strip()
    return Path(answer) if result.ok and answer.startswith("/") else DOCKER_ROOT_DIR


def read_free() -> HostFree:
    return HostFree(available_memory(), {Kind.VM: disk(STORAGE_POOL_DIR), Kind.CONTAINER: disk(docker_root_dir())})

"""`labtool compare`: what a VM and a container cost and isolate, measured on each live pair.

Every figure comes from this host, now (or, for start time, from the last
`labtool up` that created or started the machine): the host's view of each
machine (its process, memory, disk) from the backend, and the machine's own
view (kernel, limits it sees, boot time) from the fingerprint collector.
"""

from __future__ import annotations

import platform
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from labtool import state
from labtool.backends.base import HostView, Presence
from labtool.errors import LabtoolError
from labtool.lab import Lab
from labtool.model import Machine, Seat
from labtool.parity.fingerprint import collect
from labtool.progress import Progress

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measures:
    """One machine, measured."""

    machine: str
    host: HostView
    kernel: str
    pid1: str
    start_seconds: float | None
    start_action: str
    boot_seconds: float | None
    memtotal_bytes: int
    memory_limit_bytes: int | None
    cpus: int
    cpu_limit: float | None
    processes: int


@dataclass(frozen=True)
class Row:
    measure: str
    vm: str
    container: str
    ratio: str
    """VM ÷ container, where both are numbers and the ratio means something."""


@dataclass(frozen=True)
class SeatComparison:
    seat: str
    host_kernel: str
    vm: Measures | None = None
    container: Measures | None = None
    error: str = ""

    def rows(self) -> list[Row]:
        """The comparison as a table (empty when the seat could not be measured)."""
        if self.vm is None or self.container is None:
            return []
        return _rows(self.vm, self.container, self.host_kernel)


def compare(lab: Lab, seats: Collection[str] | None, *, progress: Progress) -> list[SeatComparison]:
    chosen = [s for s in lab.room.seats if seats is None or s.name in seats]
    observed = lab.observe()
    records = state.read(lab.state_dir).machines
    host_kernel = platform.release()

    def measure_seat(seat: Seat) -> SeatComparison:
        down = [m.name for m in seat.machines if observed[m.name].presence is not Presence.RUNNING]
        if down:
            return SeatComparison(seat.name, host_kernel, error=f"not measured: {', '.join(down)} not running")
        progress(f"{seat.name}: measuring {seat.vm.name} and {seat.container.name}")
        try:
            vm, container = (_measure(lab, m, records.get(m.name, state.MachineRecord())) for m in seat.machines)
        except LabtoolError as exc:
            return SeatComparison(seat.name, host_kernel, error=f"not measured: {exc.message}")
        # The kernel the container shares is that of the seat's own lab host.
        return SeatComparison(seat.name, container.host.host_kernel or host_kernel, vm, container)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="compare") as pool:
        return list(pool.map(measure_seat, chosen))


def _measure(lab: Lab, machine: Machine, record: state.MachineRecord) -> Measures:
    backend = lab.backends[machine.kind]
    fingerprint = collect(backend, lab.room, machine, files=[], system_only=True)
    try:
        host = backend.host_view(lab.room, machine)
    except LabtoolError:
        raise
    except Exception as exc:  # /proc, libvirt or the Docker SDK: the seat is reported, the others still measured
        raise LabtoolError(f"{machine.name}: cannot measure it from the host: {exc}") from exc
    facts: dict[str, Any] = fingerprint.facts
    return Measures(
        machine=machine.name,
        host=host,
        kernel=fingerprint.items.get("system:kernel_release", "?"),
        pid1=fingerprint.items.get("system:pid1", "?"),
        start_seconds=record.start_seconds,
        start_action=record.start_action,
        boot_seconds=facts.get("boot_seconds"),
        memtotal_bytes=int(facts.get("memtotal_bytes") or 0),
        memory_limit_bytes=facts.get("memory_limit_bytes"),
        cpus=int(facts.get("cpus") or 0),
        cpu_limit=facts.get("cpu_limit"),
        processes=int(facts.get("processes") or 0),
    )


# -- the table -------------------------------------------------------------------------------


def _rows(vm: Measures, ct: Measures, host_kernel: str) -> list[Row]:
    return [
        Row(
            "start until ready (labtool up)",
            _seconds(vm.start_seconds, vm.start_action),
            _seconds(ct.start_seconds, ct.start_action),
            _ratio(vm.start_seconds, ct.start_seconds),
        ),
        Row(
            "boot, from the guest's systemd",
            _seconds(vm.boot_seconds, "kernel to boot finished"),
            _seconds(ct.boot_seconds, "systemd to boot finished"),
            _ratio(vm.boot_seconds, ct.boot_seconds),
        ),
        Row(
            "disk, shared base",
            f"{_mib(vm.host.base_disk_bytes)} ({vm.host.base_disk})",
            f"{_mib(ct.host.base_disk_bytes)} ({ct.host.base_disk})",
            _ratio(vm.host.base_disk_bytes, ct.host.base_disk_bytes),
        ),
        Row(
            "disk, this machine's own",
            f"{_mib(vm.host.own_disk_bytes)} ({vm.host.own_disk})",
            f"{_mib(ct.host.own_disk_bytes)} ({ct.host.own_disk})",
            _ratio(vm.host.own_disk_bytes, ct.host.own_disk_bytes),
        ),
        Row(
            "memory used on the host",
            f"{_mib(vm.host.memory_bytes)} ({vm.host.memory_source})",
            f"{_mib(ct.host.memory_bytes)} ({ct.host.memory_source})",
            _ratio(vm.host.memory_bytes, ct.host.memory_bytes),
        ),
        Row("kernel", _kernel(vm.kernel, host_kernel), _kernel(ct.kernel, host_kernel), ""),
        Row("PID 1 inside", vm.pid1, ct.pid1, ""),
        Row("on the host, the machine is", _process(vm.host), _process(ct.host), ""),
        Row("host namespaces shared", _namespaces(vm.host), _namespaces(ct.host), ""),
        Row("memory it sees (MemTotal)", _mib(vm.memtotal_bytes), _mib(ct.memtotal_bytes), ""),
        Row("memory limit it is under", _limit(vm.memory_limit_bytes), _limit(ct.memory_limit_bytes), ""),
        Row("CPUs it sees", _cpus(vm.cpus, vm.cpu_limit), _cpus(ct.cpus, ct.cpu_limit), ""),
        Row("processes it sees", str(vm.processes), str(ct.processes), _ratio(vm.processes, ct.processes)),
    ]


def _seconds(value: float | None, what: str) -> str:
    if value is None:
        return "not measured"
    return f"{value:.1f} s ({what})" if what else f"{value:.1f} s"


def _ratio(vm: float | None, container: float | None) -> str:
    if not vm or not container:
        return ""
    return f"{vm / container:.1f}x"


def _mib(value: int) -> str:
    return f"{value / MIB:.0f} MiB" if value < 10 * 1024 * MIB else f"{value / (1024 * MIB):.1f} GiB"


def _kernel(kernel: str, host_kernel: str) -> str:
    return f"{kernel} (the host's)" if kernel == host_kernel else f"{kernel} (its own; host runs {host_kernel})"


def _process(host: HostView) -> str:
    chain = " < ".join(host.ancestry[:3])
    return f"{host.process} (pid {host.pid}, under {chain})" if chain else f"{host.process} (pid {host.pid})"


def _namespaces(host: HostView) -> str:
    if host.shared_namespaces is None:
        return "none: a guest kernel of its own"
    return ", ".join(host.shared_namespaces) or "none"


def _limit(value: int | None) -> str:
    return _mib(value) + " (cgroup)" if value else "none"


def _cpus(cpus: int, limit: float | None) -> str:
    return f"{cpus}, limited to {limit:g} by cgroup" if limit else str(cpus)

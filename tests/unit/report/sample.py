"""A recorded room report, built by hand: seat01 verified with expected differences only, seat02 drifted.

seat02's container also fails two tests; the values are the shapes the real collector
and backends produce (sha256 digests, package versions, namespaces, ...). Both seats were
graded by `labtool check`: seat01 (Ada) did the exercise on both machines, seat02 only on its
container, and seat02's VM could not be checked.
"""

from __future__ import annotations

from labtool.backends.base import HostView, Presence
from labtool.checks import CheckResult, MachineChecks
from labtool.compare import Measures, SeatComparison
from labtool.lab import MachineStatus
from labtool.model import Kind, Machine, Seat
from labtool.parity.diff import Difference, SeatParity
from labtool.report.build import RoomReport
from labtool.verify import CaseResult, MachineTests, VerifyReport

HOST_KERNEL = "6.1.0-28-amd64"
MIB = 1024 * 1024
DIGEST_VM = "sha256:" + "a1" * 32
DIGEST_CT = "sha256:" + "b2" * 32
KERNEL_REASON = "the VM runs its own kernel; the container shares the host's"
HOSTNAME_REASON = "each machine is named after itself (seatNN-vm, seatNN-ct)"


def seat(name: str) -> Seat:
    return Seat(name, Machine(f"{name}-vm", Kind.VM, name), Machine(f"{name}-ct", Kind.CONTAINER, name))


def status(name: str, kind: Kind, address: str, presence: Presence = Presence.RUNNING) -> MachineStatus:
    return MachineStatus(name, kind, presence, address, True, 0, "")


def passing(name: str, kind: Kind, count: int = 36) -> MachineTests:
    cases = tuple(CaseResult(f"test_{i}", "passed", 0.1) for i in range(count))
    return MachineTests(name, kind, cases, 12.0)


def failing(name: str, kind: Kind) -> MachineTests:
    failed = (
        CaseResult(
            "test_service_enabled_and_running[nginx]", "failed", 0.2, "AssertionError: nginx.service is inactive"
        ),
        CaseResult("test_app_answers", "error", 0.3, "ConnectionRefusedError: [Errno 111] Connection refused"),
    )
    return MachineTests(name, kind, passing(name, kind, 34).cases + failed, 14.0)


def expected(seat_name: str) -> tuple[Difference, ...]:
    return (
        Difference("system:hostname", f"{seat_name}-vm", f"{seat_name}-ct", HOSTNAME_REASON),
        Difference("system:kernel_release", "6.1.0-27-amd64", HOST_KERNEL, KERNEL_REASON),
        Difference("app:kernel_release", "6.1.0-27-amd64", HOST_KERNEL, KERNEL_REASON),
    )


DRIFT = (
    Difference(
        "file:/etc/nginx/nginx.conf",
        f"file 0644 root:root {DIGEST_VM}",
        f"file 0644 root:root {DIGEST_CT}",
        why="the container's copy differs from the VM's by 1 line",
        details=("--- VM", "+++ container", "@@ -1 +1,2 @@", " user www-data;", "+worker_processes <64>;"),
        repair=(
            "no role manages /etc/nginx/nginx.conf, so provisioning leaves it: "
            "`labtool reset default --seat seat02 --container` rebuilds the machine that strayed"
        ),
    ),
    Difference("package:curl", "7.88.1-10+deb12u8", None),
)


def host_view(kind: Kind, pid: int) -> HostView:
    vm = kind is Kind.VM
    return HostView(
        pid=pid,
        process="qemu-system-x86_64" if vm else "systemd",
        ancestry=("libvirtd", "systemd") if vm else ("containerd-shim", "containerd", "systemd"),
        memory_bytes=(700 if vm else 60) * MIB,
        memory_source="QEMU's RSS" if vm else "cgroup memory.current",
        base_disk_bytes=400 * MIB,
        base_disk="box volume" if vm else "image",
        own_disk_bytes=(90 if vm else 30) * MIB,
        own_disk="overlay disk" if vm else "writable layer",
        shared_namespaces=None if vm else ("time", "user"),
    )


def measures(name: str, kind: Kind, pid: int) -> Measures:
    vm = kind is Kind.VM
    return Measures(
        machine=name,
        host=host_view(kind, pid),
        kernel="6.1.0-27-amd64" if vm else HOST_KERNEL,
        pid1="systemd",
        start_seconds=38.5 if vm else 2.1,
        start_action="create",
        boot_seconds=9.8 if vm else 1.2,
        memtotal_bytes=(1024 if vm else 15_900) * MIB,
        memory_limit_bytes=None if vm else 512 * MIB,
        cpus=1 if vm else 8,
        cpu_limit=None if vm else 1.0,
        processes=95 if vm else 21,
    )


def comparison(seat_name: str) -> SeatComparison:
    return SeatComparison(
        seat_name,
        HOST_KERNEL,
        measures(f"{seat_name}-vm", Kind.VM, 4242),
        measures(f"{seat_name}-ct", Kind.CONTAINER, 5151),
    )


NOTE_TITLE = "A note signed with the student's name was added through the API"


def graded(name: str, kind: Kind, seat_name: str, student: str, *, note: bool, gzip: bool) -> MachineChecks:
    results = (
        CheckResult("test_app_answers", "passed", 1.0, "The app's page still answers through nginx"),
        CheckResult("test_gzip_json", "passed" if gzip else "failed", 3.0, "The app's JSON is sent gzip-compressed"),
        CheckResult("test_note_signed", "passed" if note else "failed", 2.0, NOTE_TITLE),
    )
    return MachineChecks(name, kind, seat_name, student, results, 3.2, "2025-11-27T21:30:00Z")


def sample_checks() -> tuple[MachineChecks, ...]:
    return (
        graded("seat01-vm", Kind.VM, "seat01", "Ada Lovelace", note=True, gzip=True),
        graded("seat01-ct", Kind.CONTAINER, "seat01", "Ada Lovelace", note=True, gzip=True),
        MachineChecks(
            "seat02-vm", Kind.VM, "seat02", "", checked_at="2025-11-27T21:31:00Z", error="stopped: bring it up"
        ),
        graded("seat02-ct", Kind.CONTAINER, "seat02", "", note=False, gzip=True),
    )


def sample_report() -> RoomReport:
    """Two seats, both running: seat01 verified OK, seat02 drifted with two failed container tests."""
    seats = (seat("seat01"), seat("seat02"))
    verify = VerifyReport(
        "default",
        [
            passing("seat01-vm", Kind.VM),
            passing("seat01-ct", Kind.CONTAINER),
            passing("seat02-vm", Kind.VM),
            failing("seat02-ct", Kind.CONTAINER),
        ],
        [
            SeatParity("seat01", 1432, (), expected("seat01")),
            SeatParity("seat02", 1433, DRIFT, expected("seat02")),
        ],
        seconds=41.3,
        finished_at="2025-11-27T21:40:00Z",
    )
    return RoomReport(
        room="default",
        generated_at="2025-11-27T21:45:00Z",
        seats=seats,
        statuses=(
            status("seat01-vm", Kind.VM, "10.214.10.111"),
            status("seat01-ct", Kind.CONTAINER, "10.213.10.2"),
            status("seat02-vm", Kind.VM, "10.214.10.112"),
            status("seat02-ct", Kind.CONTAINER, "10.213.10.3"),
        ),
        verify=verify,
        comparisons=(comparison("seat01"), comparison("seat02")),
        checks=sample_checks(),
    )

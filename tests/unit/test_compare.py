"""The comparison table, from measures like those of a real pair."""

from __future__ import annotations

import dataclasses

from labtool.compare import Measures, SeatComparison
from labtool.model import Kind, Machine
from tests.unit.fakes import fake_host_view

HOST_KERNEL = "6.18.44"


def measures(kind: Kind, **changes: object) -> Measures:
    vm = kind is Kind.VM
    machine = Machine("seat01-vm" if vm else "seat01-ct", kind, "seat01")
    base = Measures(
        machine=machine.name,
        host=fake_host_view(machine),
        kernel="6.1.0-50-amd64" if vm else HOST_KERNEL,
        pid1="/sbin/init",
        start_seconds=75.0 if vm else 1.5,
        start_action="create",
        boot_seconds=30.0 if vm else 0.9,
        memtotal_bytes=(983 if vm else 24000) * 1024 * 1024,
        memory_limit_bytes=None if vm else 512 * 1024 * 1024,
        cpus=1 if vm else 2,
        cpu_limit=None if vm else 1.0,
        processes=90 if vm else 13,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def table(comparison: SeatComparison) -> dict[str, tuple[str, str, str]]:
    return {row.measure: (row.vm, row.container, row.ratio) for row in comparison.rows()}


def test_costs_are_shown_with_the_vm_to_container_ratio() -> None:
    rows = table(SeatComparison("seat01", HOST_KERNEL, measures(Kind.VM), measures(Kind.CONTAINER)))
    assert rows["start until ready (labtool up)"] == ("75.0 s (create)", "1.5 s (create)", "50.0x")
    assert rows["memory used on the host"][2] == "11.7x"
    assert rows["disk, shared base"][:2] == ("774 MiB (box volume)", "222 MiB (image)")


def test_kernel_and_isolation_say_own_or_shared() -> None:
    rows = table(SeatComparison("seat01", HOST_KERNEL, measures(Kind.VM), measures(Kind.CONTAINER)))
    assert rows["kernel"][:2] == (f"6.1.0-50-amd64 (its own; host runs {HOST_KERNEL})", f"{HOST_KERNEL} (the host's)")
    assert rows["host namespaces shared"][:2] == ("none: a guest kernel of its own", "cgroup, time, user")
    assert rows["memory limit it is under"][:2] == ("none", "512 MiB (cgroup)")
    assert rows["memory it sees (MemTotal)"][1] == "23.4 GiB"
    assert rows["CPUs it sees"][:2] == ("1", "2, limited to 1 by cgroup")
    assert rows["on the host, the machine is"][1] == "systemd (pid 4343, under containerd-shim-runc-v2 < systemd)"


def test_what_was_not_measured_says_so_and_gets_no_ratio() -> None:
    vm = measures(Kind.VM, start_seconds=None, start_action="")
    rows = table(SeatComparison("seat01", HOST_KERNEL, vm, measures(Kind.CONTAINER)))
    assert rows["start until ready (labtool up)"] == ("not measured", "1.5 s (create)", "")


def test_a_seat_that_could_not_be_measured_has_no_rows() -> None:
    assert SeatComparison("seat01", HOST_KERNEL, error="not measured: seat01-vm not running").rows() == []

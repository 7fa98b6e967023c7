"""`labtool compare` on the real pair: every figure measured, and the lab's lesson visible in them."""

from __future__ import annotations

import json
import platform
from typing import Any

import pytest

from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]


@pytest.fixture(scope="module")
def seat(running_room: LiveRoom) -> dict[str, Any]:
    result = running_room.labtool("compare", running_room.name, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    seats: list[dict[str, Any]] = json.loads(result.stdout)["seats"]
    assert [s["seat"] for s in seats] == ["seat01", "seat02"]
    return seats[0]


def test_the_container_starts_faster_and_costs_less_memory_and_disk(seat: dict[str, Any]) -> None:
    vm, container = seat["vm"], seat["container"]
    assert 0 < container["start_seconds"] < vm["start_seconds"]
    assert container["host"]["memory_bytes"] < vm["host"]["memory_bytes"]
    assert 100 * 2**20 < container["host"]["base_disk_bytes"] < vm["host"]["base_disk_bytes"]
    assert vm["boot_seconds"] > container["boot_seconds"] > 0


def test_the_container_shares_the_hosts_kernel_and_the_vm_runs_its_own(seat: dict[str, Any]) -> None:
    vm, container = seat["vm"], seat["container"]
    assert container["kernel"] == platform.release()
    assert vm["kernel"] != platform.release()
    assert vm["host"]["process"].startswith("qemu")
    assert vm["host"]["shared_namespaces"] is None
    assert container["host"]["process"] == "systemd"
    assert any(name.startswith("containerd-shim") for name in container["host"]["ancestry"])
    assert "pid" not in container["host"]["shared_namespaces"]


def test_the_container_sees_the_hosts_memory_under_a_cgroup_limit(seat: dict[str, Any]) -> None:
    vm, container = seat["vm"], seat["container"]
    assert container["memory_limit_bytes"] == 512 * 2**20  # the room's container.memory_mib
    assert container["memtotal_bytes"] > container["memory_limit_bytes"]
    assert vm["memory_limit_bytes"] is None
    assert vm["memtotal_bytes"] < 1024 * 2**20  # the room's vm.memory_mib, less what the kernel keeps
    assert vm["processes"] > container["processes"]


def test_the_table_has_a_ratio_for_every_cost(seat: dict[str, Any]) -> None:
    ratios = {row["measure"]: row["ratio"] for row in seat["rows"]}
    for measure in ("start until ready (labtool up)", "memory used on the host", "disk, shared base"):
        assert ratios[measure].endswith("x") and float(ratios[measure][:-1]) > 1

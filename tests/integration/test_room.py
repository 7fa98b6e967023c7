"""`labtool up|status|provision|down` on the real two-seat room: real VMs and real containers.

The room is the session's `running_room` (see conftest.py). These tests run in file order,
after every other module that uses the room, because they end by killing and removing it.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from typing import Any

import pytest

from labtool.backends.docker import image as docker_image
from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]


@pytest.fixture(autouse=True)
def room(running_room: LiveRoom) -> LiveRoom:
    return running_room


def status(room: LiveRoom) -> dict[str, Any]:
    result = room.labtool("status", room.name, "--json")
    assert result.returncode == 0, result.stderr
    seats: dict[str, Any] = json.loads(result.stdout)["seats"][0]
    return seats


def test_up_creates_and_provisions_both_machines_of_each_seat(room: LiveRoom) -> None:
    result = room.first_up
    assert result.returncode == 0, result.stderr[-3000:]
    machines = {m["machine"]: m for m in json.loads(result.stdout)["machines"]}
    assert set(machines) == {"seat01-vm", "seat01-ct", "seat02-vm", "seat02-ct"}
    assert all(m["ok"] and m["actions"] == ["create", "provision"] for m in machines.values()), machines
    assert "seat01-ct | " in result.stderr, "per-task progress is shown"


def test_status_shows_the_pair_running_with_the_app_answering(room: LiveRoom) -> None:
    seat = status(room)
    assert seat["seat"] == "seat01"
    for kind in ("vm", "container"):
        machine = seat[kind]
        assert machine["state"] == "running"
        assert machine["provisioned"] is True
        assert machine["error"] == ""
        with urllib.request.urlopen(machine["app_url"] + "healthz", timeout=10) as response:
            assert response.status == 200


@pytest.mark.parametrize("machine", ["seat01-vm", "seat01-ct"])
def test_exec_reaches_either_kind_of_machine_the_same_way(room: LiveRoom, machine: str) -> None:
    result = room.labtool("exec", machine, "--room", room.name, "--", "sh", "-c", "echo $(hostname) $(id -un)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [machine, "vagrant"]


def test_re_up_of_a_healthy_room_changes_nothing_and_says_so(room: LiveRoom) -> None:
    result = room.labtool("up", room.name)
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout


def test_re_up_repairs_a_killed_container(room: LiveRoom) -> None:
    docker_image.client().containers.get(f"labtool-{room.name}_seat01-ct").kill()
    assert status(room)["container"]["state"] == "stopped"
    result = room.labtool("up", room.name, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    machines = {m["machine"]: m for m in json.loads(result.stdout)["machines"]}
    assert list(machines) == ["seat01-ct"]
    assert machines["seat01-ct"]["actions"] == ["start"]  # its provisioning is current: started, it is what it was
    assert status(room)["container"]["state"] == "running"


def boot_id(room: LiveRoom, machine: str) -> str:
    result = room.labtool("exec", machine, "--room", room.name, "--", "cat", "/proc/sys/kernel/random/boot_id")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def reset_seat02(room: LiveRoom, *only: str) -> None:
    """`reset --seat seat02` (of one kind with `only`): what it names is made again, the rest keeps running."""
    remade = {"seat02-ct"} if only == ("--container",) else {"seat02-vm", "seat02-ct"}
    client = docker_image.client()
    before = {seat: client.containers.get(f"labtool-{room.name}_{seat}-ct").id for seat in ("seat01", "seat02")}
    kept_vms = {vm: boot_id(room, vm) for vm in ("seat01-vm", "seat02-vm") if vm not in remade}
    result = room.labtool("reset", room.name, "--seat", "seat02", *only, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    machines = {m["machine"]: m for m in json.loads(result.stdout)["machines"]}
    assert set(machines) == remade
    assert all(m["ok"] and m["actions"] == ["create", "provision"] for m in machines.values()), machines
    assert client.containers.get(f"labtool-{room.name}_seat02-ct").id != before["seat02"]
    assert client.containers.get(f"labtool-{room.name}_seat01-ct").id == before["seat01"]
    assert {vm: boot_id(room, vm) for vm in kept_vms} == kept_vms, "the VMs it did not name kept running"
    seats = json.loads(room.labtool("status", room.name, "--json").stdout)["seats"]
    assert all(s[kind]["state"] == "running" and s[kind]["provisioned"] for s in seats for kind in ("vm", "container"))


def test_reset_of_a_seats_container_remakes_it_while_everything_else_keeps_running(room: LiveRoom) -> None:
    reset_seat02(room, "--container")


@pytest.mark.slow  # a VM made again and converged: four minutes of TCG; the container's reset above is in CI
def test_reset_remakes_one_seat_while_the_other_keeps_running(room: LiveRoom) -> None:
    reset_seat02(room)


def test_down_leaves_nothing_of_the_room(room: LiveRoom) -> None:
    result = room.labtool("down", room.name, "--yes")
    assert result.returncode == 0, result.stderr
    client = docker_image.client()
    assert client.containers.list(all=True, filters={"label": f"labtool.room={room.name}"}) == []
    assert client.networks.list(names=[f"labtool-{room.name}"]) == []
    virsh = ["virsh", "-c", "qemu:///system"]
    domains = subprocess.run([*virsh, "list", "--all", "--name"], capture_output=True, text=True, check=True).stdout
    networks = subprocess.run([*virsh, "net-list", "--all", "--name"], capture_output=True, text=True, check=True)
    volumes = subprocess.run([*virsh, "vol-list", "default"], capture_output=True, text=True, check=True).stdout
    assert f"labtool-{room.name}_" not in domains
    assert f"labtool-{room.name}" not in networks.stdout.split()
    assert f"labtool-{room.name}_" not in volumes
    assert status(room)["vm"]["state"] == "absent"

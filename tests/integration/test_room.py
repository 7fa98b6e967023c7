"""`labtool up|status|provision|down` on a real one-seat room: a real VM and a real container.

The room is made with `labtool room new` in a directory of its own (LABTOOL_ROOMS_DIR), on a
network index of its own, so an instructor's rooms on the same host are never touched.
The tests run in file order and share the room; the module fixture always tears it down.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from labtool.images import docker_image

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]
ROOM = "pytest"
NETWORK_INDEX = 250
ENV: dict[str, str] = {}


def labtool(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labtool", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **ENV},
    )


def status() -> dict[str, Any]:
    result = labtool("status", ROOM, "--json")
    assert result.returncode == 0, result.stderr
    seats: dict[str, Any] = json.loads(result.stdout)["seats"][0]
    return seats


@pytest.fixture(scope="module", autouse=True)
def room(built_images: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    rooms_dir = tmp_path_factory.mktemp("rooms")
    ENV["LABTOOL_ROOMS_DIR"] = str(rooms_dir)
    created = labtool("room", "new", ROOM, "--seats", "1")
    assert created.returncode == 0, created.stderr
    settings = rooms_dir / ROOM / "labtool.yml"
    settings.write_text(re.sub(r"index: \d+", f"index: {NETWORK_INDEX}", settings.read_text()))
    labtool("down", ROOM)  # machines left over from an interrupted run
    try:
        yield
    finally:
        result = labtool("down", ROOM)
        assert result.returncode == 0, result.stderr


def test_up_creates_and_provisions_both_machines_of_the_seat() -> None:
    result = labtool("up", ROOM, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    machines = {m["machine"]: m for m in json.loads(result.stdout)["machines"]}
    assert set(machines) == {"seat01-vm", "seat01-ct"}
    assert all(m["ok"] and m["actions"] == ["create", "provision"] for m in machines.values()), machines
    assert "seat01-ct | " in result.stderr, "per-task progress is shown"


def test_status_shows_the_pair_running_with_the_app_answering() -> None:
    seat = status()
    assert seat["seat"] == "seat01"
    for kind in ("vm", "container"):
        machine = seat[kind]
        assert machine["state"] == "running"
        assert machine["provisioned"] is True
        assert machine["error"] == ""
        with urllib.request.urlopen(machine["app_url"] + "healthz", timeout=10) as response:
            assert response.status == 200


@pytest.mark.parametrize("machine", ["seat01-vm", "seat01-ct"])
def test_exec_reaches_either_kind_of_machine_the_same_way(machine: str) -> None:
    result = labtool("exec", machine, "--room", ROOM, "--", "sh", "-c", "echo $(hostname) $(id -un)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [machine, "vagrant"]


def test_re_up_of_a_healthy_room_changes_nothing_and_says_so() -> None:
    result = labtool("up", ROOM)
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout


def test_provision_again_is_idempotent() -> None:
    result = labtool("provision", ROOM, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    changed = {m["machine"]: m["changed"] for m in json.loads(result.stdout)["machines"]}
    assert changed == {"seat01-vm": 0, "seat01-ct": 0}


def test_re_up_repairs_a_killed_container() -> None:
    docker_image.client().containers.get(f"labtool-{ROOM}-seat01-ct").kill()
    assert status()["container"]["state"] == "stopped"
    result = labtool("up", ROOM, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    machines = {m["machine"]: m for m in json.loads(result.stdout)["machines"]}
    assert list(machines) == ["seat01-ct"]
    assert machines["seat01-ct"]["actions"] == ["start", "provision"]
    assert status()["container"]["state"] == "running"


def test_down_leaves_nothing_of_the_room() -> None:
    result = labtool("down", ROOM)
    assert result.returncode == 0, result.stderr
    client = docker_image.client()
    assert client.containers.list(all=True, filters={"label": f"labtool.room={ROOM}"}) == []
    assert client.networks.list(names=[f"labtool-{ROOM}"]) == []
    virsh = ["virsh", "-c", "qemu:///system"]
    domains = subprocess.run([*virsh, "list", "--all", "--name"], capture_output=True, text=True, check=True).stdout
    networks = subprocess.run([*virsh, "net-list", "--all", "--name"], capture_output=True, text=True, check=True)
    volumes = subprocess.run([*virsh, "vol-list", "default"], capture_output=True, text=True, check=True).stdout
    assert f"labtool-{ROOM}_" not in domains
    assert f"labtool-{ROOM}" not in networks.stdout.split()
    assert f"labtool-{ROOM}_" not in volumes
    assert status()["vm"]["state"] == "absent"

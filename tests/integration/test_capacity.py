"""`labtool up` of a room bigger than this host is refused before anything is created; nothing boots."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from labtool.backends.docker import image as docker_image
from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]  # no VM boots, but `up` observes both backends

ROOM = "capa2"
NETWORK_INDEX = 231
SEATS = 12
VM_MEMORY_MIB = 8192  # 12 seats x 8 GiB: far beyond the memory of any host these tests run on


def domains() -> list[str]:
    listed = subprocess.run(
        ["virsh", "-c", "qemu:///system", "list", "--all", "--name"], capture_output=True, text=True, check=True
    )
    return [d for d in listed.stdout.split() if d.startswith(f"labtool-{ROOM}_")]


def networks() -> list[str]:
    listed = subprocess.run(
        ["virsh", "-c", "qemu:///system", "net-list", "--all", "--name"], capture_output=True, text=True, check=True
    )
    return [n for n in listed.stdout.split() if n == f"labtool-{ROOM}"]


def test_an_overcommitted_room_is_refused_and_nothing_appears(built_images: str, tmp_path: Path) -> None:
    room = LiveRoom(ROOM, {"LABTOOL_ROOMS_DIR": str(tmp_path)})
    created = room.labtool("room", "new", ROOM, "--seats", str(SEATS))
    assert created.returncode == 0, created.stderr
    settings = tmp_path / ROOM / "labtool.yml"
    text = re.sub(r"index: \d+", f"index: {NETWORK_INDEX}", settings.read_text())
    settings.write_text(re.sub(r"memory_mib: 1024", f"memory_mib: {VM_MEMORY_MIB}", text, count=1))

    planned = room.labtool("up", ROOM, "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert f"capacity: room '{ROOM}' does NOT fit on this host" in planned.stderr

    refused = room.labtool("up", ROOM, timeout=300)
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert refused.stderr.startswith(f"error: room '{ROOM}' does not fit on this host: memory: "), refused.stderr
    assert f"VMs: {SEATS} to start x ({VM_MEMORY_MIB} MiB RAM + " in refused.stderr
    assert "hint: " in refused.stderr and "--force" in refused.stderr
    assert "creating" not in refused.stderr

    client = docker_image.client()
    assert client.containers.list(all=True, filters={"name": f"labtool-{ROOM}-"}) == []
    assert client.networks.list(names=[f"labtool-{ROOM}"]) == []
    assert domains() == [] and networks() == []

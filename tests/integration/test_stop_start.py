"""`labtool stop` and `labtool start` on a real one-seat room: its VM and container halted and resumed, not destroyed.

The room is the minimal example's, as `labtool init` writes it, in a project of its own
outside the checkout, on a network index of its own; it is always taken down at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labtool.backends.docker import image as docker_image
from tests.integration.rooms import LiveRoom, rename_only_room

pytestmark = [pytest.mark.docker, pytest.mark.vagrant, pytest.mark.slow]

ROOM = "verb1"
NETWORK_INDEX = 236
VM, CT = "seat01-vm", "seat01-ct"
CONTAINER = f"labtool-{ROOM}_{CT}"
DOMAIN = f"labtool-{ROOM}_{VM}"
VIRSH = ["virsh", "-c", "qemu:///system"]


@pytest.fixture(scope="module")
def room(built_images: str) -> Iterator[LiveRoom]:
    # One path for every session: a room's state names its directory, and the `down` of
    # leftovers from an interrupted run must come from the same room to be allowed.
    project = Path(tempfile.gettempdir()) / "labtool-stop-start-course"
    shutil.rmtree(project, ignore_errors=True)
    live = LiveRoom(ROOM, {"LABTOOL_PROJECT": str(project)})
    made = live.labtool("init", str(project))
    assert made.returncode == 0, made.stderr
    rename_only_room(project, ROOM, NETWORK_INDEX)
    live.labtool("down", ROOM, "--yes")  # machines left over from an interrupted run
    try:
        live.first_up = live.labtool("up", ROOM, "--json")
        if live.first_up.returncode != 0:
            # Only the room is wanted here (`up` itself is tested elsewhere): on a loaded host a TCG VM's first SSH
            # can time out; a second `up` repairs exactly that machine.
            live.first_up = live.labtool("up", ROOM, "--json")
        assert live.first_up.returncode == 0, live.first_up.stderr[-3000:]
        yield live
    finally:
        result = live.labtool("down", ROOM, "--yes")
        assert result.returncode == 0, result.stderr
        shutil.rmtree(project, ignore_errors=True)


def run_json(room: LiveRoom, *args: str) -> Any:
    result = room.labtool(*args, ROOM, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def states(room: LiveRoom) -> dict[str, str]:
    seat = run_json(room, "status")["seats"][0]
    return {kind: seat[kind]["state"] for kind in ("vm", "container")}


def on(room: LiveRoom, machine: str, command: str) -> str:
    result = room.labtool("exec", machine, "--room", ROOM, "--", "sh", "-c", command)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def qemu_processes() -> list[str]:
    """Host processes running the VM's domain (QEMU names its guest on its command line)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if f"guest={DOMAIN}".encode() in b" ".join(words):
            found.append(cmdline.parent.name)
    return found


def results(report: dict[str, Any]) -> dict[str, str]:
    return {m["machine"]: m["result"] for m in report["machines"]}


def test_stop_and_start_halt_and_resume_the_pair_without_destroying_it(room: LiveRoom) -> None:
    client = docker_image.client()
    container_id = client.containers.get(CONTAINER).id
    vm_boot = on(room, VM, "cat /proc/sys/kernel/random/boot_id")
    for machine in (VM, CT):  # what a student did on the machine must survive the stop
        on(room, machine, "echo my-work > ~/exercise.txt")
    assert qemu_processes(), "the running VM has a QEMU process"

    stopped = run_json(room, "stop")
    assert results(stopped) == {VM: "stopped", CT: "stopped"}, stopped
    assert states(room) == {"vm": "stopped", "container": "stopped"}
    container = client.containers.get(CONTAINER)
    assert (container.status, container.attrs["State"]["Pid"]) == ("exited", 0)
    assert container.attrs["State"]["ExitCode"] == 0, "systemd shut the container down itself, not Docker's kill"
    domstate = subprocess.run([*VIRSH, "domstate", DOMAIN], capture_output=True, text=True, check=True).stdout
    assert domstate.strip() == "shut off"
    assert qemu_processes() == []

    started = run_json(room, "start")
    assert results(started) == {VM: "started", CT: "started"}, started
    assert started["provisioning_needed"] == []
    assert states(room) == {"vm": "running", "container": "running"}
    assert client.containers.get(CONTAINER).id == container_id, "the same container, not a new one"
    assert on(room, VM, "cat /proc/sys/kernel/random/boot_id") != vm_boot, "the VM booted again"
    for machine in (VM, CT):
        assert on(room, machine, "cat ~/exercise.txt") == "my-work"
        assert on(room, machine, "systemctl is-system-running || true") in ("running", "degraded")
        assert "Welcome to the lab." in on(room, machine, "cat /etc/motd")  # what the course put there
    verified = room.labtool("verify", ROOM, "--json")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]


def test_up_of_a_stopped_room_starts_it_without_provisioning_again(room: LiveRoom) -> None:
    assert results(run_json(room, "stop")) == {VM: "stopped", CT: "stopped"}
    up = run_json(room, "up")
    assert {m["machine"]: (m["actions"], m["ok"]) for m in up["machines"]} == {
        VM: (["start"], True),
        CT: (["start"], True),
    }, up
    assert states(room) == {"vm": "running", "container": "running"}
    assert "is up to date" in room.labtool("up", ROOM).stdout

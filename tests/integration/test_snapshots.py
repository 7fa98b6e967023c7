"""`labtool snapshot` on a real seat of the session's room: both machines saved, changed, restored, the change gone.

The seat is left as it was found: restored to its checkpoint, which is deleted at the end.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from labtool.backends.docker import image as docker_image
from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]

SEAT, VM, CT = "seat02", "seat02-vm", "seat02-ct"
MARK = "/home/vagrant/written-after-the-checkpoint"
VIRSH = ["virsh", "-c", "qemu:///system"]


def run(room: LiveRoom, *args: str) -> subprocess.CompletedProcess[str]:
    result = room.labtool(*args)
    assert result.returncode == 0, (args, result.stderr[-3000:])
    return result


def on(room: LiveRoom, machine: str, command: str) -> str:
    return run(room, "exec", machine, "--room", room.name, "--", "sh", "-c", command).stdout.strip()


def test_a_seat_restored_to_its_checkpoint_has_lost_what_was_written_since(running_room: LiveRoom) -> None:
    room = running_room
    client = docker_image.client()
    container = f"labtool-{room.name}_{CT}"
    address = client.containers.get(container).attrs["NetworkSettings"]["Networks"][f"labtool-{room.name}"]
    saved = json.loads(run(room, "snapshot", "save", room.name, "--seat", SEAT, "cp-test", "--json").stdout)
    assert [s["name"] for s in saved] == ["cp-test"] and set(saved[0]["seconds"]) == {VM, CT}
    try:
        listed = json.loads(run(room, "snapshot", "list", room.name, "--json").stdout)
        assert [(s["seat"], s["name"]) for s in listed] == [(SEAT, "cp-test")]
        refused = room.labtool("snapshot", "save", room.name, "--seat", SEAT, "cp-test")
        assert refused.returncode == 1 and "already has a checkpoint 'cp-test'" in refused.stderr
        assert "Traceback" not in refused.stderr
        for machine in (VM, CT):
            on(room, machine, f"echo changed > {MARK}")

        restored = json.loads(run(room, "reset", room.name, "--seat", SEAT, "--to", "cp-test", "--json").stdout)
        assert restored[0]["action"] == "restored"
        for machine in (VM, CT):
            assert on(room, machine, f"test -e {MARK} && echo there || echo gone") == "gone", machine
        # The container is the same machine to the room: name, address; the VM's clock is now, not then.
        after = client.containers.get(container).attrs["NetworkSettings"]["Networks"][f"labtool-{room.name}"]
        assert after["IPAddress"] == address["IPAddress"]
        assert abs(int(on(room, VM, "date +%s")) - time.time()) < 120
        [seat] = json.loads(run(room, "status", room.name, "--seat", SEAT, "--json").stdout)["seats"]
        assert (seat["vm"]["state"], seat["container"]["state"]) == ("running", "running"), seat
        assert seat["vm"]["provisioned"] and seat["container"]["provisioned"], seat
    finally:
        run(room, "snapshot", "delete", room.name, "--seat", SEAT, "cp-test")
    domain = f"labtool-{room.name}_{VM}"
    left = subprocess.run([*VIRSH, "snapshot-list", domain, "--name"], capture_output=True, text=True, check=True)
    assert left.stdout.split() == []
    assert not client.images.list(name=f"labtool-checkpoint/{room.name}_{CT}")
    assert json.loads(run(room, "snapshot", "list", room.name, "--json").stdout) == []

"""A VM's SSH identity for real: host keys recorded at creation and checked by every connection, its own key pair.

On seat01's VM of the session's two-seat room (`running_room`): these tests only read, or change its
known_hosts file for a moment and put it back, so they need no VM of their own.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant import known_hosts
from labtool.backends.vagrant.backend import own_key
from labtool.settings import Settings
from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]

VM = "seat01-vm"


@pytest.fixture(scope="module")
def room(running_room: LiveRoom) -> LiveRoom:
    return running_room


@pytest.fixture(scope="module")
def state_dir(room: LiveRoom, settings: Settings) -> Path:
    """The room's state directory (the room is up for the whole session)."""
    return settings.rooms_state_dir / room.name


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120, env=env)


def exec_on_vm(room: LiveRoom, *command: str) -> subprocess.CompletedProcess[str]:
    return room.labtool("exec", VM, "--room", room.name, "--", *command, timeout=120)


def guest_host_keys(room: LiveRoom) -> set[known_hosts.HostKey]:
    result = exec_on_vm(room, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub")
    assert result.returncode == 0, result.stderr
    return known_hosts.parse(result.stdout)


def vm_connection(state_dir: Path) -> dict[str, object]:
    inventory = yaml.safe_load((state_dir / "inventory.yml").read_text())
    return dict(inventory["all"]["hosts"][VM])


def test_up_records_the_vms_host_keys_in_the_rooms_known_hosts(room: LiveRoom, state_dir: Path) -> None:
    path = state_dir / known_hosts.FILE_NAME
    recorded = known_hosts.KnownHosts(path).keys(VM)
    assert recorded == guest_host_keys(room)
    assert {k.kind for k in recorded} == {"ssh-ed25519"}  # the images make one ed25519 host key at first boot
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_connection_checks_the_recorded_keys(room: LiveRoom, state_dir: Path) -> None:
    connection = vm_connection(state_dir)
    options = known_hosts.ssh_options(state_dir / known_hosts.FILE_NAME, VM)
    assert shlex.split(str(connection["ansible_ssh_common_args"])) == options
    assert connection["ansible_host_key_checking"] is True
    result = exec_on_vm(room, "sh", "-c", "echo $(hostname) $(id -un)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [VM, "vagrant"]


def test_the_vm_has_its_own_key_pair_and_no_longer_vagrants_insecure_one(room: LiveRoom, state_dir: Path) -> None:
    private_key = Path(str(vm_connection(state_dir)["ansible_ssh_private_key_file"]))
    assert private_key == own_key(state_dir / "vagrant" / "vagrant", VM)
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600
    own = known_hosts.parse(run(["ssh-keygen", "-y", "-f", str(private_key)]).stdout)
    result = exec_on_vm(room, "cat", ".ssh/authorized_keys")
    assert result.returncode == 0, result.stderr
    authorized = known_hosts.parse(result.stdout)
    insecure = known_hosts.parse(vagrant_box.insecure_public_key().read_text())
    assert insecure and not insecure & authorized
    assert authorized == own


def test_a_changed_host_key_is_refused_by_labtool_ssh_and_ansible(
    room: LiveRoom, state_dir: Path, tmp_path: Path
) -> None:
    path = state_dir / known_hosts.FILE_NAME
    kept = path.read_text()
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")])
    other = known_hosts.parse((tmp_path / "other.pub").read_text())
    known_hosts.KnownHosts(path).record(VM, other)  # as if another machine now answered as seat01-vm
    try:
        result = exec_on_vm(room, "true")
        assert result.returncode == 1
        assert f"error: the SSH host key of {VM} changed" in result.stderr, result.stderr
        assert f"`labtool down {room.name} --seat seat01`" in result.stderr
        assert "Traceback" not in result.stderr

        # ssh itself, with the options every connection uses, and Ansible even with host key checking off.
        connection = vm_connection(state_dir)
        ssh = run(
            [
                "ssh",
                *known_hosts.ssh_options(path, VM),
                "-o",
                "BatchMode=yes",
                "-i",
                str(connection["ansible_ssh_private_key_file"]),
                f"vagrant@{connection['ansible_host']}",
                "true",
            ]
        )
        assert ssh.returncode == 255 and "Host key verification failed" in ssh.stderr, ssh.stderr
        ansible = run(
            [str(Path(sys.executable).with_name("ansible")), VM, "-i", str(state_dir / "inventory.yml"), "-m", "ping"],
            env={**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False"},
        )
        assert ansible.returncode != 0 and "Host key verification failed" in ansible.stdout, ansible.stdout
    finally:
        path.write_text(kept)
    assert exec_on_vm(room, "true").returncode == 0  # the recorded keys let it in again

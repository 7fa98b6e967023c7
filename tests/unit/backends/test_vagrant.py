import shlex
from pathlib import Path

import pytest

from labtool.backends import vagrant
from labtool.host.accel import Accel
from labtool.model import VmResources
from tests.unit.rooms import paired_room

ROOM = paired_room(vm=VmResources(2, 2048), index=42)
SSH = {"HostName": "10.214.42.7", "Port": "22", "User": "vagrant", "IdentityFile": "/keys/private_key"}


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> vagrant.VagrantBackend:
    monkeypatch.setattr(vagrant.VagrantProject, "ssh_config", lambda self, name: SSH)
    return vagrant.VagrantBackend(tmp_path, Accel("qemu", "qemu64", "test"))


def test_exec_quotes_the_command_into_one_remote_shell_line(backend: vagrant.VagrantBackend) -> None:
    argv = backend.shell_argv(ROOM, ROOM.seats[0].vm, ["sh", "-c", "echo $(hostname) it's"])
    assert argv[-2] == "vagrant@10.214.42.7"
    assert shlex.split(argv[-1]) == ["sh", "-c", "echo $(hostname) it's"]
    assert "-t" not in argv


def test_ssh_without_a_command_asks_for_a_terminal(backend: vagrant.VagrantBackend) -> None:
    argv = backend.shell_argv(ROOM, ROOM.seats[0].vm, [])
    assert argv[-1] == "vagrant@10.214.42.7"
    assert "-t" in argv and "/keys/private_key" in argv


def test_connection_comes_from_vagrant_ssh_config(backend: vagrant.VagrantBackend) -> None:
    connection = backend.connection(ROOM, ROOM.seats[0].vm)
    assert connection["ansible_host"] == "10.214.42.7"
    assert connection["ansible_port"] == 22
    assert connection["ansible_ssh_private_key_file"] == "/keys/private_key"


def test_each_room_gets_its_own_vagrant_environment_network_and_prefix(
    backend: vagrant.VagrantBackend, tmp_path: Path
) -> None:
    project = backend.project(ROOM)
    assert project.state_dir == tmp_path / "demo" / "vagrant"
    assert project.network == vagrant.Network("labtool-demo", "10.214.42.0/24")
    assert project.domain_name("s1-vm") == "labtool-demo_s1-vm"
    project.define([vagrant.VmSpec("s1-vm", 2, 2048)])
    assert project.env["LABTOOL_MACHINES"] == str(project.machines_file)
    assert '"memory": 2048' in project.machines_file.read_text()

"""The Docker base image boots systemd as PID 1 without privileges, and carries no kernel."""

from typing import Any

import pytest

from labtool.backends.docker import image as docker_image

pytestmark = pytest.mark.docker


def run(container: Any, *argv: str) -> tuple[int, str]:
    code, output = container.exec_run(list(argv))
    return code, output.decode().strip()


def test_systemd_is_pid1_and_the_system_is_running(lab_container: Any) -> None:
    assert run(lab_container, "cat", "/proc/1/comm") == (0, "systemd")
    assert run(lab_container, "systemctl", "is-system-running") == (0, "running")
    assert run(lab_container, "systemctl", "--failed", "--no-legend") == (0, "")


def test_the_container_is_not_privileged(lab_container: Any) -> None:
    lab_container.reload()
    host_config = lab_container.attrs["HostConfig"]
    assert host_config["Privileged"] is False
    assert host_config["CapDrop"] == ["ALL"]
    assert sorted(host_config["CapAdd"]) == sorted(docker_image.CAPABILITIES)
    assert host_config["Binds"] == ["/sys/fs/cgroup:/sys/fs/cgroup:ro"]


def test_each_machine_gets_its_own_identity_on_first_boot(lab_container: Any) -> None:
    code, machine_id = run(lab_container, "cat", "/etc/machine-id")
    assert code == 0
    assert len(machine_id) == 32
    assert run(lab_container, "test", "-s", "/etc/ssh/ssh_host_ed25519_key")[0] == 0
    assert run(lab_container, "systemctl", "is-active", "ssh")[1] == "active"


def test_the_image_has_no_kernel_and_no_bootloader(lab_container: Any) -> None:
    assert run(lab_container, "dpkg-query", "-W", "linux-image-amd64")[0] != 0
    assert run(lab_container, "sh", "-c", "ls /boot | wc -l") == (0, "0")


def test_the_vagrant_user_exists_without_vagrants_key(lab_container: Any) -> None:
    assert run(lab_container, "id", "-un", "vagrant") == (0, "vagrant")
    assert run(lab_container, "test", "-e", "/home/vagrant/.ssh/authorized_keys")[0] != 0

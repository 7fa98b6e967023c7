"""The Vagrant box boots its own kernel, lets Vagrant in, and carries the container's packages."""

import os
from typing import Any

import pytest

from labtool.backends.vagrant.backend import VagrantProject
from labtool.images import build, rootfs

pytestmark = [pytest.mark.vagrant, pytest.mark.docker]

MANIFEST_QUERY = "dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\\n'"


def test_vagrant_logs_in_as_vagrant_with_passwordless_sudo(lab_vm: VagrantProject) -> None:
    assert lab_vm.ssh("images-vm", "id -un").strip() == "vagrant"
    assert lab_vm.ssh("images-vm", "sudo -n id -un").strip() == "root"


def test_insecure_key_was_replaced_on_first_boot(lab_vm: VagrantProject) -> None:
    keys = lab_vm.ssh("images-vm", "cat ~/.ssh/authorized_keys")
    assert "vagrant insecure public key" not in keys
    assert keys.strip()


def test_the_vm_boots_its_own_kernel_with_systemd(lab_vm: VagrantProject) -> None:
    assert lab_vm.ssh("images-vm", "systemctl is-system-running").strip() == "running"
    assert lab_vm.ssh("images-vm", "systemd-detect-virt").strip() in ("qemu", "kvm")
    assert lab_vm.ssh("images-vm", "uname -r").strip() != os.uname().release


def test_vm_and_container_carry_the_same_packages_but_boot_ones(lab_vm: VagrantProject, lab_container: Any) -> None:
    vm = rootfs.parse_manifest(lab_vm.ssh("images-vm", MANIFEST_QUERY))
    _, output = lab_container.exec_run(["sh", "-c", MANIFEST_QUERY])
    container = rootfs.parse_manifest(output.decode())
    assert len(container) > 100
    assert "linux-image-amd64" in vm, "the comparison must see the VM's kernel to be meaningful"
    assert build.unexpected_differences(container, vm) == []

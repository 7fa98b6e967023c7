"""The Vagrant box boots its own kernel, lets Vagrant in, and carries the container's packages; an upload of it
cut off is never booted from.

The tests on a VM of the base box itself are `slow`: in `scripts/test`, Molecule's vagrant scenario boots that box
and runs the shared testinfra suite on it, and every room's VM (from the baked box made from it) is logged into,
provisioned and verified; a VM of its own here would cost two more minutes of TCG for what those already prove."""

import os
from pathlib import Path
from typing import Any

import pytest

from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.backend import VagrantProject, own_key
from labtool.backends.vagrant.libvirt import STORAGE_POOL, Virsh
from labtool.images import build, rootfs
from labtool.model import THIS_HOST

pytestmark = [pytest.mark.vagrant, pytest.mark.docker]

MANIFEST_QUERY = "dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\\n'"
ON_A_VM_OF_ITS_OWN = pytest.mark.slow


@ON_A_VM_OF_ITS_OWN
def test_vagrant_logs_in_as_vagrant_with_passwordless_sudo(lab_vm: VagrantProject) -> None:
    assert lab_vm.ssh("images-vm", "id -un").strip() == "vagrant"
    assert lab_vm.ssh("images-vm", "sudo -n id -un").strip() == "root"


@ON_A_VM_OF_ITS_OWN
def test_the_vm_took_its_name_and_the_key_made_for_it_from_its_domain_at_first_boot(lab_vm: VagrantProject) -> None:
    keys = lab_vm.ssh("images-vm", "cat ~/.ssh/authorized_keys")
    assert keys.strip() == own_key(lab_vm.dotfile_dir, "images-vm").with_name("images-vm.pub").read_text().strip()
    assert lab_vm.ssh("images-vm", "hostname").strip() == "images-vm"


@ON_A_VM_OF_ITS_OWN
def test_the_vm_boots_its_own_kernel_with_systemd(lab_vm: VagrantProject) -> None:
    assert lab_vm.ssh("images-vm", "systemctl is-system-running").strip() == "running"
    assert lab_vm.ssh("images-vm", "systemd-detect-virt").strip() in ("qemu", "kvm")
    assert lab_vm.ssh("images-vm", "uname -r").strip() != os.uname().release


@ON_A_VM_OF_ITS_OWN
def test_vm_and_container_carry_the_same_packages_but_boot_ones(lab_vm: VagrantProject, lab_container: Any) -> None:
    vm = rootfs.parse_manifest(lab_vm.ssh("images-vm", MANIFEST_QUERY))
    _, output = lab_container.exec_run(["sh", "-c", MANIFEST_QUERY])
    container = rootfs.parse_manifest(output.decode())
    assert len(container) > 100
    assert "linux-image-amd64" in vm, "the comparison must see the VM's kernel to be meaningful"
    assert build.unexpected_differences(container, vm) == []


def test_a_box_volume_cut_off_mid_upload_is_removed_and_a_whole_one_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this host's real storage pool: a volume written as vagrant-libvirt uploads a box (a small qcow2 made
    first, the image's bytes streamed into it), once cut off and once whole."""
    monkeypatch.setenv("VAGRANT_HOME", str(tmp_path))
    name = "labtool/debian12-pytest-cut-off"
    image = vagrant_box.box_dir(name) / "box.img"
    image.parent.mkdir(parents=True)
    image.write_bytes(os.urandom(4 * 1024 * 1024))
    os.utime(image, (1000, 1000))
    cut = tmp_path / "cut-off.img"
    cut.write_bytes(image.read_bytes()[: 1024 * 1024])
    volume = vagrant_box.current_volume(name)
    assert volume is not None
    virsh = Virsh(THIS_HOST)

    def uploaded(source: Path) -> None:
        virsh("vol-create-as", STORAGE_POOL, volume, "8M", "--format", "qcow2")
        virsh("vol-upload", volume, str(source), "--pool", STORAGE_POOL)

    try:
        uploaded(cut)
        assert vagrant_box.remove_cut_off_upload(virsh, name) == volume
        assert volume not in vagrant_box.pool_volumes(virsh)
        uploaded(image)
        assert vagrant_box.remove_cut_off_upload(virsh, name) is None
        assert volume in vagrant_box.pool_volumes(virsh)
    finally:
        virsh("vol-delete", volume, "--pool", STORAGE_POOL, check=False)

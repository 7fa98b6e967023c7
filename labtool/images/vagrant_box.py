"""Make the Vagrant box (libvirt provider) from the shared rootfs and register it with `vagrant box add`."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Mapping
from pathlib import Path

from labtool import proc
from labtool.errors import ImageBuildError
from labtool.images import recipe

# Where Debian's and HashiCorp's packages put the gem that carries Vagrant's insecure key pair.
INSECURE_KEY_GLOBS = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/*/gems/vagrant-*/keys/vagrant.pub",
)


def vagrant_home() -> Path:
    return Path(os.environ.get("VAGRANT_HOME") or Path.home() / ".vagrant.d")


def box_dir() -> Path:
    return vagrant_home() / "boxes" / recipe.BOX_NAME.replace("/", "-VAGRANTSLASH-") / "0" / "libvirt"


def registered_key() -> str | None:
    """The image key the registered box was built with (read from its metadata.json), or None."""
    metadata = box_dir() / "metadata.json"
    try:
        key = json.loads(metadata.read_text()).get("labtool_image_key")
    except (OSError, ValueError):
        return None
    return key if isinstance(key, str) else None


def insecure_public_key() -> Path:
    for pattern in INSECURE_KEY_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[-1])
    raise ImageBuildError(
        "Vagrant's insecure public key was not found (it ships inside the vagrant package)",
        "install Vagrant with `scripts/up`",
    )


def make_disk(rootfs: Path, workdir: Path, log: Path, env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """Build the raw disk; returns it and the VM's package manifest (dpkg-query output).

    `env` may name an http_proxy (the host's apt cache) for the kernel and boot packages' download."""
    raw, manifest = workdir / "disk.raw", workdir / "vm-packages.txt"
    script = recipe.FILES_DIR / "make-vm-disk.sh"
    proc.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "bash",
            str(script),
            str(rootfs),
            str(raw),
            str(manifest),
            str(recipe.VM_DISK_GIB),
            str(insecure_public_key()),
            recipe.VAGRANT_USER,
            *recipe.BOOT_PACKAGES,
        ],
        timeout=1800,
        log=log,
        env=env,
        hint=f"full log: {log}",
    )
    return raw, manifest


def package_box(raw: Path, workdir: Path, key: str, log: Path) -> Path:
    """qcow2 disk + metadata.json + Vagrantfile, tarred the way vagrant-libvirt expects a box."""
    proc.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(workdir / "box.img")], timeout=900, log=log)
    raw.unlink()
    metadata = {"provider": "libvirt", "format": "qcow2", "virtual_size": recipe.VM_DISK_GIB, "labtool_image_key": key}
    (workdir / "metadata.json").write_text(json.dumps(metadata) + "\n")
    (workdir / "Vagrantfile").write_text(recipe.BOX_VAGRANTFILE)
    box = workdir / "labtool.box"
    proc.run(
        ["tar", "-C", str(workdir), "-cf", str(box), "metadata.json", "Vagrantfile", "box.img"], timeout=600, log=log
    )
    (workdir / "box.img").unlink()
    return box


def register(box: Path, log: Path) -> None:
    """`vagrant box add --force`, then drop libvirt's copy of the previous box so new VMs use the new disk."""
    # From the box's own directory: vagrant reads a Vagrantfile in the working directory even to add a box.
    argv = ["vagrant", "box", "add", "--force", "--name", recipe.BOX_NAME, str(box)]
    proc.run(argv, timeout=900, log=log, cwd=box.parent)
    remove_stale_pool_volumes(log)


def remove_stale_pool_volumes(log: Path) -> None:
    # vagrant-libvirt uploads a box into the storage pool once, named after the box, and
    # reuses that volume forever: after a rebuild the old volume would shadow the new box.
    prefix = recipe.BOX_NAME.replace("/", "-VAGRANTSLASH-") + "_vagrant_box_image_"
    virsh = ["virsh", "-c", "qemu:///system"]
    listing = proc.run([*virsh, "vol-list", "default", "--name"], timeout=30, check=False)
    for name in listing.stdout.split():
        if name.startswith(prefix):
            proc.run([*virsh, "vol-delete", name, "--pool", "default"], timeout=60, log=log)


def size_bytes() -> int:
    return sum(p.stat().st_size for p in box_dir().glob("*") if p.is_file())

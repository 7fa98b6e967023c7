"""Make the Vagrant box (libvirt provider) from the shared rootfs and register it with `vagrant box add`."""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path

from labtool import proc
from labtool.backends.vagrant.libvirt import STORAGE_POOL, Virsh
from labtool.errors import ImageBuildError
from labtool.images import recipe
from labtool.parity.fingerprint import COLLECTOR

# Where Debian's and HashiCorp's packages put the gem that carries Vagrant's insecure key pair.
INSECURE_KEY_GLOBS = (
    "/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub",
    "/opt/vagrant/embedded/gems/*/gems/vagrant-*/keys/vagrant.pub",
)


def vagrant_home() -> Path:
    return Path(os.environ.get("VAGRANT_HOME") or Path.home() / ".vagrant.d")


def escaped(name: str) -> str:
    """How Vagrant (its box directory) and vagrant-libvirt (the pool volume) spell a box name."""
    return name.replace("/", "-VAGRANTSLASH-")


def box_dir(name: str) -> Path:
    return vagrant_home() / "boxes" / escaped(name) / "0" / "libvirt"


def registered_key(name: str) -> str | None:
    """The image key the registered box was built with (read from its metadata.json), or None."""
    metadata = box_dir(name) / "metadata.json"
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
            recipe.VAGRANT_USER,
            *recipe.BOOT_PACKAGES,
        ],
        timeout=1800,
        log=log,
        # The parity collector fills the disk's digest cache (see make-vm-disk.sh). It is not part of the
        # recipe's key: the cache only saves time, and a collector that reads it differently just misses.
        env={**(env or {}), "LABTOOL_COLLECTOR": str(COLLECTOR)},
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


def register(virsh: Virsh, box: Path, name: str, log: Path) -> None:
    """`vagrant box add --force` under the pair's own name, for VMs on the libvirtd `virsh` reaches.

    A pool volume of that name left by an earlier registration would shadow the new box
    (vagrant-libvirt uploads a box once and reuses its volume), so it goes first, unless
    a VM still boots from it.
    """
    remove_pool_volumes(virsh, name, log)
    # From the box's own directory: vagrant reads a Vagrantfile in the working directory even to add a box.
    argv = ["vagrant", "box", "add", "--force", "--name", name, str(box)]
    proc.run(argv, timeout=900, log=log, cwd=box.parent)


def labtool_boxes() -> list[str]:
    """Names of the registered boxes labtool made (base and baked)."""
    boxes = vagrant_home() / "boxes"
    prefix = escaped(recipe.BOX_PREFIX)
    found = boxes.glob(f"{prefix}*") if boxes.is_dir() else []
    return sorted(p.name.replace("-VAGRANTSLASH-", "/") for p in found if (p / "0" / "libvirt").is_dir())


def prune(virsh: Virsh, keep: Collection[str], log: Path) -> list[str]:
    """Remove labtool's boxes other than `keep` that no VM boots from; returns the names removed.

    A VM's disk is an overlay whose backing file is its box's pool volume: deleting that
    volume would leave the VM unable to start again, so such a box stays until its last
    VM is gone.
    """
    in_use = volumes_in_use(virsh)
    removed = []
    for name in labtool_boxes():
        if name in keep or any(v.startswith(volume_prefix(name)) for v in in_use):
            continue
        proc.run(["vagrant", "box", "remove", "--force", "--all", name], timeout=300, log=log, cwd=vagrant_home())
        remove_pool_volumes(virsh, name, log)
        removed.append(name)
    return removed


BOX_VOLUME_MARK = "_vagrant_box_image_"
"""What vagrant-libvirt puts between a box's name and its version in the name of the box's pool volume."""


def volume_prefix(name: str) -> str:
    return escaped(name) + BOX_VOLUME_MARK


def current_volume(name: str) -> str | None:
    """The pool volume vagrant-libvirt makes of the registered box `name`, or None if it is not registered.

    An unversioned box's volume name carries its image's mtime, so a rebuilt box gets a
    volume of its own and VMs made from the old one keep booting from theirs.
    """
    try:
        return f"{volume_prefix(name)}0_{int((box_dir(name) / 'box.img').stat().st_mtime)}_box.img"
    except OSError:
        return None


def remove_cut_off_upload(virsh: Virsh, name: str, log: Path | None = None) -> str | None:
    """Delete the box's volume in the host's pool when it is shorter than the box's image; returns its name.

    vagrant-libvirt uploads the box into the pool on a host's first `up` and takes a volume of that
    name as uploaded ever after. An upload cut off (the host switched off, labtool killed) leaves a
    short one, and every VM made from it would boot from a truncated disk (a VM already made from
    it is broken either way). Called under the host-wide upload lock, so no upload of this
    machine's labtools is under way.
    """
    volume = current_volume(name)
    if volume is None or volume not in pool_volumes(virsh):
        return None
    info = virsh("vol-info", volume, "--pool", STORAGE_POOL, "--bytes", "--physical")
    physical = next((int(line.split()[1]) for line in info.splitlines() if line.startswith("Physical:")), None)
    if physical is None or physical >= (box_dir(name) / "box.img").stat().st_size:
        return None
    virsh("vol-delete", volume, "--pool", STORAGE_POOL, log=log)
    return volume


def remove_stale_volumes(virsh: Virsh, log: Path) -> list[str]:
    """Delete labtool's box volumes that are no registered box's current volume and no VM's backing file.

    They are what a rebuilt or removed box left while some VM still booted from it.
    """
    current = {current_volume(name) for name in labtool_boxes()}
    in_use = volumes_in_use(virsh)
    stale = [
        volume
        for volume in pool_volumes(virsh)
        if volume.startswith(escaped(recipe.BOX_PREFIX))
        and BOX_VOLUME_MARK in volume
        and volume not in current
        and volume not in in_use
    ]
    for volume in stale:
        virsh("vol-delete", volume, "--pool", STORAGE_POOL, log=log)
    return stale


def pool_volumes(virsh: Virsh) -> list[str]:
    """Names of the storage pool's volumes (this virsh's vol-list has no --name: read its table)."""
    lines = virsh("vol-list", STORAGE_POOL).splitlines()
    return [line.split()[0] for line in lines[2:] if line.strip()]


def remove_pool_volumes(virsh: Virsh, name: str, log: Path) -> None:
    in_use = volumes_in_use(virsh)
    for volume in pool_volumes(virsh):
        if volume.startswith(volume_prefix(name)) and volume not in in_use:
            virsh("vol-delete", volume, "--pool", STORAGE_POOL, log=log)


def volumes_in_use(virsh: Virsh) -> set[str]:
    """Pool volumes some libvirt domain (running or not) has in its disk's backing chain."""
    used: set[str] = set()
    for domain in virsh("list", "--all", "--name").split():
        for line in virsh("domblklist", domain, "--details", check=False).splitlines():
            words = line.split()
            if len(words) == 4 and words[1] == "disk":
                used.update(Path(p).name for p in backing_chain(words[3]))
    return used


def backing_chain(disk: str) -> list[str]:
    """The files under a disk image, the image itself first."""
    result = proc.run(
        ["qemu-img", "info", "--force-share", "--backing-chain", "--output=json", disk], timeout=60, check=False
    )
    try:
        return [str(layer["filename"]) for layer in json.loads(result.stdout)]
    except (ValueError, KeyError, TypeError):
        return []


def size_bytes(name: str) -> int:
    return sum(p.stat().st_size for p in box_dir(name).glob("*") if p.is_file())

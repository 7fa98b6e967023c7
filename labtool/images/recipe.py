"""What goes into the base images. Any change here (or in files/) changes the cache key and forces a rebuild."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SUITE = "bookworm"
ARCH = "amd64"

# Installed by debootstrap into the one rootfs both images are made from.
# python3-apt: Ansible's apt module needs it; ifupdown + isc-dhcp-client: the VM's DHCP
# (harmless and idle in the container, and keeps both manifests identical); kmod + udev:
# the kernel's initramfs needs them, so installing them here keeps the VM-only set to boot packages.
COMMON_PACKAGES = (
    "ca-certificates",
    "dbus",
    "ifupdown",
    "iproute2",
    "isc-dhcp-client",
    "kmod",
    "netbase",
    "openssh-server",
    "procps",
    "python3",
    "python3-apt",
    "sudo",
    "systemd",
    "systemd-sysv",
    "udev",
)

# Installed into the VM's disk only: a container runs on the host's kernel and has no bootloader.
BOOT_PACKAGES = ("linux-image-amd64",)

# Packages that may appear in the VM's manifest but not in the container's:
# the kernel and what installing it pulls in (initramfs tooling), as measured. Prefix match.
BOOT_PACKAGE_PREFIXES = (
    "linux-image-",
    "linux-base",
    "initramfs-tools",
    "klibc-utils",
    "libklibc",
    "cpio",
)

# Every image and box labtool makes is named under this prefix (and `images prune` touches no others).
BOX_PREFIX = "labtool/"
DOCKER_REPOSITORY = "labtool/debian12"
BOX_NAME = "labtool/debian12"
"""The base box's name; each build registers it as `<BOX_NAME>-<key>` (labtool/images/pair.py)."""
VM_DISK_GIB = 8
VAGRANT_USER = "vagrant"

# `docker import --change` accepts no STOPSIGNAL or LABEL: containers set the stop signal at run time.
DOCKER_IMPORT_CHANGES = ('CMD ["/sbin/init"]', "ENV container=docker")

BOX_VAGRANTFILE = """\
# Defaults baked into the labtool box; the project's Vagrantfile overrides them.
Vagrant.configure("2") do |config|
  # The box has no rsync or NFS client: lab machines get their files from Ansible.
  config.vm.synced_folder ".", "/vagrant", disabled: true
end
"""

SANDBOX_RELAX_ENV = "LABTOOL_SANDBOX_RELAX"
"""Set to `off` in a container's environment, its sandbox probe (files/labtool-sandbox-probe) relaxes nothing."""
SANDBOX_RECORD = "/run/labtool/sandbox.json"
"""What the probe found, inside the container: read by parity's collector."""

FILES_DIR = Path(__file__).with_name("files")


def is_boot_package(name: str) -> bool:
    return name.startswith(BOOT_PACKAGE_PREFIXES)


def spec() -> dict[str, object]:
    """Everything above that decides the images' bits (names and the allow-list do not)."""
    return {
        "suite": SUITE,
        "arch": ARCH,
        "common": sorted(COMMON_PACKAGES),
        "boot": sorted(BOOT_PACKAGES),
        "disk_gib": VM_DISK_GIB,
        "user": VAGRANT_USER,
        "docker_changes": list(DOCKER_IMPORT_CHANGES),
        "box_vagrantfile": BOX_VAGRANTFILE,
    }


def cache_key(files_dir: Path = FILES_DIR) -> str:
    """A content key over the spec and every build script and unit file in files/.

    Python modules are deliberately left out: reformatting or refactoring them
    must not trigger a rebuild; what they put into the images lives in spec().
    """
    digest = hashlib.sha256(json.dumps(spec(), sort_keys=True).encode())
    for path in sorted(p for p in files_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(files_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]

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

DOCKER_REPOSITORY = "labtool/debian12"
BOX_NAME = "labtool/debian12"
VM_DISK_GIB = 8
VAGRANT_USER = "vagrant"

FILES_DIR = Path(__file__).with_name("files")
# The modules that shape the images' bits (orchestration and CLI code are left out on purpose).
RECIPE_SOURCES = tuple(Path(__file__).with_name(name) for name in ("recipe.py", "rootfs.py", "docker_image.py",
                                                                    "vagrant_box.py"))


def is_boot_package(name: str) -> bool:
    return name.startswith(BOOT_PACKAGE_PREFIXES)


def cache_key(sources: tuple[Path, ...] = RECIPE_SOURCES, files_dir: Path = FILES_DIR) -> str:
    """A content key over suite, package lists and every file of the build recipe."""
    digest = hashlib.sha256()
    spec = {
        "suite": SUITE,
        "arch": ARCH,
        "common": sorted(COMMON_PACKAGES),
        "boot": sorted(BOOT_PACKAGES),
        "disk_gib": VM_DISK_GIB,
    }
    digest.update(json.dumps(spec, sort_keys=True).encode())
    recipe_files = sorted({*sources, *(p for p in files_dir.rglob("*") if p.is_file())})
    for path in recipe_files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]

"""Debootstrap the one Debian rootfs that both the Docker image and the Vagrant box are made from."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from labtool import proc
from labtool.errors import CommandError, ImageBuildError, MirrorUnreachableError
from labtool.images import recipe

DEBOOTSTRAP_TIMEOUT = 1800.0
UNREACHABLE_MARKERS = ("Failed getting release file", "Temporary failure resolving", "Could not resolve")


def debootstrap(target: Path, mirror: str | None, log: Path, env: Mapping[str, str] | None = None) -> None:
    """`env` may name an http_proxy (the host's apt cache): debootstrap's downloads go through it."""
    # In a private mount namespace: the /proc and /sys debootstrap mounts into the target vanish
    # with it, even if labtool is killed, so removing a half-built rootfs never walks into them.
    argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "debootstrap",
        "--variant=minbase",
        f"--arch={recipe.ARCH}",
        f"--include={','.join(recipe.COMMON_PACKAGES)}",
        recipe.SUITE,
        str(target),
    ]
    if mirror:
        argv.append(mirror)
    try:
        proc.run(argv, timeout=DEBOOTSTRAP_TIMEOUT, log=log, env=env)
    except CommandError as exc:
        if any(marker in exc.output for marker in UNREACHABLE_MARKERS):
            raise MirrorUnreachableError(
                f"debootstrap could not reach the Debian mirror {mirror or '(debootstrap default)'}",
                f"check the network or set LABTOOL_DEBIAN_MIRROR; full log: {log}",
            ) from exc
        raise ImageBuildError(exc.message, f"full log: {log}") from exc


def configure(target: Path, log: Path, env: Mapping[str, str] | None = None) -> None:
    """Apply the configuration both kinds of machine share (identity on first boot, the vagrant user,
    the package lists); `env` as for debootstrap: the lists come through the host's apt cache."""
    script = recipe.FILES_DIR / "configure-rootfs.sh"
    proc.run(["bash", str(script), str(target), recipe.VAGRANT_USER], timeout=600, log=log, env=env)


def manifest(root: Path) -> dict[str, str]:
    """Installed packages of a root directory: name -> version, read from its dpkg database."""
    result = proc.run(
        [
            "dpkg-query",
            f"--admindir={root / 'var/lib/dpkg'}",
            "-W",
            "-f",
            "${db:Status-Abbrev} ${Package} ${Version}\n",
        ],
        timeout=60,
    )
    return parse_manifest(result.stdout)


def parse_manifest(text: str) -> dict[str, str]:
    """Parse `dpkg-query -f '${db:Status-Abbrev} ${Package} ${Version}'`, keeping installed packages only."""
    packages = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "ii":
            packages[words[1]] = words[2]
    return packages


def format_manifest(packages: dict[str, str]) -> str:
    return "".join(f"{name} {version}\n" for name, version in sorted(packages.items()))

"""Make the Docker image from the shared rootfs: `docker import`, no kernel, systemd as PID 1."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from labtool import proc
from labtool.backends.docker import engine, seccomp
from labtool.images import recipe
from labtool.model import THIS_HOST
from labtool.settings import DOCKER_TIMEOUT

BUILD_TAG_PREFIX = "build-"

# Capabilities: Docker's default set is dropped whole and only these are given back. Each was
# found by experiment on this host (systemd 252, Docker 20.10, cgroup v1) with the reference
# course: without it systemd does not reach `running`, or site.yml or the testinfra suite fails.
CAPABILITIES: tuple[str, ...] = (
    "SETUID",  # systemd starts services as their users (dbus, the app's own); sudo, su, sshd switch users
    "SETGID",  # the same for groups: without SETUID/SETGID dbus fails and systemd never finishes booting
    "SETPCAP",  # journald and logind narrow their capability bounding sets: without it both fail (`degraded`)
    "CHOWN",  # dpkg and apt chown files (apt's `_apt` download dirs); groupadd/useradd write /etc/gshadow
    "DAC_OVERRIDE",  # root reads and writes files it does not own: apt cannot replace its package lists without it
    "FOWNER",  # chmod and utimes on files of other owners: dpkg, and Ansible's file tasks on the app's directories
    "FSETID",  # dpkg keeps set-group-ID bits (crontab's); without it they vanish silently as packages install
    "KILL",  # systemd stops services running as other users; without it `systemctl stop` leaves them running
    "AUDIT_WRITE",  # sudo and sshd's PAM write a login record; without it every sudo prints an error
    "SYS_CHROOT",  # sshd's privilege separation chroots its pre-auth child to /run/sshd: students' SSH logins
    "SETFCAP",  # mapping root into a user namespace needs it (Linux 5.12+): without it `PrivateUsers=` fails 217/USER
)
# Docker's defaults this leaves out, none needed: MKNOD (Docker makes /dev), NET_RAW and NET_BIND_SERVICE
# (Docker sets ping_group_range and ip_unprivileged_port_start=0 in the container: ping and nginx on :80
# work without them).
# Security options: Docker's default seccomp profile plus the calls that make namespaces (labtool/images/
# seccomp.py), so systemd can give a unit its own user namespace as on the VM. `no-new-privileges` is NOT
# set: systemd, site.yml and the suite all work with it, but it disables every set-user-ID program, so the
# lab user's `sudo` ("no new privileges flag is set") and students' `su`/`passwd` would fail in the
# container while they work on the VM: the pair would teach different things.


PIDS_LIMIT = 4096
"""Tasks a lab container may have: a VM's own kernel bounds its processes, a container shares the host's pid
table, so a student's fork bomb would starve every room. A Debian machine running a course's daemons has a few
hundred; 4096 leaves room for a build or a test with many workers."""


# How a container of this image must run: systemd works unprivileged with tmpfs on /run and /run/lock and
# the cgroup tree read-only (measured on cgroup v1 and v2 hosts), SIGRTMIN+3 shuts it down cleanly; never
# privileged, never the host's network (the caller names the room's bridge network), no Docker socket.
def run_options(*, relax_sandboxing: bool = True) -> dict[str, Any]:
    """The Docker SDK's `containers.run` options every lab container gets (Molecule's too).

    `relax_sandboxing` False tells the container's sandbox probe (files/labtool-sandbox-probe) to record
    which sandboxing directives fail here but relax none, so their raw failures show.
    """
    return {
        "tmpfs": {"/run": "rw,mode=755", "/run/lock": "rw", "/tmp": "rw"},
        "volumes": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"}},
        "stop_signal": "SIGRTMIN+3",
        "privileged": False,
        "cap_drop": ["ALL"],
        "cap_add": list(CAPABILITIES),
        "security_opt": [seccomp.security_opt()],
        "pids_limit": PIDS_LIMIT,
        "environment": {recipe.SANDBOX_RELAX_ENV: "on" if relax_sandboxing else "off"},
    }


def ansible_options(*, relax_sandboxing: bool = True) -> dict[str, Any]:
    """run_options() as community.docker.docker_container's parameters: Molecule's docker scenario
    creates its container with these, so it runs exactly as labtool's do."""
    options = run_options(relax_sandboxing=relax_sandboxing)
    return {
        "tmpfs": [f"{path}:{mount}" for path, mount in options["tmpfs"].items()],
        "volumes": [f"{source}:{v['bind']}:{v['mode']}" for source, v in options["volumes"].items()],
        "stop_signal": options["stop_signal"],
        "privileged": options["privileged"],
        "cap_drop": options["cap_drop"],
        "capabilities": options["cap_add"],
        "security_opts": options["security_opt"],
        "pids_limit": options["pids_limit"],
        "env": options["environment"],
    }


def client(timeout: float = DOCKER_TIMEOUT) -> Any:
    """The engine images are built in: this host's (rootfs and image are made here, then shipped to lab hosts)."""
    return engine.client(THIS_HOST, timeout)


def ref(key: str) -> str:
    return f"{recipe.DOCKER_REPOSITORY}:{key}"


def present(image_ref: str) -> bool:
    import docker

    try:
        client().images.get(image_ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def remove_build_leftovers(repository: str) -> None:
    """Drop the tags of interrupted imports (never a finished image)."""
    docker_client = client()
    for image in docker_client.images.list(name=repository):
        for tag in image.tags:
            if tag.rsplit(":", 1)[1].startswith(BUILD_TAG_PREFIX):
                docker_client.images.remove(tag)


def labtool_tags() -> list[str]:
    """Every tag of an image labtool made (base and baked)."""
    return sorted(tag for image in client().images.list() for tag in image.tags if tag.startswith(recipe.BOX_PREFIX))


def prune(keep: Collection[str]) -> list[str]:
    """Remove labtool's image tags other than `keep` (and `:latest`); returns those removed.

    A tag a container still uses stays: Docker refuses (409), and the next prune tries again.
    """
    import docker

    docker_client = client()
    removed = []
    for tag in labtool_tags():
        if tag in keep or tag.endswith(":latest"):
            continue
        try:
            docker_client.images.remove(tag)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: in use by a container
                raise
        else:
            removed.append(tag)
    return removed


def import_rootfs(rootfs: Path, image_ref: str, workdir: Path, log: Path, *, latest: bool = False) -> str:
    """Import the rootfs as `image_ref` (and `<repository>:latest` if asked); returns the image id.

    The image is imported under a build tag first and only then given its real tags,
    so an interrupted import never leaves something that looks like a finished image.
    """
    tarball = workdir / "rootfs.tar"
    proc.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], timeout=600, log=log)
    image_id = import_tarball(tarball, image_ref, latest=latest)
    tarball.unlink()
    return image_id


def import_tarball(tarball: Path, image_ref: str, *, latest: bool = False) -> str:
    repository, tag = image_ref.rsplit(":", 1)
    docker_client = client()
    build_ref = f"{repository}:{BUILD_TAG_PREFIX}{tag}"
    docker_client.api.import_image_from_file(
        str(tarball),
        repository=repository,
        tag=build_ref.rsplit(":", 1)[1],
        changes=list(recipe.DOCKER_IMPORT_CHANGES),
    )
    image = docker_client.images.get(build_ref)
    image.tag(repository, tag)
    if latest:
        image.tag(repository, "latest")
    docker_client.images.remove(build_ref)
    return str(image.id)


def size_bytes(image_ref: str) -> int:
    return int(client().images.get(image_ref).attrs["Size"])

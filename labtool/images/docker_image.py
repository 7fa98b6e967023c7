"""Make the Docker image from the shared rootfs: `docker import`, no kernel, systemd as PID 1."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from labtool import proc
from labtool.errors import DaemonError
from labtool.images import recipe

BUILD_TAG_PREFIX = "build-"
# How a container of this image must run for systemd to work unprivileged (measured on cgroup v1 and v2 hosts):
# tmpfs on /run and /run/lock, the cgroup tree read-only, SIGRTMIN+3 to shut down cleanly.
RUN_OPTIONS: dict[str, Any] = {
    "tmpfs": {"/run": "rw,mode=755", "/run/lock": "rw", "/tmp": "rw"},
    "volumes": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"}},
    "stop_signal": "SIGRTMIN+3",
}


def client() -> Any:
    import docker

    try:
        return docker.from_env(timeout=300)
    except docker.errors.DockerException as exc:
        raise engine_unreachable(exc) from exc


def engine_unreachable(exc: Exception) -> DaemonError:
    """The one error for "dockerd is not there": where labtool looked, the reason's last line, the fix."""
    from labtool.host.daemons import docker_url

    where = docker_url()
    reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
    return DaemonError(
        f"the Docker engine does not answer at {where} ({reason})",
        "start it with `labtool daemons`, then run this again",
    )


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

"""Make the Docker image from the shared rootfs: `docker import`, no kernel, systemd as PID 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labtool import proc
from labtool.errors import ImageBuildError
from labtool.images import recipe
from labtool.settings import DOCKER_TIMEOUT

BUILD_TAG_PREFIX = "build-"
# How a container of this image must run for systemd to work unprivileged (measured on cgroup v1 and v2 hosts):
# tmpfs on /run and /run/lock, the cgroup tree read-only, SIGRTMIN+3 to shut down cleanly.
RUN_OPTIONS: dict[str, Any] = {
    "tmpfs": {"/run": "rw,mode=755", "/run/lock": "rw", "/tmp": "rw"},
    "volumes": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"}},
    "stop_signal": "SIGRTMIN+3",
}


def client(timeout: float = DOCKER_TIMEOUT) -> Any:
    """A Docker SDK client whose every request gives up after `timeout` seconds (LABTOOL_DOCKER_TIMEOUT)."""
    import docker

    try:
        return docker.from_env(timeout=max(1, round(timeout)))
    except docker.errors.DockerException as exc:
        raise ImageBuildError("the Docker engine does not answer", "run `labtool daemons` to start it") from exc


def ref(key: str) -> str:
    return f"{recipe.DOCKER_REPOSITORY}:{key}"


def present(key: str) -> bool:
    import docker

    try:
        client().images.get(ref(key))
    except docker.errors.ImageNotFound:
        return False
    return True


def remove_leftovers(keep_key: str | None = None) -> None:
    """Drop tags of interrupted builds, and key tags other than `keep_key`.

    An old image that a container still runs keeps its tag (Docker refuses, rightly);
    the next build tries again.
    """
    import docker

    docker_client = client()
    for image in docker_client.images.list(name=recipe.DOCKER_REPOSITORY):
        for tag in image.tags:
            version = tag.rsplit(":", 1)[1]
            stale_build = version.startswith(BUILD_TAG_PREFIX)
            old_key = keep_key is not None and version not in (keep_key, "latest")
            if stale_build or old_key:
                try:
                    docker_client.images.remove(tag)
                except docker.errors.APIError as exc:
                    if exc.status_code != 409:  # 409: in use by a container
                        raise


def import_rootfs(rootfs: Path, key: str, workdir: Path, log: Path) -> str:
    """Import the rootfs as `<repo>:<key>` and `<repo>:latest`; returns the image id.

    The image is imported under a build tag first and only then given its real tags,
    so an interrupted import never leaves something that looks like a finished image.
    """
    tarball = workdir / "rootfs.tar"
    proc.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], timeout=600, log=log)
    docker_client = client()
    build_tag = f"{BUILD_TAG_PREFIX}{key}"
    docker_client.api.import_image_from_file(
        str(tarball),
        repository=recipe.DOCKER_REPOSITORY,
        tag=build_tag,
        changes=list(recipe.DOCKER_IMPORT_CHANGES),
    )
    tarball.unlink()
    image = docker_client.images.get(f"{recipe.DOCKER_REPOSITORY}:{build_tag}")
    image.tag(recipe.DOCKER_REPOSITORY, key)
    image.tag(recipe.DOCKER_REPOSITORY, "latest")
    docker_client.images.remove(f"{recipe.DOCKER_REPOSITORY}:{build_tag}")
    return str(image.id)


def size_bytes(key: str) -> int:
    return int(client().images.get(ref(key)).attrs["Size"])

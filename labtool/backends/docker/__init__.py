"""Docker: containers with systemd as PID 1 (backend.py), the image they start from (image.py, seccomp.py),
and a lab host's engine (engine.py: its address, local or `ssh://`, and its checks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labtool.model import Kind, LabHost

if TYPE_CHECKING:
    from labtool.backends.base import Backend
    from labtool.images.pair import ImagePair
    from labtool.settings import Settings


class DockerTechnology:
    name = "docker"
    kind = Kind.CONTAINER

    def backend(self, settings: Settings, host: LabHost, images: ImagePair | None) -> Backend:
        from labtool.backends.docker.backend import DockerBackend

        return DockerBackend(host, images.docker_ref if images else None, timeout=settings.docker_timeout)


TECHNOLOGY = DockerTechnology()

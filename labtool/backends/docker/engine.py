"""The Docker engine of a lab host: its address, a client for it, and the one error for "it does not answer".

This host's engine is DOCKER_HOST or the local socket, as the docker CLI would find it;
another lab host's is Docker's own `ssh://` endpoint, over the system's ssh client.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from labtool.errors import DaemonError
from labtool.model import LabHost
from labtool.settings import DOCKER_TIMEOUT

DOCKER_SOCKET = Path("/var/run/docker.sock")
PING_TIMEOUT = 5


def url(host: LabHost) -> str:
    if host.ssh is not None:
        return f"ssh://{host.ssh}"
    return os.environ.get("DOCKER_HOST") or f"unix://{DOCKER_SOCKET}"


def client(host: LabHost, timeout: float = DOCKER_TIMEOUT) -> Any:
    """A Docker SDK client for the host's engine whose every request gives up after `timeout` seconds."""
    import docker  # deferred: importing the SDK costs ~0.2 s that most commands do not need

    seconds = max(1, round(timeout))
    try:
        if host.is_local:
            return docker.from_env(timeout=seconds)  # DOCKER_HOST and its TLS settings, as the docker CLI reads them
        # The system's ssh client: the user's keys, known_hosts and ssh_config, as Ansible reaches the host.
        return docker.DockerClient(base_url=url(host), timeout=seconds, use_ssh_client=True)
    except docker.errors.DockerException as exc:
        raise unreachable(host, exc) from exc


def unreachable(host: LabHost, exc: Exception) -> DaemonError:
    """The one error for "dockerd is not there": where labtool looked, the reason's last line, the fix."""
    reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
    where = url(host) if host.is_local else f"{url(host)} (lab host {host.name})"
    return DaemonError(
        f"the Docker engine does not answer at {where} ({reason})",
        "start it with `labtool daemons`, then run this again"
        if host.is_local
        else f"check that lab host {host.name} is up and its dockerd runs, then run this again",
    )


def answers(host: LabHost) -> bool:
    """True when the host's engine answers an API ping (not merely when its socket exists)."""
    import docker

    try:
        engine = docker.DockerClient(base_url=url(host), timeout=PING_TIMEOUT, use_ssh_client=not host.is_local)
        try:
            return bool(engine.ping())
        finally:
            engine.close()
    except Exception:  # the SDK raises several unrelated types for "no daemon"
        return False

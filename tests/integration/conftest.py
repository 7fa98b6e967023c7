"""Fixtures that start real lab machines from the base images, and always remove them."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labtool.backends.vagrant import Network, VagrantProject, VmSpec
from labtool.host import accel
from labtool.images import build, docker_image, recipe
from labtool.settings import Settings

TEST_LABEL = "labtool.room"
TEST_ROOM = "pytest-images"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def built_images(settings: Settings) -> str:
    """The images must exist: `scripts/up` (which `scripts/test` runs first) builds them."""
    key = recipe.cache_key()
    if not build.images_ready(settings, key):
        pytest.fail("the base images are not built for the current recipe: run `scripts/up`")
    return key


def wait_for_systemd(container: Any, timeout: float = 30.0) -> str:
    """Wait until systemd in the container has finished booting; returns its final state."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        _, output = container.exec_run(["systemctl", "is-system-running"])
        state = str(output.decode()).strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(0.1)
    return state


@pytest.fixture(scope="session")
def lab_container(built_images: str) -> Iterator[Any]:
    client = docker_image.client()
    container = client.containers.run(
        docker_image.ref(built_images),
        detach=True,
        name=f"labtool-test-{uuid.uuid4().hex[:8]}",
        hostname="images-container",
        labels={TEST_LABEL: TEST_ROOM},
        **docker_image.RUN_OPTIONS,
    )
    try:
        wait_for_systemd(container)
        yield container
    finally:
        container.remove(force=True)


@pytest.fixture(scope="session")
def lab_vm(built_images: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VagrantProject]:
    state_dir = Path(tmp_path_factory.mktemp("vagrant-room"))
    backend = VagrantProject(
        state_dir, Network("labtool-pytest", "192.168.251.0/24"), accel.detect(settings.vm_accel), "labtoolpytest_"
    )
    backend.define([VmSpec("images-vm", memory=1024)])
    try:
        backend.up("images-vm")
        yield backend
    finally:
        backend.destroy()
        leftover = subprocess.run(
            ["virsh", "-c", "qemu:///system", "list", "--all", "--name"], capture_output=True, text=True, check=False
        ).stdout.split()
        assert backend.domain_name("images-vm") not in leftover, "vagrant destroy left the domain behind"

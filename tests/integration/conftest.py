"""Fixtures that start real lab machines from the base images, and always remove them."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labtool.backends.docker import image as docker_image
from labtool.backends.vagrant import accel, libvirt
from labtool.backends.vagrant.backend import Network, VagrantProject, VmSpec
from labtool.images import build, pair, recipe
from labtool.settings import Settings
from tests.integration.rooms import LiveRoom

TEST_LABEL = "labtool.room"
TEST_ROOM = "pytest-images"
LIVE_ROOM = "pytest"
LIVE_ROOM_NETWORK_INDEX = 250
LIVE_ROOM_SEATS = 2
LIFECYCLE_MODULE = "test_room.py"
LIVE_REPORT_MODULE = "test_report.py"


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM ends the run as ^C does, fixtures' teardown included: `scripts/test` stops its background
    two-host tests so, and their room and second host must not be left behind."""
    signal.signal(signal.SIGTERM, _interrupted)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The room lifecycle tests run last: they end by killing and removing the room the others share. Before
    them, the report of the live room, which then reads the verify that test_verify.py left (rather than verify
    the whole room again, a minute under TCG)."""
    items.sort(key=lambda item: (item.path.name == LIFECYCLE_MODULE, item.path.name == LIVE_REPORT_MODULE))


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
        **docker_image.run_options(),
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
        state_dir,
        Network(f"labtool-{TEST_ROOM}", "192.168.251.0/24"),
        accel.detect(settings.vm_accel),
        "labtoolpytest_",
        pair.base(built_images).box,
        libvirt_uri=libvirt.LOCAL_URI,
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


@pytest.fixture(scope="session")
def running_room(built_images: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRoom]:
    """The two-seat room, baked, up and provisioned, shared by the session; always torn down at its end.

    It lives in a rooms directory of its own (LABTOOL_ROOMS_DIR) on a network index of
    its own, so an instructor's rooms on the same host are never touched.
    """
    # One path for every session: a room's state names its directory, and the next session's
    # `down` of leftovers from an interrupted run must be the same room to be allowed.
    rooms_dir = Path(tempfile.gettempdir()) / "labtool-integration-rooms"
    shutil.rmtree(rooms_dir, ignore_errors=True)
    rooms_dir.mkdir()
    room = LiveRoom(LIVE_ROOM, {"LABTOOL_ROOMS_DIR": str(rooms_dir)})
    created = room.labtool("room", "new", room.name, "--seats", str(LIVE_ROOM_SEATS))
    assert created.returncode == 0, created.stderr
    settings = rooms_dir / room.name / "labtool.yml"
    settings.write_text(re.sub(r"index: \d+", f"index: {LIVE_ROOM_NETWORK_INDEX}", settings.read_text()))
    # `room new` gave it the default room's course: labnotes, its app's fingerprint, its allow-list.
    assert "expected_differences: molecule/shared/expected_differences.yml" in settings.read_text()
    room.labtool("down", room.name, "--yes")  # machines left over from an interrupted run
    try:
        # Baked first, as an instructor fills a room before class: the VMs start together, converged already.
        room.first_up = room.labtool("up", room.name, "--bake", "--json", timeout=3600)
        assert room.first_up.returncode == 0, room.first_up.stderr[-3000:]
        yield room
    finally:
        result = room.labtool("down", room.name, "--yes")
        assert result.returncode == 0, result.stderr

"""The set-up verbs against the real host: daemons, doctor, and the images cache."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from labtool.host import apt_cache
from labtool.images import build, docker_image, recipe
from labtool.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]
LABTOOL = [sys.executable, "-m", "labtool"]


def labtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LABTOOL, *args], capture_output=True, text=True, timeout=600, check=False)


def test_daemons_answer(built_images: str) -> None:
    result = labtool("daemons", "--json")
    assert result.returncode == 0, result.stderr
    names = {row["name"]: row["action"] for row in json.loads(result.stdout)}
    assert set(names) == {
        "dockerd",
        "virtlogd",
        "libvirtd",
        "storage pool default",
        f"{apt_cache.INTERFACE} {apt_cache.ADDRESS}/32",
        "apt-cacher-ng",
    }


def test_doctor_passes_on_the_prepared_host(built_images: str) -> None:
    result = labtool("doctor", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert result.returncode == 0, rows
    assert rows["base images"]["status"] == "ok"
    assert rows["vm acceleration"]["status"] in ("ok", "warn")


def test_second_build_is_a_cached_no_op(built_images: str) -> None:
    image_id = docker_image.client().images.get(docker_image.ref(built_images)).id
    result = labtool("images", "build", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cached"] is True
    assert report["key"] == built_images
    assert docker_image.client().images.get(docker_image.ref(built_images)).id == image_id


def test_killed_build_leaves_the_old_images_registered_and_nothing_half_made(
    built_images: str, settings: Settings
) -> None:
    scratch = build.workdir(settings)
    child = subprocess.Popen(
        [*LABTOOL, "images", "build", "--force"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (scratch / "rootfs" / "var").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (scratch / "rootfs").exists(), "the forced build never started debootstrap"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()

    assert build.images_ready(settings, built_images), "the previous images must survive a killed rebuild"
    tags = [t for image in docker_image.client().images.list(name=recipe.DOCKER_REPOSITORY) for t in image.tags]
    assert not [t for t in tags if ":build-" in t]
    assert labtool("images", "build").returncode == 0
    assert not scratch.exists(), "the next build cleans what the killed one left"

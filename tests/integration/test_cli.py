"""The set-up verbs against the real host: daemons, doctor, and the images cache."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labtool.backends.docker import image as docker_image
from labtool.host import apt_cache
from labtool.images import build, recipe
from labtool.settings import Settings
from tests.conftest import FaultRow
from tests.integration.rooms import run_labtool

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]
LABTOOL = [sys.executable, "-m", "labtool"]


def labtool(*args: str) -> subprocess.CompletedProcess[str]:
    return run_labtool(*args, timeout=600)


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


def test_up_with_labtool_home_on_a_nearly_full_filesystem_refuses_before_making_anything(
    built_images: str, settings: Settings, tmp_path: Path, fault_row: FaultRow
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(home)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        shutil.copytree(settings.images_dir, home / "images")  # the real images' records: they are current
        containers = docker_image.client().containers.list(all=True)
        result = run_labtool("up", env={"LABTOOL_HOME": str(home), "LABTOOL_PROJECT": str(REPO)}, timeout=600)
        assert result.returncode == 1, result.stderr[-3000:]
        assert result.stderr.count("error: ") == 1 and "Traceback" not in result.stderr
        path = home / "rooms" / "default"
        assert f"error: no space left on the filesystem of {path}: 8.0 MiB needed, " in result.stderr
        assert "hint: " in result.stderr and "LABTOOL_HOME" in result.stderr
        assert docker_image.client().containers.list(all=True) == containers  # nothing was made
    finally:
        subprocess.run(["umount", str(home)], check=True)
    fault_row(
        "`labtool up` with `LABTOOL_HOME` on a nearly full filesystem (a 2 MiB tmpfs, real images)",
        "`up` refused before creating anything: one `error: no space left on the filesystem of PATH: 8.0 MiB "
        "needed, N free` and a hint naming LABTOOL_HOME, exit 1",
        "free space or move `LABTOOL_HOME`, then `up` again",
    )

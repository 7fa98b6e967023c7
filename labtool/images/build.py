"""Build both base images from one rootfs, cached by content key and atomic.

A build runs in LABTOOL_HOME/images/build, which is wiped at the start of every
build (so an interrupted one leaves nothing the next build could trip on), and
records what it made in state.json only once the Docker image and the box are
both registered.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labtool import proc
from labtool.backends.docker import image as docker_image
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.libvirt import Virsh
from labtool.errors import ImageBuildError, LabtoolError
from labtool.host import apt_cache
from labtool.images import mirror, pair, recipe, rootfs
from labtool.model import THIS_HOST
from labtool.progress import Progress
from labtool.settings import Settings
from labtool.state import SHARED, atomic_write, locked, utc_now


@dataclass
class BuildReport:
    key: str
    cached: bool
    docker_image: str
    box: str
    seconds: dict[str, float] = field(default_factory=dict)
    manifest_differences: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def images_ready(settings: Settings, key: str | None = None) -> bool:
    """True when the Docker image and the box of the current recipe are both registered."""
    key = key or recipe.cache_key()
    return read_state(settings).get("key") == key and pair_present(pair.base(key))


def pair_present(images: pair.ImagePair) -> bool:
    return docker_image.present(images.docker_ref) and box_present(images)


def box_present(images: pair.ImagePair) -> bool:
    return vagrant_box.registered_key(images.box) == images.key


def base_pair_if_built(settings: Settings) -> pair.ImagePair | None:
    """The base pair last built, if its images are still there (whatever the current recipe says)."""
    key = read_state(settings).get("key")
    try:
        return pair.base(key) if isinstance(key, str) and pair_present(pair.base(key)) else None
    except LabtoolError:  # the Docker engine is down: verbs that need no image still work
        return None


def current_pair(settings: Settings) -> pair.ImagePair:
    """The base pair of the current recipe, or an error saying how to build it."""
    key = recipe.cache_key()
    if not images_ready(settings, key):
        raise ImageBuildError("the base images are not built for the current recipe", "run `labtool images build`")
    return pair.base(key)


def read_state(settings: Settings) -> dict[str, object]:
    try:
        state = json.loads((settings.images_dir / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def build(settings: Settings, *, force: bool = False, progress: Progress = lambda _: None) -> BuildReport:
    key = recipe.cache_key()
    settings.images_dir.mkdir(parents=True, exist_ok=True)
    with locked(settings.images_dir, "the image build"):
        remove_workdir(workdir(settings))  # leftovers of an interrupted build, even when nothing is rebuilt
        if not force and images_ready(settings, key):
            return BuildReport(key, True, pair.base(key).docker_ref, pair.base(key).box)
        return _build(settings, key, progress)


def workdir(settings: Settings) -> Path:
    return settings.images_dir / "build"


def _build(settings: Settings, key: str, progress: Progress) -> BuildReport:
    scratch = workdir(settings)
    log = settings.log_dir / "images-build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"labtool images build, key {key}\n")
    docker_image.remove_build_leftovers(recipe.DOCKER_REPOSITORY)
    scratch.mkdir(parents=True)
    images = pair.base(key)
    report = BuildReport(key, False, images.docker_ref, images.box)
    source = settings.debian_mirror or mirror.host_mirror(recipe.SUITE)
    proxy = apt_cache.host_proxy_env(settings)  # http downloads through the rooms' apt cache when it runs
    through = " through the apt cache" if proxy else ""
    try:
        with timed_step(
            report.seconds, "debootstrap", progress, f"debootstrapping Debian {recipe.SUITE}{through} (log: {log})"
        ):
            if source:
                mirror.check_reachable(source, recipe.SUITE)
            root = scratch / "rootfs"
            rootfs.debootstrap(root, source, log, env=proxy)
            rootfs.configure(root, log, env=proxy)
            container_packages = rootfs.manifest(root)
        with timed_step(report.seconds, "docker_image", progress, "importing the Docker image"):
            docker_image.import_rootfs(root, images.docker_ref, scratch, log, latest=True)
        with timed_step(report.seconds, "vm_disk", progress, "making the VM disk (kernel, extlinux)"):
            raw, vm_manifest = vagrant_box.make_disk(root, scratch, log, env=proxy)
            vm_packages = rootfs.parse_manifest(vm_manifest.read_text())
            shutil.rmtree(root)
        report.manifest_differences = unexpected_differences(container_packages, vm_packages)
        if report.manifest_differences:
            raise ImageBuildError(
                "the VM and the container would differ in more than boot packages: "
                + ", ".join(report.manifest_differences),
                "add the package to COMMON_PACKAGES in labtool/images/recipe.py",
            )
        with timed_step(report.seconds, "vagrant_box", progress, "packaging and registering the Vagrant box"):
            box = vagrant_box.package_box(raw, scratch, key, log)
            vagrant_box.register(Virsh(THIS_HOST), box, images.box, log)
        _write_manifests(settings, container_packages, vm_packages)
        _write_state(settings, report)
    finally:
        remove_workdir(scratch)
    return report


def remove_workdir(directory: Path) -> None:
    """Delete the scratch directory, first detaching anything still mounted inside it.

    Build steps mount in private namespaces, so nothing should be; this is the guard
    that keeps a delete from ever walking into a mounted /proc, /sys or /dev.
    """
    for mount_point in mounts_under(directory):
        proc.run(["umount", "--lazy", str(mount_point)], timeout=30, check=False)
    if mounts_under(directory):
        raise ImageBuildError(
            f"cannot clean {directory}: something is still mounted inside it",
            f"unmount it by hand (see `findmnt -R {directory}`), then build again",
        )
    shutil.rmtree(directory, ignore_errors=True)


def mounts_under(directory: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    """Mount points at or below `directory`, deepest first (the order to unmount them in)."""
    root = str(directory.resolve()) if directory.exists() else str(directory)
    found = []
    for line in mountinfo.read_text().splitlines():
        mount_point = line.split()[4].encode().decode("unicode_escape")
        if mount_point == root or mount_point.startswith(root + "/"):
            found.append(Path(mount_point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unexpected_differences(container: dict[str, str], vm: dict[str, str]) -> list[str]:
    """Packages whose presence or version differs between the two, other than the VM's boot packages."""
    problems = []
    for name in sorted(container.keys() | vm.keys()):
        in_container, in_vm = container.get(name), vm.get(name)
        if in_container == in_vm or (in_container is None and recipe.is_boot_package(name)):
            continue
        problems.append(f"{name} (container {in_container or 'absent'}, VM {in_vm or 'absent'})")
    return problems


@contextmanager
def timed_step(seconds: dict[str, float], name: str, progress: Progress, message: str) -> Iterator[None]:
    """Say what a long step does, then keep how long it took under its name."""
    progress(message)
    started = time.monotonic()
    yield
    seconds[name] = round(time.monotonic() - started, 1)


def _write_manifests(settings: Settings, container: dict[str, str], vm: dict[str, str]) -> None:
    for name, packages in (("container", container), ("vm", vm)):
        atomic_write(settings.images_dir / f"manifest-{name}.txt", rootfs.format_manifest(packages), mode=SHARED)


def _write_state(settings: Settings, report: BuildReport) -> None:
    state = {**report.to_json(), "built_at": utc_now()}
    atomic_write(settings.images_dir / "state.json", json.dumps(state, indent=2) + "\n")

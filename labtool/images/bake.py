"""Bake a course into an image pair: apply the room's playbook once, then make both images of that tree.

The builder is a container of the base image, converged with the room's playbook as the
room's first container machine (so its host variables apply). Its tree, with every
per-machine identity removed, becomes the baked Docker image and, with the kernel and boot
packages added exactly as for the base box, the baked box. Seats made from the pair are
still converged after boot, which then changes only what is per seat.

A baked pair is named after its key (the base images' key and the room's provisioning
key), so pairs of different courses and keys coexist and a bake never touches another.
"""

from __future__ import annotations

import json
import shutil
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labtool import inventory, proc
from labtool.backends.docker import image as docker_image
from labtool.backends.docker.backend import docker_connection, wait_for_systemd
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.libvirt import Virsh
from labtool.errors import ImageBuildError
from labtool.host import apt_cache
from labtool.images import build, pair, rootfs
from labtool.model import THIS_HOST, Kind, Machine, Room
from labtool.progress import Progress
from labtool.provision import provision, strategy
from labtool.settings import Settings
from labtool.state import SHARED, atomic_write, locked, utc_now

BUILDER_LABEL = "labtool.bake"
RESET_IDENTITY = pair.BAKE_FILES_DIR / "reset-identity.sh"


@dataclass
class BakeReport:
    key: str
    base_key: str
    provision_key: str
    room: str
    cached: bool
    docker_image: str
    box: str
    changed: int = 0
    """Tasks the bake's converge changed (what a seat made from the pair no longer has to do)."""
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def baked_dir(settings: Settings) -> Path:
    return settings.images_dir / "baked"


def current(settings: Settings, base_key: str, provision_key: str) -> pair.ImagePair | None:
    """The baked pair for this course and these base images, if it has been baked and is still registered."""
    images = pair.baked(base_key, provision_key)
    if _record(settings, images.key) and build.pair_present(images):
        return images
    return None


def images_for(settings: Settings, provision_key: str) -> pair.ImagePair:
    """What `up` makes new machines from: the course's baked pair when it is current, else the base pair."""
    base = build.current_pair(settings)
    return current(settings, base.key, provision_key) or base


def bake(
    settings: Settings, room: Room, provision_key: str, *, force: bool = False, progress: Progress = lambda _: None
) -> BakeReport:
    base = build.current_pair(settings)
    images = pair.baked(base.key, provision_key)
    report = BakeReport(images.key, base.key, provision_key, room.name, True, images.docker_ref, images.box)
    baked_dir(settings).mkdir(parents=True, exist_ok=True)
    with locked(baked_dir(settings), "a bake"):
        _remove_builders()
        if not force and current(settings, base.key, provision_key):
            report.__dict__.update(_record(settings, images.key) or {}, cached=True)
            return report
        report.cached = False
        scratch = baked_dir(settings) / "build"
        build.remove_workdir(scratch)
        scratch.mkdir(parents=True)
        try:
            _Bake(settings, room, images, report, scratch, progress).run(base)
        finally:
            _remove_builders()
            build.remove_workdir(scratch)
    atomic_write(
        baked_dir(settings) / f"{images.key}.json",
        json.dumps({**report.to_json(), "cached": False, "baked_at": utc_now()}, indent=2) + "\n",
        mode=SHARED,
    )
    return report


@dataclass
class _Bake:
    settings: Settings
    room: Room
    images: pair.ImagePair
    report: BakeReport
    scratch: Path
    progress: Progress

    def run(self, base: pair.ImagePair) -> None:
        # Kept after the bake (the scratch directory is not): the converge's own log lands beside it.
        runs = self.settings.log_dir / f"bake-{self.images.key}"
        log = runs / "bake.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"labtool images bake, room {self.room.name}, key {self.images.key}\n")
        machine = _builder_machine(self.room)
        with self._step("converge", f"converging a builder container as {machine.name} (log: {log})"):
            builder = self._converge(base, machine, runs)
        with self._step("export", "exporting the converged tree and removing its identity"):
            tree = self.scratch / "rootfs"
            _export(builder, tree, self.scratch / "export.tar", log)
            proc.run(["bash", str(RESET_IDENTITY), str(tree), apt_cache.MACHINE_PROXY_FILE], timeout=120, log=log)
            container_packages = rootfs.manifest(tree)
        with self._step("docker_image", f"importing {self.images.docker_ref}"):
            docker_image.import_rootfs(tree, self.images.docker_ref, self.scratch, log)
        with self._step("vm_disk", "making the VM disk from the same tree (kernel, extlinux)"):
            raw, vm_manifest = vagrant_box.make_disk(tree, self.scratch, log)
            vm_packages = rootfs.parse_manifest(vm_manifest.read_text())
            shutil.rmtree(tree)
        _write_manifests(self.settings, self.images.key, container_packages, vm_packages)
        differences = build.unexpected_differences(container_packages, vm_packages)
        if differences:
            raise ImageBuildError(
                "the baked VM and container would differ in more than boot packages: " + ", ".join(differences),
                f"a role installed a package only one kind can have; see {log}",
            )
        with self._step("vagrant_box", f"packaging and registering the box {self.images.box}"):
            box = vagrant_box.package_box(raw, self.scratch, self.images.key, log)
            vagrant_box.register(Virsh(THIS_HOST), box, self.images.box, log)

    def _converge(self, base: pair.ImagePair, machine: Machine, runs: Path) -> Any:
        builder = _start_builder(base, self.images.key, machine)
        inventory_path = self.scratch / "inventory.yml"
        inventory.write(inventory_path, {machine.name: docker_connection(builder.name)})
        result = provision(
            self.room,
            machine.name,
            inventory_path,
            runs,
            lambda _machine, task: self.progress(f"bake | {task}"),
            how=strategy(self.settings.mitogen),
            apt_proxy=apt_cache.machine_proxy(self.settings),  # removed again with the identity
        )
        if not result.ok:
            raise ImageBuildError(f"the bake's converge failed: {result.error}", "fix the playbook, then bake again")
        self.report.changed = result.changed
        builder.stop(timeout=60)
        return builder

    def _step(self, name: str, message: str) -> AbstractContextManager[None]:
        return build.timed_step(self.report.seconds, name, self.progress, message)


def manifest_path(settings: Settings, key: str, kind: Kind) -> Path:
    return baked_dir(settings) / f"{key}-manifest-{kind}.txt"


def _write_manifests(settings: Settings, key: str, container: dict[str, str], vm: dict[str, str]) -> None:
    for kind, packages in ((Kind.CONTAINER, container), (Kind.VM, vm)):
        atomic_write(manifest_path(settings, key, kind), rootfs.format_manifest(packages), mode=SHARED)


def _builder_machine(room: Room) -> Machine:
    """The builder plays the room's first container, so the playbook sees real host variables and groups."""
    return next(m for m in room.machines if m.kind is Kind.CONTAINER)


def _start_builder(base: pair.ImagePair, key: str, machine: Machine) -> Any:
    client = docker_image.client()
    container = client.containers.run(
        base.docker_ref,
        detach=True,
        name=f"labtool-bake-{key}",
        hostname=machine.name,
        labels={BUILDER_LABEL: key},
        **docker_image.run_options(),
    )
    wait_for_systemd(container, f"labtool-bake-{key}")
    return container


def _export(builder: Any, tree: Path, tarball: Path, log: Path) -> None:
    with tarball.open("wb") as sink:
        for chunk in builder.export():
            sink.write(chunk)
    tree.mkdir()
    proc.run(["tar", "-C", str(tree), "--numeric-owner", "-xpf", str(tarball)], timeout=600, log=log)
    tarball.unlink()


def _remove_builders() -> None:
    """Builders of an interrupted bake: they hold nothing worth keeping."""
    client = docker_image.client()
    for container in client.containers.list(all=True, filters={"label": BUILDER_LABEL}):
        container.remove(force=True, v=True)


def _record(settings: Settings, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads((baked_dir(settings) / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pair_of(record: dict[str, Any]) -> pair.ImagePair:
    return pair.ImagePair(str(record["key"]), str(record["docker_image"]), str(record["box"]), baked=True)


def forget(settings: Settings, key: str) -> None:
    for path in baked_dir(settings).glob(f"{key}*"):
        path.unlink(missing_ok=True)


def records(settings: Settings) -> list[dict[str, Any]]:
    """Every bake on record, newest first."""
    found = [_record(settings, p.stem) for p in baked_dir(settings).glob("*.json")]
    return sorted((r for r in found if r), key=lambda r: str(r.get("baked_at", "")), reverse=True)

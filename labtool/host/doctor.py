"""`labtool doctor`: one row per prerequisite, each with a status and a concrete fix.

Checks read the host through a `HostProbe`, so tests can run every check against
a fake host. Every real probe has a timeout: doctor never hangs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from labtool import lab_hosts, proc
from labtool.backends.vagrant import accel, libvirt
from labtool.errors import CommandError
from labtool.host import apt_cache, apt_cache_log, capacity, daemons
from labtool.model import Kind, Room
from labtool.settings import Settings

GIB = 1024**3
# What the default room (one seat) needs on top of the host's own use: the base images,
# one VM disk and its 1 GiB of RAM, one container; plus the VM image build's scratch space.
MIN_FREE_DISK = 12 * GIB
MIN_FREE_MEMORY = 2 * GIB

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class AptCacheView:
    """The apt cache as the host shows it."""

    installed: bool
    answers: bool
    listeners: tuple[str, ...]
    """Addresses listening on its port."""
    traffic: apt_cache_log.Traffic | None
    """Everything in its transfer log; None when there is no log."""


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    hint: str = ""
    required: bool = True
    numbers: Mapping[str, object] = field(default_factory=dict)
    """The figures behind the detail, for `doctor --json`."""

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "numbers": dict(self.numbers)}


class HostProbe(Protocol):
    def docker_answers(self) -> bool: ...
    def libvirt_answers(self) -> bool: ...
    def program(self, name: str) -> str | None: ...
    def vagrant_plugins(self) -> str | None: ...
    def cpuinfo(self) -> str: ...
    def kvm_device_exists(self) -> bool: ...
    def free_loop_device(self) -> str | None: ...
    def free_disk(self, path: Path) -> int: ...
    def writable(self, path: Path) -> bool: ...
    def available_memory(self) -> int: ...
    def images_ready(self) -> bool: ...
    def apt_cache(self) -> AptCacheView: ...


class SystemProbe:
    """The real host."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def docker_answers(self) -> bool:
        return daemons.docker_answers()

    def libvirt_answers(self) -> bool:
        return daemons.libvirt_answers()

    def program(self, name: str) -> str | None:
        return proc.which(name)

    def vagrant_plugins(self) -> str | None:
        try:
            result = proc.run(["vagrant", "plugin", "list"], timeout=60, check=False)
        except CommandError:
            return None
        return result.stdout if result.ok else None

    def cpuinfo(self) -> str:
        return accel.CPUINFO.read_text() if accel.CPUINFO.exists() else ""

    def kvm_device_exists(self) -> bool:
        return accel.KVM_DEVICE.exists()

    def free_loop_device(self) -> str | None:
        try:
            result = proc.run(["losetup", "--find"], timeout=10, check=False)
        except CommandError:
            return None
        return result.stdout.strip() or None if result.ok else None

    def free_disk(self, path: Path) -> int:
        while not path.exists():
            path = path.parent
        return shutil.disk_usage(path).free

    def writable(self, path: Path) -> bool:
        """Whether labtool can make files in `path` (or make it): tried, since root passes every mode check."""
        while not path.exists() and path != path.parent:
            path = path.parent
        try:
            with tempfile.TemporaryFile(dir=path):
                return True
        except OSError:  # read-only, a file in the way, no such directory
            return False

    def available_memory(self) -> int:
        return capacity.available_memory()

    def images_ready(self) -> bool:
        from labtool.images.build import images_ready

        try:
            return images_ready(self.settings)
        except Exception:  # no engine, no vagrant: reported by their own rows
            return False

    def apt_cache(self) -> AptCacheView:
        log = apt_cache.TRANSFER_LOG
        try:
            traffic = apt_cache_log.summarize(apt_cache_log.read(log)) if log.exists() else None
        except OSError:
            traffic = None
        return AptCacheView(
            installed=self.program(apt_cache.PROGRAM) is not None,
            answers=apt_cache.answers(),
            listeners=tuple(apt_cache.read_listeners()),
            traffic=traffic,
        )


def run_checks(probe: HostProbe, settings: Settings) -> list[Check]:
    checks: list[Callable[[HostProbe, Settings], Check]] = [
        check_docker,
        check_libvirt,
        check_vagrant,
        check_qemu,
        check_acceleration,
        check_loop_devices,
        check_image_tools,
        check_disk,
        check_memory,
        check_images,
        check_apt_cache,
    ]
    return [check(probe, settings) for check in checks]


def failed_required(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.status == FAIL and c.required]


def check_docker(probe: HostProbe, _: Settings) -> Check:
    if probe.docker_answers():
        return Check("docker engine", OK, f"answers on {daemons.docker_url()}")
    if not probe.program("dockerd"):
        return Check("docker engine", FAIL, "dockerd is not installed", "run `scripts/up` (installs docker.io)")
    return Check(
        "docker engine",
        FAIL,
        f"installed but not answering on {daemons.docker_url()}",
        "run `labtool daemons` to start it",
    )


def check_libvirt(probe: HostProbe, _: Settings) -> Check:
    if probe.libvirt_answers():
        return Check("libvirt", OK, f"answers on {libvirt.LOCAL_URI}")
    if not probe.program("libvirtd"):
        return Check("libvirt", FAIL, "libvirtd is not installed", "run `scripts/up` (installs libvirt-daemon-system)")
    return Check("libvirt", FAIL, "installed but not answering", "run `labtool daemons` to start virtlogd and libvirtd")


def check_vagrant(probe: HostProbe, _: Settings) -> Check:
    if not probe.program("vagrant"):
        return Check("vagrant + vagrant-libvirt", FAIL, "vagrant is not installed", "run `scripts/up`")
    plugins = probe.vagrant_plugins()
    if plugins is None or "vagrant-libvirt" not in plugins:
        return Check(
            "vagrant + vagrant-libvirt",
            FAIL,
            "the vagrant-libvirt plugin is missing",
            "run `scripts/up` (installs Debian's vagrant-libvirt)",
        )
    return Check("vagrant + vagrant-libvirt", OK, plugins.strip().splitlines()[0])


def check_qemu(probe: HostProbe, _: Settings) -> Check:
    # socat relays a VM's published ports (access:), on the host its QEMU runs on.
    missing = [p for p in ("qemu-system-x86_64", "qemu-img", "socat") if not probe.program(p)]
    if missing:
        return Check(
            "qemu",
            FAIL,
            f"missing: {', '.join(missing)}",
            "run `scripts/up` (installs qemu-system-x86, qemu-utils, socat)",
        )
    return Check("qemu", OK, "qemu-system-x86_64, qemu-img and socat found")


def check_acceleration(probe: HostProbe, settings: Settings) -> Check:
    decision = accel.decide(settings.vm_accel, probe.cpuinfo(), probe.kvm_device_exists())
    if decision.is_kvm:
        return Check("vm acceleration", OK, f"KVM: {decision.reason}")
    return Check(
        "vm acceleration",
        WARN,
        f"TCG, cpu model {decision.cpu_model}: {decision.reason}",
        "VMs work but boot slower; set LABTOOL_VM_ACCEL=kvm only if KVM really runs guests here",
        required=False,
    )


def check_loop_devices(probe: HostProbe, _: Settings) -> Check:
    device = probe.free_loop_device()
    if device is None:
        return Check(
            "loop devices",
            FAIL,
            "no free loop device (needed to build the VM disk)",
            "load the loop module (`modprobe loop`) or free one with `losetup -D`",
        )
    return Check("loop devices", OK, f"{device} is free")


def check_image_tools(probe: HostProbe, _: Settings) -> Check:
    tools = ("debootstrap", "extlinux", "sfdisk", "mkfs.ext4", "unshare")
    missing = [t for t in tools if not probe.program(t)]
    if missing:
        return Check("image build tools", FAIL, f"missing: {', '.join(missing)}", "run `scripts/up`")
    return Check("image build tools", OK, ", ".join(tools))


def check_disk(probe: HostProbe, settings: Settings) -> Check:
    if not probe.writable(settings.home):
        return Check(
            "free disk",
            FAIL,
            f"{settings.home} cannot be written (room state, logs and images live there)",
            "make it a writable directory, or set LABTOOL_HOME to one",
        )
    free = probe.free_disk(settings.home)
    detail = f"{free / GIB:.1f} GiB free for {settings.home} (the default room needs {MIN_FREE_DISK // GIB} GiB)"
    if free < MIN_FREE_DISK:
        return Check("free disk", FAIL, detail, "free space there, or set LABTOOL_HOME to a bigger filesystem")
    return Check("free disk", OK, detail)


def check_memory(probe: HostProbe, _: Settings) -> Check:
    free = probe.available_memory()
    detail = f"{free / GIB:.1f} GiB available (the default room needs {MIN_FREE_MEMORY // GIB} GiB)"
    if free < MIN_FREE_MEMORY:
        return Check("free memory", FAIL, detail, "stop other VMs or rooms (`labtool down`) first")
    return Check("free memory", OK, detail)


def check_images(probe: HostProbe, _: Settings) -> Check:
    if probe.images_ready():
        return Check("base images", OK, "Docker image and Vagrant box of the current recipe are registered")
    return Check("base images", FAIL, "not built for the current recipe", "run `labtool images build`")


def check_capacity(room: Room, free: capacity.HostFree, costs: capacity.Costs, parallel: int) -> Check:
    """How many seats of the room the host still holds beside what runs now: the same arithmetic as `up`'s check."""
    fits = capacity.seats_that_fit(room, costs, free, parallel)
    seat = capacity.needs_of(room, capacity.Work.new_seats(1, 0), costs)
    vm, container = seat.of(Kind.VM), seat.of(Kind.CONTAINER)
    groups = capacity.disk_needs(seat, free)
    disks = "; ".join(f"{capacity.gib(d[0].free)} free on {', '.join(str(x.path) for x in d)}" for d, _ in groups)
    detail = (
        f"fits {fits} new seat{'' if fits == 1 else 's'} of room {room.name!r} ({len(room.seats)} in it)"
        f" beside what runs now: memory {capacity.gib(free.memory)} free, a seat takes {capacity.gib(seat.memory)}"
        f" (VM {capacity.mib(vm.memory)} + {capacity.mib(vm.overhead)} QEMU, container {capacity.mib(container.memory)}"
        f" + {capacity.mib(container.overhead)}), plus {capacity.mib(costs.provision_run)} per provisioning run"
        f" and {capacity.mib(costs.vagrant_run)} per `vagrant up` at once while `up` runs;"
        f" disk {disks}, a seat takes {capacity.gib(vm.disk + container.disk)}"
    )
    numbers = {
        "room": room.name,
        "room_seats": len(room.seats),
        "seats_fit": fits,
        "memory_free": free.memory,
        "seat_memory": seat.memory,
        "vm_memory": vm.memory,
        "vm_overhead": vm.overhead,
        "container_memory": container.memory,
        "container_overhead": container.overhead,
        "provision_run": costs.provision_run,
        "vagrant_run": costs.vagrant_run,
        "parallel": parallel,
        "disk_free": {str(d.path): d.free for d in free.disks.values()},
        "vm_disk": vm.disk,
        "container_disk": container.disk,
    }
    if fits == 0:
        hint = "stop other rooms or VMs (`labtool down`), or give the room's machines less memory in labtool.yml"
        return Check("host capacity", WARN, detail, hint, required=False, numbers=numbers)
    return Check("host capacity", OK, detail, required=False, numbers=numbers)


def check_apt_cache(probe: HostProbe, settings: Settings) -> Check:
    """Rooms work without the cache (every machine downloads for itself), so only a cache open to every
    network is a required failure."""
    name = "apt cache"
    if not settings.apt_cache:
        return Check(name, OK, "off (LABTOOL_APT_CACHE=off): every machine downloads from the mirror", required=False)
    view = probe.apt_cache()
    everywhere = apt_cache.wildcard(view.listeners)
    if everywhere:
        return Check(
            name,
            FAIL,
            f"something listens on port {apt_cache.PORT} of every address ({', '.join(everywhere)})",
            "stop Debian's own apt-cacher-ng service (`systemctl disable --now apt-cacher-ng`)",
        )
    if not view.installed:
        return Check(name, WARN, "apt-cacher-ng is not installed", "run `scripts/up` (installs it)", required=False)
    if not view.answers:
        return Check(name, WARN, "not running", "run `labtool daemons` to start it", required=False)
    detail = f"{apt_cache.machine_proxy_url()} for the rooms, {apt_cache.host_proxy_url()} for the host"
    if view.traffic is not None:
        detail += "; " + traffic_summary(view.traffic)
    return Check(name, OK, detail, required=False)


def traffic_summary(traffic: apt_cache_log.Traffic) -> str:
    if not traffic.served_bytes:
        return "nothing served yet"
    return (
        f"served {_size(traffic.served_bytes)}, {traffic.hit_ratio:.0%} of it from the cache "
        f"({traffic.hits} hits, {traffic.misses} misses); fetched {_size(traffic.fetched_bytes)} from the mirror"
    )


def _size(count: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def check_lab_host(
    room: Room, facts: lab_hosts.HostFacts, seats: Sequence[str], parallel: int, apt_cache_wanted: bool = True
) -> Check:
    """Another lab host of the room, as surveyed over SSH: its daemons, acceleration, room left and its seats.

    Never required: `doctor` is about this machine; a host that is not ready fails only its own seats."""
    name, ssh = f"lab host {facts.host.name}", facts.host.ssh or "this machine"
    runs = f"runs {', '.join(seats)}" if seats else "runs no seat"
    if not facts.ok:
        problems = facts.error or "; ".join(text for text in (facts.docker, facts.libvirt) if text != "ok")
        return Check(
            name,
            WARN,
            f"{ssh}: {problems}; {runs}",
            "run `labtool hosts prepare`, after checking that `ssh " + ssh + "` logs in with a key",
            required=False,
            numbers={"host": facts.host.name, "ok": False, "seats": list(seats)},
        )
    fits = facts.seats_that_fit(room, parallel)
    detail = (
        f"{ssh}: Docker and libvirtd answer, VMs under {facts.accel.upper()}, memory "
        f"{capacity.gib(facts.memory_available or 0)} free; fits {fits} new seat{'' if fits == 1 else 's'} of room "
        f"{room.name!r}; {runs}"
    )
    numbers = {"host": facts.host.name, "ok": True, "accel": facts.accel, "seats_fit": fits, "seats": list(seats)}
    lacks = {
        # its VMs' published ports (access:) are socat relays there
        "socat": (facts.socat, "no socat, so its VMs' ports cannot be published (access:)"),
        "apt_cache": (
            facts.apt_cache or not apt_cache_wanted,
            "its apt cache does not answer, so its machines fetch every package from the mirror",
        ),
    }
    missing = {key: why for key, (there, why) in lacks.items() if not there}
    if missing:
        numbers.update(dict.fromkeys(missing, False))
        return Check(
            name,
            WARN,
            f"{detail}; {'; '.join(missing.values())}",
            f"run `labtool hosts prepare {room.name}`, which installs and starts what is missing",
            required=False,
            numbers=numbers,
        )
    return Check(name, OK, detail, required=False, numbers=numbers)

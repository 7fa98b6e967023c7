import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labtool import lab_hosts
from labtool.host import apt_cache_log, capacity, doctor
from labtool.model import Kind, LabHost
from labtool.settings import Settings
from tests.unit.rooms import paired_room

GIB = 1024**3
ALL_PROGRAMS = {
    "dockerd",
    "libvirtd",
    "vagrant",
    "qemu-system-x86_64",
    "qemu-img",
    "socat",
    "debootstrap",
    "extlinux",
    "sfdisk",
    "mkfs.ext4",
    "unshare",
}


RUNNING_CACHE = doctor.AptCacheView(
    installed=True,
    answers=True,
    listeners=("10.212.0.1", "127.0.0.1"),
    traffic=apt_cache_log.Traffic(fetched_bytes=15_000_000, served_bytes=60_000_000, hits=9, misses=3),
)


@dataclass
class FakeHost:
    """A host where everything is in place, unless a test says otherwise."""

    docker: bool = True
    libvirt: bool = True
    programs: set[str] = field(default_factory=lambda: set(ALL_PROGRAMS))
    plugins: str | None = "vagrant-libvirt (0.11.2, system)\n"
    cpu: str = "flags : fpu vmx\n"
    kvm: bool = True
    loop: str | None = "/dev/loop0"
    disk: int = 100 * GIB
    home_writable: bool = True
    memory: int = 16 * GIB
    images: bool = True
    cache: doctor.AptCacheView = field(default_factory=lambda: RUNNING_CACHE)

    def docker_answers(self) -> bool:
        return self.docker

    def libvirt_answers(self) -> bool:
        return self.libvirt

    def program(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.programs else None

    def vagrant_plugins(self) -> str | None:
        return self.plugins

    def cpuinfo(self) -> str:
        return self.cpu

    def kvm_device_exists(self) -> bool:
        return self.kvm

    def free_loop_device(self) -> str | None:
        return self.loop

    def free_disk(self, path: Path) -> int:
        return self.disk

    def writable(self, path: Path) -> bool:
        return self.home_writable

    def available_memory(self) -> int:
        return self.memory

    def images_ready(self) -> bool:
        return self.images

    def apt_cache(self) -> doctor.AptCacheView:
        return self.cache


SETTINGS = Settings.from_env({"LABTOOL_HOME": "/srv/labtool"})


def statuses(host: FakeHost) -> dict[str, doctor.Check]:
    return {c.name: c for c in doctor.run_checks(host, SETTINGS)}


def test_a_ready_host_passes_every_check() -> None:
    checks = doctor.run_checks(FakeHost(), SETTINGS)
    assert len(checks) == 11
    assert all(c.status == doctor.OK for c in checks), checks
    assert doctor.failed_required(checks) == []


@pytest.mark.parametrize(
    ("host", "row", "hint"),
    [
        (FakeHost(docker=False), "docker engine", "labtool daemons"),
        (FakeHost(docker=False, programs=ALL_PROGRAMS - {"dockerd"}), "docker engine", "scripts/up"),
        (FakeHost(libvirt=False), "libvirt", "labtool daemons"),
        (FakeHost(plugins="vagrant-share (2.0)\n"), "vagrant + vagrant-libvirt", "vagrant-libvirt"),
        (FakeHost(programs=ALL_PROGRAMS - {"vagrant"}), "vagrant + vagrant-libvirt", "scripts/up"),
        (FakeHost(programs=ALL_PROGRAMS - {"qemu-img"}), "qemu", "qemu-utils"),
        (FakeHost(programs=ALL_PROGRAMS - {"socat"}), "qemu", "socat"),
        (FakeHost(loop=None), "loop devices", "modprobe loop"),
        (FakeHost(programs=ALL_PROGRAMS - {"extlinux"}), "image build tools", "scripts/up"),
        (FakeHost(disk=3 * GIB), "free disk", "LABTOOL_HOME"),
        (FakeHost(home_writable=False), "free disk", "LABTOOL_HOME"),
        (FakeHost(memory=1 * GIB), "free memory", "labtool down"),
        (FakeHost(images=False), "base images", "labtool images build"),
    ],
)
def test_each_missing_prerequisite_fails_its_row_with_a_fix(host: FakeHost, row: str, hint: str) -> None:
    check = statuses(host)[row]
    assert check.status == doctor.FAIL
    assert hint in check.hint
    assert doctor.failed_required(list(statuses(host).values())) == [check]


def test_tcg_is_a_warning_not_a_failure() -> None:
    check = statuses(FakeHost(cpu="flags : fpu sse2\n", kvm=True))["vm acceleration"]
    assert check.status == doctor.WARN
    assert "TCG" in check.detail
    assert not check.required


def test_checks_serialize_for_json() -> None:
    row = doctor.run_checks(FakeHost(), SETTINGS)[0].to_json()
    assert set(row) == {"name", "status", "detail", "hint", "required", "numbers"}


def capacity_host(memory: int) -> capacity.HostFree:
    return capacity.HostFree(memory, {kind: capacity.Disk(Path("/"), 500 * GIB, 1) for kind in Kind})


def test_capacity_row_counts_the_seats_of_the_room_beside_what_runs() -> None:
    room = paired_room(2)  # VMs of 1024 MiB, containers of 512 MiB
    costs = capacity.Costs(vm_memory=1024 * 1024**2, container_memory=0, provision_run=512 * 1024**2)
    check = doctor.check_capacity(room, capacity_host(10 * GIB), costs, parallel=1)
    assert check.status == doctor.OK and not check.required
    assert check.detail.startswith(
        "fits 3 new seats of room 'demo' (2 in it) beside what runs now: memory 10.0 GiB free"
    )
    assert check.numbers["seats_fit"] == 3 and check.numbers["seat_memory"] == int(2.5 * GIB)
    assert check.to_json()["numbers"] == {**check.numbers} and check.numbers["memory_free"] == 10 * GIB


def test_capacity_row_warns_when_not_one_seat_fits() -> None:
    check = doctor.check_capacity(paired_room(1), capacity_host(2 * GIB), capacity.Costs(), parallel=1)
    assert check.status == doctor.WARN and check.numbers["seats_fit"] == 0
    assert "labtool down" in check.hint


def test_the_apt_cache_row_shows_its_addresses_and_what_it_saved() -> None:
    check = statuses(FakeHost())["apt cache"]
    assert check.status == doctor.OK and not check.required
    assert "http://10.212.0.1:3142 for the rooms, http://127.0.0.1:3142 for the host" in check.detail
    assert "served 57.2 MiB, 75% of it from the cache (9 hits, 3 misses); fetched 14.3 MiB from the mirror" in (
        check.detail
    )


def test_a_new_cache_has_served_nothing_yet() -> None:
    host = FakeHost(cache=doctor.AptCacheView(True, True, ("10.212.0.1",), apt_cache_log.Traffic()))
    assert statuses(host)["apt cache"].detail.endswith("for the host; nothing served yet")


@pytest.mark.parametrize(
    ("view", "detail", "hint"),
    [
        (doctor.AptCacheView(False, False, (), None), "not installed", "scripts/up"),
        (doctor.AptCacheView(True, False, (), None), "not running", "labtool daemons"),
    ],
)
def test_a_missing_apt_cache_is_a_warning_rooms_work_without_it(
    view: doctor.AptCacheView, detail: str, hint: str
) -> None:
    check = statuses(FakeHost(cache=view))["apt cache"]
    assert (check.status, check.required) == (doctor.WARN, False)
    assert detail in check.detail and hint in check.hint


def test_a_proxy_listening_on_every_address_is_a_required_failure() -> None:
    host = FakeHost(cache=doctor.AptCacheView(True, True, ("10.212.0.1", "::"), None))
    check = statuses(host)["apt cache"]
    assert check.status == doctor.FAIL and check.required
    assert "every address (::)" in check.detail
    assert doctor.failed_required(list(statuses(host).values())) == [check]


def test_turned_off_the_apt_cache_is_not_probed() -> None:
    class Unprobed(FakeHost):
        def apt_cache(self) -> doctor.AptCacheView:
            raise AssertionError("probed")

    off = Settings.from_env({"LABTOOL_HOME": "/srv/labtool", "LABTOOL_APT_CACHE": "off"})
    check = {c.name: c for c in doctor.run_checks(Unprobed(), off)}["apt cache"]
    assert check.status == doctor.OK and "LABTOOL_APT_CACHE=off" in check.detail


def test_the_real_probe_tries_writing_labtool_home(tmp_path: Path) -> None:
    probe = doctor.SystemProbe(SETTINGS)
    assert probe.writable(tmp_path / "not" / "made" / "yet")
    (tmp_path / "a-file").write_text("")
    assert not probe.writable(tmp_path / "a-file")
    assert not probe.writable(tmp_path / "a-file" / "below")
    assert list(tmp_path.iterdir()) == [tmp_path / "a-file"]  # the trial leaves nothing behind


# -- the room's other lab hosts ----------------------------------------------------------------------


def test_another_lab_host_is_a_row_with_its_room_left_and_its_seats() -> None:
    lab2 = LabHost("lab2", "root@192.0.2.12")
    ready = lab_hosts.HostFacts(
        lab2,
        docker="ok",
        libvirt="ok",
        accel="tcg",
        memory_available=20 * GIB,
        disks={"vm": 200 * GIB, "container": 200 * GIB},
        socat=True,
        apt_cache=True,
    )
    row = doctor.check_lab_host(paired_room(2), ready, ["s2"], 1)
    assert (row.name, row.status, row.required) == ("lab host lab2", doctor.OK, False)
    assert "VMs under TCG" in row.detail and row.detail.endswith("runs s2")
    assert int(str(row.numbers["seats_fit"])) >= 1
    without_socat = doctor.check_lab_host(paired_room(2), dataclasses.replace(ready, socat=False), [], 1)
    assert without_socat.status == doctor.WARN and "no socat" in without_socat.detail
    assert "labtool hosts prepare" in without_socat.hint and without_socat.numbers["socat"] is False
    without_cache = doctor.check_lab_host(paired_room(2), dataclasses.replace(ready, apt_cache=False), [], 1)
    assert without_cache.status == doctor.WARN and "its apt cache does not answer" in without_cache.detail
    assert without_cache.numbers["apt_cache"] is False and "socat" not in without_cache.numbers
    # A room with the apt cache turned off (LABTOOL_APT_CACHE=off) does not want one there.
    unwanted = doctor.check_lab_host(paired_room(2), dataclasses.replace(ready, apt_cache=False), [], 1, False)
    assert unwanted.status == doctor.OK
    off = lab_hosts.HostFacts(lab2, error="lab host lab2 (root@192.0.2.12) does not answer over SSH: timed out")
    row = doctor.check_lab_host(paired_room(2), off, [], 1)
    assert (
        row.status == doctor.WARN and "does not answer over SSH" in row.detail and "labtool hosts prepare" in row.hint
    )

"""The capacity arithmetic with figures passed in: what an `up` adds, what fits, and the refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtool.backends.base import Observed, Presence
from labtool.host import capacity
from labtool.host.capacity import Costs, Disk, HostFree, Work
from labtool.model import ContainerResources, Kind, Room, VmResources
from labtool.plan import make_plan
from labtool.state import MachineRecord, RoomState
from tests.unit.rooms import paired_room

MIB = 1024**2
GIB = 1024**3
# Round figures so every expected total below can be worked out by hand.
COSTS = Costs(
    vm_memory=500 * MIB,
    container_memory=20 * MIB,
    vm_disk=2 * GIB,
    container_disk=300 * MIB,
    provision_run=200 * MIB,
    vagrant_run=100 * MIB,
)
SEAT_MEMORY = (1500 + 532) * MIB  # VM 1000 MiB + 500 QEMU, container 512 MiB + 20
SEAT_DISK = 2 * GIB + 300 * MIB


def room(seats: int = 3) -> Room:
    return paired_room(seats, vm=VmResources(memory_mib=1000), container=ContainerResources(memory_mib=512))


def host(memory: int, vm_disk: int = 100 * GIB, container_disk: int | None = None) -> HostFree:
    """Both kinds on one filesystem unless container_disk gives Docker's root a filesystem of its own."""
    disks = {Kind.VM: Disk(Path("/pool"), vm_disk, 1)}
    if container_disk is None:
        disks[Kind.CONTAINER] = Disk(Path("/docker"), vm_disk, 1)
    else:
        disks[Kind.CONTAINER] = Disk(Path("/docker"), container_disk, 2)
    return HostFree(memory, disks)


def test_a_new_seat_costs_its_machines_memory_plus_overheads_and_both_disks() -> None:
    needs = capacity.needs_of(room(), Work.new_seats(3, parallel=2), COSTS)
    assert needs.of(Kind.VM).memory_total == 3 * 1500 * MIB
    assert needs.of(Kind.CONTAINER).memory_total == 3 * 532 * MIB
    assert needs.memory == 3 * SEAT_MEMORY + 2 * 200 * MIB + 2 * 100 * MIB  # two runs of each tool at once
    assert [total for _, total in capacity.disk_needs(needs, host(GIB))] == [3 * SEAT_DISK]


def test_only_what_up_adds_counts_running_machines_nothing_stopped_ones_no_disk() -> None:
    observed = {
        "s1-vm": Observed("s1-vm", Presence.RUNNING),
        "s1-ct": Observed("s1-ct", Presence.RUNNING),
        "s2-vm": Observed("s2-vm", Presence.STOPPED),
    }
    state = RoomState({"s1-vm": MachineRecord(provisioned_key="k"), "s1-ct": MachineRecord(provisioned_key="k")})
    plan = make_plan(room(3), observed, state, "k")
    work = capacity.work_of(plan, parallel=4)
    assert work.starts == {Kind.VM: 2, Kind.CONTAINER: 2}  # s2-vm started, s3-vm created; s2-ct, s3-ct created
    assert work.creates == {Kind.VM: 1, Kind.CONTAINER: 2}
    assert work.provisioning == 4  # four machines to provision, four at once
    assert work.vagrant_ups == 2


def test_provisioning_runs_are_bounded_by_parallel_and_by_the_machines_to_provision() -> None:
    plan = make_plan(room(3), {}, RoomState(), "k")
    assert capacity.work_of(plan, parallel=2).provisioning == 2
    assert capacity.work_of(plan, parallel=50).provisioning == 6
    healthy = make_plan(room(1), {m: Observed(m, Presence.RUNNING) for m in ("s1-vm", "s1-ct")}, RoomState(), "k")
    assert capacity.work_of(healthy, parallel=8).provisioning == 2  # never provisioned: runs, but starts nothing
    assert capacity.needs_of(room(1), capacity.work_of(healthy, 8), COSTS).memory == 2 * 200 * MIB


def test_the_seats_that_fit_stop_at_the_last_byte() -> None:
    enough_for_three = 3 * SEAT_MEMORY + 2 * 200 * MIB + 2 * 100 * MIB
    assert capacity.seats_that_fit(room(), COSTS, host(enough_for_three), parallel=2) == 3
    assert capacity.seats_that_fit(room(), COSTS, host(enough_for_three - 1), parallel=2) == 2
    assert capacity.seats_that_fit(room(), COSTS, host(SEAT_MEMORY), parallel=2) == 0


def test_disk_limits_the_seats_too_and_one_filesystem_adds_both_kinds_up() -> None:
    plenty = 100 * GIB
    assert capacity.seats_that_fit(room(), COSTS, host(plenty, vm_disk=2 * SEAT_DISK), parallel=1) == 2
    # Docker's root on a filesystem of its own: the VMs' pool holds 5 overlays, Docker 3 layers.
    separate = host(plenty, vm_disk=10 * GIB, container_disk=900 * MIB)
    assert capacity.seats_that_fit(room(), COSTS, separate, parallel=1) == 3
    needs = capacity.needs_of(room(4), Work.new_seats(4, 1), COSTS)
    assert [s.what for s in capacity.shortfalls(needs, separate)] == ["disk on /docker"]


def test_a_room_that_fits_passes_and_an_overcommitted_one_is_refused_with_its_numbers() -> None:
    plan = make_plan(room(3), {}, RoomState(), "k")
    free = host(3 * SEAT_MEMORY + 600 * MIB)
    capacity.check(capacity.assess(room(3), plan, 2, COSTS, free))

    short = host(2 * SEAT_MEMORY + 600 * MIB + 100 * MIB)
    assessment = capacity.assess(room(3), plan, 2, COSTS, short)
    assert not assessment.fits and assessment.seats_fit == 2 and assessment.parallel_fit is None
    with pytest.raises(capacity.CapacityError) as refused:
        capacity.check(assessment)
    message = refused.value.message
    assert message.startswith("room 'demo' does not fit on this host: memory: 6.5 GiB needed, 4.7 GiB free\n")
    assert "VMs: 3 to start x (1000 MiB RAM + 500 MiB QEMU) = 4.4 GiB; 3 to create x 2048 MiB overlay" in message
    assert "containers: 3 to start x (512 MiB limit + 20 MiB) = 1.6 GiB" in message
    assert "while it runs: 2 provisioning runs x 200 MiB + 2 vagrant up x 100 MiB at once = 0.6 GiB" in message
    assert "this host fits 2 new seats of room 'demo'" in message
    assert "--force" in refused.value.hint and "--seat" in refused.value.hint


def test_when_only_provisioning_overflows_the_hint_is_a_smaller_parallel() -> None:
    plan = make_plan(room(1), {}, RoomState(), "k")  # two machines to provision
    free = host(SEAT_MEMORY + 300 * MIB + 10 * MIB)  # the seat and one run of each tool, not two
    assessment = capacity.assess(room(1), plan, 2, COSTS, free)
    assert assessment.parallel_fit == 1
    with pytest.raises(capacity.CapacityError) as refused:
        capacity.check(assessment)
    assert "`--parallel 1`" in refused.value.hint and "--force" in refused.value.hint


def test_a_refused_disk_names_the_filesystem_and_both_dirs_on_it() -> None:
    plan = make_plan(room(3), {}, RoomState(), "k")
    assessment = capacity.assess(room(3), plan, 1, COSTS, host(100 * GIB, vm_disk=5 * GIB))
    assert [(s.what, s.needed, s.free) for s in assessment.short] == [
        ("disk on /pool, /docker", 3 * SEAT_DISK, 5 * GIB)
    ]
    assert "disk on /pool, /docker: 6.9 GiB needed, 5.0 GiB free" in capacity.refusal(assessment)
    assert "does NOT fit" in capacity.summary(assessment)


def test_kvm_has_no_tcg_code_cache_in_its_qemu() -> None:
    tcg, kvm = Costs.measured(kvm=False), Costs.measured(kvm=True)
    assert tcg.vm_memory - kvm.vm_memory == capacity.TCG_CODE_CACHE
    assert kvm.container_memory == tcg.container_memory == capacity.CONTAINER_PROCESS


def test_available_memory_is_memavailable(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24684032 kB\nMemFree:  100 kB\nMemAvailable:   21000000 kB\n")
    assert capacity.available_memory(meminfo) == 21000000 * 1024


def test_free_disk_of_a_missing_dir_is_measured_on_its_nearest_ancestor(tmp_path: Path) -> None:
    measured = capacity.disk(tmp_path / "not" / "yet")
    assert measured.path == tmp_path / "not" / "yet"
    assert measured.device == tmp_path.stat().st_dev and measured.free > 0

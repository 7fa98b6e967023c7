"""A room built in memory for unit tests: seats of `<seat>-vm` + `<seat>-ct`, as the pairing rule names them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from labtool.model import ContainerResources, Course, Kind, Machine, Networks, Room, Seat, Student, VmResources
from labtool.project import Project


def paired_room(
    seats: int = 2,
    *,
    name: str = "demo",
    path: Path = Path("/rooms/demo"),
    seat_name: Callable[[int], str] = lambda i: f"s{i}",
    vm: VmResources | None = None,
    container: ContainerResources | None = None,
    index: int = 10,
    course: Course | None = None,
) -> Room:
    def seat(i: int) -> Seat:
        seat_id = seat_name(i)
        return Seat(
            seat_id, Machine(f"{seat_id}-vm", Kind.VM, seat_id), Machine(f"{seat_id}-ct", Kind.CONTAINER, seat_id)
        )

    return Room(
        name,
        path,
        tuple(seat(i) for i in range(1, seats + 1)),
        vm or VmResources(),
        container or ContainerResources(),
        Networks(index),
        course or reference_course(),
    )


REPO = Path(__file__).resolve().parents[2]


def reference_course() -> Course:
    """The reference lab project's course (this repository's playbook and suite)."""
    return Course(Project(REPO), REPO / "playbooks" / "site.yml", REPO / "molecule" / "shared" / "tests")


def with_students(room: Room, students: dict[str, Student]) -> Room:
    """The room with students at the seats named (seat name -> student)."""
    seats = tuple(dataclasses.replace(seat, student=students.get(seat.name)) for seat in room.seats)
    return dataclasses.replace(room, seats=seats)

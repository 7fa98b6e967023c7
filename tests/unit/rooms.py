"""A room built in memory for unit tests: seats of `<seat>-vm` + `<seat>-ct`, as the pairing rule names them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labtool.model import ContainerResources, Kind, Machine, Networks, Room, Seat, VmResources


def paired_room(
    seats: int = 2,
    *,
    name: str = "demo",
    path: Path = Path("/rooms/demo"),
    seat_name: Callable[[int], str] = lambda i: f"s{i}",
    vm: VmResources | None = None,
    container: ContainerResources | None = None,
    index: int = 10,
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
    )

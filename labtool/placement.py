"""Which lab host each seat runs on: decided once, recorded in the room's state, kept until the seat goes.

A seat's two machines always share a host. A seat already placed stays where it is (it never
moves silently); a new seat goes to the host with the most room left for seats of this room's
sizes, the room's host order breaking ties. A room that lists no hosts runs every seat here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path

from labtool.errors import LabtoolError
from labtool.model import Room
from labtool.state import atomic_write

FILE = "placement.json"


class PlacementError(LabtoolError):
    """The room's seats do not fit on its hosts, or a recorded host is no longer listed."""


def recorded(state_dir: Path) -> dict[str, str]:
    """Seat -> host name, as the room's state keeps it (empty when nothing was placed yet)."""
    try:
        data = json.loads((state_dir / FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def record(state_dir: Path, placement: Mapping[str, str]) -> None:
    atomic_write(state_dir / FILE, json.dumps(dict(sorted(placement.items())), indent=2) + "\n")


def forget(state_dir: Path, seats: Collection[str]) -> None:
    """The seats' machines are gone: the next `up` places them anew."""
    kept = {seat: host for seat, host in recorded(state_dir).items() if seat not in seats}
    if kept or (state_dir / FILE).exists():
        record(state_dir, kept)


def host_of(room: Room, placed: Mapping[str, str], seat: str) -> str:
    """The host a seat runs on: its recorded one, else the room's first host (where an absent seat is looked for)."""
    return placed.get(seat, room.hosts[0].name)


def place(
    room: Room, placed: Mapping[str, str], room_left: Mapping[str, int], seats: Collection[str] | None = None
) -> dict[str, str]:
    """Every chosen seat's host: recorded ones kept, new ones where most seats still fit.

    `room_left` is how many more seats of the room each host holds now (hosts missing from it, or
    that did not answer, take none). A seat recorded on a host the room no longer lists is an error:
    moving it would lose what its student did.
    """
    names = [h.name for h in room.hosts]
    result = dict(placed)
    left = {name: room_left.get(name, 0) for name in names}
    for seat in room.seats:
        if seats is not None and seat.name not in seats:
            continue
        host = placed.get(seat.name)
        if host is not None:
            if host not in names:
                raise PlacementError(
                    f"seat {seat.name} of room {room.name!r} runs on lab host {host}, which the room no longer lists",
                    f"add {host} back under hosts: in labtool.yml, or `labtool down {room.name} --seat {seat.name}` "
                    "to remove the seat's machines there first",
                )
            continue
        best = max(names, key=lambda name: (left[name], -names.index(name)))
        if left[best] <= 0:
            raise PlacementError(
                f"room {room.name!r}: no lab host has room for seat {seat.name} "
                f"({', '.join(f'{n}: {left[n]} more' for n in names)})",
                "add a lab host under hosts: in labtool.yml, free memory or disk on one, or bring up fewer seats",
            )
        result[seat.name] = best
        left[best] -= 1
    return result

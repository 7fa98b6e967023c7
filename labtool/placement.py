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
from labtool.model import Room, Seat
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


def _check_kept(room: Room, seat: Seat, host: str, names: list[str]) -> None:
    """A placed seat stays where it is: its host must still be listed, and be the one it is pinned to."""
    if host not in names:
        raise PlacementError(
            f"seat {seat.name} of room {room.name!r} runs on lab host {host}, which the room no longer lists",
            f"add {host} back under hosts: in labtool.yml, or `labtool down {room.name} --seat {seat.name}` "
            "to remove the seat's machines there first",
        )
    if seat.pinned_host not in (None, host):
        raise PlacementError(
            f"seat {seat.name} of room {room.name!r} runs on lab host {host}, but labtool_host pins it to "
            f"{seat.pinned_host}: a seat never moves while it has machines",
            f"`labtool down {room.name} --seat {seat.name}` first (its student's work goes with it), or pin it "
            f"back to {host}",
        )


def _no_room(room: Room, seat: Seat, left: Mapping[str, int]) -> PlacementError:
    if seat.pinned_host is not None:
        return PlacementError(
            f"room {room.name!r}: seat {seat.name} is pinned to lab host {seat.pinned_host} (labtool_host), which "
            "has no room for it now or does not answer",
            f"check it with `labtool hosts list {room.name}`, or pin the seat to another host",
        )
    return PlacementError(
        f"room {room.name!r}: no lab host has room for seat {seat.name} "
        f"({', '.join(f'{name}: {more} more' for name, more in left.items())})",
        "add a lab host under hosts: in labtool.yml, free memory or disk on one, or bring up fewer seats",
    )


def host_of(room: Room, placed: Mapping[str, str], seat: str) -> str:
    """The host a seat runs on: its recorded one, else the one it is pinned to, else the room's first host
    (where an absent seat is looked for)."""
    if seat in placed:
        return placed[seat]
    pinned = next((s.pinned_host for s in room.seats if s.name == seat), None)
    return pinned or room.hosts[0].name


def place(
    room: Room, placed: Mapping[str, str], room_left: Mapping[str, int], seats: Collection[str] | None = None
) -> dict[str, str]:
    """Every chosen seat's host: recorded ones kept, pinned ones (`labtool_host`) on their host, the others
    where most seats still fit.

    `room_left` is how many more seats of the room each host holds now (hosts missing from it, or
    that did not answer, take none). A seat recorded on a host the room no longer lists, or pinned to
    another host than it runs on, is an error: moving it would lose what its student did.
    """
    names = [h.name for h in room.hosts]
    result = dict(placed)
    left = {name: room_left.get(name, 0) for name in names}
    chosen = [seat for seat in room.seats if seats is None or seat.name in seats]
    # Pinned seats take their host's room first: the others can go anywhere.
    for seat in sorted(chosen, key=lambda s: s.pinned_host is None):
        host = placed.get(seat.name)
        if host is not None:
            _check_kept(room, seat, host, names)
            continue
        best = seat.pinned_host or max(names, key=lambda name: (left[name], -names.index(name)))
        if left[best] <= 0:
            raise _no_room(room, seat, left)
        result[seat.name] = best
        left[best] -= 1
    return result

"""One kind's machines over several lab hosts: each call to the seat's host, a host that is off fails its seats only."""

from __future__ import annotations

import dataclasses

import pytest

from labtool.backends.base import Presence
from labtool.backends.spread import SpreadBackend
from labtool.errors import DaemonError
from labtool.model import THIS_HOST, Kind, LabHost
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room

ROOM = dataclasses.replace(paired_room(3), hosts=(THIS_HOST, LabHost("lab2", "root@192.0.2.12")))
PLACED = {"s1": "here", "s2": "lab2", "s3": "here"}


def spread() -> tuple[SpreadBackend, FakeBackend, FakeBackend]:
    here, lab2 = FakeBackend(Kind.CONTAINER), FakeBackend(Kind.CONTAINER)
    return SpreadBackend(Kind.CONTAINER, {"here": here, "lab2": lab2}, PLACED.__getitem__), here, lab2


def test_machines_are_made_and_destroyed_on_their_seats_host() -> None:
    backend, here, lab2 = spread()
    backend.bring_up(ROOM, [seat.container for seat in ROOM.seats])
    assert sorted(here.creations) == ["s1-ct", "s3-ct"] and lab2.creations == ["s2-ct"]
    observed = backend.observe(ROOM)
    assert {name: o.presence for name, o in observed.items()} == {
        "s1-ct": Presence.RUNNING,
        "s2-ct": Presence.RUNNING,
        "s3-ct": Presence.RUNNING,
    }
    backend.destroy(ROOM, [ROOM.seat("s2").container])
    assert lab2.destructions == ["s2-ct"] and here.destructions == []


def test_a_host_whose_daemon_does_not_answer_leaves_only_its_machines_unknown() -> None:
    backend, here, lab2 = spread()
    backend.bring_up(ROOM, [seat.container for seat in ROOM.seats])
    lab2.unreachable = DaemonError("the Docker engine does not answer at ssh://root@192.0.2.12 (lab host lab2)")
    observed = backend.observe(ROOM)
    assert observed["s2-ct"].presence is Presence.UNKNOWN
    assert observed["s2-ct"].note == (
        "its lab host lab2 does not answer: the Docker engine does not answer at ssh://root@192.0.2.12 (lab host lab2)"
    )
    assert observed["s1-ct"].note == ""
    assert observed["s1-ct"].presence is observed["s3-ct"].presence is Presence.RUNNING
    here.unreachable = DaemonError("the Docker engine does not answer")
    with pytest.raises(DaemonError):
        backend.observe(ROOM)


def test_the_rooms_resources_go_on_every_host_and_are_named_with_it() -> None:
    backend, here, lab2 = spread()
    assert backend.describe_room_resources(ROOM) == [
        f"{phrase} on {host}"
        for host, fake in (("here", here), ("lab2", lab2))
        for phrase in fake.describe_room_resources(ROOM)
    ]

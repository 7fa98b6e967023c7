"""Where seats run: placed once where most seats still fit, recorded, never moved while they have machines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from labtool import placement
from labtool.model import THIS_HOST, LabHost, Room
from tests.unit.rooms import paired_room

LAB2, LAB3 = LabHost("lab2", "root@192.0.2.12"), LabHost("lab3", "root@192.0.2.13")


def room(seats: int, *hosts: LabHost) -> Room:
    return dataclasses.replace(paired_room(seats), hosts=hosts or (THIS_HOST,))


def test_new_seats_go_where_most_still_fit_ties_to_the_first_listed() -> None:
    placed = placement.place(room(4, THIS_HOST, LAB2), {}, {"here": 2, "lab2": 2})
    assert placed == {"s1": "here", "s2": "lab2", "s3": "here", "s4": "lab2"}
    assert placement.place(room(3, THIS_HOST, LAB2), {}, {"here": 1, "lab2": 5}) == {
        "s1": "lab2",
        "s2": "lab2",
        "s3": "lab2",
    }


def test_a_placed_seat_stays_and_counts_nothing_again() -> None:
    placed = placement.place(room(3, THIS_HOST, LAB2), {"s1": "lab2"}, {"here": 1, "lab2": 1})
    assert placed == {"s1": "lab2", "s2": "here", "s3": "lab2"}


def test_only_the_chosen_seats_are_placed() -> None:
    assert placement.place(room(3, THIS_HOST, LAB2), {}, {"here": 5, "lab2": 5}, seats={"s2"}) == {"s2": "here"}


def test_seats_that_fit_nowhere_are_refused_naming_each_hosts_room() -> None:
    with pytest.raises(placement.PlacementError) as raised:
        placement.place(room(3, THIS_HOST, LAB2, LAB3), {}, {"here": 1, "lab2": 1})
    assert "no lab host has room for seat s3" in raised.value.message
    assert "here: 0 more, lab2: 0 more, lab3: 0 more" in raised.value.message and "hosts:" in raised.value.hint


def test_a_seat_on_a_host_no_longer_listed_is_not_moved() -> None:
    with pytest.raises(placement.PlacementError) as raised:
        placement.place(room(1, THIS_HOST), {"s1": "lab2"}, {"here": 5})
    assert "runs on lab host lab2, which the room no longer lists" in raised.value.message
    assert "labtool down demo --seat s1" in raised.value.hint


def test_the_placement_is_kept_in_the_rooms_state_and_forgotten_seat_by_seat(tmp_path: Path) -> None:
    assert placement.recorded(tmp_path) == {}
    placement.record(tmp_path, {"s2": "lab2", "s1": "here"})
    assert placement.recorded(tmp_path) == {"s1": "here", "s2": "lab2"}
    placement.forget(tmp_path, {"s2"})
    assert placement.recorded(tmp_path) == {"s1": "here"}
    (tmp_path / placement.FILE).write_text("not json")
    assert placement.recorded(tmp_path) == {}


def test_an_unplaced_seat_is_looked_for_on_the_first_host() -> None:
    assert placement.host_of(room(2, LAB2, THIS_HOST), {"s1": "here"}, "s2") == "lab2"


def pinned(base: Room, **pins: str) -> Room:
    seats = tuple(dataclasses.replace(s, pinned_host=pins.get(s.name)) for s in base.seats)
    return dataclasses.replace(base, seats=seats)


def test_a_pinned_seat_goes_to_its_host_first_and_the_others_fill_around_it() -> None:
    placed = placement.place(pinned(room(3, THIS_HOST, LAB2), s3="lab2"), {}, {"here": 2, "lab2": 2})
    assert placed == {"s3": "lab2", "s1": "here", "s2": "here"}  # s2: one more fits on each, the first listed
    assert placement.host_of(pinned(room(1, THIS_HOST, LAB2), s1="lab2"), {}, "s1") == "lab2"


def test_a_pinned_seat_whose_host_has_no_room_is_refused_naming_the_host() -> None:
    with pytest.raises(placement.PlacementError) as raised:
        placement.place(pinned(room(2, THIS_HOST, LAB2), s1="lab2"), {}, {"here": 5, "lab2": 0})
    assert "seat s1 is pinned to lab host lab2 (labtool_host)" in raised.value.message
    assert "labtool hosts list demo" in raised.value.hint


def test_a_seat_pinned_elsewhere_than_it_runs_is_not_moved() -> None:
    with pytest.raises(placement.PlacementError) as raised:
        placement.place(pinned(room(1, THIS_HOST, LAB2), s1="lab2"), {"s1": "here"}, {"here": 5, "lab2": 5})
    assert "runs on lab host here, but labtool_host pins it to lab2" in raised.value.message

"""Published access: predictable ports per seat, never a wildcard address, no two rooms on one port."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from labtool import access, state
from labtool.host import addresses
from labtool.model import THIS_HOST, Access, AppProbe, Kind, LabHost
from tests.unit.rooms import paired_room, reference_course

ROOM = dataclasses.replace(paired_room(3, name="demo"), access=Access("127.0.0.1", 20000))


def test_each_seat_gets_four_ports_in_seat_order() -> None:
    seats = ROOM.seats
    assert [access.published(ROOM, m) for m in seats[0].machines] == [{22: 20002, 80: 20003}, {22: 20000, 80: 20001}]
    assert access.published(ROOM, seats[2].container) == {22: 20008, 80: 20009}
    assert access.room_ports(ROOM) == range(20000, 20012)
    every = [p for seat in seats for m in seat.machines for p in access.published(ROOM, m).values()]
    assert sorted(every) == list(range(20000, 20012)), "no two services share a port"


def test_a_room_without_access_publishes_nothing() -> None:
    room = paired_room(2)
    assert access.room_ports(room) is None
    assert access.published(room, room.seats[0].vm) == {}
    way = access.way_in(room, room.seats[0], Kind.VM, "ada", "10.214.10.5")
    assert (way.ssh, way.url) == ("ssh ada@10.214.10.5", "http://10.214.10.5/")
    assert "lab host only" in way.note
    assert access.way_in(room, room.seats[0], Kind.VM, "ada", None).ssh is None


def test_the_apps_guest_port_comes_from_the_courses_page_url() -> None:
    course = dataclasses.replace(reference_course(), app=AppProbe(page_url="http://127.0.0.1:8080/"))
    room = dataclasses.replace(ROOM, course=course)
    assert access.published(room, room.seats[0].container) == {22: 20000, 8080: 20001}
    unpublished = dataclasses.replace(room, access=None)
    assert access.way_in(unpublished, room.seats[0], Kind.CONTAINER, "ada", "10.213.10.2").url == (
        "http://10.213.10.2:8080/"
    )


def test_the_published_way_in_names_the_host_address_and_port() -> None:
    way = access.way_in(ROOM, ROOM.seats[1], Kind.VM, "grace_hopper", None)
    assert (way.ssh, way.url) == ("ssh -p 20006 grace_hopper@127.0.0.1", "http://127.0.0.1:20007/")
    v6 = dataclasses.replace(ROOM, access=Access("::1", 20000))
    assert access.way_in(v6, v6.seats[0], Kind.CONTAINER, "ada", None).url == "http://[::1]:20001/"


def test_a_seat_on_another_lab_host_is_published_on_that_hosts_address() -> None:
    lab2 = LabHost("lab2", "root@192.0.2.12")
    assert (access.address_on(ROOM, THIS_HOST), access.address_on(ROOM, lab2)) == ("127.0.0.1", "192.0.2.12")
    way = access.way_in(ROOM, ROOM.seats[1], Kind.VM, "grace_hopper", "10.214.10.6", host=lab2)
    assert (way.ssh, way.url) == ("ssh -p 20006 grace_hopper@192.0.2.12", "http://192.0.2.12:20007/")
    unpublished = dataclasses.replace(ROOM, access=None)
    assert access.address_on(unpublished, lab2) is None
    way = access.way_in(unpublished, ROOM.seats[1], Kind.VM, "grace_hopper", "10.214.10.6", host=lab2)
    assert way.ssh == "ssh grace_hopper@10.214.10.6" and "from its lab host lab2 only" in way.note


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("127.0.0.1", None),
        ({"address": "0.0.0.0", "port_base": 20000}, "means every interface of this host"),
        ({"address": "::", "port_base": 20000}, "means every interface of this host"),
        ({"address": "192.0.2.1", "port_base": 20000}, "is not an address of this host"),
        ({"address": "localhost", "port_base": 20000}, 'access.address: "localhost" is not an IP address'),
        ({"port_base": 20000}, "access.address: missing"),
        ({"address": "127.0.0.1"}, "access.port_base: missing"),
        ({"address": "127.0.0.1", "port_base": "20000"}, 'access.port_base: "20000" is not a whole number'),
        ({"address": "127.0.0.1", "port_base": True}, "access.port_base: true is not a whole number"),
        ({"address": "127.0.0.1", "port_base": 1023}, "access.port_base: 1023 is not a port from 1024 to 65532"),
    ],
)
def test_the_access_section_is_checked(raw: object, problem: str | None) -> None:
    problems: list[str] = []
    result = access.read(raw, "labtool.yml", problems)
    if problem is None:
        assert problems == ['labtool.yml: access: must be a mapping of address, port_base; got "127.0.0.1"']
    else:
        assert result is None and len(problems) == 1 and problem in problems[0], problems
        assert problems[0].startswith("labtool.yml: access.")


def test_a_good_access_section_and_the_seats_it_fits() -> None:
    problems: list[str] = []
    assert access.read({"address": "127.0.0.1", "port_base": 40000}, "labtool.yml", problems) == Access(
        "127.0.0.1", 40000
    )
    assert problems == []
    assert access.fits_problem(Access("127.0.0.1", 65532), 1, "labtool.yml") is None
    assert "65532 leaves too few ports for 2 seats" in str(access.fits_problem(Access("127.0.0.1", 65532), 2, "x"))


def test_local_addresses_are_what_this_host_can_bind() -> None:
    assert addresses.is_local("127.0.0.1")
    assert not addresses.is_local("192.0.2.1")  # TEST-NET-1: never assigned to a host
    assert not addresses.is_local("not an address")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not addresses.port_is_free("127.0.0.1", port)
        assert addresses.listens("127.0.0.1", port)


def test_rooms_of_one_host_never_claim_the_same_ports(tmp_path: Path) -> None:
    state.claim_ports(tmp_path, "alpha", range(20000, 20008), 0)
    state.claim_ports(tmp_path, "beta", range(20008, 20012), 0)  # adjacent: fine
    with pytest.raises(state.PortsClaimedError) as caught:
        state.claim_ports(
            tmp_path, "gamma", range(20004, 20016), access.free_base(state.claimed_ports(tmp_path).values(), 3)
        )
    assert "room 'gamma' would publish ports 20004-20015, but room 'alpha' already publishes 20000-20007" in (
        caught.value.message
    )
    assert "e.g. 20100" in caught.value.hint
    state.claim_ports(tmp_path, "alpha", range(20000, 20004), 0)  # a room may move within its own ports
    with pytest.raises(state.PortsClaimedError):
        state.claim_ports(tmp_path, "alpha", range(20000, 20012), 0)  # but not into another's
    state.claim_ports(tmp_path, "beta", None, 0)  # access turned off: its ports are free again
    state.claim_ports(tmp_path, "gamma", range(20004, 20016), 0)
    assert state.claimed_ports(tmp_path) == {"alpha": range(20000, 20004), "gamma": range(20004, 20016)}


def test_the_suggested_base_skips_claimed_ranges() -> None:
    assert access.free_base([], 10) == 20000
    assert access.free_base([range(20000, 20040), range(20100, 20104)], 10) == 20200
    assert access.free_base([range(20050, 20051)], 20) == 20100

"""`labtool handout`: issue the students' passwords, set them on the machines, and describe each seat's way in.

A password is shown once, on the sheet written when it is issued: labtool keeps its
hash only. So a handout issues a password for every student who has none yet (and for
the seats asked to rotate), writes the sheets, then keeps the hashes and sets them on
the seats' running machines; machines that are not running get theirs at the next `up`.
Sheets of students whose password was issued before say so instead of showing it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from labtool import access, accounts, state
from labtool.access import Way
from labtool.backends.base import Presence
from labtool.errors import LabtoolError
from labtool.host import addresses
from labtool.lab import Lab
from labtool.model import THIS_HOST, Kind, LabHost, Room, Seat, Student
from labtool.progress import Progress
from labtool.provision import AccountResult


@dataclass(frozen=True)
class Sheet:
    """One student's page: who, where, how to get in, and the password when it was issued just now."""

    seat: str
    student: Student
    password: str | None = field(repr=False)
    """Clear text, only when issued by this handout; None: issued before (not kept) or never."""
    issued_at: str | None
    vm: Way
    container: Way


@dataclass(frozen=True)
class Handout:
    room: str
    made_at: str
    sheets: tuple[Sheet, ...]
    published: tuple[str, ...]
    """The addresses the room publishes on (one a lab host of its seats), or none."""
    warnings: tuple[str, ...] = ()


class NoStudentsError(LabtoolError):
    """The room (or the seats asked for) has no students."""


def students_of(room: Room, seats: Collection[str] | None, rotate: Collection[str]) -> list[tuple[Seat, Student]]:
    """The sheets to write: the seats asked for (--seat, plus those to --rotate), else every seat with a student."""
    known = {seat.name for seat in room.seats}
    for name in rotate:
        if name not in known:
            raise LabtoolError(f"room {room.name!r} has no seat {name}", f"its seats are: {', '.join(sorted(known))}")
        if room.seat(name).student is None:
            raise NoStudentsError(
                f"seat {name} of room {room.name!r} has no student, so no password to rotate",
                "add the student to the room's students.csv (or labtool_student) first",
            )
    wanted = {*(seats or ()), *rotate} or None
    chosen = [(seat, student) for seat, student in room.students if wanted is None or seat.name in wanted]
    if not chosen:
        raise NoStudentsError(
            f"room {room.name!r} has no students{' at those seats' if wanted else ''}",
            f"write {room.path / 'students.csv'} with a header row seat,name,email and one row per student, "
            "or set the host variable labtool_student on a seat's machines",
        )
    return chosen


def hand_out(
    lab: Lab,
    seats: Collection[str] | None,
    rotate: Collection[str],
    write: Callable[[Handout], None],
    progress: Progress,
) -> tuple[Handout, list[AccountResult]]:
    """Issue what is missing or asked for, write the sheets (through `write`), then keep and set the passwords.

    The sheets are written before the hashes are kept: if writing fails, nothing was
    issued and nothing changes on the machines.
    """
    room = lab.room
    chosen = students_of(room, seats, rotate)
    with state.locked(lab.state_dir, f"room {room.name!r}"):
        state.claim(lab.state_dir, room.path)
        kept = state.read_passwords(lab.state_dir)
        due = [student for seat, student in chosen if student.login not in kept or seat.name in rotate]
        new = {n.login: n for n in accounts.issue(due)}
        issued = {**kept, **{login: n.record for login, n in new.items()}}
        observed = lab.observe()
        hosts = {seat.name: lab.host_of(seat.name) for seat, _ in chosen}
        handout = build(room, chosen, issued, {login: n.password for login, n in new.items()}, observed, hosts=hosts)
        write(handout)
        logins = {student.login for _, student in room.students}
        state.write_passwords(lab.state_dir, {k: v for k, v in issued.items() if k in logins})
        changed = {seat.name for seat, student in chosen if student.login in new}
        running = [
            machine
            for seat in room.seats
            if seat.name in changed
            for machine in seat.machines
            if observed.get(machine.name) is not None and observed[machine.name].presence is Presence.RUNNING
        ]
        results = lab.apply_accounts(running, progress) if running else []
    return handout, results


def build(
    room: Room,
    chosen: list[tuple[Seat, Student]],
    issued: Mapping[str, state.IssuedPassword],
    new: Mapping[str, str],
    observed: Mapping[str, Any],
    *,
    hosts: Mapping[str, LabHost] | None = None,
) -> Handout:
    """The handout's content; `new` holds the clear-text passwords issued now (login -> password), `hosts` each
    seat's lab host (this one when not given)."""
    host_of = {seat.name: (hosts or {}).get(seat.name, THIS_HOST) for seat, _ in chosen}
    sheets = []
    for seat, student in chosen:
        ways = {}
        for machine in seat.machines:
            seen = observed.get(machine.name)
            address = seen.address if seen is not None and seen.presence is Presence.RUNNING else None
            ways[machine.kind] = access.way_in(
                room, seat, machine.kind, student.login, address, host=host_of[seat.name]
            )
        entry = issued.get(student.login)
        sheets.append(
            Sheet(
                seat.name,
                student,
                new.get(student.login),
                entry.issued_at if entry else None,
                ways[Kind.VM],
                ways[Kind.CONTAINER],
            )
        )
    published = (access.address_on(room, host) for host in dict.fromkeys(host_of.values()))
    return Handout(
        room.name,
        state.utc_now(),
        tuple(sheets),
        tuple(address for address in published if address is not None),
        tuple(_unpublished(room, chosen, observed, host_of)),
    )


def _unpublished(
    room: Room, chosen: list[tuple[Seat, Student]], observed: Mapping[str, Any], host_of: Mapping[str, LabHost]
) -> list[str]:
    """Running machines whose published SSH port does not answer (e.g. created before `access:` was set)."""
    warnings = []
    for seat, _ in chosen:
        address = access.address_on(room, host_of[seat.name])
        for machine in seat.machines:
            seen = observed.get(machine.name)
            port = access.port(room, seat, machine.kind, access.Service.SSH)
            if address is None or seen is None or seen.presence is not Presence.RUNNING or port is None:
                continue
            if not addresses.listens(address, port, timeout=1.0):
                warnings.append(
                    f"{machine.name}: nothing answers on {address}:{port}; a machine made before the "
                    f"room's access: setting publishes nothing: `labtool down {room.name} --seat {seat.name}` "
                    f"and `labtool up {room.name}` remake it"
                )
    return warnings


def to_json(handout: Handout, written: Collection[str] = ()) -> dict[str, Any]:
    """The handout without any password: who sits where, how they get in, when their password was issued."""
    return {
        "room": handout.room,
        "made_at": handout.made_at,
        "published_on": list(handout.published),
        "files": sorted(written),
        "warnings": list(handout.warnings),
        "seats": [
            {
                "seat": sheet.seat,
                "student": {"name": sheet.student.name, "email": sheet.student.email, "login": sheet.student.login},
                "password": {"issued_at": sheet.issued_at, "on_this_handout": sheet.password is not None},
                "vm": access.as_json(sheet.vm),
                "container": access.as_json(sheet.container),
            }
            for sheet in handout.sheets
        ],
    }

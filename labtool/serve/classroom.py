"""The rooms a `labtool serve` shows: the seat grid, a seat's page, who a student is. No web in here.

Everything is read through the same lab code as the CLI (Lab.survey, the kept verify and
check results, the room's state and lock), so the page and `labtool status` never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labtool import checks, passwords, placement, snapshots, state, verify
from labtool.errors import LabtoolError
from labtool.lab import Lab, MachineStatus
from labtool.model import Kind, Seat
from labtool.report import build as report_build


class NotFoundError(LabtoolError):
    """No such room or seat in what this server shows."""


@dataclass(frozen=True)
class StudentSeat:
    """Where a logged-in student sits: the only seat they may see."""

    room: str
    seat: str
    login: str
    name: str


class Classroom:
    """The served rooms by name, each an open Lab; `student_restore`: students may restore their checkpoints."""

    def __init__(self, labs: Sequence[Lab], *, student_restore: bool = False) -> None:
        self.labs = {lab.room.name: lab for lab in labs}
        self.student_restore = student_restore

    def lab(self, room: str) -> Lab:
        try:
            return self.labs[room]
        except KeyError:
            raise NotFoundError(f"no room {room!r} here", f"served rooms: {', '.join(self.labs)}") from None

    def seat(self, room: str, seat: str) -> Seat:
        lab = self.lab(room)
        found = next((s for s in lab.room.seats if s.name == seat), None)
        if found is None:
            raise NotFoundError(f"room {room!r} has no seat {seat!r}")
        return found

    # -- students ---------------------------------------------------------------------------------

    def authenticate(self, login: str, password: str) -> StudentSeat | None:
        """The seat of the student whose handout password this is; None for anything else.

        The hash is read from the room's state at each login, so a rotated password works at once
        and the old one stops. Every room's hash is checked (same time whether a login exists or not).
        """
        found = None
        for lab in self.labs.values():
            issued = state.read_passwords(lab.state_dir)
            for seat, student in lab.room.students:
                entry = issued.get(student.login)
                if entry is not None and student.login == login and passwords.verify(password, entry.hash):
                    found = StudentSeat(lab.room.name, seat.name, student.login, student.name)
        if found is None:
            passwords.verify(password, passwords.sha512_crypt("", "timing"))  # as long as a real check
        return found

    # -- the instructor's grid -----------------------------------------------------------------------

    def grid(self, room: str) -> dict[str, Any]:
        """Every seat of the room with both machines' state, its student, points and drift: the live table."""
        lab = self.lab(room)
        survey = lab.survey()
        by_name = {row.name: row for row in survey.machines}
        holder = state.holder(lab.state_dir)
        busy = holder.text if holder is not None and holder.alive() else None
        records = state.read(lab.state_dir).machines
        kept_checks = checks.load(lab.state_dir)
        last_verify = verify.load(lab.state_dir)
        seats = []
        for seat in lab.room.seats:
            parity = last_verify.seat(seat.name) if last_verify else None
            seats.append(
                {
                    "seat": seat.name,
                    "student": seat.student.name if seat.student else None,
                    "login": seat.student.login if seat.student else None,
                    "drift": None if parity is None else len(parity.drift),
                    "parity_error": parity.error if parity else "",
                    **{
                        kind.value: machine_cell(
                            by_name[machine.name],
                            records.get(machine.name, state.MachineRecord()).working if busy else "",
                            kept_checks.get(machine.name),
                        )
                        for kind, machine in ((Kind.VM, seat.vm), (Kind.CONTAINER, seat.container))
                    },
                }
            )
        return {
            "room": room,
            "busy": busy,
            "verified_at": last_verify.finished_at if last_verify else None,
            "unreachable": {kind.value: error.message for kind, error in survey.unreachable.items()},
            "seats": seats,
        }

    def seat_page(self, room: str, seat: str) -> dict[str, Any]:
        """One seat in full: both machines, compare figures (measured now), drift explained, check results."""
        lab = self.lab(room)
        self.seat(room, seat)
        report = report_build.build(lab, [seat], progress=lambda _: None)
        data = report_build.to_json(report)
        (seat_json,) = data["seats"]
        seat_json["explained"] = [
            {
                "item": e.difference.item,
                "vm": e.difference.vm,
                "container": e.difference.container,
                "why": e.difference.why,
                "details": list(e.difference.details),
                "repair": e.difference.repair,
            }
            for e in report_build.drift_explanations(report)
        ]
        seat_json["checks"] = self.seat_checks(room, seat)
        seat_json["checkpoints"] = self.checkpoints(room, seat)
        seat_json["student"] = self._student(room, seat)
        return dict(seat_json)

    def _student(self, room: str, seat: str) -> dict[str, str] | None:
        student = self.seat(room, seat).student
        return None if student is None else {"name": student.name, "login": student.login}

    # -- what a student sees too -------------------------------------------------------------------

    def seat_checks(self, room: str, seat: str) -> list[dict[str, Any]]:
        """The seat's last check results, machine by machine (empty when never checked)."""
        lab = self.lab(room)
        kept = checks.for_seats([self.seat(room, seat)], checks.load(lab.state_dir))
        return [
            {
                "machine": m.machine,
                "kind": m.kind.value,
                "checked_at": m.checked_at,
                "earned": m.earned,
                "possible": m.possible,
                "error": m.error,
                "checks": [
                    {"name": c.name, "title": c.title, "outcome": c.outcome, "points": c.points} for c in m.checks
                ],
            }
            for m in kept
        ]

    def checkpoints(self, room: str, seat: str) -> list[dict[str, Any]]:
        lab = self.lab(room)
        return [
            {"name": s.name, "saved_at": s.created}
            for s in snapshots.saved(lab.state_dir, [self.seat(room, seat).name])
        ]

    def lab_host_ssh(self, room: str, seat: str) -> str | None:
        """The SSH destination of the lab host the seat runs on; None for this machine."""
        lab = self.lab(room)
        return lab.room.host(placement.host_of(lab.room, lab.placed, self.seat(room, seat).name)).ssh

    def machine_address(self, room: str, seat: str, kind: Kind) -> str | None:
        """The machine's own address when it is running (the terminal connects there), else None."""
        lab = self.lab(room)
        chosen = self.seat(room, seat)
        machine = chosen.vm if kind is Kind.VM else chosen.container
        observed = lab.backends[kind].observe(lab.room).get(machine.name)
        return observed.address if observed is not None and observed.presence == "running" else None


def machine_cell(status: MachineStatus, working: str, kept: checks.MachineChecks | None) -> dict[str, Any]:
    return {
        "name": status.name,
        "state": status.presence.value,
        "working": working,
        "provisioned": status.provisioned,
        "changed": status.changed,
        "error": status.error,
        "address": status.address,
        "points": None if kept is None or kept.error else {"earned": kept.earned, "possible": kept.possible},
    }


def summary(grid: Mapping[str, Any]) -> str:
    """One line for the page's title bar: how many machines run, how many seats drift."""
    machines = [seat[kind] for seat in grid["seats"] for kind in ("vm", "container")]
    running = sum(1 for m in machines if m["state"] == "running")
    drifting = sum(1 for seat in grid["seats"] if seat["drift"])
    return f"{running} of {len(machines)} machines running, {drifting} seat(s) drifting"

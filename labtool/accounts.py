"""Students' accounts: what each machine of a seat must have, and the passwords behind them.

A seat's student gets the same account on its VM and its container. The password
is issued once per student (by `labtool handout`, which is the only place it is shown),
kept only as its hash (state.PASSWORDS_FILE), and set on the machines by labtool's own
play (files/students.yml) after the course's playbook. Until a password is issued
the account exists but is locked. A machine's record names what it last got by a
token, `login:password-id`, so `up` sees which machines need their account (re)applied
without keeping the hash anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labtool import passwords, state
from labtool.model import Machine, Room, Student

LOCKED = "locked"
"""The password id of an account whose password is not issued yet: it exists, but nobody can log in."""
LOCKED_HASH = "!"
"""What /etc/shadow holds for an account without a password."""


@dataclass(frozen=True)
class Account:
    """What one machine must have: its seat's student's account (if any), and former students' locked."""

    login: str | None
    password_id: str
    password_hash: str = field(repr=False)
    former: tuple[str, ...] = ()
    """Logins of students no longer at this seat: their accounts are locked, their homes kept."""
    sudo: bool = True

    @property
    def token(self) -> str:
        return token(self.login, self.password_id)

    def extra_vars(self) -> dict[str, Any]:
        """The play's variables (they hold the hash: labtool writes them to a 0600 file, never a command line)."""
        return {
            "labtool_account_login": self.login or "",
            "labtool_account_password_hash": self.password_hash,
            "labtool_account_former": list(self.former),
            "labtool_account_sudo": self.sudo,
        }


def token(login: str | None, password_id: str) -> str:
    return f"{login}:{password_id}" if login else ""


def login_of(account_token: str) -> str | None:
    return account_token.split(":", 1)[0] or None


def wanted(room: Room, issued: Mapping[str, state.IssuedPassword], machine: Machine, had: str) -> Account | None:
    """The account the machine must have, given the one it had (its record's token); None: nothing to do ever."""
    student = room.seat(machine.seat).student
    login = student.login if student else None
    old = login_of(had)
    former = (old,) if old and old != login else ()
    if login is None and not former:
        return None
    entry = issued.get(login) if login else None
    return Account(
        login,
        entry.id if entry else LOCKED,
        entry.hash if entry else LOCKED_HASH,
        former,
        room.student_sudo,
    )


def tokens(room: Room, issued: Mapping[str, state.IssuedPassword]) -> dict[str, str]:
    """Machine -> the token its account must carry ("" for a seat without a student): what `up` plans by."""
    result = {}
    for seat in room.seats:
        entry = issued.get(seat.student.login) if seat.student else None
        for machine in seat.machines:
            result[machine.name] = token(seat.student.login if seat.student else None, entry.id if entry else LOCKED)
    return result


@dataclass(frozen=True)
class NewPassword:
    """A password just issued: the clear text lives only in memory, on its way to the handout."""

    login: str
    password: str = field(repr=False)
    record: state.IssuedPassword = field(repr=False)


def issue(students: Iterable[Student]) -> list[NewPassword]:
    """A new password for each student (their old one, if any, stops working once applied)."""
    issued = []
    for student in students:
        password = passwords.generate()
        record = state.IssuedPassword(passwords.hash_password(password), _new_id(), state.utc_now())
        issued.append(NewPassword(student.login, password, record))
    return issued


def _new_id() -> str:
    import secrets

    return secrets.token_hex(4)

"""What each machine's student account must be, and issuing passwords (the clear text never leaves memory)."""

from __future__ import annotations

from labtool import accounts, passwords, state
from labtool.model import Student
from tests.unit.rooms import paired_room, with_students

ADA, GRACE = Student("Ada Lovelace", "ada_lovelace"), Student("Grace Hopper", "grace_hopper")
ROOM = with_students(paired_room(3), {"s1": ADA, "s2": GRACE})
ISSUED = {"ada_lovelace": state.IssuedPassword("$6$salt$hash", "1111", "2026-11-28T10:00:00Z")}


def test_every_machine_of_a_seat_wants_its_students_account_and_password() -> None:
    assert accounts.tokens(ROOM, ISSUED) == {
        "s1-vm": "ada_lovelace:1111",
        "s1-ct": "ada_lovelace:1111",
        "s2-vm": "grace_hopper:locked",
        "s2-ct": "grace_hopper:locked",
        "s3-vm": "",
        "s3-ct": "",
    }


def test_an_account_without_an_issued_password_is_locked() -> None:
    account = accounts.wanted(ROOM, ISSUED, ROOM.seats[1].vm, had="")
    assert account is not None
    assert account.extra_vars() == {
        "labtool_account_login": "grace_hopper",
        "labtool_account_password_hash": "!",
        "labtool_account_former": [],
        "labtool_account_sudo": True,
    }
    assert account.token == "grace_hopper:locked"


def test_a_student_who_left_a_seat_has_their_account_locked_there() -> None:
    moved = accounts.wanted(ROOM, ISSUED, ROOM.seats[0].container, had="alan_turing:9999")
    assert moved is not None and moved.former == ("alan_turing",) and moved.login == "ada_lovelace"
    empty = accounts.wanted(ROOM, ISSUED, ROOM.seats[2].vm, had="alan_turing:9999")
    assert empty is not None and empty.login is None and empty.former == ("alan_turing",) and empty.token == ""
    assert accounts.wanted(ROOM, ISSUED, ROOM.seats[2].vm, had="") is None


def test_the_hash_is_never_in_an_accounts_repr() -> None:
    account = accounts.wanted(ROOM, ISSUED, ROOM.seats[0].vm, had="")
    assert account is not None and account.password_hash == "$6$salt$hash"
    assert "$6$" not in repr(account)


def test_issuing_gives_each_student_a_fresh_password_that_only_its_hash_remembers() -> None:
    first, second = accounts.issue([ADA, GRACE])
    again = accounts.issue([ADA])[0]
    assert (first.login, second.login) == ("ada_lovelace", "grace_hopper")
    assert len({first.password, second.password, again.password}) == 3
    assert len({first.record.id, second.record.id, again.record.id}) == 3
    assert passwords.verify(first.password, first.record.hash)
    assert not passwords.verify(again.password, first.record.hash)
    assert first.password not in repr(first) and first.record.hash not in repr(first)

"""Who sits where: students.csv and the labtool_student host variable, validated like the rest of the room."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labtool import students
from labtool.model import Seat, Student
from tests.unit.rooms import paired_room

SEATS = paired_room(3, seat_name=lambda i: f"seat0{i}").seats
CSV = "students.csv"
HOSTS = "hosts.yml"


def attach(tmp_path: Path, csv: str | bytes | None = None, hostvars: dict[str, Any] | None = None) -> list[Seat]:
    problems: list[str] = []
    seats = _attach(tmp_path, csv, hostvars, problems)
    assert problems == []
    return seats


def problems_of(tmp_path: Path, csv: str | bytes | None = None, hostvars: dict[str, Any] | None = None) -> list[str]:
    problems: list[str] = []
    _attach(tmp_path, csv, hostvars, problems)
    return problems


def _attach(
    tmp_path: Path, csv: str | bytes | None, hostvars: dict[str, Any] | None, problems: list[str]
) -> list[Seat]:
    if csv is not None:
        path = tmp_path / students.CSV_FILE
        path.write_bytes(csv.encode() if isinstance(csv, str) else csv)
    return students.attach(SEATS, hostvars or {}, tmp_path, inventory_where=HOSTS, csv_where=CSV, problems=problems)


def test_students_csv_names_each_seats_student_with_a_derived_or_given_login(tmp_path: Path) -> None:
    seats = attach(
        tmp_path,
        "\ufeffSeat, Name ,email,login\n"  # a spreadsheet's byte-order mark and spaced, capitalised headers
        "seat01,Ada King Lovelace,ada@example.org,\n"
        '\nseat03,"Hopper, Grace",,ghopper\n',
    )
    assert [s.student for s in seats] == [
        Student("Ada King Lovelace", "ada_lovelace", "ada@example.org"),
        None,
        Student("Hopper, Grace", "ghopper"),
    ]


def test_the_host_variable_names_a_student_by_name_or_mapping_on_either_machine(tmp_path: Path) -> None:
    seats = attach(
        tmp_path,
        hostvars={
            "seat01-vm": {"labtool_student": "Émilie du Châtelet"},
            "seat01-ct": {"labtool_student": "Émilie du Châtelet"},
            "seat02-ct": {"labtool_student": {"name": "Alan Turing", "email": "alan@example.org", "login": "aturing"}},
        },
    )
    assert seats[0].student == Student("Émilie du Châtelet", "emilie_chatelet")
    assert seats[1].student == Student("Alan Turing", "aturing", "alan@example.org")
    assert seats[2].student is None


@pytest.mark.parametrize(
    ("name", "login"),
    [
        ("Ada Lovelace", "ada_lovelace"),
        ("  José   Núñez-García ", "jose_garcia"),
        ("Strauß", "strauss"),
        ("Søren Kierkegaard", "soren_kierkegaard"),
        ("Plato", "plato"),
        ("O'Brien, Conan", "o_conan"),
        ("李小龙", None),
        ("2Pac Shakur", None),
        ("x" * 40 + " y", "x" * 32),
    ],
)
def test_logins_derived_from_names(name: str, login: str | None) -> None:
    assert students.derive_login(name) == login


BAD = [
    pytest.param(
        {"csv": "seat01,Ada\n"},
        [
            'students.csv: line 1: header row: column "seat01" is unknown (known: seat, name, email, login); '
            'column "ada" is unknown (known: seat, name, email, login); no column seat or name; '
            "the first row names the columns, e.g. seat,name,email"
        ],
        id="no header row",
    ),
    pytest.param(
        {"csv": "seat,name,name,phone\n"},
        [
            'students.csv: line 1: header row: column name comes twice; column "phone" is unknown '
            "(known: seat, name, email, login); the first row names the columns, e.g. seat,name,email"
        ],
        id="duplicate and unknown columns",
    ),
    pytest.param(
        {"csv": "seat,name\nseat01,Ada Lovelace\nseat01,Grace Hopper\nseat9,Alan Turing\nseat02,\n"},
        [
            "students.csv: line 3: seat seat01 already has a student (students.csv: line 2); "
            "a seat has one student: remove one of them",
            'students.csv: line 4: seat "seat9" is not a seat of the room; did you mean seat03?',
            "students.csv: line 5: the name is empty; give the student's name",
        ],
        id="duplicate seat, unknown seat, empty name",
    ),
    pytest.param(
        {"csv": "seat,name\nseat01,Ada Lovelace\nseat02,Ada Lovelace\n"},
        [
            "students.csv: line 3: login ada_lovelace is also seat seat01's (students.csv: line 2); "
            "each student needs a login of their own: give one of them another with a login column or key"
        ],
        id="two students, one login",
    ),
    pytest.param(
        {"csv": "seat,name,login,email\nseat01,Ada,Root!,ada@\nseat02,Root,,\nseat03,Vag,vagrant,\n"},
        [
            'students.csv: line 2: email "ada@" is not an email address; fix it or leave it empty',
            'students.csv: line 2: login "Root!" is not a valid login; '
            "use a lowercase letter, then up to 31 lowercase letters, digits, _ or -",
            "students.csv: line 3: the name gives login root, an account of the machines; "
            "give another with a login column",
            "students.csv: line 4: login vagrant is an account of the machines; give the student another",
        ],
        id="bad email, bad login, reserved logins",
    ),
    pytest.param(
        {"csv": "seat,name\nseat01,李小龙\nseat02,Eve\u202eevil\nseat03,Mallory\x07\n"},
        [
            'students.csv: line 2: no login can be made from the name "李小龙"; give one with a login column or key',
            "students.csv: line 3: the name holds the invisible character U+202E; remove it",
            "students.csv: line 4: the name holds the invisible character U+0007; remove it",
        ],
        id="names: no Latin letters, a bidi override, a control character",
    ),
    pytest.param(
        {"csv": 'seat,name\nseat01,Ada,extra\nseat02,"unterminated\n'},
        [
            "students.csv: line 2: 3 fields, but the header names 2; quote a name holding a comma",
            "students.csv: line 3: not valid CSV: unexpected end of data; fix it there",
        ],
        id="too many fields, broken quoting",
    ),
    pytest.param(
        {"csv": b"seat,name\nseat01,Ren\xe9\n"},
        ["students.csv: line 2: not UTF-8 text; save the file as CSV UTF-8"],
        id="not UTF-8",
    ),
    pytest.param(
        {"csv": ""},
        ["students.csv: empty; write a header row `seat,name,email` and one row per student"],
        id="empty file",
    ),
    pytest.param(
        {
            "hostvars": {
                "seat01-vm": {"labtool_student": "Ada Lovelace"},
                "seat01-ct": {"labtool_student": "Grace Hopper"},
                "seat02-vm": {"labtool_student": ["Ada"]},
                "seat03-ct": {"labtool_student": {"name": "Alan", "phone": "1"}},
            }
        },
        [
            "hosts.yml: seat seat01: labtool_student differs between seat01-ct and seat01-vm; a seat has one "
            "student: set it on one machine of the seat, or the same on both",
            'hosts.yml: host seat02-vm: labtool_student: ["Ada"] is not a student; give a name, or a mapping of '
            "name, email, login",
            "hosts.yml: host seat03-ct: labtool_student: unknown key phone; remove it (known: name, email, login)",
        ],
        id="host variable: differing, wrong type, unknown key",
    ),
    pytest.param(
        {"csv": "seat,name\nseat02,Grace Hopper\n", "hostvars": {"seat02-ct": {"labtool_student": "Alan Turing"}}},
        [
            "students.csv: line 2: seat seat02 already has a student (hosts.yml: host seat02-ct: labtool_student); "
            "a seat has one student: remove one of them"
        ],
        id="both sources name a seat's student",
    ),
]


@pytest.mark.parametrize(("given", "expected"), BAD)
def test_bad_students_are_named_with_their_file_and_line_and_a_fix(
    tmp_path: Path, given: dict[str, Any], expected: list[str]
) -> None:
    assert problems_of(tmp_path, given.get("csv"), given.get("hostvars")) == expected


def test_a_students_csv_that_is_not_a_file_or_too_big_is_refused(tmp_path: Path) -> None:
    (tmp_path / students.CSV_FILE).mkdir()
    assert problems_of(tmp_path) == ["students.csv: is not a regular file; make it a CSV file"]
    (tmp_path / students.CSV_FILE).rmdir()
    big = "seat,name\n" + "seat01,Ada\n" * (students.MAX_CSV_BYTES // 10)
    assert problems_of(tmp_path, big) == ["students.csv: is over 1024 KiB; a room's students fit in a few KiB"]


def test_the_students_section_of_labtool_yml() -> None:
    problems: list[str] = []
    assert students.read_settings(None, "labtool.yml", problems) is True
    assert students.read_settings({"sudo": False}, "labtool.yml", problems) is False
    assert problems == []
    students.read_settings({"sudo": "no", "shell": "zsh"}, "labtool.yml", problems)
    assert problems == [
        "labtool.yml: students.shell: unknown key; remove it (known: sudo)",
        'labtool.yml: students.sudo: "no" is not true or false',
    ]

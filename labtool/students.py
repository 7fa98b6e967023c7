"""Who sits where: a room's students, read from students.csv or the host variable `labtool_student`.

Either source may name a seat's student, not both:

- `students.csv` in the room directory, a header row then one row per student:
  `seat,name[,email][,login]` (any order; UTF-8, as spreadsheets export it);
- the host variable `labtool_student` on either machine of the seat (or both, equal):
  a name (`labtool_student: Ada Lovelace`) or a mapping of name, email and login.

A student's login (their account on both machines of the seat) is the `login` given,
else derived from the name: lowercase ASCII of its first and last words joined by `_`
("Ada King Lovelace" -> ada_lovelace). A name that yields no login, or two students
yielding one, needs a `login`. Every problem names the file and line (or host and
variable) and says how to fix it; config.load collects them with the room's others.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtool.model import STUDENT_VARIABLE, Seat, Student

CSV_FILE = "students.csv"
SECTION = "students"
"""labtool.yml's section of settings for the room's student accounts."""
SETTINGS_KEYS = ("sudo",)
COLUMNS = ("seat", "name", "email", "login")
REQUIRED_COLUMNS = ("seat", "name")
HOST_KEYS = ("name", "email", "login")
MAX_CSV_BYTES = 1024 * 1024
MAX_NAME = 100
MAX_LOGIN = 32
"""Linux's limit for user names."""

LOGIN = re.compile(r"[a-z][a-z0-9_-]{0,31}")
LOGIN_RULE = "a lowercase letter, then up to 31 lowercase letters, digits, _ or -"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Accounts of the base image and of common services: a student must never be given one of them.
_RESERVED_NAMES = """root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats
nobody _apt messagebus sshd systemd-network systemd-resolve systemd-timesync systemd-coredump vagrant labtool
admin adm sudo staff users students nginx redis postgres mysql"""
RESERVED = frozenset(_RESERVED_NAMES.split())
# Letters NFKD does not take apart into ASCII.
_TRANSLITERATE = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L"}
    | {"þ": "th", "Þ": "Th", "\u0131": "i"}  # the last: dotless i
)
# Bidirectional overrides and isolates: they make a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_JOINERS = frozenset("\u200c\u200d")


@dataclass(frozen=True)
class _Given:
    """One student as a source gave it, before the room-wide checks; `where` is how messages point at it."""

    seat: str
    name: str
    email: str | None
    login: str | None
    where: str
    problem: str | None = None
    """A problem found while reading the entry (it is reported in its turn, and the entry skipped)."""


def attach(
    seats: Sequence[Seat],
    hostvars: Mapping[str, Mapping[str, Any]],
    room_dir: Path,
    *,
    inventory_where: str,
    csv_where: str,
    problems: list[str],
) -> list[Seat]:
    """The seats with their students; every problem found goes to `problems` (those seats stay without one)."""
    given = [*_from_hostvars(seats, hostvars, inventory_where, problems)]
    if (room_dir / CSV_FILE).exists() or (room_dir / CSV_FILE).is_symlink():
        given += _from_csv(room_dir / CSV_FILE, csv_where, problems)
    students = _check_room(given, {s.name for s in seats}, problems)
    return [dataclasses.replace(seat, student=students.get(seat.name)) for seat in seats]


def read_settings(raw: Any, where: str, problems: list[str]) -> bool:
    """labtool.yml's `students:` section: whether students may use sudo (default yes: it is their seat)."""
    if raw is None:
        return True
    if not isinstance(raw, dict):
        problems.append(f"{where}: {SECTION}: must be a mapping of {', '.join(SETTINGS_KEYS)}; got {_show(raw)}")
        return True
    for key in raw:
        if key not in SETTINGS_KEYS:
            problems.append(f"{where}: {SECTION}.{key}: unknown key; remove it (known: {', '.join(SETTINGS_KEYS)})")
    sudo = raw.get("sudo", True)
    if not isinstance(sudo, bool):
        problems.append(f"{where}: {SECTION}.sudo: {_show(sudo)} is not true or false")
        return True
    return sudo


def derive_login(name: str) -> str | None:
    """The login a name gives: its first and last words in lowercase ASCII, joined by `_`; None if it gives none."""
    plain = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", plain.lower())
    if not words:
        return None
    login = words[0] if len(words) == 1 else f"{words[0]}_{words[-1]}"
    login = login[:MAX_LOGIN].rstrip("_")
    return login if LOGIN.fullmatch(login) else None


# -- the two sources --------------------------------------------------------------------------------


def _from_hostvars(
    seats: Sequence[Seat], hostvars: Mapping[str, Mapping[str, Any]], where: str, problems: list[str]
) -> list[_Given]:
    given = []
    for seat in seats:
        found = {m.name: hostvars.get(m.name, {}).get(STUDENT_VARIABLE) for m in seat.machines}
        found = {machine: value for machine, value in found.items() if value is not None}
        if not found:
            continue
        if len({json.dumps(v, sort_keys=True, default=str) for v in found.values()}) > 1:
            problems.append(
                f"{where}: seat {seat.name}: {STUDENT_VARIABLE} differs between {' and '.join(sorted(found))}; "
                "a seat has one student: set it on one machine of the seat, or the same on both"
            )
            continue
        machine, value = sorted(found.items())[0]
        student = _from_value(value, seat.name, f"{where}: host {machine}: {STUDENT_VARIABLE}", problems)
        if student is not None:
            given.append(student)
    return given


def _from_value(value: Any, seat: str, where: str, problems: list[str]) -> _Given | None:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        problems.append(f"{where}: {_show(value)} is not a student; give a name, or a mapping of name, email, login")
        return None
    unknown = [str(k) for k in value if k not in HOST_KEYS]
    if unknown:
        problems.append(f"{where}: unknown key {', '.join(unknown)}; remove it (known: {', '.join(HOST_KEYS)})")
        return None
    fields = {}
    for key in HOST_KEYS:
        raw = value.get(key)
        if raw is not None and not isinstance(raw, str):
            problems.append(f"{where}: {key}: {_show(raw)} is not text")
            return None
        fields[key] = (raw or "").strip() or None
    return _Given(seat, fields["name"] or "", fields["email"], fields["login"], where)


def _from_csv(path: Path, where: str, problems: list[str]) -> list[_Given]:
    text = _read_text(path, where, problems)
    if text is None:
        return []
    reader = csv.reader(io.StringIO(text), strict=True)
    given: list[_Given] = []
    header: list[str] | None = None
    try:
        for row in reader:
            at = f"{where}: line {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(row, at, problems)
                if header is None:
                    return []
                continue
            given.append(_row(row, header, at))
    except csv.Error as exc:
        at = f"{where}: line {reader.line_num}"
        given.append(_Given("", "", None, None, at, f"not valid CSV: {exc}; fix it there"))
        return given
    if header is None:
        problems.append(f"{where}: empty; write a header row `seat,name,email` and one row per student")
    return given


def _read_text(path: Path, where: str, problems: list[str]) -> str | None:
    try:
        if not path.is_file():
            problems.append(f"{where}: is not a regular file; make it a CSV file")
            return None
        if path.stat().st_size > MAX_CSV_BYTES:
            problems.append(f"{where}: is over {MAX_CSV_BYTES // 1024} KiB; a room's students fit in a few KiB")
            return None
        data = path.read_bytes()
        return data.decode("utf-8-sig")  # spreadsheets write a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(f"{where}: line {line}: not UTF-8 text; save the file as CSV UTF-8")
    except OSError as exc:
        problems.append(f"{where}: cannot be read: {exc.strerror or exc}")
    return None


def _header(row: list[str], at: str, problems: list[str]) -> list[str] | None:
    names = [cell.strip().lower() for cell in row]
    wrong = []
    for i, name in enumerate(names):
        if name not in COLUMNS:
            wrong.append(f"column {_show(name)} is unknown (known: {', '.join(COLUMNS)})")
        elif name in names[:i]:
            wrong.append(f"column {name} comes twice")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        wrong.append(f"no column {' or '.join(missing)}")
    if wrong:
        problems.append(f"{at}: header row: {'; '.join(wrong)}; the first row names the columns, e.g. seat,name,email")
        return None
    return names


def _row(row: list[str], header: list[str], at: str) -> _Given:
    if len(row) > len(header):
        problem = f"{len(row)} fields, but the header names {len(header)}; quote a name holding a comma"
        return _Given("", "", None, None, at, problem)
    cells = {column: (row[i].strip() if i < len(row) else "") for i, column in enumerate(header)}
    return _Given(cells["seat"], cells["name"], cells.get("email") or None, cells.get("login") or None, at)


# -- the checks every student passes, whatever the source ------------------------------------------------


def _check_room(given: list[_Given], seats: set[str], problems: list[str]) -> dict[str, Student]:
    """Every entry's problems in the order the sources give them (hosts first, then the CSV line by line)."""
    students: dict[str, Student] = {}
    where_of: dict[str, str] = {}
    seat_of_login: dict[str, str] = {}
    for entry in given:
        if entry.problem:
            problems.append(f"{entry.where}: {entry.problem}")
            continue
        if entry.seat not in seats:
            close = difflib.get_close_matches(entry.seat, sorted(seats), n=1)
            known = ", ".join(sorted(seats)) or "none"
            fix = f"did you mean {close[0]}?" if close else f"the room's seats are: {known}"
            problems.append(f"{entry.where}: seat {_show(entry.seat)} is not a seat of the room; {fix}")
            continue
        if entry.seat in where_of:
            problems.append(
                f"{entry.where}: seat {entry.seat} already has a student ({where_of[entry.seat]}); "
                "a seat has one student: remove one of them"
            )
            continue
        student = _student(entry, problems)
        if student is None:
            continue
        if student.login in seat_of_login:
            other = seat_of_login[student.login]
            problems.append(
                f"{entry.where}: login {student.login} is also seat {other}'s ({where_of[other]}); "
                "each student needs a login of their own: give one of them another with a login column or key"
            )
            continue
        students[entry.seat], where_of[entry.seat], seat_of_login[student.login] = student, entry.where, entry.seat
    return students


def _student(entry: _Given, problems: list[str]) -> Student | None:
    found = [p for p in (_name_problem(entry.name), _email_problem(entry.email)) if p]
    login = entry.login or derive_login(entry.name)
    if entry.login is not None:
        found += [p for p in [_login_problem(entry.login)] if p]
    elif login is None and entry.name:
        found.append(f"no login can be made from the name {_show(entry.name)}; give one with a login column or key")
    elif login is not None and login in RESERVED:
        found.append(f"the name gives login {login}, an account of the machines; give another with a login column")
    problems.extend(f"{entry.where}: {p}" for p in found)
    if found or login is None:
        return None
    return Student(entry.name, login, entry.email)


def _name_problem(name: str) -> str | None:
    if not name:
        return "the name is empty; give the student's name"
    if len(name) > MAX_NAME:
        return f"the name is {len(name)} characters long; give at most {MAX_NAME}"
    hidden = [c for c in name if _hidden(c)]
    if hidden:
        return f"the name holds the invisible character {_codepoint(hidden[0])}; remove it"
    return None


def _hidden(char: str) -> bool:
    category = unicodedata.category(char)
    if char in _BIDI_CONTROLS:
        return True
    return category in ("Cc", "Cs", "Co", "Cn") or (category == "Cf" and char not in _JOINERS)


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def _email_problem(email: str | None) -> str | None:
    if email is None or (len(email) <= 254 and _EMAIL.fullmatch(email)):
        return None
    return f"email {_show(email)} is not an email address; fix it or leave it empty"


def _login_problem(login: str) -> str | None:
    if not LOGIN.fullmatch(login):
        return f"login {_show(login)} is not a valid login; use {LOGIN_RULE}"
    if login in RESERVED or login.startswith("systemd-"):
        return f"login {login} is an account of the machines; give the student another"
    return None


def _show(value: object) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"

"""A handout built in memory: the unit tests' and the browser test's data."""

from __future__ import annotations

from labtool.access import Way
from labtool.handout.build import Handout, Sheet
from labtool.model import Student

PUBLISHED = "from any computer that reaches 192.0.2.10"


def sheet(seat: str, name: str, login: str, password: str | None, index: int) -> Sheet:
    base = 20000 + 4 * index
    return Sheet(
        seat,
        Student(name, login, f"{login}@example.org"),
        password,
        "2026-11-28T09:00:00Z",
        Way(f"ssh -p {base + 2} {login}@192.0.2.10", f"http://192.0.2.10:{base + 3}/", PUBLISHED),
        Way(f"ssh -p {base} {login}@192.0.2.10", f"http://192.0.2.10:{base + 1}/", PUBLISHED),
    )


def sample_handout(seats: int = 3) -> Handout:
    names = [
        ("Ada Lovelace", "ada_lovelace", "kq7m-x3ta-9hfw-p2ne"),
        ('=HYPERLINK("x") <script>alert(1)</script>', "mallory", "u7b2-yy9k-t652-jhwb"),
        ("Grace Hopper", "grace_hopper", None),
    ]
    sheets = tuple(
        sheet(f"seat{i + 1:02}", *names[i % len(names)][:2], names[i % len(names)][2], i) for i in range(seats)
    )
    return Handout("demo", "2026-11-28T10:15:00Z", sheets, ("192.0.2.10",))

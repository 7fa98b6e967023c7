"""The handout's HTML (one printed page per student) and the instructor's CSV."""

from __future__ import annotations

import csv
import io
import re

from labtool.handout import render
from tests.unit.handout.sample import sample_handout


def test_one_sheet_per_student_each_its_own_printed_page() -> None:
    page = render.html(sample_handout(3))
    assert page.count('<section class="sheet"') == 3
    assert re.search(r"@media print \{.*\.sheet \{[^}]*break-after: page", page, re.DOTALL)
    assert ".sheet:last-of-type { break-after: auto" in page, "no blank page after the last sheet"
    assert "<script" not in page.replace("&lt;script", ""), "names are text, never markup"
    assert "=HYPERLINK(&quot;x&quot;) &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"(src|href)=", page), "self-contained: nothing fetched"


def test_a_sheet_shows_the_login_both_ways_in_and_the_password_only_when_just_issued() -> None:
    page = render.html(sample_handout(3))
    ada, _, grace = page.split('<section class="sheet"')[1:]
    assert '<code class="login">ada_lovelace</code>' in ada
    assert '<code class="password">kq7m-x3ta-9hfw-p2ne</code>' in ada
    assert "<code>ssh -p 20002 ada_lovelace@192.0.2.10</code>" in ada  # the VM
    assert "<code>ssh -p 20000 ada_lovelace@192.0.2.10</code>" in ada  # the container
    assert "<code>http://192.0.2.10:20003/</code>" in ada
    assert "from any computer that reaches 192.0.2.10" in ada
    assert 'class="password"' not in grace
    assert "given to you on the sheet of 2026-11-28 09:00:00 UTC" in grace


def test_the_csv_has_a_row_per_student_and_keeps_names_as_text_for_spreadsheets() -> None:
    rows = list(csv.DictReader(io.StringIO(render.csv_text(sample_handout(3)))))
    assert list(rows[0]) == list(render.CSV_COLUMNS)
    assert [r["seat"] for r in rows] == ["seat01", "seat02", "seat03"]
    assert rows[0]["password"] == "kq7m-x3ta-9hfw-p2ne" and rows[2]["password"] == ""
    assert rows[0]["vm_ssh"] == "ssh -p 20002 ada_lovelace@192.0.2.10"
    assert rows[1]["name"] == '\'=HYPERLINK("x") <script>alert(1)</script>', "a cell a spreadsheet would run"
    assert rows[2]["password_issued_at"] == "2026-11-28T09:00:00Z"

"""The handout as printable HTML (one student per printed page) and as CSV for the instructor.

Self-contained HTML like the report's: inline CSS, no script, nothing fetched; every
value from the room goes through `html.escape`. Printed, each sheet is a page of its
own (`break-after: page`), so a stack of sheets is handed out one per student.
"""

from __future__ import annotations

import csv
import io
from html import escape

from labtool.access import Way
from labtool.handout.build import Handout, Sheet

CSV_COLUMNS = (
    "seat",
    "name",
    "email",
    "login",
    "password",
    "password_issued_at",
    "vm_ssh",
    "vm_url",
    "container_ssh",
    "container_url",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to a spreadsheet: a student's name must stay text."""


def html(handout: Handout) -> str:
    sheets = "\n".join(_sheet(handout, sheet) for sheet in handout.sheets)
    count = len(handout.sheets)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>labtool handout: room {escape(handout.room)}</title>
<style>{CSS}</style>
</head>
<body>
<p class="instructions">Room <b>{escape(handout.room)}</b>: {count} sheet{"" if count == 1 else "s"}, one per page
when printed. The passwords on them are kept nowhere else (labtool keeps only their hashes): hand each page
to its student, then delete this file.</p>
{sheets}
</body>
</html>
"""


def _sheet(handout: Handout, sheet: Sheet) -> str:
    student = sheet.student
    email = f'<p class="email">{escape(student.email)}</p>' if student.email else ""
    if sheet.password is not None:
        password = f'<code class="password">{escape(sheet.password)}</code>'
    elif sheet.issued_at:
        password = (
            f'<span class="muted">given to you on the sheet of {escape(_day(sheet.issued_at))}; '
            "ask your instructor for a new sheet if you lost it</span>"
        )
    else:
        password = '<span class="muted">not issued yet</span>'
    return f"""<section class="sheet" id="seat-{escape(sheet.seat)}">
<header><span>labtool · room {escape(handout.room)}</span><span class="seat">seat {escape(sheet.seat)}</span></header>
<h1>{escape(student.name)}</h1>
{email}
<table class="account">
<tr><th>Login</th><td><code class="login">{escape(student.login)}</code></td></tr>
<tr><th>Password</th><td>{password}</td></tr>
</table>
<h2>Your two lab machines</h2>
<p>They run the same lab: the <b>VM</b> has a kernel of its own, the <b>container</b> shares the lab host's.
Log in to either with the login and password above.</p>
<table class="ways">
{_way_rows("VM", sheet.vm)}
{_way_rows("Container", sheet.container)}
</table>
<p class="note">{escape(_reach(sheet))}</p>
<footer>Keep your password to yourself. Printed {escape(_day(handout.made_at))}.</footer>
</section>"""


def _way_rows(label: str, way: Way) -> str:
    """Two rows per machine (log in, web app), so each command stays on one line, as it must be typed."""
    kind = label.lower()
    if not way.ssh:
        return f'<tr class="{kind}"><th>{label}</th><td colspan="2" class="muted">{escape(way.note)}</td></tr>'
    url = f"<code>{escape(way.url)}</code>" if way.url else ""
    return (
        f'<tr class="{kind}"><th rowspan="2">{label}</th><td>Log in</td><td><code>{escape(way.ssh)}</code></td></tr>\n'
        f'<tr class="{kind} app"><td>Web app</td><td>{url}</td></tr>'
    )


def _reach(sheet: Sheet) -> str:
    notes = {way.note for way in (sheet.vm, sheet.container) if way.ssh}
    return "Reachable " + "; ".join(sorted(notes)) + "." if notes else ""


def _day(timestamp: str) -> str:
    return timestamp.replace("T", " ").removesuffix("Z") + " UTC"


def csv_text(handout: Handout) -> str:
    """One row per student, passwords in clear where this handout issued them (a file for the instructor only)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for sheet in handout.sheets:
        student = sheet.student
        row = (
            sheet.seat,
            student.name,
            student.email or "",
            student.login,
            sheet.password or "",
            sheet.issued_at or "",
            sheet.vm.ssh or "",
            sheet.vm.url or "",
            sheet.container.ssh or "",
            sheet.container.url or "",
        )
        writer.writerow([_as_text(cell) for cell in row])
    return out.getvalue()


def _as_text(cell: str) -> str:
    return f"'{cell}" if cell.startswith(_FORMULA_START) else cell


CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; background: #eef0f4;
  margin: 0; padding: 1.5rem; line-height: 1.45; }
.instructions { max-width: 170mm; margin: 0 auto 1.5rem; color: #4a5263; }
.sheet { box-sizing: border-box; max-width: 170mm; margin: 0 auto 1.5rem; padding: 12mm 14mm; background: #fff;
  border: 1px solid #cfd4dd; border-radius: 6px; break-inside: avoid; }
.sheet header { display: flex; justify-content: space-between; color: #5b6475; font-size: .9rem;
  border-bottom: 2px solid #1d2330; padding-bottom: .3rem; }
.sheet .seat { font-weight: 700; color: #1d2330; }
h1 { font-size: 1.8rem; margin: 1.2rem 0 .2rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .3rem; }
.email { margin: 0; color: #5b6475; }
table { border-collapse: collapse; margin-top: .8rem; }
th, td { text-align: left; padding: .35rem .8rem .35rem 0; vertical-align: top; }
.account th { width: 6rem; }
.ways { width: 100%; }
.ways tr + tr:not(.app) { border-top: 1px solid #dde1e8; }
.ways th { width: 6rem; }
.ways td:nth-last-child(2) { width: 5rem; color: #4a5263; }
.ways code { white-space: nowrap; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .95rem;
  overflow-wrap: anywhere; }
.password, .login { font-size: 1.35rem; font-weight: 700; letter-spacing: .04em; }
.muted { color: #6b7385; }
.note { color: #4a5263; font-size: .9rem; }
.sheet footer { margin-top: 2rem; font-size: .8rem; color: #6b7385; border-top: 1px solid #dde1e8;
  padding-top: .4rem; }
@page { size: A4; margin: 15mm; }
@media print {
  body { background: #fff; padding: 0; }
  .instructions { display: none; }
  .sheet { border: none; border-radius: 0; margin: 0; padding: 0; max-width: none;
    break-after: page; page-break-after: always; }
  .sheet:last-of-type { break-after: auto; page-break-after: auto; }
}
"""

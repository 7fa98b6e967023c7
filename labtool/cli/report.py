"""`labtool report`: the room for the instructor, as one HTML page (or JSON, or Markdown).

It shows the last `labtool verify` (never running it) and measures the live seats
like `labtool compare`. It is a view, not a check: it exits 0 whenever it was written,
whatever it shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from labtool.cli.context import add_room_arguments, add_verb, lab_for
from labtool.cli.output import progress, say
from labtool.errors import LabtoolError
from labtool.report import html, markdown
from labtool.report.build import RoomReport, build, headline, to_json
from labtool.state import SHARED, atomic_write

FORMATS = ("html", "json", "markdown")
STDOUT = "-"


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "report",
        summary="write a room report for the instructor: seats, tests, parity and the VM/container comparison",
        description="""Write the instructor's view of a room as one self-contained HTML page (or JSON, or
        Markdown): the seat grid with each machine's state and test results, the parity matrix with drift in red,
        the expected differences with their reasons, and the VM-against-container comparison measured now. It shows
        the last `labtool verify` and never runs it; it exits 0 whenever the report was written.""",
        examples=[
            "labtool report net101                       # writes net101-report.html",
            "labtool report net101 -o /tmp/r.html",
            "labtool report net101 --format markdown",
        ],
    )
    add_room_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="html", help="html (the default), json or markdown")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write it ('-' for stdout); default: ROOM-report.html for html, stdout for json and markdown",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    report = build(lab, args.seats, progress=progress)
    text = render(report, args.format)
    output = args.output or (f"{report.room}-report.html" if args.format == "html" else STDOUT)
    if output == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        progress(f"report: room {report.room!r}: {headline(report)}")
        return 0
    path = Path(output)
    write(path, text)
    say(f"wrote {path}")
    say(f"room {report.room!r}: {headline(report)}")
    return 0


def render(report: RoomReport, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(to_json(report), indent=2, sort_keys=True) + "\n"
    if output_format == "markdown":
        return markdown.render(report)
    return html.render(report)


def write(path: Path, text: str) -> None:
    if path.is_dir():
        raise LabtoolError(f"cannot write the report to {path}: it is a directory", "name a file with -o FILE")
    try:
        atomic_write(path, text, mode=SHARED)
    except OSError as exc:
        raise LabtoolError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            "choose a writable path with -o FILE, or -o - for stdout",
        ) from exc

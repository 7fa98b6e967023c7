"""`labtool handout`: each student's sheet (login, password, ssh commands and URLs) and the instructor's CSV.

Passwords are shown once, in the files written when they are issued: every run
writes new files, named by room and time, and never replaces an earlier handout.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from labtool.cli.context import add_room_arguments, add_verb, lab_for
from labtool.cli.output import print_json, progress, say, table
from labtool.errors import LabtoolError
from labtool.handout import render
from labtool.handout.build import Handout, hand_out, to_json
from labtool.settings import Settings
from labtool.state import PRIVATE, atomic_write

DIRECTORY_MODE = 0o700


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "handout",
        summary="issue students' passwords and write their sheets (HTML, one page each) and the instructor's CSV",
        description="""Write one printable page per student (login, password, how to reach the seat's VM and
        container) and a CSV for the instructor. A student's password is issued the first time, or with --rotate,
        and shown only in the files written then: labtool keeps its hash only. New passwords are set on the seat's
        running machines at once, and on the others at their next `labtool up`.""",
        examples=["labtool handout default -o sheets/", "labtool handout --rotate seat03"],
    )
    add_room_arguments(parser)
    parser.add_argument(
        "--rotate",
        action="append",
        default=[],
        metavar="SEAT",
        help="issue a new password for the student at SEAT (repeatable); the old one stops working",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="the directory to write the files to (made 0700 if missing; default: LABTOOL_HOME/handouts/ROOM, "
        "outside the course's checkout, so clear-text passwords never land in its git)",
    )
    parser.add_argument("--json", action="store_true", help="print what was written as JSON, without passwords")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    lab = lab_for(args)
    directory = _directory(args.output or handouts_dir(Settings.from_env(), lab.room.name))
    written: list[Path] = []

    def write(handout: Handout) -> None:
        stem = directory / f"{handout.room}-handout-{handout.made_at.replace('-', '').replace(':', '')}"
        html_path, csv_path = _unused(stem, ".html"), _unused(stem, ".csv")
        # Both hold passwords in clear: readable by their owner only, like the room's state.
        atomic_write(html_path, render.html(handout), mode=PRIVATE)
        atomic_write(csv_path, render.csv_text(handout), mode=PRIVATE)
        written.extend((html_path, csv_path))

    try:
        handout, results = hand_out(lab, args.seats, args.rotate, write, progress)
    except OSError as exc:
        raise LabtoolError(
            f"cannot write the handout to {directory}: {exc.strerror or exc}; no password was issued",
            "choose a writable directory with -o DIR",
        ) from exc
    failed = [r for r in results if not r.ok]
    if args.json:
        data = to_json(handout, [str(p) for p in written])
        data["not_applied"] = {r.machine: r.error for r in failed}
        print_json(data)
    else:
        _show(handout, written)
    for result in failed:
        progress(f"warning: {result.machine}: the new password is not set: {result.error}")
    if failed:
        progress(f"the sheets show the new passwords; run `labtool up {lab.room.name}` to set them where they failed")
    for warning in handout.warnings:
        progress(f"warning: {warning}")
    return 1 if failed else 0


def _show(handout: Handout, written: list[Path]) -> None:
    rows = [
        (
            sheet.seat,
            sheet.student.name,
            sheet.student.login,
            "on this handout" if sheet.password else f"issued {sheet.issued_at}" if sheet.issued_at else "none",
            sheet.vm.ssh or "-",
            sheet.container.ssh or "-",
        )
        for sheet in handout.sheets
    ]
    say(table(("SEAT", "STUDENT", "LOGIN", "PASSWORD", "VM", "CONTAINER"), rows))
    for path in written:
        say(f"wrote {path}")
    shown = sum(1 for sheet in handout.sheets if sheet.password)
    sheets = f"{len(handout.sheets)} sheet{'' if len(handout.sheets) == 1 else 's'}"
    if shown:
        say(
            f"room {handout.room!r}: {sheets}, {shown} with a new password "
            "(kept nowhere else: hand the pages out, then delete the files)"
        )
    else:
        say(f"room {handout.room!r}: {sheets}, no new password; `--rotate SEAT` issues one for a lost sheet")


def handouts_dir(settings: Settings, room: str) -> Path:
    """Where a room's handouts go unless -o says: private to the instructor, in no lab project's work tree."""
    return settings.home / "handouts" / room


def _directory(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise LabtoolError(f"-o {path}: is not a directory", "name a directory for the handout files")
    try:
        path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise LabtoolError(f"-o {path}: cannot be made: {exc.strerror or exc}", "choose a writable directory") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise LabtoolError(f"-o {path}: is not writable", "choose a writable directory with -o DIR")
    return path


def _unused(stem: Path, suffix: str) -> Path:
    """stem + suffix, or stem-2 + suffix ... when a handout of the same second exists: never replace one."""
    path, n = stem.with_name(stem.name + suffix), 1
    while path.exists():
        n += 1
        path = stem.with_name(f"{stem.name}-{n}{suffix}")
    return path

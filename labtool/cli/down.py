"""`labtool down`: destroy a room's machines, networks and state (or only some seats' machines).

On a terminal it first names what it will destroy and asks; `--yes` skips the
question, and without a terminal on stdin (scripts, CI) it goes ahead.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from labtool.cli import interrupts
from labtool.cli.context import add_room_arguments, add_verb, lab_for
from labtool.cli.output import progress, say
from labtool.lab import Teardown
from labtool.model import Kind

KIND_NAMES = {Kind.VM: "VM", Kind.CONTAINER: "container"}


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "down",
        summary="destroy a room (or some seats) and leave nothing behind",
        description="""Destroy a room's machines, VMs and containers with their disks, and for the whole room also
        its networks and its state (provisioning records, logs, the generated inventory); with --seat, only those
        seats' machines, while the other seats keep running. What a student did on a machine is lost, so on a
        terminal labtool names what it will destroy and asks first, for a whole room and for single seats alike;
        --yes skips the question, and without a terminal on stdin (a script, CI) it does not ask. To keep the
        machines, use `labtool stop`.""",
        examples=[
            "labtool down net101                 # asks, then destroys the room",
            "labtool down net101 --seat seat03   # asks, then destroys one seat's VM and container",
            "labtool down net101 --yes           # no question",
        ],
    )
    add_room_arguments(parser)
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with interrupts.stopping_on_signals(progress) as cancel:
        lab = lab_for(args, cancel=cancel)
        doomed = lab.teardown(args.seats)
        if not doomed.empty and not confirm(describe(lab.room.name, doomed), assume_yes=args.yes):
            say(f"room {lab.room.name!r}: nothing destroyed")
            return 1
        lab.check_free()
        lab.recover(progress)  # a killed labtool's `vagrant up` holds the machine: `vagrant destroy` would fail
        removed = lab.down(args.seats, progress)
    what = f"seats {', '.join(args.seats)}" if args.seats else "the room, its networks and state"
    say(f"room {lab.room.name!r}: removed {len(removed)} machines; destroyed {what}")
    return 0


def describe(room: str, doomed: Teardown) -> str:
    """The question: every machine, network and directory that will go, one kind per line."""
    lines = [f"labtool down will destroy, in room {room!r}:"]
    if doomed.machines:
        machines = ", ".join(f"{m.name} ({KIND_NAMES[m.kind]})" for m in doomed.machines)
        lines.append(f"  machines, with their disks and everything done on them: {machines}")
    if doomed.resources:
        lines.append(f"  networks: {', '.join(doomed.resources)}")
    if doomed.state_dir is not None:
        lines.append(f"  state (provisioning records, logs, generated inventory): {doomed.state_dir}")
    lines.append("Destroy them?")
    return "\n".join(lines)


def confirm(question: str, *, assume_yes: bool, stdin: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Ask `question` on a terminal and wait for yes; True without asking for --yes or when stdin is no terminal.

    Only "y" or "yes" (any case) agrees: an empty answer, anything else, or end of input (Ctrl-D) declines.
    """
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    if assume_yes or not _is_terminal(stdin):
        return True
    stderr.write(f"{question} [y/N] ")
    stderr.flush()
    answer = stdin.readline()
    if not answer:  # end of input: no answer is no
        stderr.write("\n")
        return False
    return answer.strip().lower() in ("y", "yes")


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # a closed stream
        return False

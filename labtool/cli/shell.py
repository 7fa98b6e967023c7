"""`labtool ssh MACHINE` and `labtool exec MACHINE -- CMD`: reach either kind of machine the same way.

Both log in as the lab user (`vagrant`, with sudo) whether the machine is a VM
(over SSH) or a container (through `docker exec`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from labtool.backends.base import Presence
from labtool.cli.context import add_verb, complete_machines, complete_rooms, completes, load_room
from labtool.errors import LabtoolError
from labtool.lab import open_lab
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    ssh = add_verb(
        subparsers,
        "ssh",
        summary="open a shell on a lab machine (VM or container)",
        description="""Open a login shell on one lab machine as the lab user (vagrant, with sudo), the same way for
        both kinds: over SSH for a VM, through `docker exec` for a container. The machine must be running.""",
        examples=["labtool ssh seat01-vm", "labtool ssh seat03-ct --room net101"],
    )
    completes(ssh.add_argument("machine", help="the machine's name, e.g. seat01-vm"), complete_machines)
    completes(
        ssh.add_argument("--room", help="the room the machine is in (default: default, or the only room)"),
        complete_rooms,
    )
    ssh.set_defaults(run=run, command=[])
    run_parser = add_verb(
        subparsers,
        "exec",
        summary="run a command on a lab machine: labtool exec MACHINE -- CMD",
        description="""Run one command on a lab machine as the lab user (vagrant), over SSH for a VM and through
        `docker exec` for a container, and exit with the command's own status. Put the command after --.""",
        examples=[
            "labtool exec seat01-ct -- systemctl is-system-running",
            "labtool exec seat03-vm --room net101 -- uptime",
        ],
    )
    completes(run_parser.add_argument("machine", help="the machine's name, e.g. seat01-ct"), complete_machines)
    completes(
        run_parser.add_argument("--room", help="the room the machine is in (default: default, or the only room)"),
        complete_rooms,
    )
    run_parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    run_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    command, args.room = split_command(args.command, args.room)
    if args.verb == "exec" and not command:
        raise LabtoolError("no command given", "put the command after --, e.g. `labtool exec seat01-ct -- uptime`")
    settings = Settings.from_env()
    room = load_room(args, settings)
    try:
        machine = room.machine(args.machine)
    except KeyError:
        names = ", ".join(m.name for m in room.machines)
        raise LabtoolError(
            f"room {room.name!r} has no machine {args.machine!r}", f"its machines are: {names}"
        ) from None
    backend = open_lab(settings, room).backends[machine.kind]
    presence = backend.observe(room)[machine.name].presence
    if presence is not Presence.RUNNING:
        raise LabtoolError(f"{machine.name} is {presence}", f"bring it up with `labtool up {room.name}`")
    argv = backend.shell_argv(room, machine, command)
    os.execvp(argv[0], argv)  # hand the terminal over: exit status and signals are the command's own


def split_command(words: list[str], room: str | None) -> tuple[list[str], str | None]:
    """Split `[--room R] -- CMD...` (what argparse leaves after MACHINE) into the command and the room.

    argparse hands everything after the machine to the command, options included,
    so `labtool exec seat01-vm --room demo -- uptime` is sorted out here.
    """
    if "--" not in words:
        return list(words), room
    head, command = words[: words.index("--")], words[words.index("--") + 1 :]
    while head:
        option = head.pop(0)
        if option == "--room" and head:
            room = head.pop(0)
        elif option.startswith("--room="):
            room = option.split("=", 1)[1]
        else:
            raise LabtoolError(
                f"unexpected argument {option!r} before --", "usage: labtool exec MACHINE [--room R] -- CMD"
            )
    return command, room

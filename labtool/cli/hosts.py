"""`labtool hosts list`: the room's lab hosts, each one's daemons and room to spare, surveyed now."""

from __future__ import annotations

import argparse
from typing import Any

from labtool import lab_hosts
from labtool.cli.context import add_room_arguments, add_verb, room_for
from labtool.cli.output import print_json, say, table
from labtool.errors import LabtoolError
from labtool.host import capacity
from labtool.settings import Settings

DESCRIPTION = """\
Survey the lab hosts a room lists under `hosts:` in its labtool.yml (this machine alone when it
lists none), all at once: whether each answers over SSH, whether its Docker engine (over `ssh://`)
and its libvirtd (over `qemu+ssh://`) answer, whether its VMs get KVM or run under TCG, its free
memory and the free disk where VMs and containers go. A host that does not answer is named with
the reason, and the others are surveyed all the same; the exit status is 1 when any host is not ready."""


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "hosts",
        summary="survey the room's lab hosts: daemons, KVM or TCG, free memory and disk",
        description=DESCRIPTION,
        examples=["labtool hosts list", "labtool hosts list net101 --json"],
    )
    actions = parser.add_subparsers(dest="hosts_verb", metavar="ACTION", required=True)
    listing = add_verb(
        actions,
        "list",
        summary="each lab host of the room and what it can do now",
        description="List the room's lab hosts with their daemons, acceleration, free memory and free disk.",
        examples=["labtool hosts list --json"],
    )
    add_room_arguments(listing, seats=False)
    listing.add_argument("--json", action="store_true", help="print as JSON")
    listing.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    room = room_for(args, settings)
    surveyed = lab_hosts.survey(room.hosts, settings.vm_accel)
    if args.json:
        print_json({"room": room.name, "hosts": [facts.as_json() for facts in surveyed]})
    else:
        rows = [
            (
                f.host.name,
                f.host.ssh or "(this machine)",
                f.docker or "-",
                f.libvirt or "-",
                f.accel or "-",
                "-" if f.memory_available is None else capacity.gib(f.memory_available),
                ", ".join(f"{kind} {capacity.gib(free)}" for kind, free in f.disks.items()) or "-",
            )
            for f in surveyed
        ]
        say(table(("HOST", "SSH", "DOCKER", "LIBVIRT", "VMS", "MEMORY FREE", "DISK FREE"), rows))
    failed = [f for f in surveyed if not f.ok]
    if failed:
        raise LabtoolError(
            "not ready: " + "; ".join(f"{f.host.name}: {f.error or _daemons(f)}" for f in failed),
            "bring the host up, check that `ssh HOST` logs in with a key, and start its dockerd and libvirtd",
        )
    return 0


def _daemons(facts: lab_hosts.HostFacts) -> str:
    return "; ".join(text for text in (facts.docker, facts.libvirt) if text != "ok")

"""`labtool doctor`: is this host ready for a lab room, and if not, what to do."""

from __future__ import annotations

import argparse
from typing import Any

from labtool import config, lab_hosts, placement, state
from labtool.backends.vagrant import accel
from labtool.cli.context import DEFAULT_ROOM, add_verb, host_rooms, lab_project, rooms_dir
from labtool.cli.output import print_json, say, table
from labtool.cli.up import default_parallel_here
from labtool.errors import LabtoolError
from labtool.host import capacity
from labtool.host.doctor import (
    OK,
    WARN,
    Check,
    SystemProbe,
    check_capacity,
    check_lab_host,
    failed_required,
    run_checks,
)
from labtool.model import Room
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "doctor",
        summary="check the host's prerequisites, with a fix for each problem",
        description="""Check that this host can run lab rooms: the daemons, Vagrant and its libvirt plugin,
        Ansible, the base images, virtualisation, free memory and disk, and which lab project and rooms labtool
        sees from here. One row per check with its status and how to fix it; exit 1 when a required one fails.""",
        examples=["labtool doctor", "labtool doctor --json"],
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    checks = [*run_checks(SystemProbe(settings), settings), project_check(args, settings)]
    room = measured_room(args, settings)
    if isinstance(room, Check):
        checks.append(room)
    else:
        costs = capacity.Costs.measured(kvm=accel.detect(settings.vm_accel).is_kvm)
        checks.append(check_capacity(room, capacity.read_free(), costs, default_parallel_here()))
        checks += lab_host_checks(room, settings)
    if args.json:
        print_json([c.to_json() for c in checks])
    else:
        say(table(("CHECK", "STATUS", "DETAIL", "FIX"), [(c.name, c.status, c.detail, c.hint) for c in checks]))
    return 1 if failed_required(checks) else 0


def lab_host_checks(room: Room, settings: Settings) -> list[Check]:
    """One row per other lab host of the room, surveyed over SSH at once, with the seats placed there."""
    others = [host for host in room.hosts if not host.is_local]
    placed = placement.recorded(state.room_dir(settings, room.name))
    return [
        check_lab_host(room, facts, sorted(s for s, h in placed.items() if h == facts.host.name), 1, settings.apt_cache)
        for facts in lab_hosts.survey(others, settings.vm_accel)
    ]


def project_check(args: argparse.Namespace, settings: Settings) -> Check:
    """Which lab project (and rooms) labtool uses from here: not needed for the host, so never required."""
    try:
        here = lab_project(args)
    except LabtoolError as exc:
        return Check("lab project", WARN, exc.message, exc.hint, required=False)
    directory = rooms_dir(settings, here)
    rooms = config.list_rooms(directory)
    detail = f"{here.root}; rooms in {directory}: {', '.join(rooms) or 'none'}"
    return Check("lab project", OK, detail, "" if rooms else "add one with `labtool room new NAME`", required=False)


def measured_room(args: argparse.Namespace, settings: Settings) -> Room | Check:
    """The room doctor measures seats by: the project's default room, else its first; a warning row without one."""
    try:
        here = lab_project(args)
        directory = rooms_dir(settings, here)
        rooms = config.list_rooms(directory)
        if not rooms:
            return Check("host capacity", WARN, f"no room in {directory} to measure seats by", required=False)
        name = DEFAULT_ROOM if DEFAULT_ROOM in rooms else rooms[0]
        return config.load(directory, name, here, host_rooms(settings), settings.inventory_cache_dir)
    except LabtoolError as exc:
        return Check("host capacity", WARN, f"no room to measure seats by: {exc.message}", exc.hint, required=False)

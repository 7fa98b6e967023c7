"""`labtool hosts list|prepare`: the room's lab hosts, each one's daemons and room to spare, surveyed now;
labtool's play run on the others to make them lab hosts."""

from __future__ import annotations

import argparse
from typing import Any

from labtool import lab_hosts, placement, prepare_hosts, state
from labtool.cli.context import add_room_arguments, add_verb, room_for
from labtool.cli.output import print_json, progress, say, table
from labtool.errors import LabtoolError
from labtool.host import capacity
from labtool.settings import Settings

DESCRIPTION = """\
Survey the lab hosts a room lists under `hosts:` in its labtool.yml (this machine alone when it
lists none), all at once: whether each answers over SSH, whether its Docker engine (over `ssh://`)
and its libvirtd (over `qemu+ssh://`) answer, whether its VMs get KVM or run under TCG, its free
memory, the free disk where VMs and containers go, whether socat is there to publish its
VMs' ports (access:), and whether its apt cache answers its machines. A host that does not answer is named with
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
    preparing = add_verb(
        actions,
        "prepare",
        summary="make the room's other lab hosts ready: Docker, libvirt, QEMU, their daemons",
        description=PREPARE_DESCRIPTION,
        examples=["labtool hosts prepare", "labtool hosts prepare net101 --json"],
    )
    add_room_arguments(preparing, seats=False)
    preparing.add_argument("--json", action="store_true", help="print each host's outcome as JSON")
    preparing.set_defaults(run=run_prepare)


PREPARE_DESCRIPTION = """\
Run labtool's own Ansible play over SSH on every lab host the room lists besides this machine,
all at once: it installs Docker Engine, libvirt and QEMU from the host's Debian mirror, and makes
dockerd, virtlogd, libvirtd and libvirt's storage pool run (enabled in systemd where it is PID 1),
keeping libvirtd from a /dev/kvm that cannot run guests. Idempotent: a prepared host reports
changed=0. The exit status is 1 when any host could not be prepared; the others are prepared all
the same. This machine is prepared by scripts/setup.sh and `labtool daemons`."""


def run_list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    room = room_for(args, settings)
    surveyed = lab_hosts.survey(room.hosts, settings.vm_accel)
    placed = placement.recorded(state.room_dir(settings, room.name))

    def seats(host: str) -> list[str]:
        return sorted(seat for seat, on in placed.items() if on == host)

    if args.json:
        hosts = [{**facts.as_json(), "seats": seats(facts.host.name)} for facts in surveyed]
        print_json({"room": room.name, "hosts": hosts})
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
                {True: "ok", False: "missing", None: "-"}[f.socat],
                {True: "ok", False: "not running", None: "-"}[f.apt_cache],
                ", ".join(seats(f.host.name)) or "-",
            )
            for f in surveyed
        ]
        say(
            table(
                ("HOST", "SSH", "DOCKER", "LIBVIRT", "VMS", "MEMORY FREE", "DISK FREE", "SOCAT", "APT CACHE", "SEATS"),
                rows,
            )
        )
    failed = [f for f in surveyed if not f.ok]
    if failed:
        raise LabtoolError(
            "not ready: " + "; ".join(f"{f.host.name}: {f.error or _daemons(f)}" for f in failed),
            "bring the host up, check that `ssh HOST` logs in with a key, and start its dockerd and libvirtd",
        )
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    room = room_for(args, settings)
    hosts = prepare_hosts.remote_hosts(room)
    progress(f"preparing {len(hosts)} lab host(s) of room {room.name!r}: {', '.join(h.name for h in hosts)}")
    outcomes = prepare_hosts.prepare(room, settings, lambda host, task: progress(f"{host}: {task}"))
    if args.json:
        print_json({"room": room.name, "hosts": [outcome.as_json() for outcome in outcomes]})
    else:
        rows = [(o.host.name, o.host.ssh or "", "ok" if o.ok else "FAILED", str(o.changed)) for o in outcomes]
        say(table(("HOST", "SSH", "RESULT", "CHANGED"), rows))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise LabtoolError(
            "not prepared: " + "; ".join(f"{o.host.name}: {o.error}" for o in failed),
            "check that `ssh HOST` logs in as root with a key and that the host reaches its Debian mirror; "
            "then run this again",
        )
    return 0


def _daemons(facts: lab_hosts.HostFacts) -> str:
    return "; ".join(text for text in (facts.docker, facts.libvirt) if text != "ok")

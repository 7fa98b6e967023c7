"""`labtool daemons`: start dockerd, virtlogd and libvirtd where they are not running."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.backends.vagrant import accel
from labtool.cli.context import add_verb
from labtool.cli.output import print_json, say, table
from labtool.host import daemons
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "daemons",
        summary="start the Docker engine and libvirt if they are not running",
        description="""Start dockerd, virtlogd and libvirtd (and libvirt's default storage pool) where they are not
        answering, and wait until each answers; on a host without usable KVM, libvirtd is started with /dev/kvm
        hidden so that defining a VM stays fast. Daemons that already answer are left alone.""",
        examples=["labtool daemons", "labtool daemons --json"],
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    statuses = daemons.ensure_all(settings, accel.detect(settings.vm_accel))
    if args.json:
        print_json([vars(s) for s in statuses])
    else:
        say(table(("DAEMON", "STATE", "DETAIL"), [(s.name, s.action, s.detail) for s in statuses]))
    return 0

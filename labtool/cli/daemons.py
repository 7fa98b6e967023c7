"""`labtool daemons`: start dockerd, virtlogd and libvirtd where they are not running."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli.output import print_json, say, table
from labtool.host import accel, daemons
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("daemons", help="start the Docker engine and libvirt if they are not running")
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

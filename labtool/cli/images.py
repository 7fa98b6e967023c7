"""`labtool images build|list`: the paired base images (Docker image + Vagrant box) from one rootfs."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli.context import add_verb
from labtool.cli.output import print_json, progress, say, table
from labtool.images import build, recipe
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "images",
        summary="build or list the base images",
        description="""Build or list the paired base images every room starts from: a Docker image and a Vagrant
        box made from one Debian rootfs, so a seat's VM and container begin with the same packages. A build is cached
        by a key over its recipe and does nothing when nothing changed.""",
        examples=["labtool images build", "labtool images list --json"],
    )
    verbs = parser.add_subparsers(dest="images_verb", metavar="ACTION", required=True)
    build_parser = add_verb(
        verbs,
        "build",
        summary="build the Docker image and the Vagrant box (cached)",
        description="""Debootstrap Debian once and make both the Docker image and the Vagrant box from that rootfs,
        refusing to register them if their packages differ. Nothing happens when the recipe's key is unchanged;
        --force rebuilds anyway (several minutes). A killed build leaves the previous images in place.""",
        examples=["labtool images build", "labtool images build --json"],
    )
    build_parser.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    build_parser.add_argument("--json", action="store_true", help="print the build report as JSON")
    build_parser.set_defaults(run=run_build)
    list_parser = add_verb(
        verbs,
        "list",
        summary="show the base images and whether they are current",
        description="""Show the Docker image and the Vagrant box: their recipe key, whether each is present, and
        whether they are current for the recipe of this labtool (else `labtool up` refuses and says to build).""",
        examples=["labtool images list", "labtool images list --json"],
    )
    list_parser.add_argument("--json", action="store_true", help="print as JSON")
    list_parser.set_defaults(run=run_list)


def run_build(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    report = build.build(settings, force=args.force, progress=progress)
    if args.json:
        print_json(report.to_json())
    elif report.cached:
        say(f"images are up to date (key {report.key}): {report.docker_image}, box {report.box}")
    else:
        steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report.seconds.items())
        say(f"built {report.docker_image} and box {report.box} ({steps})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    state = build.read_state(settings)
    key = recipe.cache_key()
    current = build.images_ready(settings, key)
    rows = [
        {"kind": "docker", "name": f"{recipe.DOCKER_REPOSITORY}:{key}", "key": state.get("key"), "current": current},
        {"kind": "vagrant-box", "name": recipe.BOX_NAME, "key": state.get("key"), "current": current},
    ]
    if args.json:
        print_json({"recipe_key": key, "built_at": state.get("built_at"), "images": rows})
    else:
        say(
            table(
                ("KIND", "NAME", "BUILT KEY", "CURRENT"),
                [(r["kind"], r["name"], r["key"] or "-", "yes" if r["current"] else "no") for r in rows],
            )
        )
    return 0

"""`labtool images build|bake|list|prune`: the paired images (Docker image + Vagrant box) machines are made from."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from labtool.cli.context import add_room_arguments, add_verb, room_for
from labtool.cli.output import print_json, progress, say, table
from labtool.images import bake, build, pair, prune, recipe
from labtool.model import THIS_HOST
from labtool.provision import provision_key
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "images",
        summary="build, bake, list or prune the image pairs",
        description="""Build, bake, list or prune the image pairs machines are made from: a Docker image and a
        Vagrant box made from one Debian tree, so a seat's VM and container begin with the same packages. The base
        pair comes from the recipe alone; a baked pair has a room's course applied already. Each is cached by its
        key and named after it, so pairs coexist.""",
        examples=["labtool images build", "labtool images bake net101", "labtool images list --json"],
    )
    verbs = parser.add_subparsers(dest="images_verb", metavar="ACTION", required=True)
    build_parser = add_verb(
        verbs,
        "build",
        summary="build the base Docker image and Vagrant box (cached)",
        description="""Debootstrap Debian once and make both the Docker image and the Vagrant box from that rootfs,
        refusing to register them if their packages differ. Nothing happens when the recipe's key is unchanged;
        --force rebuilds anyway (several minutes). A killed build leaves the previous images in place.""",
        examples=["labtool images build", "labtool images build --json"],
    )
    build_parser.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    build_parser.add_argument("--json", action="store_true", help="print the build report as JSON")
    build_parser.set_defaults(run=run_build)
    bake_parser = add_verb(
        verbs,
        "bake",
        summary="apply a room's playbook once and make an image pair of the result (cached by course)",
        description="""Converge a builder container from the base image with the room's playbook, remove its
        identity, and make both the Docker image and the Vagrant box of that one tree. `labtool up` then makes the
        room's new machines from it while it is current (same base images, same provisioning key).""",
        examples=["labtool images bake", "labtool images bake net101 --json"],
    )
    add_room_arguments(bake_parser, seats=False)
    bake_parser.add_argument("--force", action="store_true", help="bake again even if the pair is current")
    bake_parser.add_argument("--json", action="store_true", help="print the bake report as JSON")
    bake_parser.set_defaults(run=run_bake)
    list_parser = add_verb(
        verbs,
        "list",
        summary="show the base pair and every baked pair, and which are current",
        description="""Show the base pair and every baked pair on record: their names, keys, the room a bake was
        made for, and whether each is current for this labtool's recipe (and the room's course).""",
        examples=["labtool images list", "labtool images list --json"],
    )
    list_parser.add_argument("--json", action="store_true", help="print as JSON")
    list_parser.set_defaults(run=run_list)
    prune_parser = add_verb(
        verbs,
        "prune",
        summary="remove image pairs that are not current and that no machine uses",
        description="""Remove the image pairs other than the current base pair and the baked pairs made from it.
        An image a container uses, or a box whose volume some VM boots from, stays until it is free.""",
        examples=["labtool images prune", "labtool images prune --json"],
    )
    prune_parser.add_argument("--json", action="store_true", help="print what was removed as JSON")
    prune_parser.set_defaults(run=run_prune)


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


def run_bake(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    room = room_for(args, settings)
    report = bake.bake(settings, room, provision_key(room), force=args.force, progress=progress)
    if args.json:
        print_json(report.to_json())
    elif report.cached:
        say(
            f"room {room.name!r}: the baked pair is current (key {report.key}): {report.docker_image}, box {report.box}"
        )
    else:
        steps = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report.seconds.items())
        say(
            f"baked room {room.name!r} into {report.docker_image} and box {report.box} ({steps}; converge changed "
            f"{report.changed} tasks)"
        )
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    state = build.read_state(settings)
    key = recipe.cache_key()
    base = pair.base(key)
    rows: list[dict[str, Any]] = [
        {
            "pair": "base",
            "key": key,
            "docker_image": base.docker_ref,
            "box": base.box,
            "current": build.images_ready(settings, key),
            "made_at": state.get("built_at"),
            "room": None,
        },
    ]
    for record in bake.records(settings):
        images = bake.pair_of(record)
        rows.append(
            {
                "pair": "baked",
                "key": images.key,
                "docker_image": images.docker_ref,
                "box": images.box,
                "current": record.get("base_key") == key and build.pair_present(images),
                "made_at": record.get("baked_at"),
                "room": record.get("room"),
            }
        )
    if args.json:
        print_json({"recipe_key": key, "pairs": rows})
    else:
        say(
            table(
                ("PAIR", "ROOM", "DOCKER IMAGE", "BOX", "CURRENT", "MADE"),
                [
                    (
                        r["pair"],
                        r["room"] or "-",
                        r["docker_image"],
                        r["box"],
                        "yes" if r["current"] else "no",
                        r["made_at"] or "-",
                    )
                    for r in rows
                ],
            )
        )
    return 0


def run_prune(args: argparse.Namespace) -> int:
    report = prune.prune(Settings.from_env(), THIS_HOST)
    if args.json:
        print_json(asdict(report))
    else:
        say(
            f"removed {len(report.docker_images)} Docker images, {len(report.boxes)} boxes and "
            f"{len(report.volumes)} stale box volumes "
            "(an image a container uses, or a box volume a VM boots from, stays until it is free)"
        )
    return 0

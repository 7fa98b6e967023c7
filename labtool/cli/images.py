"""`labtool images build|list`: the paired base images (Docker image + Vagrant box) from one rootfs."""

from __future__ import annotations

import argparse
from typing import Any

from labtool.cli.output import print_json, progress, say, table
from labtool.images import build, recipe
from labtool.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("images", help="build or list the base images")
    verbs = parser.add_subparsers(dest="images_verb", metavar="ACTION", required=True)
    build_parser = verbs.add_parser("build", help="build the Docker image and the Vagrant box (cached)")
    build_parser.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    build_parser.add_argument("--json", action="store_true", help="print the build report as JSON")
    build_parser.set_defaults(run=run_build)
    list_parser = verbs.add_parser("list", help="show the base images and whether they are current")
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

"""Benchmark a room across lab hosts: the same room on this host alone and on this host plus a second one.

In one run: `scripts/second-host` makes (or finds) the second host; then a room of N seats
(default 4) comes up on this host alone (the baseline), goes down, and comes up again listing
both hosts (N/2 seats each; `hosts prepare` first, untimed, so the second host's apt cache runs); `verify`
runs on each. Printed side by side, with the ratio of the
two-host figures to the one-host ones. On one machine the second host shares this machine's
cores, so the ratio shows what the remote paths cost (SSH to the engines, the image and box
shipped once, ProxyJump, the second host's own apt cache: cold on its first run), not the speed-up
separate servers give.

Run on a host prepared by `scripts/up`:  .venv/bin/python benchmarks/hosts.py [--seats 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from labtool_cli import labtool, new_room

NETWORK_INDEX = 241  # a network index of its own: never an instructor's room
REPO = Path(__file__).resolve().parents[1]


def second_host() -> str:
    made = subprocess.run(["bash", str(REPO / "scripts" / "second-host")], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        raise SystemExit(f"scripts/second-host failed:\n{made.stderr[-2000:]}")
    return made.stdout.strip().splitlines()[-1]


def one_run(env: dict[str, str], rooms: Path, seats: int, hosts: str) -> dict[str, float]:
    name = "benchhosts"
    new_room(env, rooms, name, seats, NETWORK_INDEX)
    settings = rooms / name / "labtool.yml"
    settings.write_text(settings.read_text() + hosts)
    try:
        if hosts:  # its daemons and its own apt cache running, as an instructor's prepared host has them
            labtool(env, "hosts", "prepare", name)
        up_seconds, _ = labtool(env, "up", name, "--json")
        verify_seconds, _ = labtool(env, "verify", name, "--json")
    finally:
        down_seconds, _ = labtool(env, "down", name, "--yes")
        shutil.rmtree(rooms / name, ignore_errors=True)
    return {"up_s": up_seconds, "verify_s": verify_seconds, "down_s": down_seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=4)
    args = parser.parse_args()
    destination = second_host()
    rooms = Path(tempfile.mkdtemp(prefix="labtool-bench-hosts-"))
    env = {**os.environ, "LABTOOL_ROOMS_DIR": str(rooms)}
    try:
        one = one_run(env, rooms, args.seats, "")
        # Said at once: a failing two-host run must not lose the baseline, a quarter of an hour to measure.
        print("one host: " + ", ".join(f"{key} {value:.1f}" for key, value in one.items()), file=sys.stderr, flush=True)
        two = one_run(env, rooms, args.seats, f"\nhosts:\n  - name: here\n  - name: lab2\n    ssh: {destination}\n")
    finally:
        shutil.rmtree(rooms, ignore_errors=True)
    print(f"room of {args.seats} seats: one host (baseline) | two hosts on this machine | two / one")
    for key in one:
        print(f"{key:10} {one[key]:8.1f} {two[key]:8.1f} {two[key] / one[key]:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

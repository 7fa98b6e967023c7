"""Benchmark a room in class time: rooms of 1, 2 and 4 seats from a baked pair, against the old way.

In one run, on this machine, with the base images current:
- the bake of the room's course (reported on its own, not in the rooms' times);
- `up` of rooms of N seats (default 1, 2, 4) from the baked pair with mitogen: wall time,
  the marginal cost of a seat, the slowest VM and the slowest container;
- an idempotent re-`up` and `provision` of the 2-seat room, and its `verify`;
- mirror bytes fetched per seat, when the host's apt cache runs (from its log);
- the baseline: the same one-seat room from the base pair, mitogen off (LABTOOL_MITOGEN=off).

Run on a host prepared by `scripts/up`:  .venv/bin/python benchmarks/room.py [--seats 1 2 4] [--skip-baseline]
Every ratio is against the baseline measured in the same run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from labtool_cli import labtool, new_room

NETWORK_INDEX = 240  # a network index of its own: never an instructor's room


def slowest(report: dict[str, Any], suffix: str) -> float:
    return max(float(m["seconds"]) for m in report["machines"] if m["machine"].endswith(suffix))


def most_changed(report: dict[str, Any], suffix: str) -> int:
    return max(int(m["changed"] or 0) for m in report["machines"] if m["machine"].endswith(suffix))


def mirror_position() -> int | None:
    """Where the host's apt cache log ends now, or None where no cache runs here."""
    from labtool.host import apt_cache, apt_cache_log

    if not apt_cache.answers() or not apt_cache.TRANSFER_LOG.exists():
        return None
    return apt_cache_log.position(apt_cache.TRANSFER_LOG)


def mirror_traffic(since: int) -> tuple[int, int]:
    """Bytes fetched from the mirror since `since`: packages and lists, and the Release files re-checked."""
    from labtool.host import apt_cache, apt_cache_log

    traffic = apt_cache_log.summarize(apt_cache_log.read(apt_cache.TRANSFER_LOG, since))
    return traffic.new_bytes, traffic.release_bytes


def guest_boot_seconds(env: dict[str, str], room: str) -> float:
    """The VM's own boot, from its kernel's start to systemd's "startup finished" (what `systemd-analyze` adds
    up; here it prints only the userspace part, so the monotonic timestamps are read instead)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "labtool",
            "exec",
            "seat01-vm",
            "--room",
            room,
            "--",
            "systemctl",
            "show",
            "--property=FinishTimestampMonotonic",
            "--value",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return int(result.stdout.strip()) / 1e6


def room_up(
    env: dict[str, str], rooms: Path, seats: int, results: dict[str, float], *, bake: bool, up_options: list[str]
) -> None:
    """Bring up a room of `seats` seats (no timings of the bake in it), record, and remove it."""
    name = f"bench{seats}" if bake else "baseline1"  # another name: another provisioning key, so no bake
    new_room(env, rooms, name, seats, NETWORK_INDEX)
    try:
        if bake:
            results[f"bake_{seats}_seat_room_s"], _ = labtool(env, "images", "bake", name, "--json")
        before = mirror_position()
        seconds, report = labtool(env, "up", name, "--json", *up_options)
        prefix = f"up_{seats}_seats" if bake else "baseline_up_1_seat"
        results[f"{prefix}_s"] = seconds
        results[f"{prefix}_slowest_vm_s"] = slowest(report, "-vm")
        results[f"{prefix}_slowest_container_s"] = slowest(report, "-ct")
        results[f"{prefix}_vm_changed"] = most_changed(report, "-vm")
        results[f"{prefix}_container_changed"] = most_changed(report, "-ct")
        if before is not None:
            new, release = mirror_traffic(before)
            results[f"{prefix}_mirror_new_bytes_per_seat"] = new / seats
            # The whole room's: each suite's InRelease is re-checked once while it is fresh in the cache.
            results[f"{prefix}_mirror_release_bytes_room"] = release
        if seats == 1:
            results[f"{prefix}_vm_guest_boot_s"] = guest_boot_seconds(env, name)
        if bake and seats == 2:
            results["re_up_2_seats_s"], _ = labtool(env, "up", name)
            results["provision_2_seats_s"], _ = labtool(env, "provision", name, "--json")
            results["verify_2_seats_s"], _ = labtool(env, "verify", name, "--json")
    finally:
        labtool(env, "down", name)
        shutil.rmtree(rooms / name)  # its network index is free for the next room
        for key, value in results.items():  # as they come: a long run interrupted still reports
            print(f"  {key:44} {value:12.2f}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seats", type=int, nargs="+", default=[1, 2, 4], help="room sizes to bring up")
    parser.add_argument("--skip-baseline", action="store_true", help="leave out the unbaked, mitogen-off room")
    parser.add_argument("--parallel", type=int, help="passed to `labtool up` (default: labtool's own)")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="labtool-bench-rooms-") as directory:
        rooms = Path(directory)
        env = {**os.environ, "LABTOOL_ROOMS_DIR": str(rooms)}
        up_options = ["--parallel", str(args.parallel)] if args.parallel else []
        for seats in args.seats:
            room_up(env, rooms, seats, results, bake=True, up_options=up_options)
        if not args.skip_baseline:
            # The same room as labtool made it before baking and mitogen: base pair, stock strategy.
            room_up({**env, "LABTOOL_MITOGEN": "off"}, rooms, 1, results, bake=False, up_options=up_options)
    one = results.get("up_1_seats_s")
    if one:
        for seats in args.seats:
            if seats > 1 and f"up_{seats}_seats_s" in results:
                results[f"up_{seats}_seats_vs_1_seat"] = results[f"up_{seats}_seats_s"] / one
                results[f"up_{seats}_seats_marginal_seat_s"] = (results[f"up_{seats}_seats_s"] - one) / (seats - 1)
        if "baseline_up_1_seat_s" in results:
            results["up_1_seat_vs_baseline"] = one / results["baseline_up_1_seat_s"]
            results["vm_vs_baseline_vm"] = (
                results["up_1_seats_slowest_vm_s"] / results["baseline_up_1_seat_slowest_vm_s"]
            )
    for name, value in results.items():
        print(f"{name:44} {value:12.2f}")


if __name__ == "__main__":
    main()

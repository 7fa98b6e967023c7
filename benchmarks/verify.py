"""Benchmark `labtool verify` against plain `pytest --hosts` running the same testinfra files, in one run.

Run on a room that is up (default: the default room, `scripts/up` brings it up):
    .venv/bin/python benchmarks/verify.py [ROOM] [--rounds N]
The baseline is what one would type by hand: pytest over the same shared suite with
`--hosts=ansible://<each machine>`, against the same inventories, one process for the room.
labtool verify does more (it also fingerprints and diffs every pair), in parallel.
Targets: verifying a whole room takes less wall time than the baseline's plain tests, and one
seat's verify (tests and parity of both machines) takes at most 30 s (SEAT_TARGET_S).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SUITE = PROJECT_DIR / "molecule" / "shared" / "tests"
SEAT_TARGET_S = 30.0


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=PROJECT_DIR, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[:6])} ... exited {result.returncode}:\n{(result.stderr or result.stdout)[-2000:]}"
        )
    return seconds


def room_machines(room: str) -> tuple[list[str], list[str], Path]:
    out = subprocess.run(
        [sys.executable, "-m", "labtool", "status", room, "--json"], capture_output=True, text=True, check=True
    ).stdout
    seats = json.loads(out)["seats"]
    running = [s[k]["name"] for s in seats for k in ("vm", "container") if s[k]["state"] == "running"]
    if len(running) != 2 * len(seats):
        raise SystemExit(f"room {room!r} is not fully up: run `labtool up {room}` first")
    home = Path(os.environ.get("LABTOOL_HOME", Path.home() / ".local/share/labtool"))
    return [s["seat"] for s in seats], running, home / "rooms" / room / "inventory.yml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("room", nargs="?", default="default")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each measurement, report the median")
    args = parser.parse_args()
    seats, machines, generated = room_machines(args.room)
    rooms_dir = Path(os.environ.get("LABTOOL_ROOMS_DIR", PROJECT_DIR / "inventories"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
        "ANSIBLE_INVENTORY": f"{rooms_dir / args.room},{generated}",
    }
    hosts = ",".join(f"ansible://{m}" for m in machines)
    plain = [sys.executable, "-m", "pytest", str(SUITE), f"--hosts={hosts}", "-p", "no:cacheprovider", "-q"]
    plain += ["--rootdir", str(SUITE), "-c", "/dev/null"]
    labtool = [sys.executable, "-m", "labtool", "verify", args.room, "--json"]

    def median(argv: list[str]) -> float:
        return statistics.median(timed(argv, env) for _ in range(args.rounds))

    results = {"plain_pytest_room_s": median(plain)}
    results["verify_room_s"] = median(labtool)
    for seat in seats:
        results[f"verify_seat_{seat}_s"] = median([*labtool, "--seat", seat])
    results["verify_room_vs_plain_pytest"] = results["verify_room_s"] / results["plain_pytest_room_s"]
    slowest_seat = max(results[f"verify_seat_{seat}_s"] for seat in seats)
    results["slowest_seat_vs_target"] = slowest_seat / SEAT_TARGET_S
    print(
        json.dumps({"room": args.room, "machines": machines, **{k: round(v, 2) for k, v in results.items()}}, indent=2)
    )


if __name__ == "__main__":
    main()

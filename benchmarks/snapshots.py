"""Benchmark a seat's checkpoints: save and restore, per kind of machine, against a reset measured in the same run.

Run on a room that is up (default: the default room, `scripts/up` brings it up):
    .venv/bin/python benchmarks/snapshots.py [ROOM] [--seat S] [--rounds N]
Each round saves a checkpoint of the seat, writes a file on both machines, restores the
checkpoint and deletes it; the seconds are each machine's own (labtool times both halves,
which run at once). The baseline is what an instructor would do without checkpoints:
`labtool reset --seat S --container` (the container made again and converged), once.
Targets: restoring a container within 10 s, a VM within 60 s.
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
TARGET_S = {"container": 10.0, "vm": 60.0}
NAME = "bench-checkpoint"


def labtool(*args: str) -> str:
    argv = [str(PROJECT_DIR / ".venv" / "bin" / "labtool"), *args]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=PROJECT_DIR, env=os.environ, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited {result.returncode}:\n{(result.stderr or result.stdout)[-2000:]}")
    return result.stdout


def seconds_by_kind(output: str) -> dict[str, float]:
    [done] = json.loads(output)
    return {("vm" if machine.endswith("-vm") else "container"): s for machine, s in done["seconds"].items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("room", nargs="?", default="default")
    parser.add_argument("--seat", default="seat01")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    where = [args.room, "--seat", args.seat]
    saves: dict[str, list[float]] = {"vm": [], "container": []}
    restores: dict[str, list[float]] = {"vm": [], "container": []}
    for _ in range(args.rounds):
        for kind, s in seconds_by_kind(labtool("snapshot", "save", *where, NAME, "--json")).items():
            saves[kind].append(s)
        for suffix in ("vm", "ct"):
            labtool("exec", f"{args.seat}-{suffix}", "--room", args.room, "--", "touch", "/tmp/after-the-checkpoint")
        for kind, s in seconds_by_kind(labtool("snapshot", "restore", *where, NAME, "--json")).items():
            restores[kind].append(s)
        labtool("snapshot", "delete", *where, NAME)
    started = time.monotonic()
    labtool("reset", *where, "--container", "--json")
    reset_s = time.monotonic() - started
    figures: dict[str, float] = {"baseline_container_reset_s": round(reset_s, 1)}
    for kind in ("container", "vm"):
        figures[f"save_{kind}_s"] = round(statistics.median(saves[kind]), 1)
        figures[f"restore_{kind}_s"] = round(statistics.median(restores[kind]), 1)
        figures[f"restore_{kind}_vs_target"] = round(figures[f"restore_{kind}_s"] / TARGET_S[kind], 2)
    figures["restore_container_vs_reset"] = round(figures["restore_container_s"] / reset_s, 2)
    for key, value in figures.items():
        print(f"{key} {value}")
    return 0 if all(figures[f"restore_{k}_vs_target"] <= 1 for k in TARGET_S) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark `labtool up`: first up of a one-seat room (VM and container separately), idempotent re-up,
and as baseline the same roles through `molecule converge` on each scenario, all in this one run.

Run on a host prepared by `scripts/up`:  .venv/bin/python benchmarks/up.py [--skip-molecule]
Targets: the pair takes no longer than the slower of its two machines (they run in parallel),
and a re-up of a healthy room takes under 25% of the first up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labtool_cli import labtool, new_room

PROJECT_DIR = Path(__file__).resolve().parents[1]
ROOM, NETWORK_INDEX = "bench", 249


def molecule(scenario: str, *steps: str) -> float:
    started = time.monotonic()
    for step in steps:
        subprocess.run(
            [str(Path(sys.executable).with_name("molecule")), step, "-s", scenario],
            cwd=PROJECT_DIR,
            check=True,
            capture_output=True,
        )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-molecule", action="store_true", help="leave out the Molecule baseline")
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="labtool-bench-rooms-") as rooms:
        env = {**os.environ, "LABTOOL_ROOMS_DIR": rooms}
        new_room(env, Path(rooms), ROOM, 1, NETWORK_INDEX)
        try:
            first, report = labtool(env, "up", ROOM, "--json")
            machines = {m["machine"]: m["seconds"] for m in report["machines"]}
            results["up_pair_s"] = first
            results["up_vm_s"] = machines["seat01-vm"]
            results["up_container_s"] = machines["seat01-ct"]
            results["re_up_s"], _ = labtool(env, "up", ROOM)
        finally:
            labtool(env, "down", ROOM, "--yes")
    if not args.skip_molecule:
        for scenario in ("docker", "vagrant"):
            molecule(scenario, "destroy")
            results[f"molecule_{scenario}_create_converge_s"] = molecule(scenario, "create", "converge")
            molecule(scenario, "destroy")

    slower = max(results["up_vm_s"], results["up_container_s"])
    results["pair_vs_slower_machine"] = results["up_pair_s"] / slower
    results["re_up_vs_first_up"] = results["re_up_s"] / results["up_pair_s"]
    if not args.skip_molecule:
        results["up_vs_molecule_both"] = results["up_pair_s"] / (
            results["molecule_docker_create_converge_s"] + results["molecule_vagrant_create_converge_s"]
        )
    for name, value in results.items():
        print(f"{name:38} {value:10.4f}")


if __name__ == "__main__":
    main()

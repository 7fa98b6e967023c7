"""Wall time of each Molecule step, for both scenarios, in one run.

Run on a host prepared by `scripts/up`:  .venv/bin/python benchmarks/molecule.py [--scenario docker]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SEQUENCE = ("destroy", "syntax", "create", "converge", "idempotence", "verify", "destroy")


def step_seconds(scenario: str, step: str) -> float:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    result = subprocess.run(
        ["molecule", step, "-s", scenario], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"molecule {step} -s {scenario} failed:\n{result.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", action="append", help="docker and/or vagrant (default: both)")
    args = parser.parse_args()
    for scenario in args.scenario or ["docker", "vagrant"]:
        total = 0.0
        for index, step in enumerate(SEQUENCE):
            seconds = step_seconds(scenario, step)
            total += seconds
            label = "destroy (cleanup)" if index == len(SEQUENCE) - 1 else step
            print(f"{scenario:8} {label:18} {seconds:7.1f} s", flush=True)
        print(f"{scenario:8} {'total':18} {total:7.1f} s", flush=True)


if __name__ == "__main__":
    main()

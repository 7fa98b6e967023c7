"""Wall time of each Molecule step, for both scenarios, in one run, and mitogen against the stock strategy.

After the scenario's own sequence, `idempotence` runs once more with LABTOOL_MITOGEN=off
(Ansible's stock strategy, pipelining on) on the same converged machine: the baseline
for the ratio, measured in the same run since the machine is shared and noisy.

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
SEQUENCE = ("destroy", "syntax", "create", "converge", "idempotence", "verify")
BASELINE = "idempotence"


def step_seconds(scenario: str, step: str, extra_env: dict[str, str] | None = None) -> float:
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}", **(extra_env or {})}
    started = time.monotonic()
    result = subprocess.run(
        ["molecule", step, "-s", scenario], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"molecule {step} -s {scenario} failed:\n{result.stderr[-2000:]}")
    return time.monotonic() - started


def show(scenario: str, label: str, seconds: float) -> None:
    print(f"{scenario:8} {label:28} {seconds:7.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", help="docker and/or vagrant (default: both)")
    args = parser.parse_args()
    for scenario in args.scenario or ["docker", "vagrant"]:
        times = {}
        try:
            for step in SEQUENCE:
                times[step] = step_seconds(scenario, step)
                show(scenario, step, times[step])
            stock = step_seconds(scenario, BASELINE, {"LABTOOL_MITOGEN": "off"})
            show(scenario, f"{BASELINE} (stock strategy)", stock)
        finally:
            cleanup = step_seconds(scenario, "destroy")
            show(scenario, "destroy (cleanup)", cleanup)
        show(scenario, "total (mitogen sequence)", sum(times.values()) + cleanup)
        print(f"{scenario:8} {BASELINE + ' mitogen / stock':28} {times[BASELINE] / stock:7.2f}", flush=True)


if __name__ == "__main__":
    main()

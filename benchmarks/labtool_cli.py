"""What the room benchmarks share: labtool run as a user runs it, timed, and a room of their own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def labtool(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    """Run `labtool ARGS`; its wall time and its JSON output ({} when it printed none). A failure ends the run."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "labtool", *args], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.monotonic() - started
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {}
    report = report if isinstance(report, dict) else {}
    if result.returncode != 0:
        # The machines that failed, with their errors, first: a long run's stderr ends with other machines' progress.
        failed = [f"{m.get('machine')}: {m.get('error')}" for m in report.get("machines", []) if m.get("error")]
        raise SystemExit(f"labtool {' '.join(args)} failed:\n" + "\n".join([*failed, result.stderr[-3000:]]))
    return seconds, report


def new_room(env: dict[str, str], rooms: Path, name: str, seats: int, network_index: int) -> None:
    """`labtool room new`, on a network index of the benchmark's own (never an instructor's room)."""
    labtool(env, "room", "new", name, "--seats", str(seats))
    settings = rooms / name / "labtool.yml"
    settings.write_text(re.sub(r"index: \d+", f"index: {network_index}", settings.read_text()))

"""The room the integration tests share, and how they run labtool against it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def run_labtool(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """`labtool ARGS` as a user runs it, in this environment plus `env`; never raises on its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "labtool", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@dataclass
class LiveRoom:
    """A room (what `labtool room new` writes, i.e. the default room's course) brought up for real."""

    name: str
    env: dict[str, str]
    first_up: subprocess.CompletedProcess[str] = field(init=False)

    def labtool(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return run_labtool(*args, env=self.env, timeout=timeout)


def problems(report: dict[str, Any]) -> dict[str, Any]:
    """What made verify fail, for the assertion message: drift per seat and the failed tests per machine."""
    return {
        "drift": {s["seat"]: [s["error"], *s["drift"]] for s in report["seats"]},
        "failed": {
            m["machine"]: [m["error"], *(c for c in m["cases"] if c["outcome"] in ("failed", "error"))]
            for m in report["machines"]
        },
    }

"""The room the integration tests share, and how they run labtool against it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_labtool(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """`labtool ARGS` as a user runs it, in this environment plus `env`; never raises on its exit code."""
    return _run([sys.executable, "-m", "labtool", *args], {**os.environ, **(env or {})}, cwd, timeout)


def labtool_in_project(
    project: Path, *args: str, program: tuple[str, ...] = (sys.executable, "-m", "labtool"), timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    """labtool as an instructor runs it in their own project: found from the working directory, as git finds
    .git, not from this session's LABTOOL_ROOMS_DIR or LABTOOL_PROJECT."""
    env = {k: v for k, v in os.environ.items() if k not in ("LABTOOL_ROOMS_DIR", "LABTOOL_PROJECT")}
    return _run([*program, *args], env, project, timeout)


def copy_example(example: str, project: Path, room: str, network_index: int) -> None:
    """An example lab project copied to `project` (outside the checkout), its default room renamed `room` on
    subnets of its own. One path for every session: a room's state names its directory, and the `down` of
    leftovers from an interrupted run must come from the same room to be allowed."""
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(REPO / "examples" / example, project)
    rename_only_room(project, room, network_index)


def rename_only_room(project: Path, room: str, network_index: int) -> Path:
    """The one room of a new project (`init` names it `default`, or after the project where another course's
    `default` is up on this host) renamed `room`, on network index `network_index`; its directory."""
    (only,) = (path for path in (project / "inventories").iterdir() if (path / "labtool.yml").is_file())
    room_dir = only.rename(project / "inventories" / room)
    settings = room_dir / "labtool.yml"
    settings.write_text(re.sub(r"index: \d+", f"index: {network_index}", settings.read_text()))
    return room_dir


@contextmanager
def brought_down_around(labtool: Callable[..., subprocess.CompletedProcess[str]], room: str) -> Iterator[None]:
    """Down what an interrupted run left of the room first, and the room itself at the end, however it ends."""
    labtool("down", room, "--yes")
    try:
        yield
    finally:
        result = labtool("down", room, "--yes")
        assert result.returncode == 0, result.stderr


def _run(argv: list[str], env: dict[str, str], cwd: Path | None, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=cwd)


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

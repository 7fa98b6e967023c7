"""What the buttons do: labtool's own verbs, run as a `labtool` process each, one log per job.

A job is exactly the command an instructor would type, so it takes the room's lock as the CLI
does: a `labtool up` in a terminal and a reset from the page never work on a room at once (the
second is refused with the first one named, and the page shows that). Its progress lines go to
a log only the instructor's pages show; its --json result is kept for the page that started it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labtool.state import PRIVATE

LOG_TAIL_BYTES = 16 * 1024
KEPT_JOBS = 200


@dataclass(frozen=True)
class Action:
    """One thing the page can ask for, and the verb behind it."""

    name: str
    title: str
    verb: tuple[str, ...]
    needs_seat: bool
    needs_name: bool = False
    json: bool = True


ACTIONS = {
    a.name: a
    for a in (
        Action("verify", "verify", ("verify",), needs_seat=False),
        Action("check", "check", ("check",), needs_seat=False),
        Action("reset", "reset the seat", ("reset",), needs_seat=True),
        Action("rotate", "issue a new password", ("handout",), needs_seat=True),
        Action("save", "save a checkpoint", ("snapshot", "save"), needs_seat=True, needs_name=True),
        Action("restore", "restore a checkpoint", ("snapshot", "restore"), needs_seat=True, needs_name=True),
    )
}


@dataclass
class Job:
    id: str
    who: str
    room: str
    seat: str
    action: str
    argv: tuple[str, ...]
    log: Path
    started: float = field(default_factory=time.time)
    ended: float | None = None
    returncode: int | None = None
    result: dict[str, Any] | None = None
    """The verb's --json output, when it printed one."""

    @property
    def state(self) -> str:
        if self.returncode is None:
            return "running"
        return "done" if self.returncode == 0 else "failed"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "who": self.who,
            "room": self.room,
            "seat": self.seat,
            "action": self.action,
            "command": " ".join(("labtool", *self.argv)),
            "state": self.state,
            "returncode": self.returncode,
            "started": self.started,
            "seconds": round((self.ended or time.time()) - self.started, 1),
        }

    def log_tail(self) -> str:
        try:
            with self.log.open("rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - LOG_TAIL_BYTES))
                return handle.read().decode(errors="replace")
        except OSError:
            return ""


class Jobs:
    """The jobs of this server, newest last; `program` is how labtool is run (this Python's labtool)."""

    def __init__(
        self, directory: Path, project: Path | None, program: Sequence[str] = (sys.executable, "-m", "labtool")
    ) -> None:
        self.directory = directory
        self.project = project
        self.program = tuple(program)
        self.jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def argv(self, action: Action, room: str, seat: str, name: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
        argv = [*action.verb, room]
        if seat:
            argv += ["--seat", seat]
        if action.name == "rotate":
            argv += ["--rotate", seat]
        argv += list(extra)
        if action.needs_name:
            argv.append(name)
        if action.json:
            argv.append("--json")
        return tuple(argv)

    def start(
        self, action: Action, *, who: str, room: str, seat: str = "", name: str = "", extra: Sequence[str] = ()
    ) -> Job:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        job_id = secrets.token_hex(6)
        job = Job(
            job_id,
            who,
            room,
            seat,
            action.name,
            self.argv(action, room, seat, name, extra),
            self.directory / f"{job_id}.log",
        )
        self.jobs[job_id] = job
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._forget_old()
        return job

    async def _run(self, job: Job) -> None:
        project = ("--project", str(self.project)) if self.project else ()
        job.log.touch(mode=PRIVATE)
        with job.log.open("ab") as log:
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.program,
                    *project,
                    *job.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                )
                out, _ = await process.communicate()
                job.returncode = process.returncode
            except OSError as exc:
                log.write(f"error: cannot run labtool: {exc}\n".encode())
                out, job.returncode = b"", 127
        job.ended = time.time()
        job.result = _json_or_none(out)

    async def wait(self, job: Job) -> None:
        """Until the job has ended (tests and shutdown)."""
        while job.returncode is None:
            await asyncio.sleep(0.1)

    async def drain(self) -> None:
        """Until every job started has ended: a server stopping lets its verbs finish (they hold room locks)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def for_room(self, room: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.room == room]

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.returncode is None]

    def _forget_old(self) -> None:
        ended = [j for j in self.jobs.values() if j.returncode is not None]
        for job in ended[: max(0, len(self.jobs) - KEPT_JOBS)]:
            del self.jobs[job.id]


def _json_or_none(out: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(out.decode(errors="replace"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None

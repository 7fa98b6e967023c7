"""The processes labtool starts (vagrant, ansible-playbook, ssh ...): stopped on an interrupt, found after a crash.

Every child carries LABTOOL_OWNER=<pid>:<start ticks> of the labtool process that
started it: the CLI puts it in its own environment, and python-vagrant,
ansible-runner and `proc.run` all pass that on, to grandchildren too. A marked
process whose owner is gone is a leftover: after a `kill -9` of labtool its
`vagrant up` keeps running and holds Vagrant's lock on the machine, and its
ansible-playbook keeps changing the machine. Daemons labtool starts on purpose
(dockerd, libvirtd) are started without the mark, so they are never taken for one.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from labtool.host.processes import PROC, alive, ancestors, command, descendants, environ, pids, start_ticks

OWNER_VARIABLE = "LABTOOL_OWNER"
GRACE_SECONDS = 3.0
"""How long a child gets to end after SIGTERM before SIGKILL (vagrant cleans up on SIGTERM)."""


@dataclass(frozen=True)
class Owner:
    """One labtool process, for good: its pid and when it started (pids are reused)."""

    pid: int
    ticks: int | None

    @classmethod
    def of(cls, pid: int, proc: Path = PROC) -> Owner:
        return cls(pid, start_ticks(pid, proc))

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        pid, _, ticks = (text or "").partition(":")
        if not pid.isdigit():
            return None
        return cls(int(pid), int(ticks) if ticks.isdigit() else None)

    @property
    def marker(self) -> str:
        return f"{self.pid}:{self.ticks if self.ticks is not None else ''}"

    def alive(self, proc: Path = PROC) -> bool:
        return alive(self.pid, self.ticks, proc)


@contextmanager
def marking_children(pid: int | None = None) -> Iterator[Owner]:
    """Mark every child started meanwhile as this process's (restored afterwards: tests call the CLI in-process)."""
    owner = Owner.of(pid or os.getpid())
    before = os.environ.get(OWNER_VARIABLE)
    os.environ[OWNER_VARIABLE] = owner.marker
    try:
        yield owner
    finally:
        if before is None:
            os.environ.pop(OWNER_VARIABLE, None)
        else:
            os.environ[OWNER_VARIABLE] = before


def unmarked(env: Mapping[str, str]) -> dict[str, str]:
    """env without the mark: for daemons, which are meant to outlive the labtool that started them."""
    return {k: v for k, v in env.items() if k != OWNER_VARIABLE}


@dataclass(frozen=True)
class Leftover:
    pid: int
    command: str
    owner: Owner | None

    def describe(self) -> str:
        owner = f" of the gone labtool pid {self.owner.pid}" if self.owner else ""
        return f"pid {self.pid} ({self.command}){owner}"


def leftovers(room_dir: Path, stale: Owner | None = None, proc: Path = PROC) -> list[Leftover]:
    """The processes of labtools that are gone and that work on the room whose state lives in room_dir.

    That is every marked process whose owner is gone and is `stale` (the room lock's
    last holder) or whose Vagrant dotfile directory is the room's; and, after a stale
    lock only, unmarked `vagrant` processes of the room (an older labtool's, which
    did not mark its children). A live labtool's children and a vagrant command of
    someone else's are never among them.
    """
    mine = {os.getpid(), *ancestors(os.getpid(), proc)}
    found = []
    for pid in pids(proc):
        if pid in mine:
            continue
        env = environ(pid, proc)
        names_room = Path(env.get("VAGRANT_DOTFILE_PATH") or "/").is_relative_to(room_dir)
        owner = Owner.parse(env.get(OWNER_VARIABLE))
        if owner is not None:
            if owner.alive(proc) or not (owner == stale or names_room):
                continue
        elif not (stale is not None and names_room and _is_vagrant(command(pid, proc))):
            continue
        if alive(pid, proc=proc):
            found.append(Leftover(pid, " ".join(command(pid, proc))[:120], owner))
    return found


def marked(owner: Owner, proc: Path = PROC) -> list[int]:
    """The processes carrying owner's mark (its children, and theirs, wherever they are now)."""
    return [pid for pid in pids(proc) if environ(pid, proc).get(OWNER_VARIABLE) == owner.marker]


def stop(pids_to_stop: list[int], grace: float = GRACE_SECONDS, proc: Path = PROC) -> list[int]:
    """SIGTERM, then SIGKILL what is left after `grace` seconds; returns the pids still alive at the end."""
    started = {pid: start_ticks(pid, proc) for pid in pids_to_stop}
    _signal(started, signal.SIGTERM, proc)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(started, proc):
        time.sleep(0.1)
    _signal(_alive(started, proc), signal.SIGKILL, proc)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(started, proc):
        time.sleep(0.1)
    return sorted(_alive(started, proc))


class Reaper:
    """Stops every process below labtool: SIGTERM at once, SIGKILL to what is still there `grace` s later.

    It sweeps again and again until stopped, since a worker thread may start one more
    command between two sweeps.
    """

    def __init__(self, pid: int | None = None, grace: float = GRACE_SECONDS, proc: Path = PROC) -> None:
        self.pid = pid or os.getpid()
        self.owner = Owner.of(self.pid, proc)
        self.grace = grace
        self.proc = proc
        self._termed: dict[tuple[int, int | None], float] = {}
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)
            self._thread.start()

    def hurry(self) -> None:
        """A second interrupt: no more grace."""
        self.grace = 0.0

    def sweep(self) -> list[int]:
        """One pass: signal every descendant still alive, and every process marked as labtool's; returns them.

        The mark finds what left the tree: Ansible's workers are in sessions of their own, and
        are orphaned the moment their ansible-playbook ends.
        """
        now = time.monotonic()
        seen = []
        with self._lock:
            for pid in sorted({*descendants(self.pid, self.proc), *marked(self.owner, self.proc)} - {self.pid}):
                ticks = start_ticks(pid, self.proc)
                if not alive(pid, ticks, self.proc):
                    continue
                seen.append(pid)
                termed = self._termed.get((pid, ticks))
                if termed is None:
                    self._termed[(pid, ticks)] = now
                    _kill(pid, signal.SIGTERM)
                elif now - termed >= self.grace:
                    _kill(pid, signal.SIGKILL)
        return seen

    def finish(self, timeout: float = 2 * GRACE_SECONDS) -> list[int]:
        """Stop sweeping in the background; sweep until no descendant is left or `timeout`; returns what is left."""
        self._done.set()
        deadline = time.monotonic() + timeout
        left = self.sweep()
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = self.sweep()
        return left

    def _loop(self) -> None:
        while not self._done.wait(0.2):
            self.sweep()


def _is_vagrant(argv: list[str]) -> bool:
    return any(Path(word).name == "vagrant" for word in argv[:3])


def _alive(started: dict[int, int | None], proc: Path) -> dict[int, int | None]:
    return {pid: ticks for pid, ticks in started.items() if alive(pid, ticks, proc)}


def _signal(started: Mapping[int, int | None], signum: signal.Signals, proc: Path) -> None:
    for pid, ticks in started.items():
        if alive(pid, ticks, proc):
            _kill(pid, signum)


def _kill(pid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):  # gone meanwhile, or not ours to stop
        os.kill(pid, signum)

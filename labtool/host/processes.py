"""What the host's /proc says about processes: the one that is a lab machine (a container's PID 1, a VM's
QEMU), and the trees of commands labtool started, so that one that ran out of time is stopped whole."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


def name(pid: int, proc: Path = PROC) -> str:
    return _read(proc / str(pid) / "comm") or "?"


def parent(pid: int, proc: Path = PROC) -> int:
    for line in _read(proc / str(pid) / "status").splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return 0


def ancestry(pid: int, proc: Path = PROC) -> list[str]:
    """The names of pid's ancestors, nearest first, up to (and including) the host's PID 1."""
    return [name(ancestor, proc) for ancestor in ancestors(pid, proc)]


def ancestors(pid: int, proc: Path = PROC) -> list[int]:
    found: list[int] = []
    current = parent(pid, proc)
    while current > 0 and len(found) < 32:
        found.append(current)
        current = parent(current, proc)
    return found


def descendants(pid: int, proc: Path = PROC) -> list[int]:
    """Every living process below pid (children, their children ...), read from each process's parent."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            children.setdefault(parent(int(entry.name), proc), []).append(int(entry.name))
    found: list[int] = []
    pending = list(children.get(pid, []))
    while pending and len(found) < 10_000:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def command_lines(proc: Path = PROC) -> dict[int, list[str]]:
    """Every process's argv."""
    found = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
            except OSError:
                continue  # gone meanwhile
    return found


def kill_trees(pids: Iterable[int], proc: Path = PROC) -> None:
    """SIGKILL each process and everything below it; the tree is read first, so no child is orphaned first."""
    doomed = [tree_pid for pid in pids for tree_pid in (*descendants(pid, proc), pid)]
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def resident_bytes(pid: int, proc: Path = PROC) -> int:
    for line in _read(proc / str(pid) / "status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def shared_namespaces(pid: int, proc: Path = PROC) -> list[str]:
    """The namespaces pid shares with labtool itself, i.e. with the host as labtool sees it.

    Not with PID 1: on a host that is itself a sandbox, PID 1 may sit in namespaces of its own.
    """
    shared = []
    for namespace in NAMESPACES:
        try:
            if (proc / str(pid) / "ns" / namespace).readlink() == (proc / "self" / "ns" / namespace).readlink():
                shared.append(namespace)
        except OSError:
            continue  # a kernel without this namespace type
    return shared


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


# -- the processes labtool starts ---------------------------------------------------------------


def start_ticks(pid: int, proc: Path = PROC) -> int | None:
    """When the process started, in clock ticks after boot: with the pid, it names one process for good.

    Pids are reused; a pid whose start time differs is another process.
    """
    stat = _read(proc / str(pid) / "stat")
    # The name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[19])  # field 22 of stat(5), counted after the name
    except (IndexError, ValueError):
        return None


def alive(pid: int, ticks: int | None = None, proc: Path = PROC) -> bool:
    """Is the process running (and, given its start time, the same process)?"""
    started = start_ticks(pid, proc)
    if started is None:
        return False
    if _read(proc / str(pid) / "stat").rpartition(")")[2].split()[:1] == ["Z"]:
        return False  # a zombie has finished; only its parent has not collected it yet
    return ticks is None or started == ticks


def environ(pid: int, proc: Path = PROC) -> dict[str, str]:
    """The environment the process started with (empty when it is gone or not ours to read)."""
    try:
        raw = (proc / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {key: value for key, _, value in pairs}


def command(pid: int, proc: Path = PROC) -> list[str]:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [word.decode(errors="replace") for word in raw.split(b"\0") if word]


def pids(proc: Path = PROC) -> list[int]:
    return sorted(int(entry.name) for entry in proc.iterdir() if entry.name.isdigit())

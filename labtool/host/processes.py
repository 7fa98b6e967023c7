"""What the host's /proc says about the process that is a lab machine (a container's PID 1, a VM's QEMU)."""

from __future__ import annotations

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
    names: list[str] = []
    current = parent(pid, proc)
    while current > 0 and len(names) < 32:
        names.append(name(current, proc))
        current = parent(current, proc)
    return names


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

"""A VM's published ports (labtool.yml `access:`): one `ssh -L` each, with the VM's host key checked.

vagrant-libvirt's own forwarded ports run an `ssh` told to accept any host key and to
remember none: the tunnel that carries students' traffic would accept any machine at the
VM's address. So labtool starts the tunnels itself, with the options of every
other connection it makes to the VM (its own key, the room's known_hosts, the machine's
alias), detached so they outlive the command that made them, and stops them when the VM
stops or goes. Each tunnel's pid and start time are kept in a file beside the room's Vagrant
state, so a pid the kernel has since given to another process is never signalled.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labtool import proc
from labtool.errors import LabtoolError
from labtool.host import addresses, children, processes
from labtool.state import atomic_write

WAIT_SECONDS = 15.0
"""How long a new tunnel may take to listen (an SSH handshake with an emulated VM takes about a second)."""
OPTIONS = (
    "-N",  # forward only, run nothing
    "-o",
    "ExitOnForwardFailure=yes",  # a port already in use ends it at once, rather than a tunnel that forwards nothing
    "-o",
    "ServerAliveInterval=30",  # a VM that went away (rebooted by its student) ends it, rather than a dead tunnel
    "-o",
    "ServerAliveCountMax=3",
)


class ForwardError(LabtoolError):
    """A published port did not start listening."""


@dataclass(frozen=True)
class ForwardedPort:
    """A guest port published on the host."""

    id: str
    guest: int
    host: int
    host_ip: str


def directory(state_dir: Path) -> Path:
    return state_dir / "forwards"


def publish(state_dir: Path, machine: str, ssh: Sequence[str], guest_ip: str, ports: Sequence[ForwardedPort]) -> None:
    """Make sure each port has its tunnel, listening; `ssh` is labtool's strict SSH to the VM, without a command."""
    for port in ports:
        record = _record(state_dir, machine, port)
        if _running(record) is not None and addresses.listens(port.host_ip, port.host, timeout=1.0):
            continue
        _stop(record)
        argv = [*ssh[:-1], *OPTIONS, "-L", f"{port.host_ip}:{port.host}:{guest_ip}:{port.guest}", ssh[-1]]
        log = record.with_suffix(".log")
        pid = proc.spawn(argv, log=log)
        atomic_write(record, f"{pid} {processes.start_ticks(pid)}\n")
        _wait_listening(port, machine, log)


def withdraw(state_dir: Path, machine: str | None = None) -> None:
    """Stop the machine's tunnels (every machine's, with None)."""
    for record in sorted(directory(state_dir).glob(f"{machine or '*'}_*.pid")):
        _stop(record)


def _record(state_dir: Path, machine: str, port: ForwardedPort) -> Path:
    # `_` is in no machine name: one machine's records never match another's glob.
    return directory(state_dir) / f"{machine}_{port.host}.pid"


def _running(record: Path) -> int | None:
    """The tunnel's pid, when the process recorded is still that one."""
    try:
        pid, ticks = (int(word) for word in record.read_text().split())
    except (OSError, ValueError):
        return None
    return pid if processes.alive(pid, ticks) else None


def _stop(record: Path) -> None:
    pid = _running(record)
    if pid is not None:
        children.stop([pid])
    record.unlink(missing_ok=True)


def _wait_listening(port: ForwardedPort, machine: str, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not addresses.listens(port.host_ip, port.host, timeout=1.0):
        if time.monotonic() > deadline:
            why = proc.tail(log.read_text(errors="replace"), 3).strip() if log.exists() else ""
            raise ForwardError(
                f"{machine}'s port {port.guest} is not published on {port.host_ip}:{port.host}"
                f"{': ' + why if why else ''}",
                f"another program may hold the port (see {log}); free it or change access.port_base, "
                "then run `labtool up` again",
            )
        time.sleep(0.5)

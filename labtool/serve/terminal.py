"""A student's terminal in the browser: a real TTY over SSH, as the student, to one machine of their seat.

The browser's xterm.js talks to the server over a websocket; the server logs in to the
machine with asyncssh as the student, with their handout password, and asks for a PTY of
the browser's size. Messages from the browser are text: `i` + keystrokes, or `r` + JSON
`{"cols": C, "rows": R}` on a resize; the machine's output goes back as binary frames.

The machine's host keys are read through labtool's own trusted way in (the VM's strict SSH
with its recorded key, `docker exec` for a container) and are the only keys the SSH login
accepts, so nothing on the room's network can stand in for the seat.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

with warnings.catch_warnings():  # asyncssh still names DSA, which cryptography deprecates: not ours to print
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh

from labtool import proc
from labtool.lab import Lab
from labtool.model import Machine

HOST_KEYS_COMMAND = ("sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub")
CONNECT_TIMEOUT_SECONDS = 20
READ_BYTES = 16 * 1024
TERM = "xterm-256color"
DEFAULT_SIZE = (80, 24)
MAX_SIZE = 1000


class TerminalError(Exception):
    """The terminal cannot be opened; the message is shown in the browser's terminal."""


@dataclass(frozen=True)
class Target:
    machine: Machine
    address: str
    login: str
    password: str
    port: int = 22
    via: str | None = None
    """The lab host (user@address) the machine runs on when it is another one: its machines' networks are
    reached through it, as `ssh -J` would, with this user's key and known_hosts for the host itself."""


def host_keys(lab: Lab, machine: Machine) -> list[asyncssh.SSHKey]:
    """The machine's SSH host keys, read through labtool's trusted channel to it."""
    argv = lab.backends[machine.kind].shell_argv(lab.room, machine, list(HOST_KEYS_COMMAND))
    result = proc.run(argv, timeout=30, check=False)
    keys = []
    for line in result.stdout.splitlines():
        try:
            keys.append(asyncssh.import_public_key(line.strip()))
        except (asyncssh.KeyImportError, ValueError):
            continue
    if not keys:
        raise TerminalError(f"cannot read the host keys of {machine.name}: {proc.tail(result.stderr, 3) or 'none'}")
    return keys


async def connect(target: Target, keys: list[asyncssh.SSHKey]) -> asyncssh.SSHClientConnection:
    try:
        tunnel = None
        if target.via is not None:
            user, _, host = target.via.rpartition("@")
            tunnel = await asyncio.wait_for(asyncssh.connect(host, username=user or None), CONNECT_TIMEOUT_SECONDS)
        return await asyncio.wait_for(
            asyncssh.connect(
                target.address,
                target.port,
                tunnel=tunnel,
                username=target.login,
                password=target.password,
                known_hosts=(keys, [], []),
                client_keys=None,
                agent_path=None,
                preferred_auth=("password", "keyboard-interactive"),
                config=None,
            ),
            CONNECT_TIMEOUT_SECONDS,
        )
    except asyncssh.PermissionDenied as exc:
        raise TerminalError(f"{target.machine.name} refused the login {target.login}: {exc.reason}") from exc
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise TerminalError(f"cannot reach {target.machine.name} over SSH: {exc}") from exc


def parse_size(text: str) -> tuple[int, int]:
    """`{"cols": C, "rows": R}` as the browser sends it, bounded; the default size when it is not that."""
    try:
        raw = json.loads(text)
        cols, rows = int(raw["cols"]), int(raw["rows"])
    except (ValueError, KeyError, TypeError):
        return DEFAULT_SIZE
    return max(1, min(cols, MAX_SIZE)), max(1, min(rows, MAX_SIZE))


async def bridge(
    connection: asyncssh.SSHClientConnection,
    size: tuple[int, int],
    receive: Callable[[], Awaitable[str | None]],
    send: Callable[[bytes], Awaitable[None]],
) -> None:
    """Shuttle keystrokes in and output out until either side ends; `receive` gives None when the browser left."""
    process = await connection.create_process(term_type=TERM, term_size=size, encoding=None)

    async def output() -> None:
        while True:
            data = await process.stdout.read(READ_BYTES)
            if not data:
                return
            await send(data)

    async def keys() -> None:
        while True:
            message = await receive()
            if message is None:
                return
            if message.startswith("i"):
                process.stdin.write(message[1:].encode())
            elif message.startswith("r"):
                process.change_terminal_size(*parse_size(message[1:]))

    tasks = [asyncio.ensure_future(output()), asyncio.ensure_future(keys())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        process.close()
        connection.close()

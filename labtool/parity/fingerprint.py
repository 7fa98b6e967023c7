"""Collect a machine's fingerprint by running files/collect.py on it, as root, through its backend."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labtool import proc
from labtool.backends.base import Backend
from labtool.errors import LabtoolError
from labtool.model import Machine, Room
from labtool.parity import sockets

COLLECTOR = Path(__file__).parent / "files" / "collect.py"


@dataclass(frozen=True)
class Fingerprint:
    machine: str
    items: dict[str, str]
    """Compared between the two machines of a seat: `category:key` -> value."""
    facts: dict[str, Any]
    """Measured inside the machine for `labtool compare`; never diffed."""
    sockets: tuple[sockets.Socket, ...] = ()
    """What it listens on, normalised (its `port:` items), with each socket's owner where seen."""
    expected: dict[str, str] = field(default_factory=dict)
    """Items the machine itself says are expected to differ, with why (the container's relaxed sandboxing)."""
    processes: dict[int, list[str]] = field(default_factory=dict)
    """uid -> the programs running as that user: a socket's owner where the machine hides the program."""


def collect(
    backend: Backend,
    room: Room,
    machine: Machine,
    files: list[str],
    *,
    system_only: bool = False,
    fingerprint_url: str | None = None,
    page_url: str | None = None,
    page_ignore_id: str | None = None,
) -> Fingerprint:
    """The machine's fingerprint; with system_only, just its system items and facts (what compare needs).

    The app's JSON fingerprint (`fingerprint_url`) and the shape of its page (`page_url`, with
    the contents of the element whose id is `page_ignore_id` left out) are collected only when
    the course names them: URLs as seen from the machine itself.
    """
    request = {
        "files": files,
        "system_only": system_only,
        "fingerprint_url": fingerprint_url,
        "page_url": page_url,
        "page_ignore_id": page_ignore_id,
    }
    data = run_collector(backend, room, machine, request)
    try:
        items, facts = dict(data["items"]), dict(data["facts"])
        network = data.get("network")
        found = _sockets(network) if isinstance(network, dict) else []
        items.update(sockets.items(found))
        processes = _processes(network.get("processes", "")) if isinstance(network, dict) else {}
        return Fingerprint(machine.name, items, facts, tuple(found), dict(data.get("expected") or {}), processes)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LabtoolError(
            f"{machine.name}: the fingerprint collector printed something that is not its JSON: {exc}",
            f"run it by hand to see why: `labtool exec {machine.name} -- sudo python3 -` < {COLLECTOR}",
        ) from exc


def explain(backend: Backend, room: Room, machine: Machine, services: list[str], files: list[str]) -> dict[str, Any]:
    """The collector's explain mode: units' states and journals, files' texts (see collect.py: explain)."""
    return run_collector(backend, room, machine, {"explain": {"services": services, "files": files}})


def run_collector(backend: Backend, room: Room, machine: Machine, request: dict[str, Any]) -> dict[str, Any]:
    # The script travels on stdin, so nothing needs copying to the machine and nothing is left there.
    command = ["sudo", "-n", "python3", "-", json.dumps(request)]
    result = proc.run(
        backend.shell_argv(room, machine, command),
        input=COLLECTOR.read_text(),
        timeout=120,
        hint=f"check that {machine.name} is up and reachable: `labtool exec {machine.name} -- true`",
    )
    try:
        data = json.loads(result.stdout)
    except ValueError as exc:
        raise LabtoolError(
            f"{machine.name}: the fingerprint collector printed something that is not its JSON: {exc}",
            f"run it by hand to see why: `labtool exec {machine.name} -- sudo python3 -` < {COLLECTOR}",
        ) from exc
    if not isinstance(data, dict):
        raise LabtoolError(f"{machine.name}: the fingerprint collector printed no JSON object", "run it by hand")
    return data


def _sockets(network: dict[str, Any]) -> list[sockets.Socket]:
    own = sockets.own_addresses(str(network.get("ip", "")))
    return sockets.parse(str(network.get("ss", "")), own, sockets.ephemeral_range(str(network.get("ephemeral", ""))))


def _processes(text: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for line in text.splitlines():
        words = line.split(None, 2)
        if len(words) == 3 and words[0].isdigit():
            found.setdefault(int(words[0]), []).append(words[2])
    return found

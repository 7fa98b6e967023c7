"""Collect a machine's fingerprint by running files/collect.py on it, as root, through its backend."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtool import proc
from labtool.backends.base import Backend
from labtool.errors import LabtoolError
from labtool.model import Machine, Room

COLLECTOR = Path(__file__).parent / "files" / "collect.py"


@dataclass(frozen=True)
class Fingerprint:
    machine: str
    items: dict[str, str]
    """Compared between the two machines of a seat: `category:key` -> value."""
    facts: dict[str, Any]
    """Measured inside the machine for `labtool compare`; never diffed."""


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
        return Fingerprint(machine.name, dict(data["items"]), dict(data["facts"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise LabtoolError(
            f"{machine.name}: the fingerprint collector printed something that is not its JSON: {exc}",
            f"run it by hand to see why: `labtool exec {machine.name} -- sudo python3 -` < {COLLECTOR}",
        ) from exc

"""Why each drifted item differs and how to repair it. Pure: verify gathers the evidence, this reads it.

Evidence per kind of item: for a file or conffile a bounded unified diff of the two machines' texts
(never of a file that may hold a secret: one not readable by every user); for a service each side's
unit state and result, its exit status in words and its last journal lines; for a port the program
that holds it on the side that listens.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Collection, Mapping
from typing import Any

from labtool.parity.diff import Difference, SeatParity
from labtool.parity.sockets import Socket

MAX_DIFF_LINES = 40
FILE_CATEGORIES = ("file", "conffile", "dpkg-modified")
SERVICE_CATEGORIES = ("service-running", "service-enabled")

# systemd's exit statuses for a unit it could not set up (systemd.exec(5), "Process Exit Codes").
EXIT_STATUSES = {
    200: ("CHDIR", "systemd could not change to the unit's working directory"),
    203: ("EXEC", "systemd could not execute the unit's program"),
    209: ("STDOUT", "systemd could not set up the unit's standard output"),
    210: ("CHROOT", "systemd could not change the unit's root directory"),
    214: ("SETSCHEDULER", "systemd could not set the unit's scheduling policy"),
    216: ("GROUP", "systemd could not set up the unit's group"),
    217: ("USER", "systemd could not set up the unit's user or its user namespace"),
    218: ("CAPABILITIES", "systemd could not set the unit's capabilities"),
    219: ("CGROUP", "systemd could not set up the unit's control group"),
    224: ("PAM", "systemd could not open the unit's PAM session"),
    225: ("NETWORK", "systemd could not set up the unit's network namespace"),
    226: ("NAMESPACE", "systemd could not set up the unit's mount namespace"),
    227: ("NO_NEW_PRIVILEGES", "systemd could not set the unit's no-new-privileges flag"),
    228: ("SECCOMP", "systemd could not install the unit's system call filter"),
    230: ("PERSONALITY", "systemd could not set the unit's personality"),
    231: ("APPARMOR_PROFILE", "systemd could not apply the unit's AppArmor profile"),
    232: ("ADDRESS_FAMILIES", "systemd could not restrict the unit's address families"),
    233: ("RUNTIME_DIRECTORY", "systemd could not create the unit's runtime directory"),
    235: ("CHOWN", "systemd could not hand the unit's socket to its user"),
    238: ("STATE_DIRECTORY", "systemd could not create the unit's state directory"),
    240: ("LOGS_DIRECTORY", "systemd could not create the unit's logs directory"),
    243: ("CREDENTIALS", "systemd could not pass the unit its credentials"),
}


def status_words(status: int) -> str:
    """`217` -> `217/USER: systemd could not set up the unit's user or its user namespace`."""
    if status in EXIT_STATUSES:
        name, words = EXIT_STATUSES[status]
        return f"{status}/{name}: {words}"
    return f"exit status {status}"


def unit_state(show: str) -> str:
    """One line from `systemctl show -p ...`: `failed (exit-code, 226/NAMESPACE: ...)`, `active (running)`."""
    props = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    if props.get("LoadState") == "not-found":
        return "not installed"
    state = f"{props.get('ActiveState', '?')} ({props.get('SubState', '?')})"
    if props.get("ConditionResult") == "no":
        return f"{state}, skipped: a condition of the unit is not met here"
    status = props.get("ExecMainStatus", "0")
    result = props.get("Result", "success")
    if result != "success" or status not in ("", "0"):
        detail = status_words(int(status)) if status.isdigit() and status != "0" else result
        return f"{state}, {result}: {detail}"
    return state


def file_diff(path: str, vm: Mapping[str, str], container: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """A one-line why and a bounded unified diff (VM first), or why no diff is shown."""
    for side, text in (("VM", vm), ("container", container)):
        state = text.get("state", "absent")
        if state == "secret":
            return f"{path} may hold a secret (it is not readable by every user): no diff is shown", ()
        if state not in ("text", "absent"):
            return f"{path} on the {side} is {state}: no diff is shown", ()
    lines = list(
        difflib.unified_diff(
            vm.get("text", "").splitlines(),
            container.get("text", "").splitlines(),
            f"VM:{path}",
            f"container:{path}",
            lineterm="",
        )
    )
    if not lines:
        return f"{path}: same text, different owner, mode or link", ()
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines of the diff"]
    return f"{path} differs", tuple(lines)


def port_owner(listening: list[Socket], users: Mapping[int, str], processes: Mapping[int, list[str]]) -> str:
    """Who holds a socket: the program where the machine shows it, else its user and that user's programs."""
    for socket in listening:
        if socket.owner:
            return socket.owner
    for socket in listening:
        if socket.uid is not None:
            name = users.get(socket.uid, str(socket.uid))
            programs = sorted(set(processes.get(socket.uid, [])))
            return f"user {name}" + (f" ({', '.join(programs[:4])})" if programs else "")
    return "a program this machine does not show"


def repair(difference: Difference, seat: str, room: str, managed: Collection[str], modified_side: str) -> str:
    """Which repair applies: provisioning rewrites what a role manages; anything else needs a reset."""
    key = difference.item.split(":", 1)[1]
    # Only the machine that strayed, when verify can tell which: the seat's other machine keeps running untouched.
    which = f"--seat {seat}{' --' + modified_side if modified_side else ''}"
    reset, provision = f"`labtool reset {room} {which}`", f"`labtool provision {room} {which}`"
    if difference.category in FILE_CATEGORIES:
        if key in managed:
            return f"{provision}: a role manages {key} and writes it again"
        return f"no role manages {key}, so provisioning leaves it: {reset} rebuilds the machine that strayed"
    if difference.category in SERVICE_CATEGORIES:
        return f"fix what the unit's state and journal name, then {provision}; or {reset}"
    if difference.category == "port":
        return "the port follows the program that holds it: repair that service (see its unit above)"
    if difference.category == "package":
        return f"{provision} if a role installs it; otherwise {reset}"
    return f"{reset} rebuilds the seat from its image and the course"


def explained(
    parity: SeatParity,
    room: str,
    evidence: Mapping[str, Mapping[str, Any]],
    managed: Collection[str],
) -> SeatParity:
    """The seat's parity with each drifted item's why, details and repair filled in.

    `evidence` holds per side ("vm", "container"): `units` and `files` (the collector's explain mode),
    `sockets` (item -> sockets), `users` (uid -> name), `processes` (uid -> programs), `modified`
    (paths dpkg finds changed on that side).
    """
    drift = tuple(_explain(d, parity.seat, room, evidence, managed) for d in parity.drift)
    return dataclasses.replace(parity, drift=drift)


def _explain(
    difference: Difference, seat: str, room: str, evidence: Mapping[str, Mapping[str, Any]], managed: Collection[str]
) -> Difference:
    key = difference.item.split(":", 1)[1]
    vm, container = evidence.get("vm", {}), evidence.get("container", {})
    modified = [side for side, found in (("vm", vm), ("container", container)) if key in found.get("modified", ())]
    side = modified[0] if len(modified) == 1 else ""
    why, details = "", tuple[str, ...]()
    if difference.category in FILE_CATEGORIES:
        why, details = file_diff(key, vm.get("files", {}).get(key, {}), container.get("files", {}).get(key, {}))
    elif difference.category in SERVICE_CATEGORIES:
        lines = []
        for name, found in (("VM", vm), ("container", container)):
            unit = found.get("units", {}).get(key, {})
            lines.append(f"{name}: {unit_state(unit.get('show', ''))}")
            details += tuple(f"{name} journal: {line}" for line in unit.get("journal", []))
        why = "; ".join(lines)
        side = side or ("container" if difference.container is None else "vm" if difference.vm is None else "")
    elif difference.category == "port":
        owners = []
        for name, found in (("VM", vm), ("container", container)):
            listening = found.get("sockets", {}).get(difference.item)
            if listening:
                owner = port_owner(listening, found.get("users", {}), found.get("processes", {}))
                owners.append(f"on the {name}: {owner}")
        why = "listens " + "; ".join(owners) if owners else ""
    fix = repair(difference, seat, room, managed, side)
    return dataclasses.replace(difference, why=why, details=details, repair=fix)

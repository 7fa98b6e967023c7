"""Published access: each seat's SSH and app HTTP on the lab host, for students on their own computers.

Off unless a room's labtool.yml names it, and then only on the address it names
(never a wildcard default):

    access:
      address: 192.0.2.10      # an address of this host, or 127.0.0.1
      port_base: 20000

Seat i (0-based, in the room's seat order) gets four ports from port_base + 4*i:
+0 the container's SSH, +1 the container's app, +2 the VM's SSH, +3 the VM's app.
They are published on the seat's lab host: on `address` for this one, on the host's own
`address` (labtool.yml `hosts:`) for another. Containers publish them through Docker, VMs
through a relay on their host (backends/vagrant/forwards.py).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlparse

from labtool.host import addresses
from labtool.model import THIS_HOST, Access, Kind, LabHost, Machine, Room, Seat

SECTION = "access"
KEYS = ("address", "port_base")
PORTS_PER_SEAT = 4
MIN_PORT, MAX_PORT = 1024, 65535
"""Below 1024 are the host's own services' ports."""
SUGGESTED_BASE = 20000
"""Where suggested bases start: above the well-known ports, below the kernel's ephemeral range (32768-60999)."""
GUEST_SSH = 22
GUEST_HTTP = 80


class Service(StrEnum):
    SSH = "ssh"
    HTTP = "http"


OFFSET = {
    (Kind.CONTAINER, Service.SSH): 0,
    (Kind.CONTAINER, Service.HTTP): 1,
    (Kind.VM, Service.SSH): 2,
    (Kind.VM, Service.HTTP): 3,
}


# -- labtool.yml's access section ------------------------------------------------------------------


def read(raw: Any, where: str, problems: list[str]) -> Access | None:
    """The room's `access:` mapping (None when absent: nothing published); problems go to `problems`."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: {SECTION}: must be a mapping of {', '.join(KEYS)}; got {_show(raw)}")
        return None
    for key in raw:
        if key not in KEYS:
            problems.append(f"{where}: {SECTION}.{key}: unknown key; remove it (known: {', '.join(KEYS)})")
    address = _address(raw.get("address"), where, problems)
    base = _port_base(raw.get("port_base"), where, problems)
    if address is None or base is None:
        return None
    return Access(address, base)


def _address(value: Any, where: str, problems: list[str]) -> str | None:
    name = f"{where}: {SECTION}.address"
    if value is None:
        problems.append(
            f"{name}: missing; name the address of this host students connect to (e.g. 127.0.0.1 to try it "
            "on this host); labtool never publishes on every interface by default"
        )
        return None
    try:
        address = ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        problems.append(f"{name}: {_show(value)} is not an IP address; give one of this host's, e.g. 127.0.0.1")
        return None
    if address.is_unspecified:
        problems.append(
            f"{name}: {value} means every interface of this host, which would publish the lab to every network "
            "it is on; give the one address students connect to"
        )
        return None
    if not addresses.is_local(str(address)):
        problems.append(
            f"{name}: {value} is not an address of this host; give one that `ip -brief address` lists, or 127.0.0.1"
        )
        return None
    return str(address)


def _port_base(value: Any, where: str, problems: list[str]) -> int | None:
    name = f"{where}: {SECTION}.port_base"
    if value is None:
        problems.append(f"{name}: missing; set it to the first host port to publish, e.g. {SUGGESTED_BASE}")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{name}: {_show(value)} is not a whole number; set it to a port, e.g. {SUGGESTED_BASE}")
        return None
    if not MIN_PORT <= value <= MAX_PORT - PORTS_PER_SEAT + 1:
        problems.append(
            f"{name}: {value} is not a port from {MIN_PORT} to {MAX_PORT - PORTS_PER_SEAT + 1}; "
            f"set it to e.g. {SUGGESTED_BASE}"
        )
        return None
    return value


def fits_problem(access: Access, seats: int, where: str) -> str | None:
    """The problem when the room's seats need ports beyond 65535."""
    last = access.port_base + PORTS_PER_SEAT * seats - 1
    if last <= MAX_PORT:
        return None
    return (
        f"{where}: {SECTION}.port_base: {access.port_base} leaves too few ports for {seats} seats "
        f"({PORTS_PER_SEAT} each, up to {last}); set it to {MAX_PORT + 1 - PORTS_PER_SEAT * seats} or less"
    )


# -- ports -----------------------------------------------------------------------------------------


def room_ports(room: Room) -> range | None:
    """Every host port the room publishes, or None when it publishes none."""
    if room.access is None:
        return None
    return range(room.access.port_base, room.access.port_base + PORTS_PER_SEAT * len(room.seats))


def address_on(room: Room, host: LabHost) -> str | None:
    """The address a lab host publishes the room's ports on (None when the room publishes nothing)."""
    if room.access is None:
        return None
    return room.access.address if host.is_local else host.student_address


def port(room: Room, seat: Seat, kind: Kind, service: Service) -> int | None:
    """The host port of one seat's machine's service, or None when the room publishes nothing."""
    if room.access is None:
        return None
    index = [s.name for s in room.seats].index(seat.name)
    return room.access.port_base + PORTS_PER_SEAT * index + OFFSET[(kind, service)]


def guest_http_port(room: Room) -> int:
    """The app's port inside the machines: the one in the course's app page URL, else 80."""
    url = room.course.app.page_url
    found = urlparse(url).port if url else None
    return int(found) if found else GUEST_HTTP


def published(room: Room, machine: Machine) -> dict[int, int]:
    """Guest port -> host port for one machine (empty when the room publishes nothing)."""
    seat = room.seat(machine.seat)
    ssh, http = (port(room, seat, machine.kind, service) for service in (Service.SSH, Service.HTTP))
    if ssh is None or http is None:
        return {}
    return {GUEST_SSH: ssh, guest_http_port(room): http}


def free_base(claimed: Iterable[range], seats: int) -> int:
    """The lowest base from SUGGESTED_BASE (in steps of 100) whose ports no claim overlaps."""
    taken = list(claimed)
    size = PORTS_PER_SEAT * seats
    candidates = list(range(SUGGESTED_BASE, MAX_PORT - size + 2, 100)) + list(range(MIN_PORT, SUGGESTED_BASE, 100))
    for base in candidates:
        if all(base + size <= t.start or t.stop <= base for t in taken):
            return base
    return SUGGESTED_BASE


# -- how a student reaches a machine ---------------------------------------------------------------


@dataclass(frozen=True)
class Way:
    """How to reach one machine: an ssh command and the app's URL (None when there is no way yet)."""

    ssh: str | None
    url: str | None
    note: str = ""
    """Where this works from: "anywhere that reaches <address>" or "the lab host only"."""


def way_in(room: Room, seat: Seat, kind: Kind, login: str, address: str | None, *, host: LabHost = THIS_HOST) -> Way:
    """Published ports on the seat's lab host when the room has them; else the machine's own address, reachable
    from its lab host only."""
    ssh_port, http_port = (port(room, seat, kind, service) for service in (Service.SSH, Service.HTTP))
    published_on = address_on(room, host)
    if published_on is not None and ssh_port is not None and http_port is not None:
        return Way(
            f"ssh -p {ssh_port} {login}@{published_on}",
            f"http://{_url_host(published_on)}:{http_port}/",
            f"from any computer that reaches {published_on}",
        )
    if address is None:
        return Way(None, None, "not running: its address is known once it is up")
    guest = guest_http_port(room)
    where = "the lab host" if host.is_local else f"its lab host {host.name}"
    return Way(
        f"ssh {login}@{address}",
        f"http://{_url_host(address)}{'' if guest == GUEST_HTTP else f':{guest}'}/",
        f"from {where} only (the room publishes no ports)",
    )


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def as_json(way: Way) -> Mapping[str, str | None]:
    return {"ssh": way.ssh, "url": way.url, "note": way.note}


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:79] + "…"

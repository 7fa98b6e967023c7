"""What a machine listens on, as a service sees it rather than as the network placed it. Pure, no I/O.

The collector (files/collect.py) sends `ss -Hlntupe` and `ip -o addr` as the machine printed them;
this module turns them into `port:` items that compare across a seat's two machines:

- a wildcard stays a wildcard, per family: `any-ipv4` (0.0.0.0), `any-ipv6` ([::]), `any` (`*`, both);
- an address that is the machine's own (the VM's and the container's differ by design) becomes
  `own-ipv4` / `own-ipv6`, an IPv6 link-local one `link-local`; loopback stays as it is;
- a UDP socket on an ephemeral port is a client's (a resolver, an NTP client), not a service: left out;
  a TCP listener there (rpc.statd's random port) is `ephemeral`, so it compares but its number does not.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

DEFAULT_EPHEMERAL = (32768, 60999)
"""Linux's net.ipv4.ip_local_port_range default."""
WILDCARDS = {"*": "any", "0.0.0.0": "any-ipv4", "::": "any-ipv6"}


@dataclass(frozen=True)
class Socket:
    protocol: str
    """tcp or udp"""
    address: str
    """As normalised: any, any-ipv4, own-ipv4, link-local, 127.0.0.1, ::1 ..."""
    port: str
    """A number, or `ephemeral`."""
    owner: str = ""
    """The program that holds it, where the machine let the collector see it: `nginx (pid 812)`."""
    uid: int | None = None

    @property
    def item(self) -> str:
        return f"port:{self.protocol} {self.address}:{self.port}"


def own_addresses(ip_addr_lines: str) -> set[str]:
    """The machine's addresses from `ip -o addr show`, loopback left out."""
    found = set()
    for line in ip_addr_lines.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1] != "lo" and fields[2] in ("inet", "inet6"):
            found.add(fields[3].split("/")[0])
    return found


def ephemeral_range(text: str) -> tuple[int, int]:
    """net.ipv4.ip_local_port_range as the file holds it ("32768\\t60999")."""
    words = text.split()
    if len(words) == 2 and all(w.isdigit() for w in words):
        return int(words[0]), int(words[1])
    return DEFAULT_EPHEMERAL


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """`[::1]:6379` -> (`::1`, `6379`); `127.0.0.53%lo:53` -> (`127.0.0.53`, `53`)."""
    address, _, port = endpoint.rpartition(":")
    address = address.removeprefix("[").split("]")[0].split("%")[0]
    return address, port


def normal_address(address: str, own: set[str]) -> str:
    if address in WILDCARDS:
        return WILDCARDS[address]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        return normal_address(str(parsed.ipv4_mapped), own)
    if address in own:
        return "own-ipv4" if parsed.version == 4 else "own-ipv6"
    if parsed.is_link_local:
        return "link-local"
    return str(parsed)


OWNER = re.compile(r'users:\(\("(?P<name>[^"]+)",pid=(?P<pid>\d+)')
UID = re.compile(r"\buid:(\d+)")


def parse(ss_lines: str, own: set[str], ephemeral: tuple[int, int] = DEFAULT_EPHEMERAL) -> list[Socket]:
    """Sockets from `ss -Hlntupe`: "NETID STATE RECV-Q SEND-Q LOCAL PEER [users:((...))] [uid:N] ..."."""
    sockets = []
    for line in ss_lines.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[0] not in ("tcp", "udp"):
            continue
        address, port = split_endpoint(fields[4])
        if not port.isdigit():
            continue
        in_range = ephemeral[0] <= int(port) <= ephemeral[1]
        if in_range and fields[0] == "udp":
            continue
        owner = OWNER.search(line)
        uid = UID.search(line)
        sockets.append(
            Socket(
                fields[0],
                normal_address(address, own),
                "ephemeral" if in_range else port,
                f"{owner['name']} (pid {owner['pid']})" if owner else "",
                int(uid.group(1)) if uid else None,
            )
        )
    return sockets


def items(sockets: list[Socket]) -> dict[str, str]:
    return {socket.item: "listening" for socket in sockets}


def owners(sockets: list[Socket]) -> dict[str, list[Socket]]:
    """Item -> the sockets behind it (one item may stand for several, e.g. two ephemeral listeners)."""
    found: dict[str, list[Socket]] = {}
    for socket in sockets:
        found.setdefault(socket.item, []).append(socket)
    return found

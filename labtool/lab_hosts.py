"""The lab hosts a room may run its seats on, from labtool.yml, and what each can do now.

    hosts:
      - name: here                    # this machine (the default when the section is absent)
      - name: lab2
        ssh: root@192.0.2.12          # key-based SSH, as Ansible would reach it
        address: 192.0.2.12           # where students reach its seats (access:); default: the address in ssh

A host other than `here` is reached only over SSH, through the engines' own remote access:
Docker's `ssh://` endpoint and libvirt's `qemu+ssh://` URI (backends/docker/engine.py,
backends/vagrant/libvirt.py), and one SSH command for its memory, disk and KVM. A host that
does not answer is named with its reason; the others are surveyed all the same.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labtool import proc
from labtool.backends.docker import engine
from labtool.backends.vagrant import accel, libvirt
from labtool.errors import LabtoolError
from labtool.host import apt_cache, capacity
from labtool.model import THIS_HOST, Kind, LabHost, Room, Seat

SECTION = "hosts"
PIN_VARIABLE = "labtool_host"
"""A host variable on either machine of a seat (or both, equal): the lab host the seat must run on."""
KEYS = ("name", "ssh", "address")
NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
SSH_DESTINATION = re.compile(r"[a-z_][a-z0-9_-]{0,31}@[A-Za-z0-9.:-]+")
SSH_TIMEOUT = 30
DISK_PATHS = {Kind.VM: libvirt.STORAGE_POOL_DIR, Kind.CONTAINER: Path("/var/lib/docker")}
"""Where each kind's disks go on a host: the VMs' storage pool, Docker's root."""
FACTS_COMMAND = " echo @@; ".join(
    [
        "cat /proc/meminfo;",
        "grep -m1 -E '^flags' /proc/cpuinfo;",
        "test -e /dev/kvm && echo kvm;",
        *(f"df -Pk {path} 2>/dev/null | tail -n 1;" for path in DISK_PATHS.values()),
        "command -v socat;",
        f"{apt_cache.ANSWERS_COMMAND};",
    ]
)


# -- labtool.yml's hosts section ---------------------------------------------------------------------


def read(raw: Any, where: str, problems: list[str]) -> tuple[LabHost, ...]:
    """The room's lab hosts (this machine alone when the section is absent); problems go to `problems`."""
    if raw is None:
        return (THIS_HOST,)
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: {SECTION}: must be a list of hosts, each a mapping of {', '.join(KEYS)}")
        return (THIS_HOST,)
    hosts: list[LabHost] = []
    for i, entry in enumerate(raw):
        at = f"{where}: {SECTION}[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{at}: must be a mapping of {', '.join(KEYS)}; got {_show(entry)}")
            continue
        unknown = [k for k in entry if k not in KEYS]
        for key in unknown:
            problems.append(f"{at}.{key}: unknown key; remove it (known: {', '.join(KEYS)})")
        host = _host(entry, at, problems)
        if host is None:
            continue
        if any(h.name == host.name for h in hosts):
            problems.append(f"{at}.name: {host.name!r} is listed twice; give each host its own name")
            continue
        hosts.append(host)
    return tuple(hosts) or (THIS_HOST,)


def pin(
    seats: Sequence[Seat],
    hostvars: Mapping[str, Mapping[str, Any]],
    hosts: Sequence[LabHost],
    where: str,
    problems: list[str],
) -> list[Seat]:
    """The seats with the lab host their inventory pins them to (`labtool_host`); problems go to `problems`."""
    names = [host.name for host in hosts]
    return [dataclasses.replace(seat, pinned_host=_pin_of(seat, hostvars, names, where, problems)) for seat in seats]


def _pin_of(
    seat: Seat, hostvars: Mapping[str, Mapping[str, Any]], names: list[str], where: str, problems: list[str]
) -> str | None:
    found = {m.name: hostvars.get(m.name, {}).get(PIN_VARIABLE) for m in seat.machines}
    found = {machine: value for machine, value in found.items() if value is not None}
    if not found:
        return None
    if len(set(map(str, found.values()))) > 1:
        problems.append(
            f"{where}: seat {seat.name}: {PIN_VARIABLE} differs between {' and '.join(sorted(found))}; "
            "a seat's two machines share a host: set it on one machine of the seat, or the same on both"
        )
        return None
    machine, value = sorted(found.items())[0]
    if isinstance(value, str) and value in names:
        return value
    problems.append(
        f"{where}: host {machine}: {PIN_VARIABLE}: {_show(value)} is not a lab host of the room; "
        f"name one listed under {SECTION}: in labtool.yml ({', '.join(names)})"
    )
    return None


def _host(entry: dict[str, Any], at: str, problems: list[str]) -> LabHost | None:
    name, ssh = entry.get("name"), entry.get("ssh")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        problems.append(
            f"{at}.name: {_show(name)} is not a host name: a lowercase letter, then up to 30 lowercase letters, "
            "digits or -"
        )
        return None
    address = entry.get("address")
    if name == THIS_HOST.name:
        for key in ("ssh", "address"):
            if entry.get(key) is not None:
                problems.append(
                    f"{at}.{key}: {name!r} is this machine (reached without SSH, its students' address is "
                    f"access.address); remove {key} or rename the host"
                )
                return None
        return THIS_HOST
    if not isinstance(ssh, str) or not SSH_DESTINATION.fullmatch(ssh):
        problems.append(
            f"{at}.ssh: {_show(ssh)} is not an SSH destination; give user@address as key-based SSH reaches the host "
            "(e.g. root@192.0.2.12)"
        )
        return None
    if address is not None and not _is_address(address):
        problems.append(
            f"{at}.address: {_show(address)} is not one address of the host; give the IP address students reach "
            f"{name} at (never a wildcard such as 0.0.0.0)"
        )
        return None
    return LabHost(name, ssh, address)


def _is_address(value: Any) -> bool:
    try:
        return not ipaddress.ip_address(value if isinstance(value, str) else "").is_unspecified
    except ValueError:
        return False


def check_access(hosts: Sequence[LabHost], where: str, problems: list[str]) -> None:
    """A room that publishes access needs, for each other host, the address students reach it at."""
    for i, host in enumerate(hosts):
        if not host.is_local and host.student_address is None:
            problems.append(
                f"{where}: {SECTION}[{i}].address: missing: the room publishes access (access:) and {host.name}'s ssh "
                f"({host.ssh}) names no IP address; give the address students reach {host.name} at"
            )


# -- what a host can do now --------------------------------------------------------------------------


@dataclass(frozen=True)
class HostFacts:
    host: LabHost
    error: str = ""
    """Why the host could not be surveyed (SSH refused, no answer); empty when it answered."""
    docker: str = ""
    """"ok", or why its Docker engine does not answer."""
    libvirt: str = ""
    accel: str = ""
    """kvm or tcg: how its VMs will run."""
    memory_available: int | None = None
    disks: dict[str, int] = field(default_factory=dict)
    """Free bytes where each kind's disks go (vm: the storage pool, container: Docker's root)."""
    filesystems: dict[str, str] = field(default_factory=dict)
    """The filesystem each kind's disks are on, as df names it: two kinds on one share its free space."""
    socat: bool | None = None
    """Whether socat is there to relay its VMs' published ports (access:); None when not surveyed."""
    apt_cache: bool | None = None
    """Whether its apt cache answers its machines (labtool0's address there); None when not surveyed."""

    @property
    def ok(self) -> bool:
        return not self.error and self.docker == "ok" and self.libvirt == "ok"

    def seats_that_fit(self, room: Room, parallel: int) -> int:
        """More seats of the room the host holds now, by the capacity check's arithmetic at its acceleration."""
        return capacity.seats_that_fit(room, capacity.Costs.measured(kvm=self.accel == "kvm"), self.free(), parallel)

    def free(self) -> capacity.HostFree:
        """The host's free memory and disks as the capacity arithmetic takes them (one filesystem, one device)."""
        disks = {}
        for kind, path in DISK_PATHS.items():
            filesystem = self.filesystems.get(kind.value, kind.value)
            disks[kind] = capacity.Disk(path, self.disks.get(kind.value, 0), hash(filesystem))
        return capacity.HostFree(self.memory_available or 0, disks)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.host.name,
            "ssh": self.host.ssh,
            "ok": self.ok,
            "error": self.error or None,
            "docker": self.docker,
            "libvirt": self.libvirt,
            "accel": self.accel or None,
            "memory_available": self.memory_available,
            "disk_free": self.disks,
            "socat": self.socat,
            "apt_cache": self.apt_cache,
        }


def survey(hosts: Sequence[LabHost], vm_accel: str = "auto") -> list[HostFacts]:
    """Every host's facts, surveyed at once: a host that does not answer costs its own timeout, not the others'."""
    with ThreadPoolExecutor(max_workers=max(1, len(hosts)), thread_name_prefix="host") as pool:
        return list(pool.map(lambda host: facts(host, vm_accel), hosts))


def facts(host: LabHost, vm_accel: str = "auto") -> HostFacts:
    try:
        text = _facts_text(host)
    except LabtoolError as exc:
        return HostFacts(host, error=exc.message)
    parts = [*text.split("@@"), *[""] * 7]
    meminfo, flags, kvm = parts[:3]
    df, (relay, cache) = parts[3 : 3 + len(DISK_PATHS)], parts[3 + len(DISK_PATHS) : 5 + len(DISK_PATHS)]
    decided = accel.decide(vm_accel, flags, "kvm" in kvm.split())
    return HostFacts(
        host,
        docker=_docker(host),
        libvirt=_libvirt(host),
        accel="kvm" if decided.is_kvm else "tcg",
        memory_available=_mem_available(meminfo),
        disks={
            kind.value: free for kind, line in zip(DISK_PATHS, df, strict=True) if (free := _free(line)) is not None
        },
        filesystems={kind.value: line.split()[0] for kind, line in zip(DISK_PATHS, df, strict=True) if _free(line)},
        socat=bool(relay.strip()),
        apt_cache="apt-cache" in cache.split(),
    )


def silent(host: LabHost) -> str | None:
    """Why another lab host does not answer over SSH now, or None when it does (this machine always does)."""
    if host.is_local:
        return None
    try:
        _facts_text(host, "true")
    except LabtoolError as exc:
        return exc.message
    return None


def _facts_text(host: LabHost, command: str = FACTS_COMMAND) -> str:
    result = proc.run(host.argv(["sh", "-c", command]), timeout=SSH_TIMEOUT, check=False)
    if not host.is_local and result.returncode == 255:  # ssh's own failure: the host is not there, or refuses
        reason = proc.tail(result.stderr, 1) or "no answer"
        raise LabtoolError(f"lab host {host.name} ({host.ssh}) does not answer over SSH: {reason}")
    return result.stdout


def _docker(host: LabHost) -> str:
    return "ok" if engine.answers(host) else f"no Docker engine answers at {engine.url(host)}"


def _libvirt(host: LabHost) -> str:
    try:
        libvirt.Virsh(host)("version", timeout=SSH_TIMEOUT)
    except LabtoolError as exc:
        return exc.message.splitlines()[0]
    return "ok"


def _mem_available(meminfo: str) -> int | None:
    found = re.search(r"^MemAvailable:\s+(\d+) kB", meminfo, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _free(df_line: str) -> int | None:
    """Free bytes from one `df -Pk` line; None when the path is missing there."""
    parts = df_line.split()
    return int(parts[3]) * 1024 if len(parts) >= 6 and parts[3].isdigit() else None


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:79] + "…"

"""The rooms' apt cache: one apt-cacher-ng on each lab host, so a room downloads each package from the mirror once
a host.

It listens on a host-local address made for it (10.212.0.1 on the interface labtool0), which every
room's containers (Docker bridges 10.213.N.0/24) and VMs (libvirt NAT networks 10.214.N.0/24) reach
through their default gateway, since the host routes to its own addresses; and on 127.0.0.1 for
debootstrap on the host. Never on every address: it is an HTTP proxy. It runs as Debian's
apt-cacher-ng user with labtool's own configuration, written to RUN_DIR at each start (nothing in
/etc is edited), and keeps its files in Debian's cache and log directories for it.

`labtool daemons` starts it here (labtool/host/daemons.py), `labtool hosts prepare` on the room's other lab
hosts (labtool/files/lab-host.yml), at the same address on their own labtool0: a machine's proxy setting
is the same whichever host it runs on, and its packages come from its own host's cache.
apt_cache_log.py reads what it served.
"""

from __future__ import annotations

import ipaddress
import pwd
import shutil
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from labtool import proc
from labtool.errors import DaemonError
from labtool.model import THIS_HOST, LabHost
from labtool.settings import Settings

ADDRESS = "10.212.0.1"
"""Outside every room's subnets (model.Networks: 10.213.N.0/24, 10.214.N.0/24), so it exists before any room."""
PORT = 3142
LOOPBACK = "127.0.0.1"
BIND_ADDRESSES = (ADDRESS, LOOPBACK)
INTERFACE = "labtool0"
USER = "apt-cacher-ng"
PROGRAM = "apt-cacher-ng"
UNIT = "labtool-apt-cacher-ng"
"""The transient systemd unit it runs as where systemd is PID 1."""

RUN_DIR = Path("/run/labtool/apt-cacher-ng")
CACHE_DIR = Path("/var/cache/apt-cacher-ng")
LOG_DIR = Path("/var/log/apt-cacher-ng")
TRANSFER_LOG = LOG_DIR / "apt-cacher.log"
"""One line per file fetched from the mirror or served to a client (read by apt_cache_log)."""

MACHINE_PROXY_FILE = "/etc/apt/apt.conf.d/01labtool-apt-cache"
"""Where labtool's play (labtool/files/apt-cache.yml) writes the proxy setting on every lab machine."""


def machine_proxy_url() -> str:
    """What lab machines use: the host-local address, reached through their default gateway."""
    return f"http://{ADDRESS}:{PORT}"


def host_proxy_url() -> str:
    """What the host itself uses (debootstrap, the VM disk's kernel)."""
    return f"http://{LOOPBACK}:{PORT}"


PACKAGE_CONFIG = Path("/etc/apt-cacher-ng/acng.conf")
"""Debian's own configuration of the package: its Remap rules name the Debian mirrors (labtool names none)."""
DEBIAN_REMAPS = ("Remap-debrep", "Remap-secdeb")
FALLBACK_REMAP = ("Remap-debrep", "file:deb_mirror*.gz /debian")
"""The package's list of Debian mirrors, where its configuration cannot be read."""
FRESH_INDEX_SECONDS = 300
"""How long a fetched InRelease is served without asking the mirror again (the package's default: 27 s), so
the seats of a room coming up together fetch no index twice. InRelease and the by-hash lists it names change
together, so a frozen one stays consistent."""


def debian_remaps(package_config: Path = PACKAGE_CONFIG) -> list[tuple[str, str]]:
    """The package's rules giving each Debian archive one cache entry whichever mirror name a source uses:
    the aliases only (before `;`), so the cache fetches from the mirror the machine asked for."""
    try:
        lines = package_config.read_text().splitlines()
    except OSError:
        return [FALLBACK_REMAP]
    remaps = []
    for line in lines:
        key, colon, value = line.partition(":")
        aliases = value.split("#", 1)[0].split(";", 1)[0].strip()
        if colon and key.strip() in DEBIAN_REMAPS and aliases:
            remaps.append((key.strip(), aliases))
    return remaps or [FALLBACK_REMAP]


def config_text(
    run_dir: Path = RUN_DIR,
    cache_dir: Path = CACHE_DIR,
    log_dir: Path = LOG_DIR,
    port: int = PORT,
    package_config: Path = PACKAGE_CONFIG,
) -> str:
    """labtool's acng.conf: only the rooms' addresses, no admin page, logs written at once."""
    return "".join(
        f"{key}: {value}\n"
        for key, value in (
            ("CacheDir", cache_dir),
            ("LogDir", log_dir),
            ("SupportDir", "/usr/lib/apt-cacher-ng"),
            ("BindAddress", " ".join(BIND_ADDRESSES)),
            ("Port", port),
            ("PidFile", run_dir / "pid"),
            ("SocketPath", run_dir / "socket"),
            ("ForeGround", 1),
            # Per-transfer lines with client and path, flushed as they happen: benchmarks and tests
            # read the log right after a machine's apt run.
            ("VerboseLog", 1),
            ("UnbufferLogs", 1),
            ("FreshIndexMaxAge", FRESH_INDEX_SECONDS),
            *debian_remaps(package_config),
        )
    )


def start_argv(systemd: bool, run_dir: Path = RUN_DIR) -> list[str]:
    """The daemon in the foreground as the unprivileged apt-cacher-ng user: a transient unit under
    systemd (its journal keeps the output), else detached by labtool like dockerd."""
    daemon = [PROGRAM, "-c", str(run_dir)]
    if systemd:
        return ["systemd-run", f"--unit={UNIT}", f"--uid={USER}", f"--gid={USER}", "--collect", *daemon]
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", *daemon]


def prepare(run_dir: Path = RUN_DIR, cache_dir: Path = CACHE_DIR, log_dir: Path = LOG_DIR) -> None:
    """Write the configuration and give the daemon's user its directories."""
    try:
        pwd.getpwnam(USER)
    except KeyError:
        raise DaemonError(
            f"apt-cacher-ng is not installed (no user {USER})",
            "run `scripts/up` (installs it), or turn the apt cache off with LABTOOL_APT_CACHE=off",
        ) from None
    from labtool.state import SHARED, atomic_write

    atomic_write(run_dir / "acng.conf", config_text(run_dir, cache_dir, log_dir), mode=SHARED)
    for directory in (run_dir, cache_dir, log_dir):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, USER, USER)
    # Debian's postinst leaves root-owned, empty log files behind, which the daemon cannot open.
    for entry in log_dir.iterdir():
        if entry.is_file() and entry.stat().st_uid == 0:
            shutil.chown(entry, USER, USER)


def answers(timeout: float = 2.0) -> bool:
    """True when the cache accepts connections on the rooms' address."""
    # Without the interface the address routes off the host: do not wait on a connection to nowhere.
    if not Path("/sys/class/net", INTERFACE).exists():
        return False
    try:
        with socket.create_connection((ADDRESS, PORT), timeout=timeout):
            return True
    except OSError:
        return False


PROBE = f"timeout 3 bash -c 'exec 3<>/dev/tcp/{ADDRESS}/{PORT}'"
"""Run on a lab host: exits 0 when that host's cache accepts connections on the rooms' address (`hosts prepare`'s
play waits on it too)."""
ANSWERS_COMMAND = f"{PROBE} 2>/dev/null && echo apt-cache"
"""PROBE, answering in words: prints apt-cache when the cache accepts connections."""
REMOTE_SECONDS = 30


def answers_on(host: LabHost) -> bool:
    """True when the apt cache of the lab host accepts connections on the rooms' address there."""
    if host.is_local:
        return answers()
    result = proc.run(host.argv(["sh", "-c", ANSWERS_COMMAND]), timeout=REMOTE_SECONDS, check=False)
    return "apt-cache" in result.stdout.split()


def machine_proxy(settings: Settings, host: LabHost = THIS_HOST) -> str:
    """The proxy the machines of a lab host (this one by default) are to use, or "" to fetch directly: the cache
    is off, or does not run on that host."""
    return machine_proxy_url() if settings.apt_cache and answers_on(host) else ""


def host_proxy_env(settings: Settings) -> dict[str, str]:
    """Environment for debootstrap and apt run on the host: through the cache when it runs."""
    return {"http_proxy": host_proxy_url()} if settings.apt_cache and answers() else {}


# -- the address -------------------------------------------------------------------------------


def interface_state(addresses_json: str) -> tuple[bool, bool]:
    """From `ip -j address show dev labtool0`: whether it holds ADDRESS, and whether it is up."""
    import json

    try:
        interfaces = json.loads(addresses_json or "[]")
    except ValueError:
        return False, False
    holds = any(info.get("local") == ADDRESS for i in interfaces for info in i.get("addr_info", ()))
    up = any("UP" in i.get("flags", ()) for i in interfaces)
    return holds, up


def ensure_address() -> str:
    """Make labtool0 hold ADDRESS/32 and be up, changing only what is missing; returns "present" or "made"."""
    show = ["ip", "-j", "address", "show", "dev", INTERFACE]
    shown = proc.run(show, timeout=10, check=False)
    holds, up = interface_state(shown.stdout) if shown.ok else (False, False)
    if holds and up:
        return "present"
    # A dummy interface is the usual holder of a host-local address; kernels without the dummy
    # module (this machine's) get an empty bridge, which holds one as well.
    if not shown.ok and not proc.run(["ip", "link", "add", INTERFACE, "type", "dummy"], timeout=10, check=False).ok:
        proc.run(["ip", "link", "add", INTERFACE, "type", "bridge"], timeout=10)
    if not holds:
        proc.run(["ip", "address", "add", f"{ADDRESS}/32", "dev", INTERFACE], timeout=10)
    proc.run(["ip", "link", "set", INTERFACE, "up"], timeout=10)
    return "made"


# -- what listens --------------------------------------------------------------------------------

PROC_NET_TCP = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN = "0A"


def listeners(tables: Mapping[str, str], port: int = PORT) -> list[str]:
    """Addresses listening on `port`, from /proc/net/tcp and tcp6 contents ("0.0.0.0", "::", "10.212.0.1" …)."""
    found = []
    for text in tables.values():
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != LISTEN or ":" not in fields[1]:
                continue
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port:
                found.append(_address(address))
    return found


def wildcard(addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if a in ("0.0.0.0", "::")]


def read_listeners(port: int = PORT, tables: tuple[Path, ...] = PROC_NET_TCP) -> list[str]:
    return listeners({str(t): t.read_text() for t in tables if t.exists()}, port)


def _address(hex_address: str, byteorder: str = sys.byteorder) -> str:
    """/proc/net/tcp's address as text: network-order bytes printed as 32-bit words in host order."""
    raw = bytes.fromhex(hex_address)
    if byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))

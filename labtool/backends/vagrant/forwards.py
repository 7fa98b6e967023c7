"""A VM's published ports (labtool.yml `access:`): one TCP relay per port, run on the VM's own lab host.

Docker publishes a container's ports on the host its engine runs on. A VM's are published by a
`socat` relay on the host its domain runs on (this one or another lab host, over the same
`LabHost.argv` as every other command there): it listens on the room's access address for that host
and connects to the VM's address on the host's libvirt network, where only that VM may send
(address_guard.py). A plain relay carries the student's own SSH session end to end, so the
student's client checks the VM's host key itself; nothing in between accepts any key, as
vagrant-libvirt's forwarded-port tunnels (`ssh` told to accept any key) would.

Each relay is started in a session of its own so it outlives the command that made it, and
stopped with what it forked when the VM stops or goes. Its pid and start time are kept in a file
beside the room's Vagrant state here, so a pid the host has since given another process is never
signalled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from labtool import proc
from labtool.errors import LabtoolError
from labtool.model import LabHost
from labtool.state import atomic_write

WAIT_SECONDS = 15
"""How long a new relay may take to listen (it binds at once; this covers a slow SSH round trip)."""
HOST_LOG_ROOT = PurePosixPath("/var/lib/labtool/forwards")
"""Where the relays of a VM on another lab host write their output, on that host (a directory per room)."""
CONNECT_TIMEOUT = 10
"""Seconds a relay waits for the VM to accept a student's connection."""

# Run on the VM's host with `sh -c SCRIPT sh ARGS...`: POSIX sh, /proc and iproute2's `ss`, as on any Debian.
_ALIVE = """alive() { [ -n "$1" ] && [ "$(cut -d' ' -f22 "/proc/$1/stat" 2>/dev/null)" = "$2" ]; }
stop() { if alive "$1" "$2"; then kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1"; fi; }
listening() { ss -Hltnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"; }
"""
PUBLISH_SCRIPT = (
    _ALIVE
    + """# $1 log, $2 listen, $3 connect, $4 port, $5 seconds, $6 $7 the relay recorded (pid, start time) or empty
if alive "$6" "$7" && listening "$6" "$4"; then echo "$6 $7"; exit 0; fi
stop "$6" "$7"
mkdir -p "${1%/*}" || exit 3
setsid socat "$2" "$3" </dev/null >"$1" 2>&1 &
pid=$!
ticks=$(cut -d' ' -f22 "/proc/$pid/stat")
end=$(( $(date +%s) + $5 ))
until listening "$pid" "$4"; do
    if ! alive "$pid" "$ticks" || [ "$(date +%s)" -ge "$end" ]; then
        stop "$pid" "$ticks"
        tail -n 3 "$1" >&2
        rm -f "$1"
        exit 3
    fi
    sleep 0.2
done
echo "$pid $ticks"
"""
)
WITHDRAW_SCRIPT = (
    _ALIVE
    + """# the relays to stop, each as its log, pid and start time
while [ $# -ge 3 ]; do stop "$2" "$3"; rm -f "$1"; shift 3; done
"""
)


class ForwardError(LabtoolError):
    """A published port did not start listening."""


@dataclass(frozen=True)
class ForwardedPort:
    """A guest port published on the VM's host."""

    id: str
    guest: int
    host: int
    host_ip: str


@dataclass(frozen=True)
class Relays:
    """Where one room's VM relays run (the VMs' lab host), are recorded (here) and log (on that host)."""

    host: LabHost
    records: Path
    logs: PurePosixPath

    @classmethod
    def of(cls, host: LabHost, state_dir: Path, room: str) -> Relays:
        logs = PurePosixPath(directory(state_dir)) if host.is_local else HOST_LOG_ROOT / room
        return cls(host, directory(state_dir), logs)


def directory(state_dir: Path) -> Path:
    return state_dir / "forwards"


def publish(relays: Relays, machine: str, guest_ip: str, ports: Sequence[ForwardedPort]) -> None:
    """Make sure each port has its relay, listening (one round trip to the host a port)."""
    for port in ports:
        record = _record(relays, machine, port)
        old = _recorded(record) if record.exists() else ["", ""]
        argv = [
            _endpoint("LISTEN", port.host_ip, port.host) + ",reuseaddr,fork",
            _endpoint("", guest_ip, port.guest) + f",connect-timeout={CONNECT_TIMEOUT}",
            str(port.host),
            str(WAIT_SECONDS),
        ]
        result = _on_host(relays, PUBLISH_SCRIPT, [str(_log(relays, record)), *argv, *old])
        if not result.ok:
            record.unlink(missing_ok=True)
            why = proc.tail(result.stderr, 3).strip()
            raise ForwardError(
                f"{machine}'s port {port.guest} is not published on {port.host_ip}:{port.host}"
                f"{' (lab host ' + relays.host.name + ')' if not relays.host.is_local else ''}"
                f"{': ' + why if why else ''}",
                "another program may hold the port: free it or change access.port_base; a host without socat gets "
                "it from `scripts/up` (this one) or `labtool hosts prepare` (another); then run `labtool up` again",
            )
        record.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(record, result.stdout.strip() + "\n")


def withdraw(relays: Relays, machine: str | None = None) -> None:
    """Stop the machine's relays (every machine's, with None) on their host, in one round trip."""
    records = sorted(relays.records.glob(f"{machine or '*'}_*.pid"))
    if not records:
        return
    args = [word for record in records for word in (str(_log(relays, record)), *_recorded(record))]
    # Best effort: a host that is off has lost its relays with it; the records go either way.
    _on_host(relays, WITHDRAW_SCRIPT, args)
    for record in records:
        record.unlink(missing_ok=True)


def _recorded(record: Path) -> list[str]:
    """The relay a record names: its pid and start time, or two empty words when it names none."""
    return [*record.read_text().split(), "", ""][:2]


def _record(relays: Relays, machine: str, port: ForwardedPort) -> Path:
    # `_` is in no machine name: one machine's records never match another's glob.
    return relays.records / f"{machine}_{port.host}.pid"


def _log(relays: Relays, record: Path) -> PurePosixPath:
    return relays.logs / f"{record.stem}.log"


def _endpoint(role: str, address: str, port: int) -> str:
    """socat's address for a TCP endpoint: TCP-LISTEN:port,bind=... to listen, TCP:host:port to connect."""
    six = "6" if ":" in address else ""
    if role == "LISTEN":
        return f"TCP{six}-LISTEN:{port},bind={f'[{address}]' if six else address}"
    return f"TCP{six}:{f'[{address}]' if six else address}:{port}"


def _on_host(relays: Relays, script: str, args: Sequence[str]) -> proc.Result:
    argv = relays.host.argv(["sh", "-c", script, "sh", *args])
    # daemon: a relay outlives this labtool by design, so it must not carry its owner mark (a later labtool
    # would take it for a leftover to stop).
    return proc.run(argv, timeout=WAIT_SECONDS + 30, check=False, daemon=True)

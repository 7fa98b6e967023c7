"""Room state on disk: what labtool last did to each machine, and the lock that serialises changes.

Lives in LABTOOL_HOME/rooms/<room>/: state.json (written atomically), the
generated inventory, per-machine logs, Vagrant's dotfile directory.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO

from labtool.errors import LabtoolError
from labtool.host.children import Owner
from labtool.progress import Progress
from labtool.settings import Settings


class BusyError(LabtoolError):
    """Another labtool process holds the lock on the same room (or the image build)."""


class NoSpaceError(LabtoolError):
    """The filesystem of LABTOOL_HOME is full: labtool stops before it writes half of anything."""


class RoomClaimedError(LabtoolError):
    """Another room directory (another lab project) already uses this room name on this host."""


OWNER_FILE = "owner"
"""Which room directory the state belongs to: room names are host-wide (container, domain and network names)."""


def check_claim(directory: Path, room_path: Path) -> None:
    """Refuse when the state directory belongs to another room directory that still exists."""
    owner = _owner(directory)
    if owner is not None and owner != room_path and (owner / "labtool.yml").is_file():
        raise RoomClaimedError(
            f"room name {directory.name!r} is already used on this host by {owner}; "
            "machine, network and state names come from the room's name",
            f"rename this room's directory, or take the other one down first (`labtool down {directory.name}` "
            f"from its lab project)",
        )


def claim(directory: Path, room_path: Path) -> None:
    """Mark the state directory as room_path's (after check_claim), and make it its owner's only.

    Its logs and ansible-runner's artifacts are written with whatever umask labtool runs under, and they
    name machines, students and keys: a 0700 directory keeps them private whatever their own modes.
    """
    check_claim(directory, room_path)
    directory.mkdir(parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    if _owner(directory) != room_path:
        atomic_write(directory / OWNER_FILE, f"{room_path}\n")


def known_rooms(rooms_state: Path) -> dict[str, Path]:
    """Every room this host has state of, by name: the room directory (of whichever lab project) it belongs to.

    Rooms whose directory is gone are left out: their name and index are free again.
    """
    if not rooms_state.is_dir():
        return {}
    found = {}
    for directory in sorted(rooms_state.iterdir()):
        owner = _owner(directory)
        if owner is not None and (owner / "labtool.yml").is_file():
            found[directory.name] = owner
    return found


def _owner(directory: Path) -> Path | None:
    try:
        return Path((directory / OWNER_FILE).read_text().strip())
    except OSError:
        return None


@dataclass
class MachineRecord:
    provisioned_key: str | None = None
    """The provisioning key (playbooks, roles, room inventory) of the last successful run; None = never."""
    changed: int | None = None
    failed: bool = False
    error: str = ""
    finished_at: str = ""
    start_seconds: float | None = None
    """How long the last create or start took, until the machine was ready (measured by `labtool up`)."""
    start_action: str = ""
    """Which it was: "create" or "start"."""
    managed_files: list[str] = field(default_factory=list)
    """Files the last provisioning run's file tasks wrote or checked (from its events): parity fingerprints them."""
    hidden_file_tasks: list[str] = field(default_factory=list)
    """File tasks whose paths `no_log` hid from the events: parity cannot cover what they manage."""
    account: str = ""
    """The student account the machine last got: `login:password-id` (labtool.accounts.token); "" = none."""
    working: str = ""
    """The step labtool has begun on the machine and not finished ("create", "start", "provision").

    Written before the step starts and cleared when it ends, so when labtool is stopped
    in the middle (Ctrl-C, SIGTERM, kill -9, a power cut) the record still says which
    step was interrupted, and the next `up` redoes it.
    """


@dataclass
class RoomState:
    machines: dict[str, MachineRecord] = field(default_factory=dict)

    def record(self, name: str) -> MachineRecord:
        return self.machines.setdefault(name, MachineRecord())


def utc_now() -> str:
    """The timestamp labtool records everywhere: UTC, ISO 8601, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def room_dir(settings: Settings, room: str) -> Path:
    return settings.rooms_state_dir / room


def read(directory: Path) -> RoomState:
    try:
        raw = json.loads((directory / "state.json").read_text())
    except (OSError, ValueError):
        return RoomState()
    machines = raw.get("machines", {}) if isinstance(raw, dict) else {}
    known = {f.name for f in fields(MachineRecord)}
    return RoomState(
        {name: MachineRecord(**{k: v for k, v in record.items() if k in known}) for name, record in machines.items()}
    )


def write(directory: Path, state: RoomState) -> None:
    atomic_write(directory / "state.json", json.dumps(asdict(state), indent=2, sort_keys=True) + "\n")


# -- students' passwords ----------------------------------------------------------------------

PASSWORDS_FILE = "passwords.json"
"""The one file that holds the students' password hashes (mode 0600); nothing else labtool writes does."""


@dataclass(frozen=True)
class IssuedPassword:
    """A student's password as labtool keeps it: the SHA-512 crypt hash only, never the password."""

    hash: str
    id: str
    """Random, not secret: names this issue of the password in machine records (which never hold the hash)."""
    issued_at: str


def read_passwords(directory: Path) -> dict[str, IssuedPassword]:
    """Login -> issued password; empty when none was issued (or the file is unreadable)."""
    try:
        raw = json.loads((directory / PASSWORDS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    logins = raw.get("logins", {}) if isinstance(raw, dict) else {}
    known = {f.name for f in fields(IssuedPassword)}
    return {
        str(login): IssuedPassword(**{k: str(v) for k, v in entry.items() if k in known})
        for login, entry in logins.items()
        if isinstance(entry, dict) and known <= set(entry)
    }


def write_passwords(directory: Path, issued: dict[str, IssuedPassword]) -> None:
    logins = {login: asdict(entry) for login, entry in sorted(issued.items())}
    atomic_write(directory / PASSWORDS_FILE, json.dumps({"logins": logins}, indent=2) + "\n", mode=PRIVATE)


# -- published ports ---------------------------------------------------------------------------

PORTS_FILE = "ports.json"
"""The host ports a room publishes (first..last), so that no two rooms of this host claim the same."""


class PortsClaimedError(LabtoolError):
    """Another room of this host already publishes some of the ports a room asks for."""


def claim_ports(rooms_state: Path, room: str, ports: range | None, free_base: int) -> None:
    """Record room's published ports (None: it publishes none), after checking no other room holds one of them.

    Under a host-wide lock: two rooms claiming at once must not both see the ports free.
    """
    with locked(rooms_state / ".ports", "the host's published ports", wait=30):
        mine = rooms_state / room / PORTS_FILE
        if ports is None:
            mine.unlink(missing_ok=True)
            return
        for other, taken in claimed_ports(rooms_state).items():
            if other != room and taken.start < ports.stop and ports.start < taken.stop:
                raise PortsClaimedError(
                    f"room {room!r} would publish ports {ports.start}-{ports.stop - 1}, but room {other!r} "
                    f"already publishes {taken.start}-{taken.stop - 1} on this host "
                    f"(recorded in {rooms_state / other / PORTS_FILE})",
                    f"set access.port_base in room {room}'s labtool.yml to one whose ports are free, e.g. {free_base}",
                )
        atomic_write(mine, json.dumps({"first": ports.start, "last": ports.stop - 1}) + "\n")


def claimed_ports(rooms_state: Path) -> dict[str, range]:
    """Room -> the ports it publishes, for every room of this host that records some."""
    claims = {}
    for path in sorted(rooms_state.glob(f"*/{PORTS_FILE}")):
        try:
            raw = json.loads(path.read_text())
            claims[path.parent.name] = range(int(raw["first"]), int(raw["last"]) + 1)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a broken claim is rewritten by its room's next `up`
    return claims


PRIVATE = 0o600
"""Room state, inventories and logs: they name machines, keys and students."""
SHARED = 0o644
"""What is meant to be read by others: reports, JUnit files, image manifests."""


def atomic_write(path: Path, text: str, *, mode: int = PRIVATE) -> None:
    """Replace path with text all at once: a crash or a full disk leaves the old file, never half a new one.

    The temporary file lives beside the target (one filesystem, so the rename is atomic)
    and is removed on every failure; the file and its directory are fsynced before and
    after the rename, so a power cut cannot bring back the old content or an empty file.
    A full filesystem is a NoSpaceError naming the file and the space it needs.
    """
    try:
        _replace(path, text, mode)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise no_space(path, len(text.encode())) from exc
        raise


def _replace(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def free_bytes(path: Path) -> int:
    """Free bytes (for this user) on the filesystem of path, or of its nearest existing parent."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    stats = os.statvfs(existing)
    return stats.f_bavail * stats.f_frsize


def no_space(path: Path, needed: int) -> NoSpaceError:
    return NoSpaceError(
        f"no space left on the filesystem of {path}: {_size(needed)} needed, {_size(free_bytes(path))} free",
        "free some space there, or point LABTOOL_HOME at a filesystem with room; what labtool wrote before "
        "(the room's state.json) is unchanged",
    )


def check_space(path: Path, needed: int) -> None:
    """Refuse before starting work that would run out of space half-way (logs, state, Vagrant's files)."""
    if free_bytes(path) < needed:
        raise no_space(path, needed)


def _size(value: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value} bytes"


LOCK_FILE = ".lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, or held it last and died without releasing it."""

    owner: Owner
    text: str
    """As the holder wrote it: `pid 123 (labtool up demo)`."""

    def alive(self) -> bool:
        return self.owner.alive()

    @classmethod
    def parse(cls, content: str) -> Holder | None:
        found = re.match(r"pid (\d+)", content)
        if found is None:
            return None
        marker = re.search(r"^owner (\S+)$", content, re.MULTILINE)
        owner = Owner.parse(marker.group(1)) if marker else None
        return cls(owner or Owner(int(found.group(1)), None), content.splitlines()[0])


def holder(directory: Path) -> Holder | None:
    """The lock's holder as its file says (without taking the lock): None when it was released."""
    try:
        return Holder.parse((directory / LOCK_FILE).read_text())
    except OSError:
        return None


def check_free(directory: Path, what: str) -> None:
    """Fail at once, before any work, when a live process holds the lock (`locked` checks again for real)."""
    current = holder(directory)
    if current is not None and current.alive():
        raise _busy(what, current, directory / LOCK_FILE)


@contextmanager
def locked(
    directory: Path, what: str, progress: Progress | None = None, *, wait: float = 0.0
) -> Iterator[Holder | None]:
    """Hold the lock on `what` (e.g. "room 'demo'"); a second process gets an error naming the holder.

    The kernel drops the lock when its holder dies, even by `kill -9`; its file then still
    names the holder, which is how a stale lock is told from a released one. Taking one
    over is said through `progress`, and the dead holder is given to the caller, which
    stops what that process left running.
    """
    deadline = time.monotonic() + wait  # a room's lock: fail at once; a brief host-wide one: wait its turn
    with _held(directory, what, deadline) as handle:
        # Read once held: a released lock's file is empty, a dead holder's still names it.
        handle.seek(0)
        previous = Holder.parse(handle.read())
        if previous is not None and progress is not None:
            progress(f"{what}: taking over the lock of {previous.text}, which is gone (it was stopped or crashed)")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({' '.join(_argv())})\nowner {Owner.of(os.getpid()).marker}\n")
        handle.flush()
        try:
            yield previous
        finally:
            handle.seek(0)
            handle.truncate()


@contextmanager
def _held(directory: Path, what: str, deadline: float) -> Iterator[IO[str]]:
    """The lock file, opened and locked; retried when its holder removed it meanwhile.

    `down` removes a room's whole state directory, lock file included, while it holds the lock: a
    process that opened the file before that holds a lock on a file no one else will ever open, so it
    opens the path again until what it locked is what the path names.
    """
    while True:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / LOCK_FILE).open("a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        raise _busy(what, Holder.parse(handle.read()), directory / LOCK_FILE) from exc
                    time.sleep(0.05)
            if _same_file(handle, directory / LOCK_FILE):
                yield handle
                return


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _busy(what: str, current: Holder | None, lock: Path) -> BusyError:
    if current is None:
        return BusyError(f"{what} is locked by another process", "wait for it to finish, then run this again")
    if not current.alive():
        return BusyError(
            f"{what} is locked, and its holder {current.text} is gone: a process it started keeps the lock open",
            f"find it with `fuser -v {lock}`, stop it, then run this again",
        )
    return BusyError(
        f"{what} is locked by {current.text}",
        f"wait for it to finish (or stop it: `kill {current.owner.pid}`), then run this again",
    )


def _argv() -> list[str]:
    try:
        return Path("/proc/self/cmdline").read_text().split("\0")[:-1][-4:]
    except OSError:
        return []

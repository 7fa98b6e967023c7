"""What the apt cache fetched from the mirror and what it served, read from apt-cacher-ng's transfer log.

apt-cacher-ng 3.7 (VerboseLog 1) writes one line per file and direction:

    1795863821|I|8790638|10.213.226.2|debrep/dists/bookworm/main/binary-amd64/by-hash/SHA256/9e0b…
    1795863821|O|8790703|10.213.226.2|debrep/dists/bookworm/main/binary-amd64/by-hash/SHA256/9e0b…

time | I (fetched from the mirror) or O (served to a client) | bytes, headers included | the client
whose request it was | the file, under the cache's name for its repository. A file fetched for a
request is logged I, then O; a file served from the cache only O. So a request is a miss when an I
of its file comes before its O, and a hit otherwise.

The suites' Release files (InRelease, Release, Release.gpg) change on the mirror, so apt-cacher-ng
re-checks them on every request: with a mirror that answers its range request it fetches a few bytes,
with one that answers in full (this machine's) the whole file, ~150 KB per suite and `apt-get update`.
They are counted apart (`release_bytes`) from everything else fetched (`new_bytes`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

FETCHED, SERVED = "I", "O"
RELEASE_FILES = frozenset({"InRelease", "Release", "Release.gpg"})


@dataclass(frozen=True)
class Transfer:
    time: int
    direction: str
    """FETCHED (from the mirror) or SERVED (to the client)."""
    bytes: int
    client: str
    path: str

    @property
    def release_file(self) -> bool:
        return self.path.rsplit("/", 1)[-1] in RELEASE_FILES


@dataclass(frozen=True)
class Traffic:
    fetched_bytes: int = 0
    """From the mirror."""
    release_bytes: int = 0
    """Of fetched_bytes: the suites' Release files, which the cache re-checks on every request."""
    served_bytes: int = 0
    """To the clients."""
    hits: int = 0
    """Requests served from the cache without fetching."""
    misses: int = 0
    """Requests whose file was fetched from the mirror."""

    @property
    def new_bytes(self) -> int:
        """Fetched from the mirror apart from re-checking Release files: packages and package lists."""
        return self.fetched_bytes - self.release_bytes

    @property
    def hit_ratio(self) -> float:
        """Share of the served bytes that did not come from the mirror."""
        if not self.served_bytes:
            return 0.0
        return max(0.0, 1.0 - self.fetched_bytes / self.served_bytes)

    def to_json(self) -> dict[str, object]:
        return {
            "fetched_bytes": self.fetched_bytes,
            "release_bytes": self.release_bytes,
            "new_bytes": self.new_bytes,
            "served_bytes": self.served_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "hit_ratio": round(self.hit_ratio, 4),
        }


def parse(text: str) -> list[Transfer]:
    """The transfer lines of a log; lines of any other shape (or a torn last line) are skipped."""
    transfers = []
    for line in text.splitlines():
        fields = line.split("|", 4)
        if len(fields) != 5 or fields[1] not in (FETCHED, SERVED):
            continue
        when, direction, size, client, path = fields
        if not (when.isdigit() and size.isdigit()):
            continue
        transfers.append(Transfer(int(when), direction, int(size), client, path))
    return transfers


def position(log: Path) -> int:
    """Where the log ends now: pass it to `read` later to get only what happened in between."""
    return log.stat().st_size if log.exists() else 0


def read(log: Path, since: int = 0) -> list[Transfer]:
    """The transfers logged after byte offset `since` (all of them if the log was rotated since)."""
    if not log.exists():
        return []
    with log.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(since if 0 <= since <= size else 0)
        return parse(handle.read().decode(errors="replace"))


def summarize(transfers: Iterable[Transfer], clients: Collection[str] | None = None) -> Traffic:
    """Bytes fetched and served, hits and misses; only the requests of `clients` (addresses) when given."""
    fetched = release = served = hits = misses = 0
    pending: Counter[str] = Counter()  # files fetched whose serving is not logged yet
    for transfer in transfers:
        ours = clients is None or transfer.client in clients
        if transfer.direction == FETCHED:
            pending[transfer.path] += 1
            if ours:
                fetched += transfer.bytes
                release += transfer.bytes if transfer.release_file else 0
            continue
        missed = pending[transfer.path] > 0
        if missed:
            pending[transfer.path] -= 1
        if ours:
            served += transfer.bytes
            misses += missed
            hits += not missed
    return Traffic(fetched, release, served, hits, misses)


def by_client(transfers: Iterable[Transfer]) -> dict[str, Traffic]:
    """Traffic per client address (a lab machine's, or 127.0.0.1 for the host's own debootstrap)."""
    transfers = list(transfers)
    return {client: summarize(transfers, {client}) for client in sorted({t.client for t in transfers})}

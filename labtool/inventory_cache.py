"""What `ansible-inventory --list` printed for a room, kept until anything it could depend on changes.

Every verb reads its room through `ansible-inventory` (see config.py): about a second of
starting Ansible, most of a quick command's time. Labtool enables only the static yaml and
ini inventory plugins, so the answer follows from the room's files, Ansible's version,
environment and configuration files; the key is a digest of all of them. A room holding
anything vault-encrypted is never kept: its answer would hold the decrypted values.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path

FORMAT = "1"
"""Changed whenever what is kept changes shape: older entries are then never looked up."""
KEPT = 64
"""Entries kept; the least recently written beyond that are removed (a few KiB each)."""
VAULT_MARK = b"$ANSIBLE_VAULT"
CONFIG_FILES = ("ansible.cfg", "~/.ansible.cfg", "/etc/ansible/ansible.cfg")
"""Where Ansible looks for its configuration after ANSIBLE_CONFIG (the first relative to the working directory)."""


def key(room_dir: Path, argv: Sequence[str], env: Mapping[str, str]) -> str | None:
    """The digest of everything the room's inventory listing depends on, or None when it must not be kept."""
    digest = hashlib.sha256()
    for part in _inputs(argv, env):
        digest.update(part.encode() + b"\0")
    try:
        for path in sorted(p for p in room_dir.rglob("*") if p.is_file()):
            content = path.read_bytes()
            if VAULT_MARK in content:
                return None
            digest.update(f"{path.relative_to(room_dir)}\0{path.stat().st_mode:o}\0".encode())
            digest.update(hashlib.sha256(content).digest())
        for name in (os.environ.get("ANSIBLE_CONFIG", ""), *CONFIG_FILES):
            config = Path(name).expanduser() if name else None
            if config is not None and config.is_file():
                digest.update(f"{config.resolve()}\0".encode() + config.read_bytes())
    except OSError:
        return None  # unreadable: `ansible-inventory` itself says what is wrong
    return digest.hexdigest()


def _inputs(argv: Sequence[str], env: Mapping[str, str]) -> Iterator[str]:
    yield FORMAT
    yield metadata.version("ansible-core")
    yield from argv
    yield Path.cwd().as_posix()
    merged = {**{k: v for k, v in os.environ.items() if k.startswith("ANSIBLE_")}, **env}
    yield from (f"{k}={v}" for k, v in sorted(merged.items()))


def get(cache_dir: Path, digest: str) -> tuple[str, str] | None:
    """The kept (stdout, stderr) of the listing, or None."""
    try:
        kept = json.loads((cache_dir / f"{digest}.json").read_text())
        return str(kept["stdout"]), str(kept["stderr"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put(cache_dir: Path, digest: str, stdout: str, stderr: str) -> None:
    """Keep a successful listing; a cache that cannot be written (a full disk too) only costs the next run its
    second, so no error comes of it. Written beside and renamed over: a reader never sees half an entry."""
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".entry.")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump({"stdout": stdout, "stderr": stderr}, handle)
            os.replace(tmp, cache_dir / f"{digest}.json")
        finally:
            Path(tmp).unlink(missing_ok=True)
        entries = sorted(cache_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        return

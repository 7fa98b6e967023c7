"""Which Debian mirror debootstrap uses: the setting, else the host's own apt source, else debootstrap's default.

No mirror's host name is written into labtool: it comes from the host's configuration.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from labtool.errors import MirrorUnreachableError

APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def host_mirror(suite: str, sources: tuple[Path, ...] = APT_SOURCES) -> str | None:
    """The first `deb` source of the host that serves `suite` with component main (not the security archive)."""
    for path in _source_files(sources):
        text = path.read_text(errors="replace")
        found = _from_deb822(text, suite) if path.suffix == ".sources" else _from_one_line(text, suite)
        if found:
            return found
    return None


def _source_files(sources: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for entry in sources:
        if entry.is_dir():
            files += sorted(p for p in entry.iterdir() if p.suffix in (".list", ".sources"))
        elif entry.is_file():
            files.append(entry)
    return files


def _from_one_line(text: str, suite: str) -> str | None:
    for line in text.splitlines():
        words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[")]
        if len(words) >= 4 and words[0] == "deb" and words[2] == suite and "main" in words[3:]:
            return words[1]
    return None


def _from_deb822(text: str, suite: str) -> str | None:
    for stanza in text.split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
        enabled = fields.get("enabled", ["yes"]) != ["no"]
        if (
            enabled
            and "deb" in fields.get("types", [])
            and suite in fields.get("suites", [])
            and "main" in fields.get("components", [])
            and fields.get("uris")
        ):
            return fields["uris"][0]
    return None


def check_reachable(mirror: str, suite: str, timeout: float = 15.0) -> None:
    """Fail with one clear line when the mirror does not serve the suite's Release file."""
    url = f"{mirror.rstrip('/')}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # the user's own mirror
            response.read(64)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MirrorUnreachableError(
            f"the Debian mirror {mirror} cannot be reached ({reason})",
            "check the network, or point LABTOOL_DEBIAN_MIRROR at a mirror this host can reach",
        ) from exc

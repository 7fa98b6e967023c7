"""The one allow-list of expected VM-vs-container differences (expected_differences.yml), with reasons."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import yaml

from labtool.errors import LabtoolError
from labtool.model import Course

ALLOW_LIST = Path(__file__).with_name("expected_differences.yml")


@dataclass(frozen=True)
class Expected:
    items: tuple[str, ...]
    """fnmatch patterns over fingerprint items, e.g. `port:udp 127.0.0.11:*`."""
    reason: str


@dataclass(frozen=True)
class AllowList:
    entries: tuple[Expected, ...]

    def reason_for(self, item: str) -> str | None:
        for entry in self.entries:
            if any(fnmatch.fnmatchcase(item, pattern) for pattern in entry.items):
                return entry.reason
        return None


def for_course(course: Course) -> AllowList:
    """The built-in allow-list with the course's own entries first (a course may give a more precise reason)."""
    built_in = load()
    if course.expected_differences is None:
        return built_in
    return AllowList(load(course.expected_differences).entries + built_in.entries)


def load(path: Path = ALLOW_LIST) -> AllowList:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LabtoolError(f"cannot read the allow-list {path}: {exc}", "fix the file (or restore it)") from exc
    problems = []
    entries = []
    for number, entry in enumerate(raw if isinstance(raw, list) else [None], start=1):
        items = entry.get("items") if isinstance(entry, dict) else None
        reason = entry.get("reason") if isinstance(entry, dict) else None
        if not (isinstance(items, list) and items and all(isinstance(i, str) for i in items)):
            problems.append(f"entry {number}: `items` must be a non-empty list of item patterns")
        elif not (isinstance(reason, str) and reason.strip()):
            problems.append(f"entry {number} ({items[0]}): `reason` must say in one line why this differs")
        else:
            entries.append(Expected(tuple(items), " ".join(reason.split())))
    if problems:
        raise LabtoolError(
            f"{path} is invalid: " + "; ".join(problems),
            "each entry is `- items: [pattern, ...]` and `reason: ...` (see the comment at the top of the file)",
        )
    return AllowList(tuple(entries))

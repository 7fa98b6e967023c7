"""The pytest plugin `labtool check` loads into each run of a course's checks (`-p labtool.checks_plugin`).

It registers the `points` marker (`@pytest.mark.points(3)`; a check without it is
worth DEFAULT_POINTS) and writes each check's points and title (its docstring's
first line) into the JUnit XML as test-case properties, where labtool reads them.
A bad marker stops the run with a usage error naming the test. pytest itself is
imported only by pytest's plugin loader, so this module stays importable without it.
"""

from __future__ import annotations

import math
from typing import Any

MARKER = "points"
DEFAULT_POINTS = 1
MAX_POINTS = 1000
POINTS_PROPERTY = "labtool.points"
TITLE_PROPERTY = "labtool.title"
MARKER_HELP = f"{MARKER}(n): what the check is worth in `labtool check`, 0 or more ({DEFAULT_POINTS} without it)"


def points_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> float:
    """The points of a `points` marker's arguments; ValueError says what is wrong with them."""
    if kwargs or len(args) != 1:
        shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        raise ValueError(f"@pytest.mark.{MARKER}({shown}): give exactly one number, e.g. @pytest.mark.{MARKER}(3)")
    value = args[0]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"@pytest.mark.{MARKER}({value!r}): points must be a number, e.g. @pytest.mark.{MARKER}(3)")
    if not 0 <= value <= MAX_POINTS:
        raise ValueError(f"@pytest.mark.{MARKER}({value!r}): points must be between 0 and {MAX_POINTS}")
    return float(value)


def title_of(doc: str | None) -> str:
    """A check's title: the first line of its docstring, or empty."""
    lines = [line.strip() for line in (doc or "").strip().splitlines()]
    return lines[0] if lines else ""


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", MARKER_HELP)


def pytest_collection_modifyitems(items: list[Any]) -> None:
    import pytest

    for item in items:
        marker = item.get_closest_marker(MARKER)
        try:
            points = DEFAULT_POINTS if marker is None else points_of(marker.args, marker.kwargs)
        except ValueError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc}") from exc
        item.user_properties.append((POINTS_PROPERTY, f"{points:g}"))
        title = title_of(getattr(getattr(item, "function", None), "__doc__", None))
        if title:
            item.user_properties.append((TITLE_PROPERTY, title))

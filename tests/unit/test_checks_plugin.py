"""The `points` marker: what a check is worth, and the mistakes a course author can make with it."""

from __future__ import annotations

from typing import Any

import pytest

from labtool.checks_plugin import DEFAULT_POINTS, points_of, title_of


@pytest.mark.parametrize(
    ("args", "kwargs", "points"),
    [((3,), {}, 3.0), ((0,), {}, 0.0), ((2.5,), {}, 2.5), ((1000,), {}, 1000.0)],
)
def test_a_points_marker_is_one_number_of_zero_or_more(
    args: tuple[Any, ...], kwargs: dict[str, Any], points: float
) -> None:
    assert points_of(args, kwargs) == points


@pytest.mark.parametrize(
    ("args", "kwargs", "problem"),
    [
        ((), {}, "@pytest.mark.points(): give exactly one number"),
        ((1, 2), {}, "@pytest.mark.points(1, 2): give exactly one number"),
        ((), {"n": 3}, "@pytest.mark.points(n=3): give exactly one number"),
        (("3",), {}, "@pytest.mark.points('3'): points must be a number"),
        ((True,), {}, "@pytest.mark.points(True): points must be a number"),
        ((float("nan"),), {}, "@pytest.mark.points(nan): points must be a number"),
        ((-1,), {}, "@pytest.mark.points(-1): points must be between 0 and 1000"),
        ((10**6,), {}, "@pytest.mark.points(1000000): points must be between 0 and 1000"),
    ],
)
def test_a_bad_points_marker_says_what_is_wrong(args: tuple[Any, ...], kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=r"^" + problem.replace("(", r"\(").replace(")", r"\)")):
        points_of(args, kwargs)


def test_a_check_without_a_marker_is_worth_one_point() -> None:
    assert DEFAULT_POINTS == 1


def test_a_title_is_the_docstrings_first_line() -> None:
    assert title_of("  Add a note.\n\n  More about it.\n") == "Add a note."
    assert title_of(None) == title_of("") == ""

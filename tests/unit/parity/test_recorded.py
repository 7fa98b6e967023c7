"""The diff on fingerprints recorded from a real freshly provisioned pair (one VM, one container, one seat).

Recorded with the collector from the integration tests' room; the whole fingerprint
is kept, so the allow-list is checked against everything a real pair differs in.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labtool.model import Course
from labtool.parity import expected
from labtool.parity.diff import diff
from labtool.project import Project

RECORDED = Path(__file__).parents[1] / "fixtures" / "fingerprints"
REPO = Path(__file__).resolve().parents[3]
LABNOTES = Course(
    Project(REPO),
    REPO / "playbooks" / "site.yml",
    REPO / "molecule" / "shared" / "tests",
    expected_differences=REPO / "molecule" / "shared" / "expected_differences.yml",
)
"""The reference course, with its own allow-list over the built-in one (as its room names them)."""


def recorded(kind: str) -> dict[str, str]:
    items: dict[str, str] = json.loads((RECORDED / f"{kind}.json").read_text())["items"]
    return items


def test_a_real_fresh_pair_differs_only_as_the_allow_list_expects() -> None:
    parity = diff("seat01", recorded("vm"), recorded("container"), expected.for_course(LABNOTES))
    assert parity.drift == ()
    assert parity.compared > 300
    items = {d.item for d in parity.expected}
    assert {"system:kernel_release", "package:linux-image-amd64", "file:/etc/motd"} <= items
    assert all(d.reason for d in parity.expected)


def test_the_recorded_pair_carries_every_kind_of_item() -> None:
    categories = {item.split(":", 1)[0] for item in recorded("container")}
    assert categories >= {"package", "app", "page", "file", "service-enabled", "service-running", "port", "user"}


@pytest.mark.parametrize(
    ("item", "value"),
    [
        ("file:/etc/labnotes/labnotes.env", "file 0644 root:root sha256:0"),
        ("service-running:nginx.service", None),
        ("package:nginx", "1.22.1-9+deb12u1"),
        ("user:alice", "uid=2001 gid=2001 home=/home/alice shell=/bin/sh"),
        ("page:structure", "sha256:changed"),
    ],
)
def test_one_change_to_the_real_container_is_exactly_one_drifted_item(item: str, value: str | None) -> None:
    container = recorded("container")
    if value is None:
        container.pop(item)
    else:
        container[item] = value
    parity = diff("seat01", recorded("vm"), container, expected.for_course(LABNOTES))
    assert [d.item for d in parity.drift] == [item]


def test_without_the_courses_own_entries_its_app_differences_are_drift() -> None:
    parity = diff("seat01", recorded("vm"), recorded("container"), expected.load())
    assert {d.item.split(":", 1)[0] for d in parity.drift} == {"app", "file"}
    assert "file:/etc/motd" in {d.item for d in parity.drift}

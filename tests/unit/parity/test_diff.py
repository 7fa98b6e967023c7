"""Diffing a seat's fingerprints against the allow-list, on recorded values."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtool.errors import LabtoolError
from labtool.parity import expected
from labtool.parity.diff import diff

VM = {
    "package:nginx": "1.22.1-9+deb12u9",
    "package:linux-image-amd64": "6.1.176-1",
    "system:kernel_release": "6.1.0-50-amd64",
    "file:/etc/labnotes/labnotes.env": "file 0640 root:labnotes sha256:aaa",
    "service-running:nginx.service": "running",
}
CONTAINER = {
    "package:nginx": "1.22.1-9+deb12u9",
    "system:kernel_release": "6.18.44",
    "file:/etc/labnotes/labnotes.env": "file 0640 root:labnotes sha256:aaa",
    "service-running:nginx.service": "running",
}


def test_identical_pairs_have_neither_drift_nor_expected_differences() -> None:
    parity = diff("seat01", VM, dict(VM), expected.load())
    assert parity.ok
    assert (parity.drift, parity.expected, parity.compared) == ((), (), len(VM))


def test_allowed_differences_are_expected_with_their_reason() -> None:
    parity = diff("seat01", VM, CONTAINER, expected.load())
    assert parity.ok
    reasons = {d.item: d.reason for d in parity.expected}
    assert set(reasons) == {"system:kernel_release", "package:linux-image-amd64"}
    assert "own kernel" in reasons["system:kernel_release"]
    kernel_package = next(d for d in parity.expected if d.item == "package:linux-image-amd64")
    assert (kernel_package.vm, kernel_package.container) == ("6.1.176-1", None)


@pytest.mark.parametrize(
    ("item", "container_value"),
    [
        ("file:/etc/labnotes/labnotes.env", "file 0640 root:labnotes sha256:bbb"),  # a managed file edited
        ("service-running:nginx.service", None),  # a service stopped
        ("package:nginx", "1.22.1-9+deb12u2"),  # another package version
    ],
)
def test_any_other_difference_is_drift_naming_exactly_that_item(item: str, container_value: str | None) -> None:
    container = dict(CONTAINER)
    if container_value is None:
        del container[item]
    else:
        container[item] = container_value
    parity = diff("seat01", VM, container, expected.load())
    assert not parity.ok
    assert [(d.item, d.vm, d.container, d.reason) for d in parity.drift] == [(item, VM[item], container_value, "")]
    assert parity.drift[0].category == item.split(":", maxsplit=1)[0]


def test_an_item_only_the_container_has_is_drift_too() -> None:
    parity = diff("seat01", VM, {**CONTAINER, "package:telnet": "0.17"}, expected.load())
    assert [(d.item, d.vm) for d in parity.drift] == [("package:telnet", None)]


def test_patterns_match_whole_items_only() -> None:
    allowed = expected.AllowList((expected.Expected(("port:* 127.0.0.11:*",), "Docker's DNS"),))
    assert allowed.reason_for("port:udp 127.0.0.11:52068") == "Docker's DNS"
    assert allowed.reason_for("port:tcp 0.0.0.0:80") is None
    assert allowed.reason_for("xport:udp 127.0.0.11:1") is None


def test_every_entry_of_the_shipped_allow_list_has_items_and_a_one_line_reason() -> None:
    entries = expected.load().entries
    assert len(entries) >= 10
    assert all(e.items and e.reason and "\n" not in e.reason for e in entries)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- items: [a:b]\n", "entry 1 (a:b): `reason` must say"),
        ("- reason: why\n", "entry 1: `items` must be a non-empty list"),
        ("- items: []\n  reason: why\n", "entry 1: `items` must be a non-empty list"),
        ("items: [a]\n", "entry 1: `items`"),
    ],
)
def test_a_broken_allow_list_names_the_entry_and_the_fix(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "expected.yml"
    path.write_text(text)
    with pytest.raises(LabtoolError) as caught:
        expected.load(path)
    assert str(path) in caught.value.message
    assert problem in caught.value.message
    assert "items" in caught.value.hint


def test_an_unreadable_allow_list_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(LabtoolError, match="cannot read the allow-list"):
        expected.load(tmp_path / "missing.yml")

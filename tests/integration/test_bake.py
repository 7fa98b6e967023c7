"""The shared room was baked (`up --bake`): its machines come from one converged tree with no identity in it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labtool.backends.docker import image as docker_image
from labtool.images import bake, build
from labtool.model import Kind
from labtool.settings import Settings
from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]


@pytest.fixture(scope="module")
def first_up(running_room: LiveRoom) -> dict[str, Any]:
    assert running_room.first_up.returncode == 0, running_room.first_up.stderr[-3000:]
    report: dict[str, Any] = json.loads(running_room.first_up.stdout)
    return report


@pytest.fixture(scope="module")
def record(first_up: dict[str, Any]) -> dict[str, Any]:
    key = first_up["images"]["key"]
    (found,) = [r for r in bake.records(Settings.from_env()) if r["key"] == key]
    return found


def test_the_room_came_up_from_its_baked_pair(running_room: LiveRoom, first_up: dict[str, Any]) -> None:
    assert first_up["images"]["baked"] is True
    assert "baked images" in running_room.first_up.stderr, "up says which pair it makes machines from"
    listing = running_room.labtool("images", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    pairs = {p["key"]: p for p in json.loads(listing.stdout)["pairs"]}
    assert pairs[first_up["images"]["key"]]["current"] is True
    assert pairs[first_up["images"]["key"]]["room"] == running_room.name


def test_a_baked_seat_converges_only_what_is_per_seat(first_up: dict[str, Any], record: dict[str, Any]) -> None:
    changed = {m["machine"]: m["changed"] for m in first_up["machines"]}
    assert record["changed"] > 10, "the bake did the course's work"
    assert all(0 <= c < record["changed"] / 2 for c in changed.values()), (changed, record["changed"])


def test_the_baked_image_carries_no_machine_identity(first_up: dict[str, Any]) -> None:
    # (Docker mounts its own /etc/hostname over the image's, so the hostname is not looked at here.)
    script = "wc -c < /etc/machine-id; ls /etc/ssh | grep -c '^ssh_host_' || true; ls /var/lib/dhcp | wc -l"
    output = docker_image.client().containers.run(
        first_up["images"]["docker_image"], ["sh", "-c", script], remove=True, entrypoint=[]
    )
    assert output.decode().split() == ["0", "0", "0"]


@pytest.mark.parametrize("path", ["/etc/machine-id", "/etc/ssh/ssh_host_ed25519_key.pub"])
def test_every_machine_made_from_the_pair_has_an_identity_of_its_own(running_room: LiveRoom, path: str) -> None:
    seen = {}
    for machine in ("seat01-vm", "seat02-vm", "seat01-ct", "seat02-ct"):
        result = running_room.labtool("exec", machine, "--room", running_room.name, "--", "cat", path)
        assert result.returncode == 0, result.stderr
        seen[machine] = result.stdout.strip()
    assert all(seen.values()) and len(set(seen.values())) == 4, seen


def test_the_two_kinds_of_the_baked_pair_differ_only_in_boot_packages(record: dict[str, Any]) -> None:
    settings = Settings.from_env()
    manifests = {
        kind: dict(line.split() for line in bake.manifest_path(settings, record["key"], kind).read_text().splitlines())
        for kind in (Kind.CONTAINER, Kind.VM)
    }
    assert "nginx" in manifests[Kind.CONTAINER], "the course's packages are baked in"
    assert build.unexpected_differences(manifests[Kind.CONTAINER], manifests[Kind.VM]) == []
    assert any(name.startswith("linux-image-") for name in manifests[Kind.VM])


def test_a_vm_of_the_baked_pair_knows_it_is_no_container(running_room: LiveRoom) -> None:
    # The tree comes from a container: Docker's /.dockerenv left in it made systemd in the VM take itself for
    # a container (a console getty, and `systemd-detect-virt` saying docker).
    result = running_room.labtool("exec", "seat01-vm", "--room", running_room.name, "--", "systemd-detect-virt", "-c")
    assert result.stdout.strip() == "none", result.stdout + result.stderr


def test_both_kinds_of_a_baked_seat_keep_the_baked_package_lists(running_room: LiveRoom) -> None:
    # Without them the VM's converge ran a whole `apt-get update` (a minute of list parsing under TCG).
    lists = {}
    for machine in ("seat01-vm", "seat01-ct"):
        result = running_room.labtool(
            "exec", machine, "--room", running_room.name, "--", "sh", "-c", "ls /var/lib/apt/lists | grep _Packages"
        )
        assert result.returncode == 0, result.stderr
        lists[machine] = result.stdout.split()
    assert lists["seat01-vm"] == lists["seat01-ct"] != [], lists

"""Technologies are found by name, an installed entry point first; each builds its backend for a given host."""

from importlib import metadata

import pytest

from labtool import backends
from labtool.backends.docker.backend import DockerBackend
from labtool.backends.vagrant.backend import VagrantBackend
from labtool.images.pair import ImagePair
from labtool.model import Kind, LabHost
from labtool.settings import Settings

LAB2 = LabHost("lab2", "root@192.0.2.12")


def test_the_two_built_in_technologies_are_registered_as_entry_points() -> None:
    declared = {ep.name: ep.value for ep in metadata.entry_points(group=backends.ENTRY_POINT_GROUP)}
    assert declared == backends.BUILT_IN


def test_each_kind_gets_its_technologys_backend_built_for_the_host(tmp_path: object) -> None:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path), "LABTOOL_VM_ACCEL": "tcg"})
    images = ImagePair("k1", "labtool/debian12:k1", "labtool/debian12-k1")
    made = backends.for_host(settings, LAB2, images)
    containers, vms = made[Kind.CONTAINER], made[Kind.VM]
    assert isinstance(containers, DockerBackend) and isinstance(vms, VagrantBackend)
    assert containers.host == LAB2 and containers.image == "labtool/debian12:k1"
    assert vms.host == LAB2 and vms.box == "labtool/debian12-k1"
    assert vms.virsh.uri == "qemu+ssh://root@192.0.2.12/system?no_tty=1"


def test_a_built_in_technology_is_found_without_installed_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata, "entry_points", lambda group: [])
    assert backends.technology("docker").kind is Kind.CONTAINER
    assert backends.technology("vagrant").kind is Kind.VM


def test_an_installed_entry_point_replaces_a_built_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    other = metadata.EntryPoint("docker", "tests.unit.backends.test_registry:OTHER", backends.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [other])
    assert backends.technology("docker") is OTHER  # type: ignore[comparison-overlap]


def test_an_unknown_technology_is_one_readable_error_naming_the_known_ones() -> None:
    with pytest.raises(backends.UnknownTechnologyError, match=r"'podman'.*known: docker, vagrant") as caught:
        backends.technology("podman")
    assert "labtool.backends" in caught.value.hint


class _Other:
    """Another package's docker technology (only looked up here, never asked for a backend)."""

    name = "docker"
    kind = Kind.CONTAINER


OTHER = _Other()

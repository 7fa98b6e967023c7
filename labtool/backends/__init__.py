"""Backends create, start and destroy lab machines: one package per technology, each built for a lab host.

A technology (`docker/`, `vagrant/`) holds everything labtool knows of it: the backend, its
image or box, its engine's checks and remote address. labtool finds technologies through the
entry-point group `labtool.backends`, as molecule finds its drivers, so a package of another
technology adds one by declaring an entry point; the two built in are registered in
pyproject.toml and also known without it (a checkout that was never installed).
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Protocol

from labtool.errors import LabtoolError
from labtool.model import Kind, LabHost, Room

if TYPE_CHECKING:
    from collections.abc import Callable

    from labtool.backends.base import Backend
    from labtool.images.pair import ImagePair
    from labtool.settings import Settings

ENTRY_POINT_GROUP = "labtool.backends"
BUILT_IN = {"docker": "labtool.backends.docker:TECHNOLOGY", "vagrant": "labtool.backends.vagrant:TECHNOLOGY"}
TECHNOLOGY_OF_KIND = {Kind.CONTAINER: "docker", Kind.VM: "vagrant"}
"""Which technology makes each kind of machine."""


class Technology(Protocol):
    name: str
    kind: Kind

    def backend(self, settings: Settings, host: LabHost, images: ImagePair | None) -> Backend:
        """The backend of this technology for machines on `host`; new ones are made from `images`."""
        ...


class UnknownTechnologyError(LabtoolError):
    """No installed package provides a technology labtool was asked for."""


def technology(name: str) -> Technology:
    """The technology registered under `name`: an installed entry point first, else a built-in one."""
    found = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in found:
        loaded: Technology = found[name].load()
        return loaded
    if name in BUILT_IN:
        module, attribute = BUILT_IN[name].split(":")
        built_in: Technology = getattr(importlib.import_module(module), attribute)
        return built_in
    known = ", ".join(sorted({*found, *BUILT_IN}))
    raise UnknownTechnologyError(
        f"no backend technology named {name!r} is installed (known: {known})",
        f"install the package that provides it (entry point group {ENTRY_POINT_GROUP!r})",
    )


def for_host(settings: Settings, host: LabHost, images: ImagePair | None) -> dict[Kind, Backend]:
    """One backend per kind of machine, each for `host`."""
    return {kind: technology(name).backend(settings, host, images) for kind, name in TECHNOLOGY_OF_KIND.items()}


def for_room(
    settings: Settings, room: Room, host_of_seat: Callable[[str], str], images: ImagePair | None
) -> dict[Kind, Backend]:
    """One backend per kind for the room's lab hosts: the host's own when the room has one, else each kind's
    machines spread over the hosts, every call going to the host its seat is placed on."""
    if len(room.hosts) == 1:
        return for_host(settings, room.hosts[0], images)
    from labtool.backends.spread import SpreadBackend

    per_host = {host.name: for_host(settings, host, images) for host in room.hosts}
    return {
        kind: SpreadBackend(kind, {name: backends[kind] for name, backends in per_host.items()}, host_of_seat)
        for kind in TECHNOLOGY_OF_KIND
    }

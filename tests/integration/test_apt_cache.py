"""The apt cache on real containers of a room: the second machine downloads nothing new from the mirror."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labtool.backends.docker import image as docker_image
from labtool.backends.docker.backend import DockerBackend, container_name
from labtool.host import apt_cache, apt_cache_log, daemons
from labtool.model import THIS_HOST, ContainerResources, Kind, Machine, Networks, Room, Seat, VmResources
from labtool.settings import Settings
from tests.unit.rooms import reference_course

pytestmark = pytest.mark.docker

ROOM = "apt2"
NETWORK_INDEX = 227
PACKAGE = "hello"  # small (53 KB), and in no base image


@pytest.fixture(scope="module")
def running_cache(settings: Settings) -> None:
    if not settings.apt_cache:
        pytest.skip("the apt cache is turned off (LABTOOL_APT_CACHE=off)")
    daemons.ensure_apt_cache(settings.log_dir)


@pytest.fixture(scope="module")
def two_containers(built_images: str, running_cache: None) -> Iterator[tuple[Any, Any]]:
    seats = tuple(
        Seat(name, Machine(f"{name}-vm", Kind.VM, name), Machine(f"{name}-ct", Kind.CONTAINER, name))
        for name in ("s1", "s2")
    )
    room = Room(
        ROOM,
        Path("/nonexistent"),
        seats,
        VmResources(),
        ContainerResources(),
        Networks(NETWORK_INDEX),
        reference_course(),
    )
    backend = DockerBackend(THIS_HOST, docker_image.ref(built_images))
    machines = [seat.container for seat in seats]
    try:
        backend.bring_up(room, machines)
        first, second = (backend.client.containers.get(container_name(room, m)) for m in machines)
        yield first, second
    finally:
        backend.destroy(room, machines)
        backend.remove_room_resources(room)


def evict(package: str) -> None:
    """Take the package out of the cache, so the first machine's download is a miss whatever ran before."""
    for cached in apt_cache.CACHE_DIR.glob(f"*/pool/main/{package[0]}/{package}/{package}_*"):
        cached.unlink()


def apt_download(container: Any) -> tuple[list[apt_cache_log.Transfer], str]:
    """`apt-get update && apt-get install --download-only` through the cache; the transfers it caused."""
    container.reload()
    address = container.attrs["NetworkSettings"]["Networks"][f"labtool-{ROOM}"]["IPAddress"]
    mark = apt_cache_log.position(apt_cache.TRANSFER_LOG)
    proxy = f"Acquire::http::Proxy={apt_cache.machine_proxy_url()}"
    command = f"apt-get -q -o {proxy} update && apt-get -q -o {proxy} install -y --download-only {PACKAGE}"
    code, output = container.exec_run(["sh", "-c", command])
    assert code == 0, output.decode(errors="replace")[-2000:]
    transfers = [t for t in apt_cache_log.read(apt_cache.TRANSFER_LOG, since=mark) if t.client == address]
    return transfers, address


def package_transfers(transfers: list[apt_cache_log.Transfer]) -> list[apt_cache_log.Transfer]:
    return [t for t in transfers if f"/{PACKAGE}_" in t.path and t.path.endswith(".deb")]


def test_the_second_machine_fetches_no_new_byte_from_the_mirror(two_containers: tuple[Any, Any]) -> None:
    first_container, second_container = two_containers
    evict(PACKAGE)
    first, first_address = apt_download(first_container)
    second, second_address = apt_download(second_container)
    assert first_address != second_address

    # The first: the package is a miss, fetched from the mirror.
    fetched = [t for t in package_transfers(first) if t.direction == apt_cache_log.FETCHED]
    assert fetched and fetched[0].bytes > 0, first
    assert apt_cache_log.summarize(first).misses >= 1

    # The second: the package (and any package list the image's own lists lack) from the cache; from
    # the mirror only the re-check of the suites' Release files, which apt-cacher-ng makes on every
    # `apt-get update`. The images carry their lists, so an unchanged suite fetches no list at all.
    traffic = apt_cache_log.summarize(second)
    assert package_transfers(second) and all(t.direction == apt_cache_log.SERVED for t in package_transfers(second))
    assert traffic.new_bytes == 0, second
    assert traffic.hits >= 1 and traffic.misses == len({t.path for t in second if t.release_file})
    assert traffic.served_bytes > traffic.fetched_bytes

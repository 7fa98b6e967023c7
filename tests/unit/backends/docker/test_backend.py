"""The container backend against a fake Docker client: names, labels, limits, states."""

from __future__ import annotations

import dataclasses
from typing import Any

import docker
import pytest

from labtool.backends.base import Presence
from labtool.backends.docker import backend as backend_module
from labtool.backends.docker import image as docker_image
from labtool.backends.docker.backend import DockerBackend, container_name
from labtool.errors import DaemonError
from labtool.model import THIS_HOST, Access, ContainerResources, Kind, LabHost, Machine
from tests.unit.rooms import paired_room

ROOM = paired_room(container=ContainerResources(cpus=0.5, memory_mib=256), index=42)


class FakeContainer:
    def __init__(self, name: str, labels: dict[str, str], status: str = "running") -> None:
        self.name, self.labels, self.status = name, labels, status
        self.attrs: dict[str, Any] = {"NetworkSettings": {"Networks": {"labtool-demo": {"IPAddress": "10.213.42.2"}}}}
        self.removed = False

    def exec_run(self, argv: list[str]) -> Any:
        return type("Result", (), {"output": b"running\n"})()

    def start(self) -> None:
        self.status = "running"

    def stop(self, timeout: int) -> None:
        self.stop_timeout = timeout
        self.status = "exited"

    def remove(self, force: bool, v: bool) -> None:
        self.removed = force and v


class FakeNetwork:
    def __init__(self, name: str, attrs: dict[str, Any] | None = None) -> None:
        self.name = name
        self.attrs = attrs or {}
        self.removed = False

    def reload(self) -> None:
        pass

    def remove(self) -> None:
        self.removed = True


class FakeClient:
    def __init__(self) -> None:
        self.containers_made: list[dict[str, Any]] = []
        self.existing: list[FakeContainer] = []
        self.networks_made: list[str] = []
        self.network_options: dict[str, dict[str, Any]] = {}
        client = self

        class Containers:
            def list(self, all: bool, filters: dict[str, str]) -> list[FakeContainer]:
                assert all and filters == {"label": "labtool.room=demo"}
                return client.existing

            def run(self, image: str, **options: Any) -> FakeContainer:
                client.containers_made.append({"image": image, **options})
                container = FakeContainer(options["name"], options["labels"])
                client.existing.append(container)
                return container

        class Networks:
            def list(self, names: list[str]) -> list[Any]:
                # Docker's name filter matches part of a name, as the real engine's does.
                return [
                    FakeNetwork(n, {"EnableIPv6": client.network_options.get(n, {}).get("enable_ipv6", False)})
                    for n in client.networks_made
                    if any(wanted in n for wanted in names)
                ]

            def create(self, name: str, **options: Any) -> None:
                client.networks_made.append(name)
                client.network_options[name] = options

        class Images:
            def list(self, name: str) -> list[Any]:
                tags = [tag for tag in client.image_tags if tag.startswith(f"{name}:")]
                return [type("Image", (), {"tags": tags})()] if tags else []

            def get(self, tag: str) -> Any:
                if tag not in client.image_tags:
                    raise docker.errors.ImageNotFound(tag)
                return object()

            def remove(self, tag: str, force: bool = False) -> None:
                client.image_tags.remove(tag)

        class Api:
            def create_endpoint_config(self, ipv4_address: str) -> dict[str, str]:
                return {"IPv4Address": ipv4_address}

        self.image_tags: list[str] = []
        self.containers, self.networks, self.images, self.api = Containers(), Networks(), Images(), Api()


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture
def backend(fake: FakeClient) -> DockerBackend:
    docker_backend = DockerBackend(THIS_HOST, "labtool/debian12:key")
    docker_backend._client = fake
    return docker_backend


def test_observe_maps_containers_by_label_and_reports_absent_ones(backend: DockerBackend, fake: FakeClient) -> None:
    labels = {"labtool.room": "demo", "labtool.seat": "s1", "labtool.machine": "s1-ct"}
    fake.existing = [FakeContainer("labtool-demo_s1-ct", labels, status="exited")]
    observed = backend.observe(ROOM)
    assert set(observed) == {"s1-ct", "s2-ct"}
    assert observed["s1-ct"].presence is Presence.STOPPED
    assert observed["s2-ct"].presence is Presence.ABSENT


def test_bring_up_creates_an_unprivileged_systemd_container_with_the_rooms_limits(
    backend: DockerBackend, fake: FakeClient
) -> None:
    backend.bring_up(ROOM, [ROOM.seats[1].container])
    assert fake.networks_made == ["labtool-demo"]
    made = fake.containers_made[0]
    assert made["name"] == "labtool-demo_s2-ct" and made["hostname"] == "s2-ct"
    assert made["labels"] == {"labtool.room": "demo", "labtool.seat": "s2", "labtool.machine": "s2-ct"}
    assert (made["mem_limit"], made["nano_cpus"]) == ("256m", 500_000_000)
    assert made["privileged"] is False and made["network"] == "labtool-demo" and "network_mode" not in made
    assert made["cap_drop"] == ["ALL"] and made["cap_add"] == list(docker_image.CAPABILITIES)
    assert "no-new-privileges" not in made["security_opt"]
    assert made["volumes"] == {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "ro"}}
    assert backend.observe(ROOM)["s2-ct"].address == "10.213.42.2"


def test_the_rooms_network_carries_ipv6_with_a_unique_local_prefix(backend: DockerBackend, fake: FakeClient) -> None:
    backend.bring_up(ROOM, [ROOM.seats[0].container])
    options = fake.network_options["labtool-demo"]
    assert options["enable_ipv6"] is True
    subnets = [pool["Subnet"] for pool in options["ipam"]["Config"]]
    assert subnets == ["10.213.42.0/24", "fd6c:6162:2a::/64"]
    backend.bring_up(ROOM, [ROOM.seats[1].container])
    assert fake.networks_made == ["labtool-demo"]  # made once


def test_the_probe_relaxes_sandboxing_unless_the_room_says_not_to(backend: DockerBackend, fake: FakeClient) -> None:
    backend.bring_up(ROOM, [ROOM.seats[0].container])
    assert fake.containers_made[0]["environment"] == {"LABTOOL_SANDBOX_RELAX": "on"}
    strict = dataclasses.replace(ROOM, container=dataclasses.replace(ROOM.container, relax_sandboxing=False))
    backend.bring_up(strict, [strict.seats[1].container])
    assert fake.containers_made[1]["environment"] == {"LABTOOL_SANDBOX_RELAX": "off"}


def test_bring_up_starts_a_stopped_container_instead_of_making_another(
    backend: DockerBackend, fake: FakeClient
) -> None:
    labels = {"labtool.room": "demo", "labtool.seat": "s1", "labtool.machine": "s1-ct"}
    stopped = FakeContainer("labtool-demo_s1-ct", labels, status="exited")
    fake.existing = [stopped]
    backend.bring_up(ROOM, [ROOM.seats[0].container])
    assert stopped.status == "running" and fake.containers_made == []


def test_containers_are_reached_through_the_docker_api_as_the_lab_user(backend: DockerBackend) -> None:
    machine = ROOM.seats[0].container
    assert backend.connection(ROOM, machine)["ansible_connection"] == "docker"
    argv = backend.shell_argv(ROOM, machine, ["uptime"])
    assert argv == ["docker", "exec", "-i", "-u", "vagrant", "-w", "/home/vagrant", "labtool-demo_s1-ct", "uptime"]


def test_a_machine_and_a_room_never_share_a_container_name_with_another_pair() -> None:
    a, a_b = paired_room(1, name="a"), paired_room(1, name="a-b")
    b_x = Machine("b-x-ct", Kind.CONTAINER, "b-x")
    x = Machine("x-ct", Kind.CONTAINER, "x")
    assert container_name(a, b_x) != container_name(a_b, x)


def test_a_container_made_by_an_older_labtool_is_reached_by_its_own_name(backend: DockerBackend) -> None:
    fake = backend.client
    fake.existing = [FakeContainer("labtool-demo-s1-ct", {"labtool.room": "demo", "labtool.machine": "s1-ct"})]
    assert backend.connection(ROOM, ROOM.seats[0].container)["ansible_host"] == "labtool-demo-s1-ct"


def test_destroy_removes_only_the_named_machines_with_their_volumes(backend: DockerBackend, fake: FakeClient) -> None:
    fake.existing = [
        FakeContainer(f"labtool-demo_{n}", {"labtool.room": "demo", "labtool.machine": n}) for n in ("s1-ct", "s2-ct")
    ]
    fake.image_tags = ["labtool-checkpoint/demo_s1-ct:cp", "labtool-checkpoint/demo_s2-ct:cp", "labtool/debian12:k"]
    backend.destroy(ROOM, [ROOM.seats[0].container])
    assert [c.removed for c in fake.existing] == [True, False]
    assert fake.image_tags == ["labtool-checkpoint/demo_s2-ct:cp", "labtool/debian12:k"], "its checkpoints go with it"


def test_a_checkpoint_is_made_again_as_the_same_container_at_the_same_address(
    backend: DockerBackend, fake: FakeClient
) -> None:
    machine = ROOM.seats[0].container
    old = FakeContainer("labtool-demo_s1-ct", {"labtool.room": "demo", "labtool.machine": "s1-ct"})
    fake.existing = [old]
    fake.image_tags = ["labtool-checkpoint/demo_s1-ct:cp"]
    backend.restore_checkpoint(ROOM, machine, "cp")
    assert old.removed
    [made] = fake.containers_made
    assert made["image"] == "labtool-checkpoint/demo_s1-ct:cp" and made["name"] == "labtool-demo_s1-ct"
    assert made["networking_config"] == {"labtool-demo": {"IPv4Address": "10.213.42.2"}}
    assert made["labels"]["labtool.machine"] == "s1-ct" and made["mem_limit"] == "256m"


def test_restoring_a_checkpoint_that_is_not_there_names_the_listing(backend: DockerBackend, fake: FakeClient) -> None:
    fake.existing = [FakeContainer("labtool-demo_s1-ct", {"labtool.room": "demo", "labtool.machine": "s1-ct"})]
    with pytest.raises(backend_module.DockerBackendError, match="has no checkpoint 'nope'") as caught:
        backend.restore_checkpoint(ROOM, ROOM.seats[0].container, "nope")
    assert "labtool snapshot list" in caught.value.hint and not fake.existing[0].removed


def test_systemd_that_never_finishes_booting_is_a_readable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "READY_TIMEOUT", 0.01)
    stuck = FakeContainer("labtool-demo_s1-ct", {})
    stuck.exec_run = lambda argv: type("Result", (), {"output": b"starting\n"})()  # type: ignore[method-assign]
    with pytest.raises(backend_module.DockerBackendError, match=r"did not finish booting .* \(state: starting\)"):
        backend_module.wait_for_systemd(stuck, ROOM.seats[0].container.name)


def test_memory_in_use_leaves_out_reclaimable_page_cache_as_docker_stats_does() -> None:
    mib = 1024 * 1024
    v1 = {"usage": 90 * mib, "stats": {"total_inactive_file": 30 * mib, "inactive_file": 1}}
    v2 = {"usage": 90 * mib, "stats": {"inactive_file": 20 * mib}}
    assert backend_module.memory_in_use(v1) == 60 * mib
    assert backend_module.memory_in_use(v2) == 70 * mib
    assert backend_module.memory_in_use({}) == 0


def test_an_engine_that_does_not_answer_is_one_error_naming_labtool_daemons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    class DeadClient:
        class containers:  # noqa: N801
            @staticmethod
            def list(**options: Any) -> list[Any]:
                raise requests.exceptions.ConnectionError(
                    "('Connection aborted.', FileNotFoundError(2, 'No such file'))"
                )

    monkeypatch.setenv("DOCKER_HOST", "unix:///run/nowhere.sock")
    backend = DockerBackend(THIS_HOST, None)
    backend._client = DeadClient()
    with pytest.raises(DaemonError) as caught:
        backend.observe(ROOM)
    assert caught.value.message.startswith("the Docker engine does not answer at unix:///run/nowhere.sock (")
    assert "labtool daemons" in caught.value.hint


def test_a_room_with_access_publishes_each_containers_ssh_and_app_on_its_address_only(
    backend: DockerBackend, fake: FakeClient
) -> None:
    room = dataclasses.replace(ROOM, access=Access("127.0.0.1", 31000))
    backend.bring_up(room, [room.seats[1].container])
    assert fake.containers_made[0]["ports"] == {"22/tcp": ("127.0.0.1", 31004), "80/tcp": ("127.0.0.1", 31005)}
    backend.bring_up(ROOM, [ROOM.seats[0].container])
    assert fake.containers_made[1]["ports"] == {}, "nothing published unless the room says so"


def test_a_container_on_another_lab_host_publishes_on_that_hosts_address() -> None:
    room = dataclasses.replace(ROOM, access=Access("127.0.0.1", 31000))
    lab2 = LabHost("lab2", "root@192.0.2.12")
    assert backend_module.published_ports(room, room.seats[1].container, lab2) == {
        "22/tcp": ("192.0.2.12", 31004),
        "80/tcp": ("192.0.2.12", 31005),
    }


def test_bound_ports_read_back_what_a_container_was_created_with() -> None:
    container = FakeContainer("c", {})
    container.attrs["HostConfig"] = {"PortBindings": {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": "31004"}]}}
    assert backend_module.bound_ports(container) == {22: 31004}
    assert backend_module.bound_ports(FakeContainer("d", {})) == {}


def labelled(machine: str, status: str = "running") -> FakeContainer:
    seat = machine.removesuffix("-ct")
    labels = {"labtool.room": "demo", "labtool.seat": seat, "labtool.machine": machine}
    return FakeContainer(f"labtool-demo_{machine}", labels, status=status)


def test_stop_gives_systemd_time_to_shut_down_and_keeps_the_container(backend: DockerBackend, fake: FakeClient) -> None:
    fake.existing = [labelled("s1-ct"), labelled("s2-ct")]
    backend.stop(ROOM, [ROOM.seats[0].container])
    assert [c.status for c in fake.existing] == ["exited", "running"]
    assert fake.existing[0].stop_timeout == backend_module.STOP_TIMEOUT and not fake.existing[0].removed
    assert backend.observe(ROOM)["s1-ct"].presence is Presence.STOPPED


def test_start_starts_the_same_container_and_waits_for_systemd(backend: DockerBackend, fake: FakeClient) -> None:
    stopped = labelled("s1-ct", status="exited")
    booted: list[list[str]] = []

    def exec_run(argv: list[str]) -> Any:
        booted.append(argv)
        return type("Result", (), {"output": b"running\n"})()

    stopped.exec_run = exec_run  # type: ignore[method-assign]
    fake.existing = [stopped]
    backend.start(ROOM, [ROOM.seats[0].container])
    assert stopped.status == "running" and fake.containers_made == []
    assert booted == [["systemctl", "is-system-running"]]


def test_start_of_a_container_that_does_not_exist_says_to_run_up(backend: DockerBackend) -> None:
    with pytest.raises(backend_module.DockerBackendError, match="does not exist") as caught:
        backend.start(ROOM, [ROOM.seats[0].container])
    assert caught.value.hint == "create it with `labtool up demo`"


def test_the_rooms_network_is_found_by_its_exact_name(backend: DockerBackend, fake: FakeClient) -> None:
    fake.networks_made = ["labtool-demo2"]  # another room's, whose name starts with this room's
    assert backend.describe_room_resources(ROOM) == []
    backend.bring_up(ROOM, [ROOM.seats[0].container])
    assert fake.networks_made == ["labtool-demo2", "labtool-demo"]
    assert backend.describe_room_resources(ROOM) == ["Docker network labtool-demo (10.213.42.0/24, fd6c:6162:2a::/64)"]

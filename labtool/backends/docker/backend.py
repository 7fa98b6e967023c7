"""The container backend: one Docker container per container machine, systemd as PID 1, unprivileged.

Each room gets its own Docker network with its own subnet, and every container
carries labels (labtool.room / labtool.seat / labtool.machine) so that a room's
containers are found, listed and removed by label, never by guessing names.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from labtool import access
from labtool.backends.base import HostView, Observed, Presence
from labtool.backends.docker import engine
from labtool.backends.docker import image as docker_image
from labtool.errors import LabtoolError
from labtool.host import process_view
from labtool.images import recipe
from labtool.model import THIS_HOST, Kind, LabHost, Machine, Room
from labtool.settings import DOCKER_TIMEOUT

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30
"""Seconds systemd gets to shut the container down (the image's stop signal, SIGRTMIN+3) before Docker kills it."""
LAB_USER = recipe.VAGRANT_USER  # the same account `labtool ssh` uses on the VM
ROOM_LABEL, SEAT_LABEL, MACHINE_LABEL = "labtool.room", "labtool.seat", "labtool.machine"


class DockerBackendError(LabtoolError):
    """A container could not be created, started or removed."""


def container_name(room: Room, machine: Machine) -> str:
    """The engine's name of a machine: `_` is in neither a room's nor a machine's name, so no two pairs of them
    meet in one name (with `-`, room `a` machine `b-x-ct` and room `a-b` machine `x-ct` would)."""
    return f"labtool-{room.name}_{machine.name}"


def network_name(room: Room) -> str:
    return f"labtool-{room.name}"


class DockerBackend:
    kind = Kind.CONTAINER

    def __init__(self, host: LabHost, image: str | None, *, timeout: float = DOCKER_TIMEOUT) -> None:
        self.host = host
        """The lab host whose engine runs this backend's containers."""
        self.image = image
        """The image new containers are made from; None when this backend only looks and destroys."""
        self.timeout = timeout
        self._client: Any = None
        self._network = threading.Lock()  # machines come up in parallel; the room's network is made once
        self._shipping = threading.Lock()  # and the image goes to another lab host once

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = engine.client(self.host, self.timeout)
        return self._client

    def observe(self, room: Room) -> dict[str, Observed]:
        import docker
        import requests

        try:
            found = {c.labels.get(MACHINE_LABEL): c for c in self._room_containers(room)}
        except docker.errors.APIError:
            raise  # the engine answered, with an error of its own
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise engine.unreachable(self.host, exc) from exc
        observed = {}
        for machine in room.machines:
            if machine.kind is not Kind.CONTAINER:
                continue
            container = found.get(machine.name)
            if container is None:
                observed[machine.name] = Observed(machine.name, Presence.ABSENT)
            elif container.status == "running":
                observed[machine.name] = Observed(machine.name, Presence.RUNNING, _address(container, room))
            else:
                observed[machine.name] = Observed(machine.name, Presence.STOPPED)
        return observed

    def bring_up(self, room: Room, machines: Sequence[Machine]) -> None:
        with self._network:
            self._ensure_network(room)
        existing = {c.labels.get(MACHINE_LABEL): c for c in self._room_containers(room)}
        for machine in machines:
            container = existing.get(machine.name)
            if container is None:
                container = self._create(room, machine)
            elif container.status != "running":
                container.start()
            wait_for_systemd(container, machine.name)

    def stop(self, room: Room, machines: Sequence[Machine]) -> None:
        import docker

        for container in self._containers_of(room, machines):
            if container.status == "running":
                try:
                    container.stop(timeout=STOP_TIMEOUT)
                except docker.errors.APIError as exc:
                    raise DockerBackendError(
                        f"cannot stop the container {container.name}: {exc.explanation}",
                        f"look at it with `docker inspect {container.name}`",
                    ) from exc

    def start(self, room: Room, machines: Sequence[Machine]) -> None:
        import docker

        found = {c.labels.get(MACHINE_LABEL): c for c in self._containers_of(room, machines)}
        for machine in machines:
            container = found.get(machine.name)
            if container is None:
                raise DockerBackendError(
                    f"the container of {machine.name} does not exist", f"create it with `labtool up {room.name}`"
                )
            if container.status != "running":
                try:
                    container.start()
                except docker.errors.APIError as exc:
                    raise DockerBackendError(
                        f"cannot start the container {container.name}: {exc.explanation}",
                        f"look inside with `docker logs {container.name}`",
                    ) from exc
            wait_for_systemd(container, machine.name)

    def connection(self, room: Room, machine: Machine) -> dict[str, object]:
        return docker_connection(self._name_in_engine(room, machine))

    def tool_env(self, room: Room, machine: Machine) -> Mapping[str, str]:
        """Another lab host's containers are reached through its engine, over SSH (the CLI's `ssh://`)."""
        return {} if self.host.is_local else {"DOCKER_HOST": engine.url(self.host)}

    def shell_argv(self, room: Room, machine: Machine, command: Sequence[str]) -> list[str]:
        interactive = ["-it"] if not command else ["-i"]
        return [
            "docker",
            *([] if self.host.is_local else ["-H", engine.url(self.host)]),
            "exec",
            *interactive,
            "-u",
            LAB_USER,
            "-w",
            f"/home/{LAB_USER}",
            self._name_in_engine(room, machine),
            *(command or ["bash", "-l"]),
        ]

    def host_view(self, room: Room, machine: Machine) -> HostView:
        container = self.client.containers.get(self._name_in_engine(room, machine))
        image = self.client.images.get(container.attrs["Image"])
        # Only the list endpoint reports the writable layer's size.
        (sized,) = self.client.api.containers(all=True, size=True, filters={"id": container.id})
        process = process_view.view_on(self.host, int(container.attrs["State"]["Pid"]))
        return HostView(
            pid=process.pid,
            process=process.name,
            ancestry=process.ancestry,
            memory_bytes=memory_in_use(container.stats(stream=False, one_shot=True).get("memory_stats", {})),
            memory_source="cgroup usage",
            base_disk_bytes=int(image.attrs.get("Size", 0)),
            base_disk="image",
            own_disk_bytes=int(sized.get("SizeRw") or 0),
            own_disk="writable layer",
            shared_namespaces=process.shared_namespaces,
            host_kernel=process.kernel,
        )

    def destroy(self, room: Room, machines: Sequence[Machine]) -> None:
        for container in self._containers_of(room, machines):
            container.remove(force=True, v=True)
        for machine in machines:  # its checkpoints go with it, as a VM's snapshots go with its disk
            for image in self.client.images.list(name=checkpoint_repository(room, machine)):
                for tag in image.tags:
                    self.client.images.remove(tag, force=True)

    # -- checkpoints: the container committed to an image, and made again from it --

    def save_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        import docker

        container = self._running(room, machine)
        try:
            container.commit(repository=checkpoint_repository(room, machine), tag=name, pause=True)
        except docker.errors.APIError as exc:
            raise DockerBackendError(
                f"cannot commit {container.name} to a checkpoint: {exc.explanation}",
                "check the engine's free disk with `labtool doctor`",
            ) from exc

    def restore_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        """The container made again from its checkpoint: same name, address, published ports and limits."""
        import docker

        image = f"{checkpoint_repository(room, machine)}:{name}"
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound as exc:
            raise DockerBackendError(
                f"{machine.name} has no checkpoint {name!r} (no image {image})",
                f"list the seat's checkpoints: `labtool snapshot list {room.name} --seat {machine.seat}`",
            ) from exc
        old = self._running(room, machine)
        address = _address(old, room)
        old.remove(force=True, v=True)
        wait_for_systemd(self._create(room, machine, image=image, address=address), machine.name)

    def delete_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        import docker

        # Forced: a container restored from it goes on running from the (then untagged) image.
        with contextlib.suppress(docker.errors.ImageNotFound):
            self.client.images.remove(f"{checkpoint_repository(room, machine)}:{name}", force=True)

    def _running(self, room: Room, machine: Machine) -> Any:
        found = [c for c in self._containers_of(room, [machine]) if c.status == "running"]
        if not found:
            raise DockerBackendError(
                f"{machine.name} is not running", f"start it first: `labtool start {room.name} --seat {machine.seat}`"
            )
        return found[0]

    def remove_room_resources(self, room: Room) -> None:
        for network in self._networks(room):
            network.remove()

    def describe_room_resources(self, room: Room) -> list[str]:
        if not self._networks(room):
            return []
        return [f"Docker network {network_name(room)} ({', '.join(room_subnets(room))})"]

    def _name_in_engine(self, room: Room, machine: Machine) -> str:
        """The machine's container's name, found by its labels: one made by an older labtool has another form."""
        found = self._containers_of(room, [machine])
        return str(found[0].name) if found else container_name(room, machine)

    def _networks(self, room: Room) -> list[Any]:
        """The room's network: Docker's name filter also matches longer names (labtool-a finds labtool-ab)."""
        return [n for n in self.client.networks.list(names=[network_name(room)]) if n.name == network_name(room)]

    def _containers_of(self, room: Room, machines: Sequence[Machine]) -> list[Any]:
        names = {m.name for m in machines}
        return [c for c in self._room_containers(room) if c.labels.get(MACHINE_LABEL) in names]

    def _room_containers(self, room: Room) -> list[Any]:
        return list(self.client.containers.list(all=True, filters={"label": f"{ROOM_LABEL}={room.name}"}))

    def _ensure_network(self, room: Room) -> None:
        import docker

        for network in self._networks(room):
            network.reload()  # the list endpoint leaves out the containers attached
            if network.attrs.get("EnableIPv6") or network.attrs.get("Containers"):
                return
            network.remove()  # made by an older labtool without IPv6, and empty: made again with it
        pools = [docker.types.IPAMPool(subnet=subnet) for subnet in room_subnets(room)]
        try:
            self.client.networks.create(
                network_name(room),
                driver="bridge",
                ipam=docker.types.IPAMConfig(pool_configs=pools),
                enable_ipv6=True,  # `::1`, link-local and the room's unique-local prefix, as a VM has IPv6
                labels={ROOM_LABEL: room.name},
            )
        except docker.errors.APIError as exc:
            raise DockerBackendError(
                f"cannot create the Docker network {network_name(room)} ({room.networks.container_subnet}): "
                f"{exc.explanation}",
                f"another network may use that subnet: change network.index in {room.path / 'labtool.yml'}",
            ) from exc

    def _ship(self, image: str) -> None:
        """Another lab host gets the image from this one once (`docker save | docker load`, over its SSH), only
        while it lacks it: the image's name carries its key, so a changed image is a new name."""
        import docker

        if self.host.is_local:
            return
        with self._shipping:
            try:
                self.client.images.get(image)
                return
            except docker.errors.ImageNotFound:
                pass
            here = engine.client(THIS_HOST, self.timeout)
            try:
                self.client.images.load(here.images.get(image).save(named=True))
            except docker.errors.DockerException as exc:
                raise DockerBackendError(
                    f"cannot ship the image {image} to lab host {self.host.name}: {exc}",
                    f"check its free disk with `labtool hosts list`, or load it there by hand: "
                    f"`docker save {image} | docker -H {engine.url(self.host)} load`",
                ) from exc

    def _create(self, room: Room, machine: Machine, *, image: str | None = None, address: str | None = None) -> Any:
        """A new container for the machine, from the backend's image (or `image`), at `address` when given."""
        import docker

        image = image or self.image
        if image is None:
            raise DockerBackendError(f"no image to create {machine.name} from", "create machines with `labtool up`")
        self._ship(image)
        endpoint = None
        if address is not None:  # made again from a checkpoint: where the students and the VM knew it
            endpoint = {network_name(room): self.client.api.create_endpoint_config(ipv4_address=address)}
        try:
            return self.client.containers.run(
                image,
                detach=True,
                name=container_name(room, machine),
                hostname=machine.name,
                network=network_name(room),
                networking_config=endpoint,
                labels={ROOM_LABEL: room.name, SEAT_LABEL: machine.seat, MACHINE_LABEL: machine.name},
                mem_limit=f"{room.container.memory_mib}m",
                nano_cpus=int(room.container.cpus * 1e9),
                ports=published_ports(room, machine, self.host),
                # A restarted dockerd starts the room again; `labtool stop` (docker stop) still keeps it stopped.
                restart_policy={"Name": "unless-stopped"},
                **docker_image.run_options(relax_sandboxing=room.container.relax_sandboxing),
            )
        except docker.errors.APIError as exc:
            ports = published_ports(room, machine, self.host)
            hint = "check `labtool doctor`, then run `labtool up` again"
            if ports and "address already in use" in str(exc.explanation).lower() + str(exc).lower():
                hint = f"another program or room uses one of the ports {ports}: free it or change access.port_base"
            message = f"cannot create the container for {machine.name}: {exc.explanation}"
            raise DockerBackendError(message, hint) from exc


CHECKPOINT_REPOSITORY = "labtool-checkpoint"
"""Where containers' checkpoints are committed: outside labtool's image repository, so `images prune` keeps them."""


def checkpoint_repository(room: Room, machine: Machine) -> str:
    return f"{CHECKPOINT_REPOSITORY}/{room.name}_{machine.name}"


def room_subnets(room: Room) -> tuple[str, str]:
    return room.networks.container_subnet, room.networks.container_subnet6


def published_ports(room: Room, machine: Machine, host: LabHost) -> dict[str, tuple[str, int]]:
    """Docker's `ports`: the machine's SSH and app on its lab host's access address (empty: nothing published)."""
    address = access.address_on(room, host)
    if address is None:
        return {}
    return {f"{guest}/tcp": (address, port) for guest, port in access.published(room, machine).items()}


def bound_ports(container: Any) -> dict[int, int]:
    """Guest port -> host port as the container was created (a container's ports cannot change after)."""
    bindings = container.attrs.get("HostConfig", {}).get("PortBindings") or {}
    found = {}
    for guest, hosts in bindings.items():
        for binding in hosts or []:
            if binding.get("HostPort"):
                found[int(guest.split("/")[0])] = int(binding["HostPort"])
    return found


def _address(container: Any, room: Room) -> str | None:
    networks = container.attrs.get("NetworkSettings", {}).get("Networks", {})
    address = networks.get(network_name(room), {}).get("IPAddress")
    return address or None


def docker_connection(container: str) -> dict[str, object]:
    """Ansible host variables for a container: `docker exec`, no SSH, no keys.

    `docker` (not its collection's full name) is what the mitogen strategy recognises;
    stock Ansible routes it to community.docker.docker.
    """
    return {"ansible_connection": "docker", "ansible_host": container, "ansible_python_interpreter": "/usr/bin/python3"}


def wait_for_systemd(container: Any, name: str) -> None:
    """Ready = systemd finished booting ("running", or "degraded" when a unit failed: provisioning still works)."""
    deadline = time.monotonic() + READY_TIMEOUT
    state = ""
    while time.monotonic() < deadline:
        try:
            state = container.exec_run(["systemctl", "is-system-running"]).output.decode().strip()
        except BrokenPipeError:  # the SDK's exec over `ssh://` now and then loses its pipe (docker-py #3218)
            state = "unknown"
        if state in ("running", "degraded"):
            return
        time.sleep(0.1)
    raise DockerBackendError(
        f"systemd in the container {name} did not finish booting within {READY_TIMEOUT:.0f} s "
        f"(state: {state or 'unknown'})",
        f"look inside with `docker logs {container.name}`",
    )


def memory_in_use(stats: dict[str, Any]) -> int:
    """The cgroup's usage less its inactive page cache: what `docker stats` shows (cgroup v1 and v2)."""
    usage = int(stats.get("usage", 0))
    detail = stats.get("stats", {})
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return max(0, usage - int(cache))

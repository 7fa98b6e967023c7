"""One kind's machines spread over a room's lab hosts, behind the same Backend Protocol.

Each call goes to the backend built for the host the machine's seat is placed on
(labtool/placement.py), so the lab's code never asks where a machine runs. A host whose daemon
does not answer leaves its own machines unknown; the other hosts' machines are observed as
usual, so one lab host that is off fails only its seats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import groupby

from labtool.backends.base import Backend, HostView, Observed, Presence, ToolEnv
from labtool.errors import DaemonError, LabtoolError
from labtool.model import Kind, Machine, Room

HOST_SILENT = "its lab host {host} does not answer"
"""How a machine's failure begins when its lab host does not answer (what `up`, `status` and verify say)."""


class SpreadBackend:
    def __init__(self, kind: Kind, per_host: Mapping[str, Backend], host_of_seat: Callable[[str], str]) -> None:
        self.kind = kind
        self.per_host = dict(per_host)
        self.host_of_seat = host_of_seat

    def backend_for(self, machine: Machine) -> Backend:
        return self.per_host[self.host_of_seat(machine.seat)]

    def _by_host(self, machines: Sequence[Machine]) -> list[tuple[Backend, list[Machine]]]:
        def host(machine: Machine) -> str:
            return self.host_of_seat(machine.seat)

        return [(self.per_host[name], list(group)) for name, group in groupby(sorted(machines, key=host), key=host)]

    def observe(self, room: Room) -> dict[str, Observed]:
        mine = [m for m in room.machines if m.kind is self.kind]
        observed: dict[str, Observed] = {}
        failures: dict[str, DaemonError] = {}
        for name, backend in self.per_host.items():
            try:
                seen = backend.observe(room)
            except DaemonError as exc:
                failures[name] = exc
                continue
            for machine in mine:
                if self.host_of_seat(machine.seat) == name and machine.name in seen:
                    observed[machine.name] = seen[machine.name]
        if failures and len(failures) == len(self.per_host):
            raise next(iter(failures.values()))
        for machine in mine:
            failure = failures.get(self.host_of_seat(machine.seat))
            if failure is not None:
                note = f"{HOST_SILENT.format(host=self.host_of_seat(machine.seat))}: {failure.message}"
                observed[machine.name] = Observed(machine.name, Presence.UNKNOWN, note=note)
        return observed

    def bring_up(self, room: Room, machines: Sequence[Machine]) -> None:
        for backend, group in self._by_host(machines):
            backend.bring_up(room, group)

    def connection(self, room: Room, machine: Machine) -> dict[str, object]:
        return self.backend_for(machine).connection(room, machine)

    def shell_argv(self, room: Room, machine: Machine, command: Sequence[str]) -> list[str]:
        return self.backend_for(machine).shell_argv(room, machine, command)

    def stop(self, room: Room, machines: Sequence[Machine]) -> None:
        for backend, group in self._by_host(machines):
            backend.stop(room, group)

    def start(self, room: Room, machines: Sequence[Machine]) -> None:
        for backend, group in self._by_host(machines):
            backend.start(room, group)

    def tool_env(self, room: Room, machine: Machine) -> Mapping[str, str]:
        backend = self.backend_for(machine)
        return backend.tool_env(room, machine) if isinstance(backend, ToolEnv) else {}

    def host_view(self, room: Room, machine: Machine) -> HostView:
        return self.backend_for(machine).host_view(room, machine)

    def destroy(self, room: Room, machines: Sequence[Machine]) -> None:
        for backend, group in self._by_host(machines):
            backend.destroy(room, group)

    def remove_room_resources(self, room: Room) -> None:
        errors: list[LabtoolError] = []
        for backend in self.per_host.values():
            try:
                backend.remove_room_resources(room)
            except LabtoolError as exc:  # the other hosts' networks go all the same
                errors.append(exc)
        if errors:
            raise errors[0]

    def describe_room_resources(self, room: Room) -> list[str]:
        described: list[str] = []
        for name, backend in self.per_host.items():
            try:
                described += [f"{phrase} on {name}" for phrase in backend.describe_room_resources(room)]
            except DaemonError:
                described.append(f"whatever the room has on {name} (its daemon does not answer)")
        return described

    # Checkpoints go to the machine's own host (backends without them raise as they would alone).
    def save_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        self.backend_for(machine).save_checkpoint(room, machine, name)  # type: ignore[attr-defined]

    def restore_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        self.backend_for(machine).restore_checkpoint(room, machine, name)  # type: ignore[attr-defined]

    def delete_checkpoint(self, room: Room, machine: Machine, name: str) -> None:
        self.backend_for(machine).delete_checkpoint(room, machine, name)  # type: ignore[attr-defined]

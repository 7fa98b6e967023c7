"""Decide what `labtool up` must do to each machine, and why. Pure: no I/O, so it is easy to test and print."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from labtool.backends.base import Observed, Presence
from labtool.model import Kind, Machine, Room
from labtool.state import MachineRecord, RoomState


class Action(StrEnum):
    CREATE = "create"
    START = "start"
    PROVISION = "provision"


@dataclass(frozen=True)
class Step:
    machine: Machine
    actions: tuple[Action, ...]
    reason: str

    @property
    def needs_machine(self) -> bool:
        """Does the backend have to create or start it before provisioning?"""
        return Action.CREATE in self.actions or Action.START in self.actions


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    provision_key: str = ""
    """The key the plan was made against; a machine provisioned by carrying it out is recorded with it."""

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.actions)

    def of_kind(self, kind: Kind) -> tuple[Step, ...]:
        return tuple(s for s in self.changes if s.machine.kind is kind)


def make_plan(
    room: Room,
    observed: Mapping[str, Observed],
    state: RoomState,
    provision_key: str,
    *,
    seats: Collection[str] | None = None,
    force_provision: bool = False,
) -> Plan:
    steps = []
    for machine in room.machines:
        if seats is None or machine.seat in seats:
            steps.append(_step(machine, observed.get(machine.name), state, provision_key, force_provision))
    return Plan(tuple(steps), provision_key)


def _step(machine: Machine, seen: Observed | None, state: RoomState, key: str, force: bool) -> Step:
    presence = seen.presence if seen else Presence.ABSENT
    if presence is Presence.ABSENT:
        return Step(machine, (Action.CREATE, Action.PROVISION), "does not exist")
    why = _why_provision(state.machines.get(machine.name), key, force)
    if presence is Presence.STOPPED:
        # A stopped machine keeps its disk: started, it is what it was, so the same rules as for a running one decide.
        if why:
            return Step(machine, (Action.START, Action.PROVISION), f"is stopped; {why}")
        return Step(machine, (Action.START,), "is stopped; its provisioning is current")
    if why:
        return Step(machine, (Action.PROVISION,), why)
    return Step(machine, (), "running and provisioned")


def _why_provision(record: MachineRecord | None, key: str, force: bool) -> str:
    """Why an existing machine must be provisioned, or "" when its last provisioning is current."""
    if record is None or record.provisioned_key is None:
        return "its last provisioning failed" if record and record.failed else "was never provisioned"
    if record.provisioned_key != key:
        return "playbooks, roles or the room's inventory changed since"
    if force:
        return "provisioning was asked for"
    return ""

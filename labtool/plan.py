"""Decide what `labtool up` must do to each machine, and why. Pure: no I/O, so it is easy to test and print."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from labtool.backends.base import Observed, Presence
from labtool.images.pair import ImagePair
from labtool.model import Kind, Machine, Room
from labtool.state import MachineRecord, RoomState


class Action(StrEnum):
    CREATE = "create"
    RECREATE = "recreate"
    """Destroy, then create: a machine whose creation was interrupted may lack what a first boot does once."""
    START = "start"
    PROVISION = "provision"
    ACCOUNT = "account"
    """Only the student's account (labtool's account play), the course being up to date."""


CREATING = frozenset({Action.CREATE, Action.RECREATE})
"""The steps a machine is being made in: one cut off or failed during them is made again, not started."""


@dataclass(frozen=True)
class Step:
    machine: Machine
    actions: tuple[Action, ...]
    reason: str
    blocked: bool = False
    """Labtool cannot reach the machine now (its lab host does not answer): `up` fails it, with the reason,
    and goes on with the others."""

    @property
    def needs_machine(self) -> bool:
        """Does the backend have to create or start it before provisioning?"""
        return bool({Action.CREATE, Action.RECREATE, Action.START} & set(self.actions))


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    provision_key: str = ""
    """The key the plan was made against; a machine provisioned by carrying it out is recorded with it."""
    images: ImagePair | None = None
    """The pair machines the plan creates are made from (base, or the course's baked pair)."""

    @property
    def creates(self) -> bool:
        return any(Action.CREATE in s.actions or Action.RECREATE in s.actions for s in self.steps)

    @property
    def changes(self) -> tuple[Step, ...]:
        """The steps with work to do, and those that cannot be done (a room with either is not up to date)."""
        return tuple(s for s in self.steps if s.actions or s.blocked)

    def of_kind(self, kind: Kind) -> tuple[Step, ...]:
        return tuple(s for s in self.changes if s.machine.kind is kind)


def make_plan(
    room: Room,
    observed: Mapping[str, Observed],
    state: RoomState,
    provision_key: str,
    *,
    seats: Collection[str] | None = None,
    kinds: Collection[Kind] | None = None,
    force_provision: bool = False,
    images: ImagePair | None = None,
    accounts: Mapping[str, str] | None = None,
) -> Plan:
    """seats, kinds: only these machines (None: all); accounts: machine -> the student account token it must carry
    (accounts.tokens); None: not checked."""
    steps = []
    for machine in room.machines:
        if (seats is None or machine.seat in seats) and (kinds is None or machine.kind in kinds):
            seen = observed.get(machine.name)
            step = _unreachable(machine, seen) or _step(machine, seen, state, provision_key, force_provision)
            if accounts is not None:
                step = _account_step(step, state, accounts.get(machine.name, ""))
            steps.append(step)
    return Plan(tuple(steps), provision_key, images)


def _account_step(step: Step, state: RoomState, wanted: str) -> Step:
    """A machine whose course is up to date but whose student account is not gets the account alone.

    (Provisioning always applies the account after the course, so other steps need nothing more.)
    """
    record = state.machines.get(step.machine.name)
    had = record.account if record else ""
    if step.actions or step.blocked or wanted == had:
        return step
    if not wanted:
        reason = "its seat's student left"
    elif had.split(":", 1)[0] != wanted.split(":", 1)[0]:
        reason = "its seat has a new student"
    else:
        reason = "its student's password was issued or changed"
    return Step(step.machine, (Action.ACCOUNT,), reason)


def _unreachable(machine: Machine, seen: Observed | None) -> Step | None:
    """A machine whose lab host does not answer: nothing can be done to it now, and `up` says why."""
    if seen is None or seen.presence is not Presence.UNKNOWN:
        return None
    return Step(machine, (), seen.note or "its daemon does not answer", blocked=True)


def _step(machine: Machine, seen: Observed | None, state: RoomState, key: str, force: bool) -> Step:
    presence = seen.presence if seen else Presence.ABSENT
    record = state.machines.get(machine.name)
    if presence is Presence.ABSENT:
        return Step(machine, (Action.CREATE, Action.PROVISION), "does not exist")
    redo = _redo_interrupted(machine, presence, record)
    if redo is not None:
        return redo
    why = _why_provision(record, key, force)
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
        if record and record.working == Action.PROVISION:
            return "labtool was stopped before its provisioning ended"
        return "its last provisioning failed" if record and record.failed else "was never provisioned"
    if record.provisioned_key != key:
        return "playbooks, roles or the room's inventory changed since"
    if force:
        return "provisioning was asked for"
    return ""


def _redo_interrupted(machine: Machine, presence: Presence, record: MachineRecord | None) -> Step | None:
    """An existing machine an earlier labtool was creating or starting when it was stopped, or whose creation
    failed part way (its record still says so): made again, or started and provisioned."""
    working = record.working if record else ""
    if working in CREATING:
        # Its first boot may not have finished what a first boot does once (SSH host keys, Vagrant's key swap,
        # the VM's hostname).
        why = "its creation failed part way" if record and record.failed else "labtool was stopped while creating it"
        return Step(machine, (Action.RECREATE, Action.PROVISION), why)
    if working == Action.START and presence is Presence.RUNNING:
        return Step(machine, (Action.START, Action.PROVISION), "labtool was stopped while starting it")
    return None

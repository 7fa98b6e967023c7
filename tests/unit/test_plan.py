import pytest

from labtool.backends.base import Observed, Presence
from labtool.images import pair
from labtool.model import Kind, Room
from labtool.plan import Action, make_plan
from labtool.state import MachineRecord, RoomState
from tests.unit.rooms import paired_room

KEY = "k1"


def room(seats: int = 2) -> Room:
    return paired_room(seats, seat_name=lambda i: f"seat{i:02}")


def running(*names: str) -> dict[str, Observed]:
    return {n: Observed(n, Presence.RUNNING, "10.0.0.2") for n in names}


def provisioned(*names: str, key: str = KEY) -> RoomState:
    return RoomState({n: MachineRecord(provisioned_key=key, changed=0) for n in names})


ALL = ("seat01-vm", "seat01-ct", "seat02-vm", "seat02-ct")


def test_an_empty_room_creates_and_provisions_everything() -> None:
    plan = make_plan(room(), {}, RoomState(), KEY)
    assert [s.actions for s in plan.steps] == [(Action.CREATE, Action.PROVISION)] * 4
    assert all(s.reason == "does not exist" for s in plan.steps)
    assert [s.machine.name for s in plan.of_kind(Kind.CONTAINER)] == ["seat01-ct", "seat02-ct"]


def test_a_healthy_room_needs_nothing() -> None:
    plan = make_plan(room(), running(*ALL), provisioned(*ALL), KEY)
    assert plan.changes == ()
    assert {s.reason for s in plan.steps} == {"running and provisioned"}


@pytest.mark.parametrize(
    ("observed", "record", "actions", "reason"),
    [
        (
            Presence.STOPPED,
            MachineRecord(provisioned_key=KEY),
            (Action.START,),
            "is stopped; its provisioning is current",
        ),
        (
            Presence.STOPPED,
            MachineRecord(provisioned_key="old"),
            (Action.START, Action.PROVISION),
            "is stopped; playbooks, roles or the room's inventory changed since",
        ),
        (
            Presence.STOPPED,
            MachineRecord(failed=True),
            (Action.START, Action.PROVISION),
            "is stopped; its last provisioning failed",
        ),
        (Presence.ABSENT, MachineRecord(provisioned_key=KEY), (Action.CREATE, Action.PROVISION), "does not exist"),
        (Presence.RUNNING, MachineRecord(), (Action.PROVISION,), "was never provisioned"),
        (Presence.RUNNING, MachineRecord(failed=True), (Action.PROVISION,), "its last provisioning failed"),
        (
            Presence.RUNNING,
            MachineRecord(provisioned_key="old"),
            (Action.PROVISION,),
            "playbooks, roles or the room's inventory changed since",
        ),
    ],
)
def test_each_fault_is_repaired_with_a_reason(
    observed: Presence, record: MachineRecord, actions: tuple[Action, ...], reason: str
) -> None:
    seen = {**running(*ALL), "seat02-ct": Observed("seat02-ct", observed)}
    state = provisioned(*ALL)
    state.machines["seat02-ct"] = record
    plan = make_plan(room(), seen, state, KEY)
    assert [(s.machine.name, s.actions, s.reason) for s in plan.changes] == [("seat02-ct", actions, reason)]


def test_seat_filter_and_forced_provisioning() -> None:
    plan = make_plan(room(), running(*ALL), provisioned(*ALL), KEY, seats={"seat02"}, force_provision=True)
    assert [s.machine.name for s in plan.steps] == ["seat02-vm", "seat02-ct"]
    assert all(s.actions == (Action.PROVISION,) and not s.needs_machine for s in plan.changes)


def test_kind_filter_plans_only_those_machines_of_the_seats() -> None:
    plan = make_plan(room(), running(*ALL), provisioned(*ALL), KEY, kinds={Kind.CONTAINER}, force_provision=True)
    assert [s.machine.name for s in plan.changes] == ["seat01-ct", "seat02-ct"]
    assert [s.machine.name for s in plan.steps] == ["seat01-ct", "seat02-ct"], "the VMs are not in the plan at all"


def test_the_plan_names_the_pair_new_machines_are_made_from() -> None:
    baked = pair.baked("base", KEY)
    plan = make_plan(room(), running("seat01-vm", "seat01-ct"), provisioned(*ALL), KEY, images=baked)
    assert plan.images == baked
    assert plan.creates, "seat02 does not exist: it is made from the baked pair"
    healthy = make_plan(room(), running(*ALL), provisioned(*ALL), KEY, images=baked)
    assert not healthy.creates


@pytest.mark.parametrize(
    ("observed", "working", "actions", "reason"),
    [
        # Its creation was cut: whatever exists of it is made again.
        (Presence.RUNNING, "create", (Action.RECREATE, Action.PROVISION), "labtool was stopped while creating it"),
        (Presence.STOPPED, "recreate", (Action.RECREATE, Action.PROVISION), "labtool was stopped while creating it"),
        (Presence.ABSENT, "create", (Action.CREATE, Action.PROVISION), "does not exist"),
        # Its start was cut: started again (waiting until it answers), its disk kept.
        (Presence.RUNNING, "start", (Action.START, Action.PROVISION), "labtool was stopped while starting it"),
        (Presence.STOPPED, "start", (Action.START, Action.PROVISION), "is stopped; was never provisioned"),
        (
            Presence.RUNNING,
            "provision",
            (Action.PROVISION,),
            "labtool was stopped before its provisioning ended",
        ),
    ],
)
def test_a_step_an_earlier_labtool_was_stopped_in_is_redone(
    observed: Presence, working: str, actions: tuple[Action, ...], reason: str
) -> None:
    seen = {**running(*ALL), "seat01-vm": Observed("seat01-vm", observed)}
    state = provisioned(*ALL)
    state.machines["seat01-vm"] = MachineRecord(provisioned_key=None, working=working)
    plan = make_plan(room(), seen, state, KEY)
    assert [(s.machine.name, s.actions, s.reason) for s in plan.changes] == [("seat01-vm", actions, reason)]
    assert plan.creates is (Action.CREATE in actions or Action.RECREATE in actions)


def test_a_student_account_out_of_date_is_set_alone_without_the_course() -> None:
    records = provisioned(*ALL)
    records.machines["seat01-vm"].account = "ada:locked"
    records.machines["seat01-ct"].account = "ada:1111"
    records.machines["seat02-ct"].account = "grace:2222"
    wanted = {"seat01-vm": "ada:1111", "seat01-ct": "ada:1111", "seat02-vm": "alan:locked", "seat02-ct": ""}
    plan = make_plan(room(), running(*ALL), records, KEY, accounts=wanted)
    assert [(s.machine.name, s.actions, s.reason) for s in plan.changes] == [
        ("seat01-vm", (Action.ACCOUNT,), "its student's password was issued or changed"),
        ("seat02-vm", (Action.ACCOUNT,), "its seat has a new student"),
        ("seat02-ct", (Action.ACCOUNT,), "its seat's student left"),
    ]
    assert not any(s.needs_machine for s in plan.changes)


def test_provisioning_carries_the_account_so_it_is_not_planned_twice() -> None:
    wanted = dict.fromkeys(ALL, "ada:1111")
    plan = make_plan(room(), {}, RoomState(), KEY, accounts=wanted)
    assert [s.actions for s in plan.steps] == [(Action.CREATE, Action.PROVISION)] * 4


def test_a_stopped_machine_is_started_and_provisioned_only_when_provisioning_is_asked_for() -> None:
    seen = {**running(*ALL), "seat01-vm": Observed("seat01-vm", Presence.STOPPED)}
    plan = make_plan(room(), seen, provisioned(*ALL), KEY, seats={"seat01"}, force_provision=True)
    assert [(s.machine.name, s.actions) for s in plan.changes] == [
        ("seat01-vm", (Action.START, Action.PROVISION)),
        ("seat01-ct", (Action.PROVISION,)),
    ]
    assert plan.changes[0].needs_machine and plan.changes[0].reason == "is stopped; provisioning was asked for"


def test_a_machine_whose_lab_host_does_not_answer_is_blocked_with_the_reason_and_nothing_else() -> None:
    why = "its lab host lab2 does not answer: ssh: connect to host 192.0.2.12 port 22: No route to host"
    observed = running(*ALL) | {"seat02-vm": Observed("seat02-vm", Presence.UNKNOWN, note=why)}
    tokens = {name: "" for name in ALL} | {"seat02-vm": "grace:new-password"}
    plan = make_plan(room(), observed, provisioned(*ALL), KEY, accounts=tokens)
    [blocked] = plan.changes
    assert (blocked.machine.name, blocked.actions, blocked.reason, blocked.blocked) == ("seat02-vm", (), why, True)
    assert not blocked.needs_machine and not plan.creates

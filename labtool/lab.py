"""The room's lifecycle: plan, bring machines up, provision them, report; and tear it all down.

This is the library behind `labtool up|provision|status|stop|start|down`; it reports
progress through a callback and never prints.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labtool import access, accounts, inventory, lab_hosts, placement, proc, snapshots, state
from labtool.backends.base import Backend, Observed, Presence, ToolEnv
from labtool.backends.spread import HOST_SILENT
from labtool.cancel import Cancel, StoppedError
from labtool.errors import DaemonError, LabtoolError
from labtool.host import apt_cache, children
from labtool.images.pair import ImagePair
from labtool.model import Kind, LabHost, Machine, Room
from labtool.plan import CREATING, Action, Plan, Step, make_plan
from labtool.progress import Progress
from labtool.provision import (
    AccountResult,
    ProvisionResult,
    provision,
    provision_account,
    provision_key,
    remove_leftover_account_vars,
    strategy,
)
from labtool.settings import Settings

STOP_SECONDS = 8.0
"""After an interrupt, how long `up` waits for its workers (whose commands the CLI stops) before it
records the machines still being worked on as interrupted and returns: labtool is gone within 10 s."""
HOME_BYTES_PER_MACHINE = 4 << 20
"""Room state, logs, runner artifacts and Vagrant's files per machine `up` works on (the labnotes course
wrote ~0.6 MiB per machine); `up` refuses to start with less free in LABTOOL_HOME."""


@dataclass(frozen=True)
class Outcome:
    machine: str
    kind: Kind
    actions: tuple[Action, ...]
    ok: bool
    changed: int | None = None
    seconds: float = 0.0
    error: str = ""
    interrupted: str = ""
    """What labtool was doing to the machine when it was stopped ("creating", "provisioning" ...,
    "waiting" when it had not begun); empty when the work ended by itself."""

    @property
    def state(self) -> str:
        """In words, for the summary of an interrupted run: provisioned, failed, created, interrupted ..."""
        if self.ok:
            return "provisioned"
        if not self.interrupted:
            return "failed"
        if self.interrupted == "waiting":
            return "not started"
        if self.interrupted == READY:
            return "created, not provisioned"
        return f"interrupted while {self.interrupted}"


@dataclass
class UpReport:
    room: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    images: ImagePair | None = None
    interrupted: str = ""
    """The signal that stopped the run (SIGINT, SIGTERM); empty when it ran to the end."""

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok and not o.interrupted]


ABSENT, FAILED = "absent", "failed"
"""PowerOutcome results besides "stopped", "started", "already stopped" and "already running"."""


@dataclass(frozen=True)
class PowerOutcome:
    """What `stop` or `start` did to one machine."""

    machine: str
    kind: Kind
    result: str
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result != FAILED


@dataclass
class PowerReport:
    room: str
    verb: str
    """"stop" or "start"."""
    outcomes: list[PowerOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[PowerOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def with_result(self, result: str) -> list[PowerOutcome]:
        return [o for o in self.outcomes if o.result == result]


@dataclass(frozen=True)
class Teardown:
    """What `down` would destroy now: only what exists, so the question names real things."""

    machines: tuple[Machine, ...]
    resources: tuple[str, ...] = ()
    """The room's networks, one phrase each (whole room only)."""
    state_dir: Path | None = None
    """The room's state (records, logs, generated inventory), when the whole room goes and it exists."""

    @property
    def empty(self) -> bool:
        return not self.machines and not self.resources and self.state_dir is None


@dataclass(frozen=True)
class MachineStatus:
    name: str
    kind: Kind
    presence: Presence
    address: str | None
    provisioned: bool
    changed: int | None
    error: str
    interrupted: str = ""
    """The step a labtool that is gone was doing to the machine when it stopped (create, start, provision)."""

    @property
    def app_url(self) -> str | None:
        return f"http://{self.address}/" if self.address and self.presence is Presence.RUNNING else None


@dataclass(frozen=True)
class Survey:
    """The room's machines as far as labtool can see them: a kind whose daemon does not answer is unknown."""

    machines: list[MachineStatus]
    unreachable: dict[Kind, LabtoolError]


class Lab:
    def __init__(
        self,
        settings: Settings,
        room: Room,
        backends: Mapping[Kind, Backend],
        images: ImagePair | None = None,
        cancel: Cancel | None = None,
    ) -> None:
        self.settings = settings
        self.room = room
        self.backends = backends
        self.images = images
        """The pair new machines are made from; None for verbs that create nothing."""
        self.cancel = cancel or Cancel()
        """Set by the CLI on SIGINT/SIGTERM: `up` and `down` stop starting work and record where they stopped."""
        self.state_dir = state.room_dir(settings, room.name)
        self.inventory_path = self.state_dir / "inventory.yml"
        self.what = f"room {room.name!r}"
        self.placed: dict[str, str] = {}
        """Seat -> the lab host it runs on, as recorded (labtool/placement.py); the backends read it live."""

    # -- reading -------------------------------------------------------------------------------

    def observe(self) -> dict[str, Observed]:
        observed: dict[str, Observed] = {}
        for backend in self.backends.values():
            observed.update(backend.observe(self.room))
        return observed

    def plan(
        self,
        seats: Collection[str] | None = None,
        *,
        kinds: Collection[Kind] | None = None,
        force_provision: bool = False,
        key: str | None = None,
    ) -> Plan:
        """What `up` would do (to these seats' machines of these kinds, or all); `key` is the room's provisioning key
        when the caller has computed it already."""
        return make_plan(
            self.room,
            self.observe(),
            state.read(self.state_dir),
            key or provision_key(self.room),
            seats=seats,
            kinds=kinds,
            force_provision=force_provision,
            images=self.images,
            accounts=accounts.tokens(self.room, state.read_passwords(self.state_dir)),
        )

    def status(self) -> list[MachineStatus]:
        survey = self.survey()
        if survey.unreachable:
            raise next(iter(survey.unreachable.values()))
        return survey.machines

    def survey(self) -> Survey:
        """Every machine's state; a backend whose daemon does not answer leaves its kind unknown, not the room."""
        observed: dict[str, Observed] = {}
        unreachable: dict[Kind, LabtoolError] = {}
        for kind, backend in self.backends.items():
            try:
                observed.update(backend.observe(self.room))
            except DaemonError as exc:
                unreachable[kind] = exc
        records = state.read(self.state_dir).machines
        holder = state.holder(self.state_dir)
        working_now = holder is not None and holder.alive()
        rows = []
        for machine in self.room.machines:
            record = records.get(machine.name, state.MachineRecord())
            if machine.kind in unreachable:
                seen, error = Observed(machine.name, Presence.UNKNOWN), unreachable[machine.kind].message
            else:
                seen = observed.get(machine.name, Observed(machine.name, Presence.ABSENT))
                error = seen.note or record.error  # a lab host that does not answer says why first
            rows.append(
                MachineStatus(
                    machine.name,
                    machine.kind,
                    seen.presence,
                    seen.address,
                    record.provisioned_key is not None,
                    record.changed,
                    error,
                    "" if working_now or record.failed else record.working,  # a failure is its error
                )
            )
        return Survey(rows, unreachable)

    def host_of(self, seat: str) -> LabHost:
        """The lab host the seat runs on (or will: the one it is pinned to, else the room's first)."""
        return self.room.host(placement.host_of(self.room, self.placed, seat))

    def tool_env(self, machine: Machine) -> dict[str, str]:
        """What Ansible and testinfra need in their environment to reach the machine (another lab host's Docker
        engine, for its containers); empty for machines of this host."""
        backend = self.backends[machine.kind]
        return dict(backend.tool_env(self.room, machine)) if isinstance(backend, ToolEnv) else {}

    def check_free(self) -> None:
        """Fail at once when a live labtool holds the room's lock (`up` and `down` take it for real later)."""
        state.check_free(self.state_dir, self.what)

    def recover(self, progress: Progress) -> list[children.Leftover]:
        """Stop what a labtool that is gone left running on this room (its `vagrant up`, its ansible-playbook).

        After a `kill -9` they keep running: vagrant holds its lock on the machine, so every
        later vagrant command of the room fails, and the playbook keeps changing the machine.
        """
        last = state.holder(self.state_dir)
        stale = last.owner if last is not None and not last.alive() else None
        found = children.leftovers(self.state_dir, stale)
        if found:
            progress(
                f"{self.what}: stopping {len(found)} process(es) left running by a labtool that is gone: "
                + "; ".join(leftover.describe() for leftover in found)
            )
            still = children.stop([leftover.pid for leftover in found])
            if still:
                raise LabtoolError(
                    f"{self.what}: processes left by a labtool that is gone do not stop: pids {still}",
                    f"stop them by hand (`kill -9 {' '.join(map(str, still))}`), then run this again",
                )
        # A password hash of an account play the gone labtool had under way: nothing reads it any more.
        remove_leftover_account_vars(self.state_dir)
        return found

    # -- changing ------------------------------------------------------------------------------

    def up(self, plan: Plan, *, parallel: int, progress: Progress) -> UpReport:
        """Carry out the plan: containers and VMs in two lanes, provisioning as soon as each is ready.

        On an interrupt (self.cancel) no new step starts, the steps under way end as their
        commands are stopped, and the machines are recorded as provisioned, failed or
        interrupted; whatever has not ended STOP_SECONDS later is recorded as interrupted.
        """
        started = time.monotonic()
        report = UpReport(self.room.name, images=plan.images if plan.creates else None)
        state.check_space(self.state_dir, HOME_BYTES_PER_MACHINE * max(1, len(plan.changes)))
        with state.locked(self.state_dir, self.what, progress) as stale:
            if stale is not None:
                self.recover(progress)
            state.claim(self.state_dir, self.room.path)
            self.claim_ports()
            run = _Run(self, plan.provision_key, progress, parallel)
            lanes = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lane")
            for kind in (Kind.CONTAINER, Kind.VM):
                run.track(lanes.submit(run.lane, plan.of_kind(kind), self.backends[kind]))
            run.wait()
            lanes.shutdown(wait=False, cancel_futures=True)
            report.outcomes = run.finish(plan)
        report.seconds = time.monotonic() - started
        report.interrupted = self.cancel.reason if self.cancel.is_set() else ""
        return report

    def claim_ports(self) -> None:
        """Record the host ports the room publishes, refusing ports another room of this host holds."""
        rooms_state = self.settings.rooms_state_dir
        others = [ports for room, ports in state.claimed_ports(rooms_state).items() if room != self.room.name]
        free = access.free_base(others, len(self.room.seats))
        state.claim_ports(rooms_state, self.room.name, access.room_ports(self.room), free)

    def apply_accounts(self, machines: Sequence[Machine], progress: Progress) -> list[AccountResult]:
        """Set the accounts the room's state now asks for on the given running machines, in parallel.

        The caller holds the room lock (`labtool handout` issues passwords and applies them in one go).
        """
        issued = state.read_passwords(self.state_dir)
        room_state = state.read(self.state_dir)
        how = strategy(self.settings.mitogen)
        jobs = {}
        workers = max(1, min(len(machines), 2 * (os.cpu_count() or 1)))  # mostly waiting on the machines
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="account") as pool:
            for machine in machines:
                wanted = accounts.wanted(self.room, issued, machine, room_state.record(machine.name).account)
                if wanted is not None:
                    progress(f"{machine.name}: setting the account of {wanted.login or 'nobody'}")
                    jobs[machine.name] = pool.submit(
                        functools.partial(provision_account, how=how, env=self.tool_env(machine)),
                        self.room,
                        machine.name,
                        wanted,
                        self.inventory_path,
                        self.state_dir,
                    )
        results = [job.result() for job in jobs.values()]
        room_state = state.read(self.state_dir)
        for result in results:
            if result.ok:
                room_state.record(result.machine).account = result.token
        state.write(self.state_dir, room_state)
        return results

    def stop(self, seats: Collection[str] | None, *, parallel: int, progress: Progress) -> PowerReport:
        """Shut the running machines down cleanly (of the given seats, or all); nothing is destroyed."""
        return self._switch("stop", seats, parallel, progress)

    def start(self, seats: Collection[str] | None, *, parallel: int, progress: Progress) -> PowerReport:
        """Start the stopped machines and wait until each is ready; absent ones are left to `up`."""
        return self._switch("start", seats, parallel, progress)

    def _switch(self, verb: str, seats: Collection[str] | None, parallel: int, progress: Progress) -> PowerReport:
        started = time.monotonic()
        report = PowerReport(self.room.name, verb)
        already = Presence.STOPPED if verb == "stop" else Presence.RUNNING
        observed = self.observe()
        todo = []
        for machine in self._machines(seats):
            presence = observed.get(machine.name, Observed(machine.name, Presence.ABSENT)).presence
            if presence is Presence.ABSENT:
                report.outcomes.append(PowerOutcome(machine.name, machine.kind, ABSENT))
            elif presence is already:
                report.outcomes.append(PowerOutcome(machine.name, machine.kind, f"already {already}"))
            else:
                todo.append(machine)
        if todo:
            with state.locked(self.state_dir, f"room {self.room.name!r}"):
                switch = _Switch(self, verb, progress)
                in_lanes(todo, self.backends, parallel, switch.one)
                report.outcomes += switch.outcomes
        order = {m.name: i for i, m in enumerate(self.room.machines)}
        report.outcomes.sort(key=lambda o: order[o.machine])
        report.seconds = time.monotonic() - started
        return report

    def teardown(self, seats: Collection[str] | None) -> Teardown:
        """What `down` of these seats (or of the whole room) would destroy, to name it before asking."""
        observed = self.observe()
        machines = tuple(m for m in self._machines(seats) if observed[m.name].presence is not Presence.ABSENT)
        if seats is not None:
            return Teardown(machines)
        resources = tuple(r for backend in self.backends.values() for r in backend.describe_room_resources(self.room))
        return Teardown(machines, resources, self.state_dir if self.state_dir.exists() else None)

    def _machines(self, seats: Collection[str] | None) -> list[Machine]:
        return [m for m in self.room.machines if seats is None or m.seat in seats]

    def down(
        self, seats: Collection[str] | None, progress: Progress, kinds: Collection[Kind] | None = None
    ) -> list[str]:
        """Destroy the machines (of the given seats and kinds, or all); for the whole room, also its networks
        and state. A seat's student passwords and the room's other seats are kept."""
        machines = [m for m in self._machines(seats) if kinds is None or m.kind in kinds]
        whole_room = seats is None and kinds is None
        observed = self.observe()
        removed: list[str] = []
        with state.locked(self.state_dir, self.what, progress) as stale:
            if stale is not None:
                self.recover(progress)
            try:
                for kind, backend in self.backends.items():
                    present = [
                        m for m in machines if m.kind is kind and observed[m.name].presence is not Presence.ABSENT
                    ]
                    for machine in present:
                        self._check_cancel(removed, present)
                        progress(f"destroying {machine.name}")
                        backend.destroy(self.room, [machine])
                        removed.append(machine.name)
                self._check_cancel(removed, [])
                if whole_room:
                    for backend in self.backends.values():
                        backend.remove_room_resources(self.room)
                    # Still holding the lock: an `up` in the gap after it would find its own state gone.
                    shutil.rmtree(self.state_dir, ignore_errors=True)
                else:
                    snapshots.forget(self, machines, removed)
                    self._forget(machines)
                    self._forget_placement(machines)
            except LabtoolError as exc:
                if self.cancel.is_set() and not isinstance(exc, StoppedError):
                    self._check_cancel(removed, machines)
                raise
        return removed

    def _forget_placement(self, machines: Sequence[Machine]) -> None:
        """Seats with neither machine left are placed anew by the next `up` (a seat never moves while it has one)."""
        if not self.placed:
            return
        observed = self.observe()
        gone = {
            m.seat
            for m in machines
            if all(observed[o.name].presence is Presence.ABSENT for o in self.room.seat(m.seat).machines)
        }
        if gone:
            placement.forget(self.state_dir, gone)
            for seat in gone:
                self.placed.pop(seat, None)

    def _check_cancel(self, removed: list[str], machines: list[Machine]) -> None:
        if not self.cancel.is_set():
            return
        left = [m.name for m in machines if m.name not in removed]
        raise StoppedError(
            f"{self.what}: `down` was stopped by {self.cancel.reason}; destroyed: {', '.join(removed) or 'none'}"
            + (f"; still there (or half destroyed): {', '.join(left)}" if left else ""),
            f"run `labtool down {self.room.name}` again to finish",
        )

    def _forget(self, machines: list[Machine]) -> None:
        names = {m.name for m in machines}
        room_state = state.read(self.state_dir)
        room_state.machines = {k: v for k, v in room_state.machines.items() if k not in names}
        state.write(self.state_dir, room_state)
        connections = {k: v for k, v in inventory.read(self.inventory_path).items() if k not in names}
        inventory.write(self.inventory_path, connections)


class _Run:
    """One `up`: shared by the two lanes and the provisioning pool, guarded by one lock."""

    def __init__(self, lab: Lab, key: str, progress: Progress, parallel: int) -> None:
        self.lab = lab
        self.progress = progress
        self.cancel = lab.cancel
        self.key = key  # the plan's: the course and roles are read and hashed once per `up`
        self.lock = threading.Lock()
        self.state = state.read(lab.state_dir)
        self.connections = inventory.read(lab.inventory_path)
        self.parallel = max(1, parallel)
        self.provisioners = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="provision")
        self.issued = state.read_passwords(lab.state_dir)
        self.strategy = strategy(lab.settings.mitogen)
        if self.strategy.note:
            progress(f"warning: {self.strategy.note}")
        self.apt_proxies: dict[str, str] = {}
        """Each lab host's apt cache for its machines ("" to fetch directly): asked once a run, when first needed."""
        self.apt_lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.futures: list[Future[Any]] = []
        self.begun: dict[str, Action] = {}
        """The step each machine is in during this run (what an interrupt stops)."""
        self.closed = False
        """Set when `up` returns: a worker still stuck in a call then records nothing more."""

    def track(self, future: Future[Any]) -> None:
        with self.lock:
            self.futures.append(future)

    def wait(self) -> None:
        """Until every lane and provisioning run has ended; after an interrupt, STOP_SECONDS at most."""
        while True:
            with self.lock:
                pending = [f for f in self.futures if not f.done()]
            if not pending or (self.cancel.is_set() and self.cancel.seconds() > STOP_SECONDS):
                return
            wait_for(pending, timeout=0.2)

    def lane(self, steps: tuple[Step, ...], backend: Backend) -> None:
        """One kind's machines, up to `parallel` at a time; each is provisioned as soon as it is ready."""
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix=f"{backend.kind}-lane") as pool:
            for done in [pool.submit(self._bring_up, step, backend) for step in steps]:
                done.result()  # _bring_up records every failure per machine; re-raise only a bug

    def _bring_up(self, step: Step, backend: Backend) -> None:
        machine = step.machine
        started = time.monotonic()
        if step.blocked:  # its lab host does not answer: fail it now, its record otherwise as it was
            self._record(Outcome(machine.name, machine.kind, (), False, error=step.reason), course_ok=None)
            return
        # A machine that failed before its playbook ran is unprovisioned; an account-only step leaves that be.
        provisions = False if Action.PROVISION in step.actions else None
        doing = "waiting"
        try:
            if step.needs_machine:
                action = next(a for a in (Action.RECREATE, Action.CREATE, Action.START) if a in step.actions)
                # A stopped machine whose provisioning is current is only started: its record stands.
                self._begin(machine, action, keeps_provisioning=Action.PROVISION not in step.actions)
                doing = _DOING[action]
                self.progress(f"{machine.name}: {doing} ({step.reason})")
                if action is Action.RECREATE:
                    backend.destroy(self.lab.room, [machine])
                if action is Action.START:
                    backend.start(self.lab.room, [machine])
                else:
                    backend.bring_up(self.lab.room, [machine])
                self._started(machine, action, time.monotonic() - started)
                doing = "connecting"
            self._connect(machine, backend)
            doing = READY
            if Action.PROVISION in step.actions:
                self._begin(machine, Action.PROVISION)
            elif self.cancel.is_set():
                raise StoppedError(f"{machine.name}: not begun, labtool is stopping")
        except Exception as exc:  # an SDK's own error too: one machine failing must not stop the others
            if self.cancel.is_set():
                self._interrupted(step, doing, started)
                return
            error = exc.message if isinstance(exc, LabtoolError) else f"unexpected {type(exc).__name__}: {exc}"
            self._record(Outcome(machine.name, machine.kind, step.actions, False, error=error), course_ok=provisions)
            return
        if Action.PROVISION not in step.actions and Action.ACCOUNT not in step.actions:
            self._started_only(
                Outcome(machine.name, machine.kind, step.actions, True, None, time.monotonic() - started)
            )
            return
        doing = "provisioning" if Action.PROVISION in step.actions else "setting the student's account"
        self.progress(f"{machine.name}: {doing} ({step.reason})")
        future = self.provisioners.submit(self._provision, step)
        future.add_done_callback(functools.partial(self._provisioned, step, started))
        self.track(future)

    def _provision(self, step: Step) -> tuple[ProvisionResult | None, AccountResult | None] | None:
        """The course's playbook (when the step provisions), then the student's account (when the seat needs one).

        None: interrupted while waiting for a free provisioning slot.
        """
        machine = step.machine
        if self.cancel.is_set():
            return None
        course = None
        if Action.PROVISION in step.actions:
            course = provision(
                self.lab.room,
                machine.name,
                self.lab.inventory_path,
                self.lab.state_dir,
                self._task,
                how=self.strategy,
                apt_proxy=self._apt_proxy(machine),
                timeout=self.lab.settings.provision_timeout,
                cancelled=self.cancel.is_set,
                env=self.lab.tool_env(machine),
            )
            if not course.ok or self.cancel.is_set():
                return course, None
        with self.lock:
            had = self.state.record(machine.name).account
        wanted = accounts.wanted(self.lab.room, self.issued, machine, had)
        if wanted is None:
            return course, None
        self._task(machine.name, f"labtool: the account of {wanted.login or 'former students'}")
        result = provision_account(
            self.lab.room,
            machine.name,
            wanted,
            self.lab.inventory_path,
            self.lab.state_dir,
            how=self.strategy,
            env=self.lab.tool_env(machine),
        )
        return course, result

    def _apt_proxy(self, machine: Machine) -> str:
        """The apt cache of the machine's own lab host, or "" (with a warning, once) where it does not answer."""
        host = self.lab.host_of(machine.seat)
        with self.apt_lock:  # its own lock: asking another host takes an SSH round trip
            if host.name not in self.apt_proxies:
                proxy = apt_cache.machine_proxy(self.lab.settings, host)
                self.apt_proxies[host.name] = proxy
                if self.lab.settings.apt_cache and not proxy:
                    room = self.lab.room.name
                    self.progress(
                        _NO_LOCAL_APT_CACHE if host.is_local else _NO_APT_CACHE.format(host=host.name, room=room)
                    )
            return self.apt_proxies[host.name]

    def finish(self, plan: Plan) -> list[Outcome]:
        """Close the run: what has no outcome yet (not begun, or stuck past the interrupt's grace) is interrupted."""
        self.provisioners.shutdown(wait=not self.cancel.is_set(), cancel_futures=self.cancel.is_set())
        with self.lock:
            recorded = {o.machine for o in self.outcomes}
            for step in plan.changes:
                if step.machine.name not in recorded:
                    begun = self.begun.get(step.machine.name)
                    self._record_interrupted(step, _DOING[begun] if begun else "waiting", 0.0)
            self.closed = True
            state.write(self.lab.state_dir, self.state)
        return sorted(self.outcomes, key=lambda o: o.machine)

    def _provisioned(
        self,
        step: Step,
        started: float,
        done: Future[tuple[ProvisionResult | None, AccountResult | None] | None],
    ) -> None:
        machine = step.machine
        provisions = Action.PROVISION in step.actions
        seconds = time.monotonic() - started
        try:
            results = None if done.cancelled() else done.result()
        except Exception as exc:  # ansible-runner failing to start at all must not take the other seats down
            if self.cancel.is_set():
                self._interrupted(step, "provisioning", started)
                return
            self._record(
                Outcome(machine.name, machine.kind, step.actions, False, None, seconds, f"provisioning crashed: {exc}"),
                course_ok=False if provisions else None,
            )
            return
        if results is None:
            self._interrupted(step, READY, started)
            return
        course, account = results
        stopped = (course is not None and not course.ok) or (account is not None and not account.ok)
        if self.cancel.is_set() and stopped:
            self._interrupted(step, "provisioning", started)
            return
        if course is not None:
            self._keep_managed_files(course)
        ok = (course is None or course.ok) and (account is None or account.ok)
        error = (course.error if course and not course.ok else "") or (account.error if account else "")
        changed = course.changed if course else None
        self._record(
            Outcome(machine.name, machine.kind, step.actions, ok, changed, seconds, error),
            course_ok=course.ok if course else None,
            account=account.token if account and account.ok else None,
        )

    def _blamed_on_its_host(self, outcome: Outcome) -> Outcome:
        """A machine that failed on a lab host that no longer answers failed because of it: say so first, as a
        seat blocked from the start says (Vagrant's or Ansible's own words only name a lost connection)."""
        host = self.lab.host_of(self.lab.room.machine(outcome.machine).seat)
        if outcome.error.startswith(HOST_SILENT.format(host=host.name)):
            return outcome
        reason = lab_hosts.silent(host)
        if reason is None:
            return outcome
        error = f"{HOST_SILENT.format(host=host.name)}: {reason} (then: {proc.tail(outcome.error, 1)})"
        return dataclasses.replace(outcome, error=error)

    def _keep_managed_files(self, result: ProvisionResult) -> None:
        """What verify fingerprints: a full run's list replaces the last; a failed (partial) run's adds to it."""
        with self.lock:
            record = self.state.record(result.machine)
            kept = set() if result.ok else set(record.managed_files)
            record.managed_files = sorted(kept | set(result.managed_files))
            record.hidden_file_tasks = sorted(set(result.hidden_file_tasks))

    def _connect(self, machine: Machine, backend: Backend) -> None:
        connection = backend.connection(self.lab.room, machine)
        with self.lock:
            if self.closed:
                return
            self.connections[machine.name] = connection
            inventory.write(self.lab.inventory_path, self.connections)

    def _begin(self, machine: Machine, action: Action, *, keeps_provisioning: bool = False) -> None:
        """Write down, before it starts, the step about to be done, so an interrupted one is known to the next run."""
        if self.cancel.is_set():
            raise StoppedError(f"{machine.name}: not begun, labtool is stopping")
        with self.lock:
            self.begun[machine.name] = action
            record = self.state.record(machine.name)
            record.working = action.value
            if not keeps_provisioning:
                record.provisioned_key = None  # a machine half created or half provisioned is not provisioned
            state.write(self.lab.state_dir, self.state)

    def _started(self, machine: Machine, action: Action, seconds: float) -> None:
        """Keep how long the machine took to come up: `labtool compare` shows it."""
        with self.lock:
            if self.closed:
                return
            record = self.state.record(machine.name)
            record.start_seconds = round(seconds, 2)
            record.start_action = Action.CREATE.value if action is Action.RECREATE else action.value
            record.working = Action.PROVISION.value  # up and reachable: only provisioning is left to do
            state.write(self.lab.state_dir, self.state)

    def _started_only(self, outcome: Outcome) -> None:
        """Started and not provisioned (its provisioning is current): the record of the last run stands."""
        with self.lock:
            self.outcomes.append(outcome)
            self.state.record(outcome.machine).working = ""
            state.write(self.lab.state_dir, self.state)
        self.progress(f"{outcome.machine}: ready, provisioning current ({outcome.seconds:.0f} s)")

    def _task(self, machine: str, task: str) -> None:
        self.progress(f"{machine} | {task}")

    def _interrupted(self, step: Step, doing: str, started: float) -> None:
        with self.lock:
            self._record_interrupted(step, doing, time.monotonic() - started)

    def _record_interrupted(self, step: Step, doing: str, seconds: float) -> None:
        """(Under self.lock.) The machine's step was stopped: its record keeps `working`, so the next run redoes it."""
        if self.closed or any(o.machine == step.machine.name for o in self.outcomes):
            return
        machine = step.machine
        error = f"interrupted by {self.cancel.reason or 'a stop'} while {doing}" if doing != "waiting" else ""
        if doing == READY:
            error = f"up, but not provisioned: interrupted by {self.cancel.reason or 'a stop'}"
        self.outcomes.append(Outcome(machine.name, machine.kind, step.actions, False, None, seconds, error, doing))
        if doing not in ("waiting", READY):
            record = self.state.record(machine.name)
            record.error = error
            record.finished_at = state.utc_now()
            state.write(self.lab.state_dir, self.state)
        self.progress(f"{machine.name}: {'not started' if doing == 'waiting' else error}")

    def _record(self, outcome: Outcome, *, course_ok: bool | None, account: str | None = None) -> None:
        """course_ok None: the course's playbook did not run (its record stands); account: the token now applied."""
        if not outcome.ok:
            outcome = self._blamed_on_its_host(outcome)
        with self.lock:
            if self.closed:
                return
            self.outcomes.append(outcome)
            record = self.state.record(outcome.machine)
            record.failed = not outcome.ok
            record.error = outcome.error
            if course_ok is not None:
                record.changed = outcome.changed
                record.provisioned_key = self.key if course_ok else None
            if account is not None:
                record.account = account
            record.finished_at = state.utc_now()
            if outcome.ok or record.working not in CREATING:
                # A machine whose creation failed part way (its host went off) keeps `working`: the next `up`
                # makes it again, since started as it was left it would lack what only a first boot does.
                record.working = ""
            state.write(self.lab.state_dir, self.state)
        if outcome.ok:
            done = "account set" if outcome.changed is None else f"changed={outcome.changed}"
            self.progress(f"{outcome.machine}: ready, {done} ({outcome.seconds:.0f} s)")
        else:
            self.progress(f"{outcome.machine}: FAILED: {outcome.error}")


class _Switch:
    """One `stop` or `start`: each machine's outcome, and (for start) its connection and start time, under one lock."""

    def __init__(self, lab: Lab, verb: str, progress: Progress) -> None:
        self.lab = lab
        self.verb = verb
        self.progress = progress
        self.lock = threading.Lock()
        self.outcomes: list[PowerOutcome] = []

    def one(self, machine: Machine, backend: Backend) -> None:
        started = time.monotonic()
        doing, done = ("stopping", "stopped") if self.verb == "stop" else ("starting", "started")
        self.progress(f"{machine.name}: {doing}")
        try:
            if self.verb == "stop":
                backend.stop(self.lab.room, [machine])
            else:
                backend.start(self.lab.room, [machine])
                self._ready(machine, backend, time.monotonic() - started)
        except LabtoolError as exc:
            self._record(PowerOutcome(machine.name, machine.kind, FAILED, time.monotonic() - started, exc.message))
        except Exception as exc:  # an SDK's own error: one machine failing must not stop the others
            error = f"unexpected {type(exc).__name__}: {exc}"
            self._record(PowerOutcome(machine.name, machine.kind, FAILED, time.monotonic() - started, error))
        else:
            self._record(PowerOutcome(machine.name, machine.kind, done, time.monotonic() - started))

    def _ready(self, machine: Machine, backend: Backend, seconds: float) -> None:
        """A started VM may get another address: refresh how Ansible reaches it; keep the start time for compare."""
        connection = backend.connection(self.lab.room, machine)
        with self.lock:
            connections = inventory.read(self.lab.inventory_path)
            connections[machine.name] = connection
            inventory.write(self.lab.inventory_path, connections)
            room_state = state.read(self.lab.state_dir)
            record = room_state.record(machine.name)
            record.start_seconds = round(seconds, 2)
            record.start_action = Action.START.value
            state.write(self.lab.state_dir, room_state)

    def _record(self, outcome: PowerOutcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)
        if outcome.ok:
            self.progress(f"{outcome.machine}: {outcome.result} ({outcome.seconds:.0f} s)")
        else:
            self.progress(f"{outcome.machine}: FAILED: {outcome.error}")


def in_lanes(
    machines: Sequence[Machine],
    backends: Mapping[Kind, Backend],
    parallel: int,
    work: Callable[[Machine, Backend], None],
) -> None:
    """Containers and VMs in two lanes, up to `parallel` machines of each at once, as `up` works.

    `work` records its own failures: a machine failing must not stop the others.
    """

    def lane(kind: Kind) -> None:
        mine = [m for m in machines if m.kind is kind]
        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix=f"{kind}-lane") as pool:
            for done in [pool.submit(work, machine, backends[kind]) for machine in mine]:
                done.result()  # re-raise only a bug

    kinds = [k for k in (Kind.CONTAINER, Kind.VM) if any(m.kind is k for m in machines)]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lane") as lanes:
        for done in [lanes.submit(lane, kind) for kind in kinds]:
            done.result()


READY = "ready"
"""Up and reachable, provisioning not begun."""
_NO_LOCAL_APT_CACHE = "warning: the apt cache does not answer (`labtool daemons` starts it): machines use the mirror"
_NO_APT_CACHE = (
    "warning: the apt cache of lab host {host} does not answer (`labtool hosts prepare {room}` starts it): "
    "its machines use the mirror"
)
_DOING = {
    Action.CREATE: "creating",
    Action.RECREATE: "recreating",
    Action.START: "starting",
    Action.PROVISION: "provisioning",
}


def default_parallel(cpus: int, available_memory_gib: float) -> int:
    """Provisioning is mostly waiting on machines: two runs per core, one per GiB of free memory at most."""
    return max(1, min(2 * cpus, int(available_memory_gib)))


def open_lab(settings: Settings, room: Room, images: ImagePair | None = None, cancel: Cancel | None = None) -> Lab:
    """A Lab with the real backends; `images` is the pair new machines are made from (only `up` needs one)."""
    from labtool import backends

    state.check_claim(state.room_dir(settings, room.name), room.path)
    if images is None:
        # Starting a stopped VM goes through `vagrant up`, which wants a box that exists even though it
        # makes nothing from it: the base box when one is built; verbs that only look or destroy need none.
        from labtool.images import build

        images = build.base_pair_if_built(settings)
    placed = placement.recorded(state.room_dir(settings, room.name))
    lab = Lab(
        settings,
        room,
        backends.for_room(settings, room, lambda seat: placement.host_of(room, placed, seat), images),
        images,
        cancel,
    )
    lab.placed = placed
    return lab

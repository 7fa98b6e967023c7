"""The room's lifecycle: plan, bring machines up, provision them, report; and tear it all down.

This is the library behind `labtool up|provision|status|stop|start|down`; it reports
progress through a callback and never prints.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from labtool import access, accounts, inventory, state
from labtool.backends.base import Backend, Observed, Presence
from labtool.errors import LabtoolError
from labtool.host import apt_cache
from labtool.images.pair import ImagePair
from labtool.model import Kind, Machine, Room
from labtool.plan import Action, Plan, Step, make_plan
from labtool.provision import (
    AccountResult,
    ProvisionResult,
    provision,
    provision_account,
    provision_key,
    strategy,
)
from labtool.settings import Settings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    machine: str
    kind: Kind
    actions: tuple[Action, ...]
    ok: bool
    changed: int | None = None
    seconds: float = 0.0
    error: str = ""


@dataclass
class UpReport:
    room: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    images: ImagePair | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]


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

    @property
    def app_url(self) -> str | None:
        return f"http://{self.address}/" if self.address and self.presence is Presence.RUNNING else None


class Lab:
    def __init__(
        self, settings: Settings, room: Room, backends: Mapping[Kind, Backend], images: ImagePair | None = None
    ) -> None:
        self.settings = settings
        self.room = room
        self.backends = backends
        self.images = images
        """The pair new machines are made from; None for verbs that create nothing."""
        self.state_dir = state.room_dir(settings, room.name)
        self.inventory_path = self.state_dir / "inventory.yml"

    # -- reading -------------------------------------------------------------------------------

    def observe(self) -> dict[str, Observed]:
        observed: dict[str, Observed] = {}
        for backend in self.backends.values():
            observed.update(backend.observe(self.room))
        return observed

    def plan(
        self, seats: Collection[str] | None = None, *, force_provision: bool = False, key: str | None = None
    ) -> Plan:
        """What `up` would do; `key` is the room's provisioning key when the caller has computed it already."""
        return make_plan(
            self.room,
            self.observe(),
            state.read(self.state_dir),
            key or provision_key(self.room),
            seats=seats,
            force_provision=force_provision,
            images=self.images,
            accounts=accounts.tokens(self.room, state.read_passwords(self.state_dir)),
        )

    def status(self) -> list[MachineStatus]:
        observed = self.observe()
        records = state.read(self.state_dir).machines
        rows = []
        for machine in self.room.machines:
            seen = observed.get(machine.name, Observed(machine.name, Presence.ABSENT))
            record = records.get(machine.name, state.MachineRecord())
            rows.append(
                MachineStatus(
                    machine.name,
                    machine.kind,
                    seen.presence,
                    seen.address,
                    record.provisioned_key is not None,
                    record.changed,
                    record.error,
                )
            )
        return rows

    # -- changing ------------------------------------------------------------------------------

    def up(self, plan: Plan, *, parallel: int, progress: Progress) -> UpReport:
        """Carry out the plan: containers and VMs in two lanes, provisioning as soon as each is ready."""
        started = time.monotonic()
        report = UpReport(self.room.name, images=plan.images if plan.creates else None)
        with state.locked(self.state_dir, f"room {self.room.name!r}"):
            state.claim(self.state_dir, self.room.path)
            self.claim_ports()
            run = _Run(self, plan.provision_key, progress, parallel)
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lane") as lanes:
                futures = [lanes.submit(run.lane, plan.of_kind(k), self.backends[k]) for k in (Kind.CONTAINER, Kind.VM)]
            report.outcomes = run.finish()
            for future in futures:
                future.result()  # a lane never raises (it records failures per machine); if one did, say so
        report.seconds = time.monotonic() - started
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
                        provision_account, self.room, machine.name, wanted, self.inventory_path, self.state_dir, how=how
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
        observed = self.observe()
        removed = []
        with state.locked(self.state_dir, f"room {self.room.name!r}"):
            for kind, backend in self.backends.items():
                present = [m for m in machines if m.kind is kind and observed[m.name].presence is not Presence.ABSENT]
                if present:
                    progress(f"destroying {', '.join(m.name for m in present)}")
                    backend.destroy(self.room, present)
                    removed += [m.name for m in present]
            whole_room = seats is None and kinds is None
            if whole_room:
                for backend in self.backends.values():
                    backend.remove_room_resources(self.room)
            else:
                self._forget(machines)
        if whole_room:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return removed

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
        self.key = key  # the plan's: the course and roles are read and hashed once per `up`
        self.lock = threading.Lock()
        self.state = state.read(lab.state_dir)
        self.issued = state.read_passwords(lab.state_dir)
        self.connections = inventory.read(lab.inventory_path)
        self.parallel = max(1, parallel)
        self.provisioners = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="provision")
        self.strategy = strategy(lab.settings.mitogen)
        if self.strategy.note:
            progress(f"warning: {self.strategy.note}")
        self.apt_proxy = apt_cache.machine_proxy(lab.settings)
        if lab.settings.apt_cache and not self.apt_proxy:
            progress("warning: the apt cache does not answer (`labtool daemons` starts it): machines use the mirror")
        self.outcomes: list[Outcome] = []

    def lane(self, steps: tuple[Step, ...], backend: Backend) -> None:
        """One kind's machines, up to `parallel` at a time; each is provisioned as soon as it is ready."""
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix=f"{backend.kind}-lane") as pool:
            for done in [pool.submit(self._bring_up, step, backend) for step in steps]:
                done.result()  # _bring_up records every failure per machine; re-raise only a bug

    def _bring_up(self, step: Step, backend: Backend) -> None:
        machine = step.machine
        started = time.monotonic()
        # A machine that failed before its playbook ran is unprovisioned; an account-only step leaves that be.
        provisions = False if Action.PROVISION in step.actions else None
        try:
            if Action.CREATE in step.actions:
                self.progress(f"{machine.name}: creating ({step.reason})")
                backend.bring_up(self.lab.room, [machine])
            elif Action.START in step.actions:
                self.progress(f"{machine.name}: starting ({step.reason})")
                backend.start(self.lab.room, [machine])
            if step.needs_machine:
                self._started(machine, step.actions[0], time.monotonic() - started)
            self._connect(machine, backend)
        except LabtoolError as exc:
            outcome = Outcome(machine.name, machine.kind, step.actions, False, error=exc.message)
            self._record(outcome, course_ok=provisions)
            return
        except Exception as exc:  # an SDK's own error: one machine failing must not stop the others
            error = f"unexpected {type(exc).__name__}: {exc}"
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

    def _provision(self, step: Step) -> tuple[ProvisionResult | None, AccountResult | None]:
        """The course's playbook (when the step provisions), then the student's account (when the seat needs one)."""
        machine = step.machine
        course = None
        if Action.PROVISION in step.actions:
            course = provision(
                self.lab.room,
                machine.name,
                self.lab.inventory_path,
                self.lab.state_dir,
                self._task,
                how=self.strategy,
                apt_proxy=self.apt_proxy,
                timeout=self.lab.settings.provision_timeout,
            )
            if not course.ok:
                return course, None
        with self.lock:
            had = self.state.record(machine.name).account
        wanted = accounts.wanted(self.lab.room, self.issued, machine, had)
        if wanted is None:
            return course, None
        self._task(machine.name, f"labtool: the account of {wanted.login or 'former students'}")
        result = provision_account(
            self.lab.room, machine.name, wanted, self.lab.inventory_path, self.lab.state_dir, how=self.strategy
        )
        return course, result

    def finish(self) -> list[Outcome]:
        self.provisioners.shutdown(wait=True)
        return sorted(self.outcomes, key=lambda o: o.machine)

    def _provisioned(
        self, step: Step, started: float, done: Future[tuple[ProvisionResult | None, AccountResult | None]]
    ) -> None:
        machine = step.machine
        provisions = Action.PROVISION in step.actions
        try:
            course, account = done.result()
        except Exception as exc:  # ansible-runner failing to start at all must not take the other seats down
            seconds = time.monotonic() - started
            self._record(
                Outcome(machine.name, machine.kind, step.actions, False, None, seconds, f"provisioning crashed: {exc}"),
                course_ok=False if provisions else None,
            )
            return
        seconds = time.monotonic() - started
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
            self.connections[machine.name] = connection
            inventory.write(self.lab.inventory_path, self.connections)

    def _started(self, machine: Machine, action: Action, seconds: float) -> None:
        """Keep how long the machine took to come up: `labtool compare` shows it."""
        with self.lock:
            record = self.state.record(machine.name)
            record.start_seconds = round(seconds, 2)
            record.start_action = action.value
            state.write(self.lab.state_dir, self.state)

    def _started_only(self, outcome: Outcome) -> None:
        """Started and not provisioned (its provisioning is current): the record of the last run stands."""
        with self.lock:
            self.outcomes.append(outcome)
        self.progress(f"{outcome.machine}: ready, provisioning current ({outcome.seconds:.0f} s)")

    def _task(self, machine: str, task: str) -> None:
        self.progress(f"{machine} | {task}")

    def _record(self, outcome: Outcome, *, course_ok: bool | None, account: str | None = None) -> None:
        """course_ok None: the course's playbook did not run (its record stands); account: the token now applied."""
        with self.lock:
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


def default_parallel(cpus: int, available_memory_gib: float) -> int:
    """Provisioning is mostly waiting on machines: two runs per core, one per GiB of free memory at most."""
    return max(1, min(2 * cpus, int(available_memory_gib)))


def open_lab(settings: Settings, room: Room, images: ImagePair | None = None) -> Lab:
    """A Lab with the real backends; `images` is the pair new machines are made from (only `up` needs one)."""
    from labtool.backends.docker import DockerBackend
    from labtool.backends.vagrant import VagrantBackend
    from labtool.host import accel

    state.check_claim(state.room_dir(settings, room.name), room.path)
    if images is None:
        # Starting a stopped VM goes through `vagrant up`, which wants a box that exists even though it
        # makes nothing from it: the base box when one is built; verbs that only look or destroy need none.
        from labtool.images import build

        images = build.base_pair_if_built(settings)
    backends: dict[Kind, Backend] = {
        Kind.CONTAINER: DockerBackend(images.docker_ref if images else None, timeout=settings.docker_timeout),
        Kind.VM: VagrantBackend(
            settings.rooms_state_dir,
            accel.detect(settings.vm_accel),
            images.box if images else None,
            timeout=settings.vagrant_timeout,
        ),
    }
    return Lab(settings, room, backends, images)

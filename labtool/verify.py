"""`labtool verify`: the shared testinfra suite on every live machine, and parity within each seat.

Both run in one pool: each machine's suite is a `pytest --hosts=ansible://<machine>`
run against the room's inventories (the instructor's plus the generated one), and
each machine's fingerprint is collected in parallel and diffed per seat. The
report is kept in the room's state directory so `labtool report` can show it.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from labtool import inventory, proc, state
from labtool.backends.base import Observed, Presence
from labtool.errors import LabtoolError
from labtool.lab import Lab
from labtool.model import Kind, Machine, Seat
from labtool.parity import expected, explain, sockets
from labtool.parity.diff import Difference, SeatParity, diff
from labtool.parity.fingerprint import Fingerprint, collect
from labtool.parity.fingerprint import explain as explain_machine
from labtool.progress import Progress
from labtool.provision import ansible_env
from labtool.state import RoomState, atomic_write

SUITE_TIMEOUT = 1200.0
PYTEST_FAILED_TESTS = 1  # pytest's exit code when tests ran and some failed; others mean it could not run them
PYTEST_NO_TESTS = 5
ROOT_SHELL_PLUGIN = "labtool.root_shell_plugin"
"""Loaded into every suite run: the commands tests run under `host.sudo()` go through one root helper per VM."""


@dataclass(frozen=True)
class CaseResult:
    name: str
    """The test's id without the host, e.g. `test_service_enabled_and_running[nginx]`."""
    outcome: str
    """passed, failed, error or skipped."""
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class MachineTests:
    machine: str
    kind: Kind
    cases: tuple[CaseResult, ...] = ()
    seconds: float = 0.0
    error: str = ""
    """Why the suite could not run at all (machine not running, pytest unable to start)."""
    log: str = ""

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome in ("failed", "error")]

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.cases) and not self.failed


@dataclass
class VerifyReport:
    room: str
    machines: list[MachineTests] = field(default_factory=list)
    seats: list[SeatParity] = field(default_factory=list)
    seconds: float = 0.0
    finished_at: str = ""

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.machines) and all(s.ok for s in self.seats)

    def machine(self, name: str) -> MachineTests | None:
        return next((m for m in self.machines if m.machine == name), None)

    def seat(self, name: str) -> SeatParity | None:
        return next((s for s in self.seats if s.seat == name), None)


def verify(lab: Lab, seats: Collection[str] | None, *, parallel: int, progress: Progress) -> VerifyReport:
    """Test and diff the chosen seats; holds the room's lock, since a room being provisioned would show false drift."""
    started = time.monotonic()
    chosen = [s for s in lab.room.seats if seats is None or s.name in seats]
    allowed = expected.for_course(lab.room.course)
    report = VerifyReport(lab.room.name)
    with state.locked(lab.state_dir, f"room {lab.room.name!r}"):
        observed = lab.observe()
        records = state.read(lab.state_dir)
        for machine in (m for seat in chosen for m in seat.machines):
            hidden = records.record(machine.name).hidden_file_tasks
            if hidden:
                progress(f"{machine.name}: not compared: files of no_log tasks ({'; '.join(hidden)})")
        running = [m for seat in chosen for m in seat.machines if observed[m.name].presence is Presence.RUNNING]
        try:
            with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="verify") as pool:
                # Each machine is fingerprinted before its suite runs: tests may write data or restart
                # services, which a fingerprint taken meanwhile would read as drift. Submitted first, so
                # every suite's fingerprint is done or running when the suite waits for it.
                prints = {
                    m.name: pool.submit(_fingerprint, lab, m, seat_files(lab.room.seat(m.seat), records))
                    for m in running
                }
                suites = {m.name: pool.submit(_suite_after, prints[m.name], lab, m, progress) for m in running}
                for seat in chosen:
                    for machine in seat.machines:
                        report.machines.append(
                            suites[machine.name].result()
                            if machine.name in suites
                            else not_running(lab, machine, observed[machine.name])
                        )
                    report.seats.append(_seat_parity(lab, seat, prints, allowed, records=records, progress=progress))
        finally:
            close_ssh_connections(lab, [m for m in running if m.kind is Kind.VM])
        report.seconds = round(time.monotonic() - started, 1)
        report.finished_at = state.utc_now()
        save(report, lab.state_dir)
    return report


def seat_files(seat: Seat, records: RoomState) -> list[str]:
    """The files either machine's provisioning reported managing: both machines are fingerprinted on all of them."""
    return sorted({path for m in seat.machines for path in records.record(m.name).managed_files})


def _fingerprint(lab: Lab, machine: Machine, files: list[str]) -> Fingerprint:
    app = lab.room.course.app
    return collect(
        lab.backends[machine.kind],
        lab.room,
        machine,
        files,
        fingerprint_url=app.fingerprint_url,
        page_url=app.page_url,
        page_ignore_id=app.page_ignore_id,
    )


def _suite_after(fingerprint: Future[Fingerprint], lab: Lab, machine: Machine, progress: Progress) -> MachineTests:
    wait([fingerprint])
    return _run_suite(lab, machine, progress)


def not_running(lab: Lab, machine: Machine, seen: Observed) -> MachineTests:
    """The entry of a machine that could not be tested: why, and what brings it back."""
    if seen.presence is Presence.UNKNOWN and seen.note:  # its lab host does not answer: say which, and why
        return MachineTests(machine.name, machine.kind, error=f"unknown: {seen.note}")
    error = f"{seen.presence}: bring it up with `labtool up {lab.room.name}`"
    return MachineTests(machine.name, machine.kind, error=error)


def _seat_parity(
    lab: Lab,
    seat: Seat,
    prints: dict[str, Future[Fingerprint]],
    allowed: expected.AllowList,
    *,
    records: RoomState,
    progress: Progress,
) -> SeatParity:
    missing = [m.name for m in seat.machines if m.name not in prints]
    if missing:
        return SeatParity(seat.name, 0, (), (), error=f"not compared: {', '.join(missing)} not running")
    try:
        vm, container = (prints[m.name].result() for m in seat.machines)
    except LabtoolError as exc:
        return SeatParity(seat.name, 0, (), (), error=f"not compared: {exc.message}")
    parity = diff(seat.name, vm.items, container.items, allowed, container.expected)
    progress(f"{seat.name}: parity: {len(parity.drift)} drifted, {len(parity.expected)} expected differences")
    if parity.drift:
        try:
            evidence = {
                str(m.kind): _evidence(lab, m, fingerprint, parity.drift)
                for m, fingerprint in ((seat.vm, vm), (seat.container, container))
            }
        except LabtoolError as exc:
            progress(f"{seat.name}: the drift is not explained: {exc.message}")
            return parity
        parity = explain.explained(parity, lab.room.name, evidence, seat_files(seat, records))
    return parity


def _evidence(lab: Lab, machine: Machine, fingerprint: Fingerprint, drift: Sequence[Difference]) -> dict[str, Any]:
    """What one machine shows about the drifted items (see parity/explain.py: explained)."""
    keys: dict[str, list[str]] = {d.category: [] for d in drift}
    for difference in drift:
        keys[difference.category].append(difference.item.split(":", 1)[1])
    services = [k for c in explain.SERVICE_CATEGORIES for k in keys.get(c, [])]
    files = sorted({k for c in explain.FILE_CATEGORIES for k in keys.get(c, [])})
    shown = explain_machine(lab.backends[machine.kind], lab.room, machine, services, files)
    users = {}
    for item, value in fingerprint.items.items():
        if item.startswith("user:") and value.startswith("uid="):
            users[int(value.split()[0].removeprefix("uid="))] = item.removeprefix("user:")
    return {
        "units": shown.get("units", {}),
        "files": shown.get("files", {}),
        "sockets": sockets.owners(list(fingerprint.sockets)),
        "users": users,
        "processes": fingerprint.processes,
        "modified": {i.removeprefix("dpkg-modified:") for i in fingerprint.items if i.startswith("dpkg-modified:")},
    }


# -- the testinfra suite -----------------------------------------------------------------------


def _run_suite(lab: Lab, machine: Machine, progress: Progress) -> MachineTests:
    tests = run_suite(lab, machine, lab.room.course.tests, lab.state_dir / "verify", progress)
    if not tests.error:
        progress(f"{machine.name}: {len(tests.cases) - len(tests.failed)} passed, {len(tests.failed)} failed")
    return tests


def run_suite(
    lab: Lab,
    machine: Machine,
    suite: Path,
    out_dir: Path,
    progress: Progress,
    *,
    what: str = "the testinfra suite",
    plugins: Sequence[str] = (),
) -> MachineTests:
    """Run a directory of testinfra files against one machine; its JUnit XML and log go to out_dir.

    Shared by verify (the course's suite) and check (the course's exercise checks);
    `plugins` are pytest plugins (module names) loaded into the run.
    """
    progress(f"{machine.name}: running {what}")
    junit, log = junit_path(out_dir, machine.name), out_dir / f"{machine.name}.log"
    junit.unlink(missing_ok=True)
    log.unlink(missing_ok=True)
    result = proc.run(
        suite_argv(suite, machine.name, junit, plugins),
        env={**suite_env(lab), **lab.tool_env(machine)},
        cwd=suite,
        log=log,
        check=False,
        timeout=SUITE_TIMEOUT,
    )
    if result.returncode == PYTEST_NO_TESTS:
        error = f"{what} has no tests: pytest collected none in {suite}"
        return MachineTests(machine.name, machine.kind, seconds=result.seconds, error=error, log=str(log))
    if result.returncode not in (0, PYTEST_FAILED_TESTS) or not junit.exists():
        why = _pytest_error(log)
        error = f"{what} could not run (pytest exit {result.returncode}{': ' + why if why else ''}); see {log}"
        return MachineTests(machine.name, machine.kind, seconds=result.seconds, error=error, log=str(log))
    cases = parse_junit(junit.read_text(), machine.name)
    return MachineTests(machine.name, machine.kind, cases, round(result.seconds, 1), log=str(log))


def junit_path(out_dir: Path, machine: str) -> Path:
    return out_dir / f"{machine}.xml"


def _pytest_error(log: Path) -> str:
    """pytest's own first complaint (a usage error, a file that does not import), for the message."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    found = next((line for line in lines if line.startswith(("ERROR: ", "E   "))), "")
    return _first_line(found.removeprefix("ERROR: ").removeprefix("E   "))


def suite_argv(tests: Path, machine: str, junit: Path, plugins: Sequence[str] = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        str(tests),
        f"--hosts=ansible://{machine}",
        f"--junitxml={junit}",
        "--rootdir",
        str(tests),
        "-c",
        "/dev/null",  # the suite's own settings only: not labtool's test configuration
        "-p",
        "no:cacheprovider",
        "-p",
        ROOT_SHELL_PLUGIN,
        *(word for plugin in plugins for word in ("-p", plugin)),
        "-q",
    ]


def suite_env(lab: Lab) -> dict[str, str]:
    return {
        **ansible_env(lab.room.course),
        # testinfra asks `ansible-inventory` about the host; with no -i it reads every source listed here.
        "ANSIBLE_INVENTORY": f"{lab.room.path},{lab.inventory_path}",
        # testinfra runs each command over a new SSH connection unless given a control path; on an
        # emulated VM every handshake costs about a second, so share one connection per VM. Extra args:
        # the host key options stay those of each VM's `ansible_ssh_common_args` in the generated inventory.
        "ANSIBLE_SSH_EXTRA_ARGS": " ".join(CONTROL_OPTIONS),
    }


CONTROL_OPTIONS = (
    "-o ControlMaster=auto",
    "-o ControlPersist=30s",
    "-o ControlPath=/tmp/labtool-ssh-%C",
)


def close_ssh_connections(lab: Lab, vms: list[Machine]) -> None:
    """End the shared SSH connections the suites opened, rather than leave them to time out."""
    connections = inventory.read(lab.inventory_path)
    for vm in vms:
        host = connections.get(vm.name, {})
        if host.get("ansible_host"):
            destination = f"{host.get('ansible_user', 'vagrant')}@{host['ansible_host']}"
            control = [word for option in CONTROL_OPTIONS for word in option.split(" ", 1)]
            port = str(host.get("ansible_port", 22))
            proc.run(["ssh", *control, "-p", port, "-O", "exit", destination], check=False, timeout=10)


def parse_junit(text: str, machine: str) -> tuple[CaseResult, ...]:
    cases = []
    for element in ElementTree.fromstring(text).iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            child = element.find(kind)
            if child is not None:
                outcome = {"failure": "failed"}.get(kind, kind)
                message = _first_line(child.get("message") or child.text or "")
                break
        name = case_name(element.get("name", "?"), machine)
        cases.append(CaseResult(name, outcome, round(float(element.get("time") or 0), 2), message))
    return tuple(cases)


def case_name(junit_name: str, machine: str) -> str:
    """`test_x[ansible://seat01-ct-nginx]` -> `test_x[nginx]`; `test_y[ansible://seat01-ct]` -> `test_y`."""
    host = re.escape(f"ansible://{machine}")
    return re.sub(rf"\[{host}-?(.*)\]$", lambda m: f"[{m.group(1)}]" if m.group(1) else "", junit_name)


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


# -- the kept report ---------------------------------------------------------------------------

REPORT_FILE = "verify.json"


def save(report: VerifyReport, state_dir: Path) -> None:
    atomic_write(state_dir / REPORT_FILE, json.dumps(asdict(report), indent=2, sort_keys=True) + "\n")


def load(state_dir: Path) -> VerifyReport | None:
    """The last verify of the room, or None when there is none (or it is unreadable)."""
    try:
        raw = json.loads((state_dir / REPORT_FILE).read_text())
        return _report_from(raw)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _report_from(raw: dict[str, Any]) -> VerifyReport:
    machines = [
        MachineTests(
            m["machine"],
            Kind(m["kind"]),
            tuple(CaseResult(**c) for c in m["cases"]),
            m["seconds"],
            m["error"],
            m["log"],
        )
        for m in raw["machines"]
    ]
    seats = [
        SeatParity(
            s["seat"],
            s["compared"],
            tuple(_difference(d) for d in s["drift"]),
            tuple(_difference(d) for d in s["expected"]),
            s["error"],
        )
        for s in raw["seats"]
    ]
    return VerifyReport(raw["room"], machines, seats, raw["seconds"], raw["finished_at"])


def _difference(raw: dict[str, Any]) -> Difference:
    return Difference(**{**raw, "details": tuple(raw.get("details", ()))})

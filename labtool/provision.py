"""Provision a machine with the room's course (its playbook and roles) through ansible-runner's API.

One run per machine (`--limit`), each with its own private data directory and
log file, so seats proceed independently and output is never interleaved. The
runner's event stream drives progress, and tells which files the run manages
(Ansible has resolved the loops, vars and filters by then); its per-host stats
give changed/failed.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtool import config, course, requirements, state, students
from labtool.accounts import Account
from labtool.host import apt_cache, processes
from labtool.model import Course, Room
from labtool.provision_events import ManagedFiles
from labtool.settings import PROVISION_TIMEOUT

STUDENTS_PLAYBOOK = Path(__file__).parent / "files" / "students.yml"
"""labtool's own play: a seat's student's account, run after the course's playbook."""

TaskProgress = Callable[[str, str], None]
"""Called with (machine, task name) as each task starts."""

APT_CACHE_PLAY = Path(__file__).parent / "files" / "apt-cache.yml"
"""labtool's own play, run before the course's: apt through the host's apt cache, or directly."""


@dataclass(frozen=True)
class ProvisionResult:
    machine: str
    ok: bool
    changed: int
    error: str = ""
    managed_files: tuple[str, ...] = ()
    """Paths the run's file-writing tasks reported (dest/path), as Ansible resolved them on this machine."""
    hidden_file_tasks: tuple[str, ...] = ()
    """File tasks with `no_log`, whose paths Ansible hides along with the rest of their result."""


@dataclass(frozen=True)
class Strategy:
    """How Ansible runs a play: its environment, and a note for the user when the fast way is unavailable."""

    env: dict[str, str]
    note: str = ""


def strategy(mitogen: bool) -> Strategy:
    """mitogen_linear where mitogen loads (one Python per machine instead of one per task: 3-5x faster
    here, most of all on emulated VMs); else the stock strategy with pipelining, and a note saying why."""
    pipelining = Strategy({"ANSIBLE_PIPELINING": "True"})
    if not mitogen:
        return pipelining
    try:
        import ansible_mitogen
    except ImportError as exc:
        note = f"mitogen cannot load ({exc}): provisioning with Ansible's stock strategy, which is slower"
        return Strategy(pipelining.env, note)
    plugins = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return Strategy({"ANSIBLE_STRATEGY_PLUGINS": str(plugins), "ANSIBLE_STRATEGY": "mitogen_linear"})


def provision_key(room: Room) -> str:
    """A content key over what provisioning applies: the course's playbook and the roles it uses, and the room.

    When it is unchanged, a running machine provisioned with it needs no new run;
    a change to a role the playbook does not use changes nothing.
    """
    digest = hashlib.sha256()
    # Who sits where is not what the course applies: the account play follows students.csv on its own.
    room_files = sorted(
        p for p in room.path.rglob("*") if p.is_file() and not p.is_symlink() and p != room.path / students.CSV_FILE
    )
    for path in [*course.content_files(room.course), *room_files]:
        digest.update(str(path).encode() + b"\0")
        with path.open("rb") as content:
            digest.update(hashlib.file_digest(content, "sha256").digest())
    return digest.hexdigest()[:16]


def provision(
    room: Room,
    machine: str,
    generated_inventory: Path,
    work_dir: Path,
    on_task: TaskProgress,
    *,
    how: Strategy | None = None,
    apt_proxy: str | None = None,
    timeout: float = PROVISION_TIMEOUT,
    cancelled: Callable[[], bool] | None = None,
    env: Mapping[str, str] | None = None,
) -> ProvisionResult:
    """Run the course's playbook on one machine; before it, unless apt_proxy is None, labtool's apt cache play
    (apt_proxy is the cache's URL, or "" to have the machine fetch directly). A run longer than `timeout`
    seconds is killed and fails; so is one `cancelled` (called every few seconds) asks to stop.

    Both run in one ansible-playbook: one connection to the machine, and under mitogen one Python on it
    (a second run cost 10-15 s per machine here). ansible-runner puts `cmdline` right after the program
    and the playbook last, and ansible-playbook takes its playbooks side by side, so every option goes
    in `cmdline`, ahead of labtool's play.
    """
    import ansible_runner

    log = work_dir / "logs" / f"{machine}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    private_data_dir = work_dir / "runner" / machine
    private_data_dir.mkdir(parents=True, exist_ok=True)
    args = ["-i", str(room.path), "-i", str(generated_inventory), "--limit", machine]
    if apt_proxy is not None:
        extravars = {"labtool_apt_proxy": apt_proxy, "labtool_apt_proxy_file": apt_cache.MACHINE_PROXY_FILE}
        args += ["-e", json.dumps(extravars), str(APT_CACHE_PLAY)]
    files = ManagedFiles(machine)
    with log.open("w") as sink, requirements.in_use(room.course.project):
        events = _Events(machine, sink, on_task, files)
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            playbook=str(room.course.playbook),
            cmdline=shlex.join(args),
            envvars={**ansible_env(room.course), **(how.env if how else {}), **(env or {})},
            event_handler=events,
            quiet=True,
            rotate_artifacts=1,
            timeout=max(1, round(timeout)),  # ansible-runner kills the playbook's whole process group
            # Checked between output lines and every few seconds; True kills ansible-playbook's process group.
            # Never None: ansible-runner would then install SIGINT/SIGTERM handlers of its own in the main thread.
            cancel_callback=cancelled or (lambda: False),
        )
    failures = max(events.failures, _host_stats(runner.stats, machine)[1])
    played = events.course_played or failures > 0  # a failure in labtool's play stops the course's
    ok = runner.status == "successful" and failures == 0 and played
    if runner.status == "timeout":
        _stop_leftovers(generated_inventory, machine)
        error = (
            f"the playbook did not finish within {timeout:.0f} s and was stopped "
            f"(LABTOOL_PROVISION_TIMEOUT; log: {log})"
        )
    else:
        error = "" if ok else _failure_summary(runner, log) if played else _no_play(room, machine)
    return ProvisionResult(machine, ok, events.course_changed, error, files.paths(), files.hidden())


@dataclass(frozen=True)
class AccountResult:
    machine: str
    ok: bool
    token: str
    """The account the machine now has (Account.token), when ok."""
    error: str = ""


def provision_account(
    room: Room,
    machine: str,
    account: Account,
    generated_inventory: Path,
    work_dir: Path,
    *,
    how: Strategy | None = None,
    env: Mapping[str, str] | None = None,
) -> AccountResult:
    """Run labtool's account play on one machine: the student's account, former students' locked.

    The play's variables hold the password hash: they go to a 0600 file beside the room's
    state, named to Ansible as `-e @file` and removed after the run; every task that sees
    the hash has `no_log`, and ansible-runner is told to write no env files.
    """
    import ansible_runner

    log = work_dir / "logs" / f"{machine}.account.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    private_data_dir = work_dir / "runner" / f"{machine}.account"
    private_data_dir.mkdir(parents=True, exist_ok=True)
    variables = account_vars_file(work_dir, machine)
    try:
        state.atomic_write(variables, json.dumps(account.extra_vars()), mode=state.PRIVATE)
        with log.open("w") as sink:
            events = _Events(machine, sink, lambda _m, _t: None, ManagedFiles(machine))
            runner = ansible_runner.run(
                private_data_dir=str(private_data_dir),
                playbook=str(STUDENTS_PLAYBOOK),
                inventory=[str(room.path), str(generated_inventory)],
                limit=machine,
                cmdline=f"-e @{variables}",
                suppress_env_files=True,
                timeout=max(1, round(PROVISION_TIMEOUT)),
                envvars={**ansible_env(room.course), **(how.env if how else {}), **(env or {})},
                event_handler=events,
                quiet=True,
                rotate_artifacts=1,
            )
    finally:
        variables.unlink(missing_ok=True)
    _, failures = _host_stats(runner.stats, machine)
    if runner.status == "successful" and failures == 0 and _in_stats(runner.stats, machine):
        return AccountResult(machine, True, account.token)
    return AccountResult(machine, False, "", f"student account: {_failure_summary(runner, log)}")


ACCOUNT_VARS_SUFFIX = ".account-vars.json"


def account_vars_file(work_dir: Path, machine: str) -> Path:
    """The 0600 file of an account play's variables (a password hash) while the play runs."""
    return work_dir / f".{machine}{ACCOUNT_VARS_SUFFIX}"


def remove_leftover_account_vars(work_dir: Path) -> list[Path]:
    """The account-vars files a labtool killed mid-play (`kill -9`) could not remove, removed; which they were.
    Call it holding the room's lock: every such file is then a leftover, since only a holder writes one."""
    found = sorted(work_dir.glob(f".*{ACCOUNT_VARS_SUFFIX}")) if work_dir.is_dir() else []
    for path in found:
        path.unlink(missing_ok=True)
    return found


def _stop_leftovers(generated_inventory: Path, machine: str) -> None:
    """Kill what ansible-runner's timeout leaves running: it kills ansible-playbook's process group, but each
    Ansible worker (a fork, so with the same command line) is in a session of its own and carries on."""
    processes.kill_trees(
        pid
        for pid, argv in processes.command_lines().items()
        if str(generated_inventory) in argv and _limited_to(argv, machine)
    )


def _limited_to(argv: list[str], machine: str) -> bool:
    return any(argv[i : i + 2] == ["--limit", machine] for i in range(len(argv) - 1))


def tool_path() -> str:
    """PATH for Ansible's programs: those installed beside this labtool first (its venv, activated or not)."""
    return f"{Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def ansible_env(lab_course: Course) -> dict[str, str]:
    """Ansible as the course's project would run by hand: its ansible.cfg, its roles, then the installed ones."""
    return {
        "PATH": tool_path(),
        "ANSIBLE_CONFIG": str(lab_course.project.ansible_cfg),
        "ANSIBLE_ROLES_PATH": ":".join(str(p) for p in lab_course.project.roles_path),
        # The room is read as the documented file formats only, as `config.load` read it: no scripts.
        "ANSIBLE_INVENTORY_ENABLED": config.INVENTORY_PLUGINS,
        "ANSIBLE_INVENTORY_IGNORE_REGEX": config.ANSIBLE_ENV["ANSIBLE_INVENTORY_IGNORE_REGEX"],
        "ANSIBLE_NOCOLOR": "True",
    }


class _Events:
    """One run's events: every one to the log; progress, managed files, changes and whether any play ran on
    the machine count for the course's playbook only, not for labtool's play before it."""

    def __init__(self, machine: str, sink: Any, on_task: TaskProgress, files: ManagedFiles) -> None:
        self.machine, self.sink, self.on_task, self.files = machine, sink, on_task, files
        self.course_changed = 0
        """Counted from the events: ansible-runner's `stats` holds only the first playbook's recap (labtool's)."""
        self.failures = 0
        self.course_played = False

    def __call__(self, event: dict[str, Any]) -> bool:
        if event.get("stdout"):
            self.sink.write(event["stdout"] + "\n")
            self.sink.flush()
        kind, data = str(event.get("event", "")), event.get("event_data", {})
        on_machine = kind.startswith("runner_on_") and data.get("host") == self.machine
        if on_machine and kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            self.failures += 1
        if data.get("playbook") == str(APT_CACHE_PLAY):
            if kind == "playbook_on_play_start":
                self.on_task(self.machine, str(data.get("play", "")))
            return True
        if on_machine and kind == "runner_on_ok" and data.get("res", {}).get("changed"):
            self.course_changed += 1
        if kind == "playbook_on_task_start":
            self.on_task(self.machine, str(data.get("task", "")))
        self.course_played |= on_machine
        self.files.observe(event)
        return True  # keep the event in the artifacts too


def _host_stats(stats: dict[str, Any] | None, machine: str) -> tuple[int, int]:
    stats = stats or {}
    changed = int(stats.get("changed", {}).get(machine, 0))
    failures = sum(int(stats.get(kind, {}).get(machine, 0)) for kind in ("failures", "dark"))
    return changed, failures


def _in_stats(stats: dict[str, Any] | None, machine: str) -> bool:
    """Whether the run's per-host counts name the machine, i.e. a play ran on it."""
    return any(machine in (counts or {}) for counts in (stats or {}).values() if isinstance(counts, dict))


def _no_play(room: Room, machine: str) -> str:
    return (
        f"no play of {room.course.playbook.name} targets {machine}; put the room's machines in the groups its "
        "plays name in `hosts:` (the reference course's: lab)"
    )


def _failure_summary(runner: Any, log: Path) -> str:
    for event in runner.events:
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not event.get("event_data", {}).get(
            "ignore_errors"
        ):
            data = event.get("event_data", {})
            return f"task '{data.get('task', '?')}': {failure_lines(data.get('res', {}))} (log: {log})"
    return f"ansible-playbook ended {runner.status} (rc {runner.rc}); see {log}"


def failure_lines(result: dict[str, Any], last: int = 3, width: int = 300) -> str:
    """What a failed task said: its message's first line, then the last lines of its stderr, where apt
    (among others) says why (an unreachable mirror, a missing package)."""
    message = str(result.get("msg") or "").strip().splitlines()[:1]
    stderr = [line.strip() for line in str(result.get("stderr") or "").splitlines() if line.strip()][-last:]
    lines = [line[:width] for line in [*message, *stderr] if line]
    return " / ".join(dict.fromkeys(lines)) or "failed"

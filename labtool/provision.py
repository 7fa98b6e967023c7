"""Provision a machine with the room's course (its playbook and roles) through ansible-runner's API.

One run per machine (`--limit`), each with its own private data directory and
log file, so seats proceed independently and output is never interleaved. The
runner's event stream drives progress, and tells which files the run manages
(Ansible has resolved the loops, vars and filters by then); its per-host stats
give changed/failed.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtool import config, course
from labtool.model import Course, Room
from labtool.provision_events import ManagedFiles

TaskProgress = Callable[[str, str], None]
"""Called with (machine, task name) as each task starts."""


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
    room_files = sorted(p for p in room.path.rglob("*") if p.is_file() and not p.is_symlink())
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
    cancelled: Callable[[], bool] | None = None,
) -> ProvisionResult:
    """Run the course's playbook on one machine; `cancelled` returning True stops the run (its process group)."""
    import ansible_runner

    log = work_dir / "logs" / f"{machine}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    private_data_dir = work_dir / "runner" / machine
    private_data_dir.mkdir(parents=True, exist_ok=True)
    files = ManagedFiles(machine)
    with log.open("w") as sink:
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            playbook=str(room.course.playbook),
            inventory=[str(room.path), str(generated_inventory)],
            limit=machine,
            envvars={**ansible_env(room.course), **(how.env if how else {})},
            event_handler=_event_handler(machine, sink, on_task, files),
            quiet=True,
            rotate_artifacts=1,
            # Checked between output lines and every few seconds; True kills ansible-playbook's process group.
            # Never None: ansible-runner would then install SIGINT/SIGTERM handlers of its own in the main thread.
            cancel_callback=cancelled or (lambda: False),
        )
    changed, failures = _host_stats(runner.stats, machine)
    matched = _played(runner.stats, machine)
    ok = runner.status == "successful" and failures == 0 and matched
    error = "" if ok else _failure_summary(runner, log) if matched else _no_play(room, machine)
    return ProvisionResult(machine, ok, changed, error, files.paths(), files.hidden())


def ansible_env(lab_course: Course) -> dict[str, str]:
    """Ansible as the course's project would run by hand: its ansible.cfg, its roles, then the installed ones."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ANSIBLE_CONFIG": str(lab_course.project.ansible_cfg),
        "ANSIBLE_ROLES_PATH": ":".join(str(p) for p in lab_course.project.roles_path),
        # The room is read as the documented file formats only, as `config.load` read it: no scripts.
        "ANSIBLE_INVENTORY_ENABLED": config.INVENTORY_PLUGINS,
        "ANSIBLE_NOCOLOR": "True",
    }


def _event_handler(
    machine: str, sink: Any, on_task: TaskProgress, files: ManagedFiles
) -> Callable[[dict[str, Any]], bool]:
    def handle(event: dict[str, Any]) -> bool:
        if event.get("stdout"):
            sink.write(event["stdout"] + "\n")
            sink.flush()
        if event.get("event") == "playbook_on_task_start":
            on_task(machine, str(event.get("event_data", {}).get("task", "")))
        files.observe(event)
        return True  # keep the event in the artifacts too

    return handle


def _host_stats(stats: dict[str, Any] | None, machine: str) -> tuple[int, int]:
    stats = stats or {}
    changed = int(stats.get("changed", {}).get(machine, 0))
    failures = sum(int(stats.get(kind, {}).get(machine, 0)) for kind in ("failures", "dark"))
    return changed, failures


def _played(stats: dict[str, Any] | None, machine: str) -> bool:
    """Whether any play ran on the machine: a playbook whose `hosts:` match it not at all did nothing."""
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
            result = data.get("res", {})
            message = result.get("msg") or result.get("stderr") or "failed"
            return f"task '{data.get('task', '?')}': {str(message).strip().splitlines()[0][:200]} (log: {log})"
    return f"ansible-playbook ended {runner.status} (rc {runner.rc}); see {log}"

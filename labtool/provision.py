"""Provision a machine with playbooks/site.yml through ansible-runner's API.

One run per machine (`--limit`), each with its own private data directory and
log file, so seats proceed independently and output is never interleaved. The
runner's event stream drives progress; its per-host stats give changed/failed.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtool.model import Room
from labtool.settings import PROJECT_DIR

SITE_PLAYBOOK = PROJECT_DIR / "playbooks" / "site.yml"
ROLES_DIR = PROJECT_DIR / "roles"

TaskProgress = Callable[[str, str], None]
"""Called with (machine, task name) as each task starts."""


@dataclass(frozen=True)
class ProvisionResult:
    machine: str
    ok: bool
    changed: int
    seconds: float
    log: Path
    error: str = ""


def provision_key(room: Room) -> str:
    """A content key over what provisioning applies: the playbooks, the roles and the room's own files.

    When it is unchanged, a running machine provisioned with it needs no new run.
    """
    digest = hashlib.sha256()
    for tree in (PROJECT_DIR / "playbooks", ROLES_DIR, room.path):
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(PROJECT_DIR if tree != room.path else room.path)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def provision(
    room: Room, machine: str, generated_inventory: Path, work_dir: Path, on_task: TaskProgress
) -> ProvisionResult:
    import ansible_runner

    log = work_dir / "logs" / f"{machine}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    private_data_dir = work_dir / "runner" / machine
    private_data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as sink:
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            playbook=str(SITE_PLAYBOOK),
            inventory=[str(room.path), str(generated_inventory)],
            limit=machine,
            envvars=ansible_env(),
            event_handler=_event_handler(machine, sink, on_task),
            quiet=True,
            rotate_artifacts=1,
        )
    changed, failures = _host_stats(runner.stats, machine)
    ok = runner.status == "successful" and failures == 0
    error = "" if ok else _failure_summary(runner, log)
    return ProvisionResult(machine, ok, changed, time.monotonic() - started, log, error)


def ansible_env() -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        # The checkout's ansible.cfg (roles path, host keys): the same settings as running Ansible by hand.
        "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "True",
    }


def _event_handler(machine: str, sink: Any, on_task: TaskProgress) -> Callable[[dict[str, Any]], bool]:
    def handle(event: dict[str, Any]) -> bool:
        if event.get("stdout"):
            sink.write(event["stdout"] + "\n")
            sink.flush()
        if event.get("event") == "playbook_on_task_start":
            on_task(machine, str(event.get("event_data", {}).get("task", "")))
        return True  # keep the event in the artifacts too

    return handle


def _host_stats(stats: dict[str, Any] | None, machine: str) -> tuple[int, int]:
    stats = stats or {}
    changed = int(stats.get("changed", {}).get(machine, 0))
    failures = sum(int(stats.get(kind, {}).get(machine, 0)) for kind in ("failures", "dark"))
    return changed, failures


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

"""`labtool hosts prepare`: labtool's own play (files/lab-host.yml) makes each of a room's other lab hosts ready.

The play installs Docker Engine, libvirt, QEMU and apt-cacher-ng on a plain Debian 12 machine and
makes their daemons, libvirt's storage pool and the rooms' apt cache run (through systemd where it is
PID 1, as labtool starts its own elsewhere), keeping libvirtd from an unusable /dev/kvm. It runs once,
over SSH, on every host the room lists besides this machine, all at once; each host's outcome is its own.
This machine is prepared by `scripts/setup.sh` and `labtool daemons`.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtool.errors import LabtoolError
from labtool.host import apt_cache
from labtool.model import SSH_CONNECT_SECONDS, LabHost, Room
from labtool.provision import failure_lines, tool_path
from labtool.settings import PROVISION_TIMEOUT, Settings

PLAYBOOK = Path(__file__).parent / "files" / "lab-host.yml"
LIBVIRTD_SCRIPT = Path(__file__).parent / "host" / "files" / "libvirtd-without-kvm.sh"

TaskProgress = Callable[[str, str], None]
"""Called with (host name, task name) as each task starts on a host."""


@dataclass(frozen=True)
class Prepared:
    host: LabHost
    ok: bool
    changed: int
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.host.name,
            "ssh": self.host.ssh,
            "ok": self.ok,
            "changed": self.changed,
            "error": self.error or None,
        }


def remote_hosts(room: Room) -> list[LabHost]:
    hosts = [host for host in room.hosts if not host.is_local]
    if not hosts:
        raise LabtoolError(
            f"room {room.name!r} lists no lab host but this machine",
            f"add the others under hosts: in {room.path / 'labtool.yml'}; this machine is prepared by "
            "`scripts/setup.sh` and `labtool daemons`",
        )
    return hosts


def prepare(room: Room, settings: Settings, on_task: TaskProgress) -> list[Prepared]:
    """Run the play on every lab host of the room but this one; one outcome per host, in the room's order."""
    import ansible_runner

    hosts = remote_hosts(room)
    log = settings.log_dir / f"hosts-prepare-{room.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    extravars = {
        "labtool_host_vm_accel": settings.vm_accel,
        "labtool_host_libvirtd_script": str(LIBVIRTD_SCRIPT),
        **apt_cache_vars(settings),
    }
    # The inventory and ansible-runner's files live for the run only: preparing hosts gives the room no state.
    with tempfile.TemporaryDirectory(prefix="labtool-hosts-") as work, log.open("w") as sink:
        inventory = Path(work) / "inventory.json"
        inventory.write_text(json.dumps(inventory_of(hosts), indent=2))
        events = _Events(sink, on_task)
        runner = ansible_runner.run(
            private_data_dir=work,
            playbook=str(PLAYBOOK),
            inventory=str(inventory),
            cmdline=shlex.join(["-e", json.dumps(extravars), "--forks", str(max(1, len(hosts)))]),
            envvars={
                "PATH": tool_path(),
                "ANSIBLE_NOCOLOR": "True",
                "ANSIBLE_PIPELINING": "True",
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
            },
            event_handler=events,
            quiet=True,
            timeout=max(1, round(PROVISION_TIMEOUT)),
        )
        stats, status = runner.stats or {}, runner.status
    return [_outcome(host, stats, events, status, log) for host in hosts]


def apt_cache_vars(settings: Settings) -> dict[str, Any]:
    """The play's apt cache as this host's: the same address, port, configuration and probe (host/apt_cache.py)."""
    return {
        "labtool_host_apt_cache": settings.apt_cache,
        "labtool_host_apt_cache_address": apt_cache.ADDRESS,
        "labtool_host_apt_cache_port": apt_cache.PORT,
        "labtool_host_apt_cache_interface": apt_cache.INTERFACE,
        "labtool_host_apt_cache_run_dir": str(apt_cache.RUN_DIR),
        "labtool_host_apt_cache_config": apt_cache.config_text(),
        "labtool_host_apt_cache_probe": apt_cache.PROBE,
    }


def inventory_of(hosts: Sequence[LabHost]) -> dict[str, Any]:
    """An Ansible inventory of the hosts, reached as `ssh user@address` reaches them: key only, known host keys."""
    entries = {}
    for host in hosts:
        user, _, address = (host.ssh or "").rpartition("@")
        entries[host.name] = {
            "ansible_host": address,
            "ansible_user": user,
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": f"-o BatchMode=yes -o ConnectTimeout={SSH_CONNECT_SECONDS}",
        }
    return {"all": {"hosts": entries}}


def _outcome(host: LabHost, stats: dict[str, Any], events: _Events, status: str, log: Path) -> Prepared:
    changed = int(stats.get("changed", {}).get(host.name, 0))
    failed = any(int(stats.get(kind, {}).get(host.name, 0)) for kind in ("failures", "dark"))
    ran = any(host.name in (counts or {}) for counts in stats.values() if isinstance(counts, dict))
    if failed or not ran:
        why = events.failures.get(host.name) or f"ansible-playbook ended {status}"
        return Prepared(host, False, changed, f"{why} (log: {log})")
    return Prepared(host, True, changed)


class _Events:
    """Every event's output to the log; each host's task progress, and the first failure on each host."""

    def __init__(self, sink: Any, on_task: TaskProgress) -> None:
        self.sink, self.on_task = sink, on_task
        self.failures: dict[str, str] = {}

    def __call__(self, event: dict[str, Any]) -> bool:
        if event.get("stdout"):
            self.sink.write(event["stdout"] + "\n")
            self.sink.flush()
        kind, data = str(event.get("event", "")), event.get("event_data", {})
        host = str(data.get("host", ""))
        if kind == "runner_on_start":
            self.on_task(host, str(data.get("task", "")))
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            what = "unreachable" if kind == "runner_on_unreachable" else f"task '{data.get('task', '?')}'"
            self.failures.setdefault(host, f"{what}: {failure_lines(data.get('res', {}))}")
        return True

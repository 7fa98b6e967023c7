"""Managed files from recorded ansible-runner events (fixtures/runner_events: file_tasks.yml and its events)."""

import json
from pathlib import Path
from typing import Any

from labtool.provision_events import ManagedFiles

EVENTS = Path(__file__).parent / "fixtures" / "runner_events" / "file_tasks.json"


def recorded(host: str = "recorded") -> ManagedFiles:
    files = ManagedFiles(host)
    events: list[dict[str, Any]] = json.loads(EVENTS.read_text())
    for event in events:
        files.observe(event)
    return files


def test_paths_come_resolved_by_ansible_from_filters_include_vars_loops_and_check_mode() -> None:
    assert recorded().paths() == (
        "/r/files/checked.conf",  # check mode: the module's own arguments name it
        "/r/files/conf.d/bind.conf",  # a loop over a dict: one path per item
        "/r/files/conf.d/maxmemory.conf",
        "/r/files/etc/recorded",  # `| dirname` of a path from vars/Debian.yml (include_vars)
        "/r/files/etc/recorded/recorded.conf",
    )


def test_skipped_failed_and_non_file_tasks_add_nothing() -> None:
    paths = recorded().paths()
    assert not any(p.endswith(("skipped.conf", "failed.conf")) for p in paths)


def test_no_log_tasks_are_named_and_their_content_never_recorded() -> None:
    files = recorded()
    assert files.hidden() == ("Write a secret without logging it",)
    assert "hunter2" not in EVENTS.read_text()  # Ansible censored it before the event was written
    assert not any("secret" in p for p in files.paths())


def test_events_of_other_hosts_are_ignored() -> None:
    assert recorded("someone-else").paths() == ()


def test_collections_file_modules_count_by_their_last_name() -> None:
    files = ManagedFiles("m")
    files.observe(
        {
            "event": "runner_on_ok",
            "event_data": {"host": "m", "resolved_action": "community.general.ini_file", "res": {"path": "/etc/x.ini"}},
        }
    )
    files.observe(
        {
            "event": "runner_on_ok",
            "event_data": {"host": "m", "resolved_action": "ansible.builtin.command", "res": {"path": "/etc/no"}},
        }
    )
    assert files.paths() == ("/etc/x.ini",)

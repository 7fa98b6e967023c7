"""What a provisioning run manages, read from ansible-runner's event stream.

Ansible has already resolved loops, include_vars, group_vars and filters when it
reports a result, so the `dest`/`path` of each file-writing task's result is the
file it really manages on that machine; no re-reading of the roles' YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

FILE_MODULES = frozenset(
    {
        "template",
        "copy",
        "file",
        "lineinfile",
        "blockinfile",
        "replace",
        "ini_file",
        "unarchive",
        "get_url",
        "assemble",
        "xml",
        "json_file",
        "xattr",
    }
)
"""Modules (by their last name, so `ansible.builtin.copy` and `community.general.ini_file` count) that write files."""
PATH_KEYS = ("dest", "path")
RESULT_EVENTS = frozenset({"runner_on_ok", "runner_item_on_ok"})
CENSORED = "censored"


class ManagedFiles:
    """Collects, for one machine, the paths its run's file tasks reported; and which no_log tasks hid theirs."""

    def __init__(self, machine: str) -> None:
        self.machine = machine
        self._paths: set[str] = set()
        self._hidden: set[str] = set()

    def observe(self, event: Mapping[str, Any]) -> None:
        if event.get("event") not in RESULT_EVENTS:
            return
        data = event.get("event_data") or {}
        if data.get("host") != self.machine or not _writes_files(data):
            return
        result = data.get("res") or {}
        if CENSORED in result:
            # no_log: Ansible hides the whole result, path included; say which task, never what it wrote.
            self._hidden.add(str(data.get("task") or data.get("task_path") or "?"))
            return
        for item in _results(result):
            if CENSORED in item:
                self._hidden.add(str(data.get("task") or "?"))
            elif not item.get("skipped"):
                self._paths.update(_path_of(item))

    def paths(self) -> tuple[str, ...]:
        return tuple(sorted(self._paths))

    def hidden(self) -> tuple[str, ...]:
        """Tasks with `no_log` whose paths Ansible did not report."""
        return tuple(sorted(self._hidden))


def _writes_files(data: Mapping[str, Any]) -> bool:
    action = str(data.get("resolved_action") or data.get("task_action") or "")
    return action.rsplit(".", 1)[-1] in FILE_MODULES


def _results(result: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """A looped task's summary holds one result per item (also sent as item events); others are their own."""
    items = result.get("results")
    if isinstance(items, list):
        yield from (item for item in items if isinstance(item, Mapping))
    else:
        yield result


def _path_of(result: Mapping[str, Any]) -> Iterator[str]:
    """The result's own dest/path, else the module's resolved arguments (lineinfile and check mode return none)."""
    invocation = result.get("invocation")
    arguments = invocation.get("module_args") if isinstance(invocation, Mapping) else None
    for source in (result, arguments if isinstance(arguments, Mapping) else {}):
        for key in PATH_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.startswith("/"):
                yield value
                return

"""The files the roles manage, read from the roles themselves so the list never goes stale.

Every task of a file-writing module (template, copy, file, lineinfile, ...) names
its target in `dest:` or `path:`; those are rendered with the role's defaults
(and literal `loop:` items), exactly as Ansible would for a host that overrides
nothing. A target that cannot be resolved that way is an error, not a silent gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import yaml

from labtool.errors import LabtoolError

FILE_MODULES = frozenset(
    f"{prefix}{name}"
    for prefix in ("", "ansible.builtin.")
    for name in ("template", "copy", "file", "lineinfile", "blockinfile", "replace", "ini_file")
)
NESTING_KEYS = ("block", "rescue", "always")


def managed_files(roles_dir: Path) -> list[str]:
    paths: set[str] = set()
    for tasks_file in sorted(roles_dir.glob("*/tasks/*.yml")):
        role_dir = tasks_file.parent.parent
        variables = role_variables(role_dir)
        for task in _tasks(yaml.safe_load(tasks_file.read_text()) or []):
            paths.update(_targets(task, variables, tasks_file))
    return sorted(paths)


def role_variables(role_dir: Path) -> dict[str, Any]:
    """The role's defaults and vars, with templated values (`{{ other_var }}/x`) resolved."""
    variables: dict[str, Any] = {}
    for source in (role_dir / "defaults" / "main.yml", role_dir / "vars" / "main.yml"):
        if source.is_file():
            variables.update(yaml.safe_load(source.read_text()) or {})
    for _ in range(3):  # values may refer to values that refer to values
        variables = {k: _try_render(v, variables) for k, v in variables.items()}
    return variables


def _try_render(value: Any, variables: dict[str, Any]) -> Any:
    """A value that needs facts (known only on a host) stays as written; paths never need them."""
    try:
        return _render(value, variables) if isinstance(value, str) else value
    except jinja2.TemplateError:
        return value


def _tasks(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for task in tasks:
        yield task
        for key in NESTING_KEYS:
            yield from _tasks(task.get(key) or [])


def _targets(task: dict[str, Any], variables: dict[str, Any], source: Path) -> Iterator[str]:
    module = next((key for key in task if key in FILE_MODULES), None)
    if module is None or not isinstance(task[module], dict):
        return
    target = task[module].get("dest") or task[module].get("path")
    if not target:
        return
    loop = task.get("loop", [None])
    if not isinstance(loop, list):
        raise LabtoolError(
            f"{source}: task {task.get('name')!r} loops over {loop!r}, so the files it manages are not known",
            "give file tasks a literal `loop:` list so labtool verify can check every file",
        )
    for item in loop:
        try:
            yield _render(str(target), {**variables, "item": _render_item(item, variables)})
        except jinja2.TemplateError as exc:
            raise LabtoolError(
                f"{source}: task {task.get('name')!r}: cannot resolve the path {target!r}: {exc}",
                "file tasks should name their target with literals and role variables from defaults/main.yml",
            ) from exc


def _render_item(item: Any, variables: dict[str, Any]) -> Any:
    if isinstance(item, dict):
        return {k: _render(v, variables) if isinstance(v, str) else v for k, v in item.items()}
    return _render(item, variables) if isinstance(item, str) else item


def _render(text: str, variables: dict[str, Any]) -> str:
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render(variables)

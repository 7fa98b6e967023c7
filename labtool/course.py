"""What a room teaches: the `course:` section of labtool.yml, and the files the course consists of.

A room names its playbook, its testinfra suite, an optional allow-list of extra
expected differences and optional exercise checks, all inside the lab project;
defaults are the reference layout (playbooks/site.yml, molecule/shared/tests,
checks/ when the project has it). `content_files` lists what the
chosen playbook really uses (the playbook, playbooks it imports, group_vars and
host_vars beside it, and every role it names, with the roles those depend on), so
the provisioning key changes with them and with nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from labtool.errors import LabtoolError
from labtool.model import AppProbe, Course
from labtool.parity import expected
from labtool.project import Project

DEFAULT_PLAYBOOK = "playbooks/site.yml"
DEFAULT_TESTS = "molecule/shared/tests"
DEFAULT_CHECKS = "checks"
KEYS = ("playbook", "tests", "expected_differences", "app", "checks")
APP_KEYS = ("fingerprint_url", "page_url", "page_ignore_id")

_PLAY_TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")
_BLOCK_KEYS = ("block", "rescue", "always")
_ROLE_MODULES = frozenset(
    f"{prefix}{name}" for prefix in ("", "ansible.builtin.") for name in ("include_role", "import_role")
)
_PLAYBOOK_IMPORTS = frozenset({"import_playbook", "ansible.builtin.import_playbook"})


# -- the course section ----------------------------------------------------------------------


def read(raw: Any, where: str, project: Project, problems: list[str]) -> Course:
    """The room's course from labtool.yml's `course:` mapping (None: all defaults); problems go to `problems`."""
    body = raw if isinstance(raw, dict) else {}
    if raw is not None and not isinstance(raw, dict):
        problems.append(f"{where}: course: must be a mapping of {', '.join(KEYS)}; got {json.dumps(raw, default=str)}")
    for key in body:
        if key not in KEYS:
            problems.append(f"{where}: course.{key}: unknown key; remove it (known: {', '.join(KEYS)})")

    def path(key: str, default: str | None, kind: str) -> Path | None:
        return _path(body, key, default=default, kind=kind, where=where, project=project, problems=problems)

    playbook = path("playbook", DEFAULT_PLAYBOOK, "file")
    tests = path("tests", DEFAULT_TESTS, "directory")
    allow_list = path("expected_differences", None, "file")
    # Checks are optional: the project's checks/ is taken when it exists; a named directory must exist.
    optional_checks = DEFAULT_CHECKS if (project.root / DEFAULT_CHECKS).is_dir() else None
    checks = path("checks", optional_checks, "directory")
    if allow_list is not None:
        try:
            expected.load(allow_list)
        except LabtoolError as exc:
            problems.append(f"{where}: course.expected_differences: {exc.message}; {exc.hint}")
    return Course(
        project=project,
        playbook=playbook or project.root / DEFAULT_PLAYBOOK,
        tests=tests or project.root / DEFAULT_TESTS,
        expected_differences=allow_list,
        app=_app(body.get("app"), where, problems),
        checks=checks,
    )


def _path(
    body: dict[Any, Any], key: str, *, default: str | None, kind: str, where: str, project: Project, problems: list[str]
) -> Path | None:
    value = body.get(key, default)
    if value is None:
        return None
    name = f"{where}: course.{key}"
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name}: {json.dumps(value, default=str)} is not a path; give a {kind} inside the project")
        return None
    path = (project.root / value).resolve()
    said = "" if key in body else " (the default)"
    if not path.is_relative_to(project.root):
        problems.append(f"{name}: {value} is outside the lab project {project.root}; give a path inside it")
        return None
    exists = path.is_file() if kind == "file" else path.is_dir()
    if not exists:
        problems.append(
            f"{name}: {value}{said} is not a {kind} in the lab project {project.root}; "
            f"create it or set course.{key} to the {kind} your course uses"
        )
        return None
    return path


def _app(raw: Any, where: str, problems: list[str]) -> AppProbe:
    if raw is None:
        return AppProbe()
    if not isinstance(raw, dict):
        problems.append(f"{where}: course.app: must be a mapping of {', '.join(APP_KEYS)}")
        return AppProbe()
    values: dict[str, str] = {}
    for key, value in raw.items():
        name = f"{where}: course.app.{key}"
        if key not in APP_KEYS:
            problems.append(f"{name}: unknown key; remove it (known: {', '.join(APP_KEYS)})")
        elif not isinstance(value, str) or not value:
            problems.append(f"{name}: {json.dumps(value, default=str)} is not a string")
        elif key.endswith("_url") and not (urlparse(value).scheme in ("http", "https") and urlparse(value).netloc):
            problems.append(f"{name}: {value} is not an http(s) URL; e.g. http://127.0.0.1/api/fingerprint")
        else:
            values[str(key)] = value
    return AppProbe(**values)


# -- what the playbook uses ------------------------------------------------------------------


def content_files(course: Course) -> list[Path]:
    """Every file provisioning with the course applies: its playbooks, their vars, the roles they use."""
    files: set[Path] = set()
    roles: set[Path] = set()
    for playbook in _playbooks(course.playbook, set()):
        files.add(playbook)
        for vars_dir in ("group_vars", "host_vars"):
            files.update(_tree(playbook.parent / vars_dir))
        roles.update(_roles_of_playbook(playbook, course))
    for role in roles:
        files.update(_tree(role))
    return sorted(files)


def roles_used(course: Course) -> list[Path]:
    """The role directories the course's playbook uses, directly or as dependencies."""
    found: set[Path] = set()
    for playbook in _playbooks(course.playbook, set()):
        found.update(_roles_of_playbook(playbook, course))
    return sorted(found)


def _playbooks(playbook: Path, seen: set[Path]) -> Iterator[Path]:
    if playbook in seen or not playbook.is_file():
        return
    seen.add(playbook)
    yield playbook
    for entry in _yaml_list(playbook):
        target = next((entry[k] for k in _PLAYBOOK_IMPORTS if k in entry), None)
        if isinstance(target, str) and "{{" not in target:
            yield from _playbooks((playbook.parent / target).resolve(), seen)


def _roles_of_playbook(playbook: Path, course: Course) -> set[Path]:
    """Roles a playbook names; a name Ansible must template first means: every role, to be safe."""
    names: set[str] = set()
    for play in _yaml_list(playbook):
        for role in play.get("roles") or []:
            names.add(_role_name(role))
        for key in _PLAY_TASK_LISTS:
            names.update(_role_names_in_tasks(play.get(key) or []))
    return _resolve_roles(names, course, set())


def _resolve_roles(names: set[str], course: Course, seen: set[Path]) -> set[Path]:
    if any("{{" in name or not name for name in names):
        return set(_every_role(course))
    found: set[Path] = set()
    for name in names:
        role = _find_role(name, course)
        if role is None or role in seen:
            continue
        seen.add(role)
        found.add(role)
        found |= _resolve_roles(_role_dependencies(role), course, seen)
    return found


def _role_dependencies(role: Path) -> set[str]:
    """Roles in meta/main.yml's dependencies, plus those its task files include or import."""
    names: set[str] = set()
    meta = _yaml_mapping(role / "meta" / "main.yml")
    for dependency in meta.get("dependencies") or []:
        names.add(_role_name(dependency))
    for tasks_file in sorted((role / "tasks").glob("*.y*ml")) + sorted((role / "handlers").glob("*.y*ml")):
        names.update(_role_names_in_tasks(_yaml_list(tasks_file)))
    return names


def _role_names_in_tasks(tasks: list[Any]) -> set[str]:
    names: set[str] = set()
    for task in tasks:
        if not isinstance(task, dict):
            continue
        for module in _ROLE_MODULES & task.keys():
            args = task[module]
            names.add(_role_name(args.get("name") if isinstance(args, dict) else args))
        for key in _BLOCK_KEYS:
            names.update(_role_names_in_tasks(task.get(key) or []))
    return names


def _role_name(entry: Any) -> str:
    """`- web`, `- role: web`, `- name: web` (include_role), or a collection role `ns.col.web` as given."""
    if isinstance(entry, dict):
        entry = entry.get("role") or entry.get("name")
    return entry if isinstance(entry, str) else ""


def _find_role(name: str, course: Course) -> Path | None:
    candidate = Path(name)
    if candidate.is_absolute():
        return candidate if candidate.is_dir() else None
    for directory in (course.playbook.parent / "roles", *course.project.roles_path):
        if (directory / name).is_dir():
            return (directory / name).resolve()
    return None  # a collection's role or a typo: Ansible itself says which when it runs


def _every_role(course: Course) -> list[Path]:
    return sorted(
        p.resolve() for directory in course.project.roles_path if directory.is_dir() for p in directory.iterdir()
    )


def _tree(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()]


def _yaml_list(path: Path) -> list[dict[str, Any]]:
    data = _yaml(path)
    return [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []


def _yaml_mapping(path: Path) -> dict[str, Any]:
    data = _yaml(path)
    return data if isinstance(data, dict) else {}


def _yaml(path: Path) -> Any:
    """A playbook or role file as data; one that is unreadable is Ansible's to report when it runs."""
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None

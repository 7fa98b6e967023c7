"""The lab project: the instructor's course directory, found the way git finds `.git`.

A lab project holds `playbooks/`, `roles/`, `inventories/<room>/` (the rooms),
`molecule/` and a testinfra suite. labtool is the installed tool; the project is
a directory it is pointed at (`--project DIR`, `LABTOOL_PROJECT`) or finds above
the working directory. Everything the tool itself needs (its Vagrantfile, the
default ansible.cfg, the collector) ships inside the package instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from labtool.errors import LabtoolError

PROJECT_ENV = "LABTOOL_PROJECT"
MARKERS = ("inventories", "playbooks")
"""A directory holding both is a lab project."""
DEFAULT_ANSIBLE_CFG = Path(__file__).parent / "files" / "ansible.cfg"
STATE_DIR = ".labtool"
"""Inside the project: what labtool installs there (roles from requirements.yml); never hand-edited."""


class ProjectError(LabtoolError):
    """No lab project where one was looked for."""


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def rooms_dir(self) -> Path:
        return self.root / "inventories"

    @property
    def roles_dir(self) -> Path:
        return self.root / "roles"

    @property
    def installed_roles_dir(self) -> Path:
        """Where roles from requirements.yml are installed (by `ansible-galaxy`, from local sources)."""
        return self.root / STATE_DIR / "roles"

    @property
    def requirements(self) -> Path:
        return self.root / "requirements.yml"

    @property
    def roles_path(self) -> tuple[Path, ...]:
        """Where Ansible looks for roles, in order: the project's own, then the installed ones."""
        return (self.roles_dir, self.installed_roles_dir)

    @property
    def ansible_cfg(self) -> Path:
        """The project's ansible.cfg when it has one (as running Ansible by hand there), else labtool's."""
        own = self.root / "ansible.cfg"
        return own if own.is_file() else DEFAULT_ANSIBLE_CFG


def is_project(directory: Path) -> bool:
    return all((directory / marker).is_dir() for marker in MARKERS)


def find(explicit: Path | None = None, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Project:
    """`--project DIR`, else LABTOOL_PROJECT, else the nearest parent of the working directory that is a project."""
    env = os.environ if env is None else env
    if explicit is not None:
        return _named(explicit, "--project")
    if env.get(PROJECT_ENV):
        return _named(Path(env[PROJECT_ENV]), PROJECT_ENV)
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        if is_project(directory):
            return Project(directory)
    raise ProjectError(
        f"no lab project in {start} or any directory above it (a lab project has {_markers()})",
        "run labtool inside your course's directory, point at it with --project DIR or LABTOOL_PROJECT, "
        "or create one with `labtool init DIR`",
    )


def _named(path: Path, source: str) -> Project:
    directory = path.expanduser().resolve()
    if is_project(directory):
        return Project(directory)
    missing = [m for m in MARKERS if not (directory / m).is_dir()]
    what = "does not exist" if not directory.exists() else f"has no {' and no '.join(m + '/' for m in missing)}"
    raise ProjectError(
        f"{source} {path}: {what}, so it is not a lab project",
        f"point {source} at a directory with {_markers()}, or create one with `labtool init {path}`",
    )


def _markers() -> str:
    return " and ".join(f"{marker}/" for marker in MARKERS)

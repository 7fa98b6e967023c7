"""Roles a lab project takes from elsewhere: its requirements.yml, installed from sources on disk only.

A lab host reaches no Galaxy server and no remote git, so every role source must
be local: a directory (copied), a tarball or a git checkout (both installed by
`ansible-galaxy role install`). They land in the project's `.labtool/roles/`,
which is on Ansible's roles path after the project's own `roles/`. A stamp over
requirements.yml and each source's content skips the work when nothing changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from labtool import proc
from labtool.errors import LabtoolError
from labtool.project import Project

STAMP = ".requirements.sha256"
TARBALL_SUFFIXES = (".tar.gz", ".tgz", ".tar")
INSTALL_TIMEOUT = 300.0
ROLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
"""What Ansible accepts as a role's name, and nothing that reaches out of the install directory (`/`, `..`)."""
LOCK_FILE = "roles.lock"
"""Beside the installed roles: provisioning runs hold it shared, an install exclusively (rooms share a course)."""


class RequirementsError(LabtoolError):
    """requirements.yml names something labtool cannot install here."""


@dataclass(frozen=True)
class Requirement:
    name: str
    kind: str
    """directory, tarball or git."""
    source: Path


def install(project: Project, on_wait: Callable[[str], None] | None = None) -> list[str]:
    """Install the project's required roles if requirements.yml or a source changed; the names installed, or [].

    A room of the same course provisioning meanwhile reads the installed roles: the swap waits for it
    (`on_wait` is told once), so no playbook ever sees half of an install.
    """
    if not project.requirements.is_file():
        return []
    wanted = read(project)
    target = project.installed_roles_dir
    stamp = _stamp(project, wanted)
    if _stamp_of(target) == stamp:
        return []
    staging = Path(tempfile.mkdtemp(prefix=".roles-", dir=_ensure(target.parent)))
    try:
        for requirement in wanted:
            _install_one(requirement, staging)
        (staging / STAMP).write_text(stamp)
        with _roles_lock(project, fcntl.LOCK_EX, on_wait):
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)  # all or nothing: a failed install leaves the previous roles in place
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [r.name for r in wanted]


@contextmanager
def in_use(project: Project) -> Iterator[None]:
    """Hold the installed roles for a provisioning run: an install of the same course waits until it ends."""
    if not project.requirements.is_file():
        yield
        return
    with _roles_lock(project, fcntl.LOCK_SH, None):
        yield


@contextmanager
def _roles_lock(project: Project, kind: int, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    lock = _ensure(project.installed_roles_dir.parent) / LOCK_FILE
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait("the course's installed roles are in use by a provisioning run: waiting for it to end")
            while True:  # blocking flock would not let Ctrl-C through
                time.sleep(0.2)
                try:
                    fcntl.flock(handle, kind | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    continue
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stamp_of(target: Path) -> str | None:
    try:
        return (target / STAMP).read_text()
    except OSError:
        return None


def read(project: Project) -> list[Requirement]:
    """requirements.yml's roles; every entry that is not a source on disk is an error naming it."""
    where = project.requirements
    try:
        data = yaml.safe_load(where.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RequirementsError(f"{where}: cannot be read: {exc}", "make it a valid requirements.yml") from exc
    if isinstance(data, dict):
        if data.get("collections"):
            raise RequirementsError(
                f"{where}: collections: labtool installs roles only",
                "collections come with the `ansible` bundle labtool installs; list only roles here",
            )
        data = data.get("roles") or []
    if not isinstance(data, list):
        raise RequirementsError(f"{where}: must be a list of roles, or a mapping with `roles:`", _HINT)
    problems: list[str] = []
    wanted = [r for number, entry in enumerate(data, 1) if (r := _requirement(entry, number, project, problems))]
    names = [r.name for r in wanted]
    problems += [
        f"{where}: role {name!r} is named by {names.count(name)} entries; give each a `name:` of its own"
        for name in sorted(set(names))
        if names.count(name) > 1
    ]
    if problems:
        raise RequirementsError("\n".join(problems), _HINT)
    return wanted


_HINT = (
    "no Galaxy server or remote repository is reachable from a lab host: keep a copy on disk and name it, "
    "e.g. `- src: ./vendor/myrole` (a directory), `- src: ./vendor/myrole.tar.gz`, "
    "or `- src: git+file:///srv/roles/myrole` (a git checkout)"
)


def _requirement(entry: Any, number: int, project: Project, problems: list[str]) -> Requirement | None:
    src = entry.get("src") if isinstance(entry, dict) else entry
    where = f"{project.requirements}: entry {number}"
    if not isinstance(src, str) or not src:
        problems.append(f"{where}: has no `src`")
        return None
    scm = entry.get("scm") if isinstance(entry, dict) else None
    git = src.startswith("git+") or scm == "git"
    location = src.removeprefix("git+")
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file"):
        problems.append(f"{where} ({src}): a remote source ({parsed.scheme}://), which cannot be reached here")
        return None
    path = Path(parsed.path if parsed.scheme else location)
    path = path if path.is_absolute() else (project.root / path).resolve()
    if not path.exists():
        galaxy_name = "." in src and "/" not in src and not parsed.scheme
        why = "a Galaxy role name, and Galaxy cannot be reached here" if galaxy_name else f"{path} does not exist"
        problems.append(f"{where} ({src}): {why}")
        return None
    kind = "git" if git else "tarball" if path.name.endswith(TARBALL_SUFFIXES) else "directory"
    if kind == "directory" and not path.is_dir():
        problems.append(f"{where} ({src}): neither a role directory, a tarball ({', '.join(TARBALL_SUFFIXES)}) nor git")
        return None
    default_name = path.name.split(".tar")[0].removesuffix(".tgz").removesuffix(".git")
    name = entry.get("name") if isinstance(entry, dict) and entry.get("name") else default_name
    if not isinstance(name, str) or not ROLE_NAME.fullmatch(name):
        problems.append(
            f"{where} ({src}): name {name!r} is not a role name: letters, digits, `_`, `.` and `-` only, "
            "not starting with `.` or `-` (it becomes a directory under .labtool/roles)"
        )
        return None
    return Requirement(name, kind, path)


def _install_one(requirement: Requirement, staging: Path) -> None:
    if requirement.kind == "directory":
        # Links stay links, as in the source and as the stamp counts them: a link out of the role is not
        # copied in as the content of a file of the labtool host.
        shutil.copytree(
            requirement.source, staging / requirement.name, symlinks=True, ignore=shutil.ignore_patterns(".git")
        )
        return
    src = f"git+file://{requirement.source}" if requirement.kind == "git" else str(requirement.source)
    spec = staging.parent / f"{staging.name}.yml"
    spec.write_text(yaml.safe_dump([{"src": src, "name": requirement.name}]))
    try:
        proc.run(
            [_galaxy(), "role", "install", "--roles-path", str(staging), "-r", str(spec)],
            timeout=INSTALL_TIMEOUT,
            hint=f"install it by hand to see more: ansible-galaxy role install {src}",
        )
    finally:
        spec.unlink(missing_ok=True)


def _stamp(project: Project, wanted: list[Requirement]) -> str:
    digest = hashlib.sha256(project.requirements.read_bytes())
    for requirement in wanted:
        files = sorted(requirement.source.rglob("*")) if requirement.source.is_dir() else [requirement.source]
        for path in files:
            if path.is_symlink():
                digest.update(f"{path}\0->{path.readlink()}\0".encode())
            elif path.is_file():
                digest.update(str(path).encode() + b"\0")
                with path.open("rb") as content:
                    digest.update(hashlib.file_digest(content, "sha256").digest())
    return digest.hexdigest()


def _ensure(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _galaxy() -> str:
    beside = Path(sys.executable).with_name("ansible-galaxy")
    return str(beside) if beside.exists() else "ansible-galaxy"

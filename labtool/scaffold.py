"""`labtool init`: write a new lab project from one of the examples, ready for `labtool up`."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from labtool import config, examples
from labtool.errors import LabtoolError

GITIGNORE = "# What labtool installs into the project (roles from requirements.yml).\n.labtool/\n"


DEFAULT_ROOM = "default"


def init(target: Path, example: str, host_rooms: Mapping[str, Path] | None = None) -> Path:
    """Write example `example` into target, which must be absent or an empty directory; return it.

    Its room is named `default` and gets a network index that none of `host_rooms` (the rooms this host
    knows, state.known_rooms) uses; when another lab project's room is already called `default` here, the
    room is named after the project's directory instead, so two courses can be up on one host at once.
    """
    if example not in examples.EXAMPLES:
        raise LabtoolError(f"no example named {example!r}", f"choose one of: {', '.join(examples.EXAMPLES)}")
    target = target.expanduser().absolute()
    if target.is_symlink():
        raise LabtoolError(f"{target} is a symbolic link", "give the directory itself, or a new one")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise LabtoolError(
            f"{target} already exists and is not an empty directory",
            "give a new directory; labtool init never overwrites files",
        )
    staging: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A directory only this run made (never a path someone may have put a link at), beside the target so
        # the last step is one rename: an interrupted init leaves no half-written project.
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.labtool-init-", dir=target.parent))
        project = staging / "project"
        packaged = examples.source(example)
        if packaged is not None:
            shutil.copytree(packaged, project)
        else:
            examples.assemble(example, project)
        (project / ".gitignore").write_text(GITIGNORE)
        _make_room_unique(project / "inventories", target.name, host_rooms or {})
        project.rename(target)  # onto an empty directory, or where nothing was
    except OSError as exc:
        raise LabtoolError(
            f"cannot write {target}: {exc.strerror or exc}", "check the directory's permissions"
        ) from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _make_room_unique(rooms_dir: Path, project_name: str, host_rooms: Mapping[str, Path]) -> None:
    name = DEFAULT_ROOM if DEFAULT_ROOM not in host_rooms else _unused_name(project_name, host_rooms)
    if name != DEFAULT_ROOM:
        (rooms_dir / DEFAULT_ROOM).rename(rooms_dir / name)
    settings = rooms_dir / name / config.SETTINGS_FILE
    index = config.free_index(rooms_dir, name, host_rooms)
    if index is None:
        raise LabtoolError("every network index 1..254 is taken on this host", "take a room down, then init again")
    text = re.sub(r"(?m)^(\s+index:\s*)\d+", rf"\g<1>{index}", settings.read_text(), count=1)
    settings.write_text(text)


def _unused_name(project_name: str, host_rooms: Mapping[str, Path]) -> str:
    """The project directory's name as a room name (a hostname label), numbered when that is taken too."""
    base = re.sub(r"[^a-z0-9-]+", "-", project_name.lower()).strip("-")[:40].strip("-") or "course"
    candidates = (base if number == 1 else f"{base}-{number}" for number in range(1, len(host_rooms) + 2))
    return next(name for name in candidates if name not in host_rooms)

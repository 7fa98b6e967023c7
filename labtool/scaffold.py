"""`labtool init`: write a new lab project from one of the examples, ready for `labtool up`."""

from __future__ import annotations

import shutil
from pathlib import Path

from labtool import examples
from labtool.errors import LabtoolError

GITIGNORE = "# What labtool installs into the project (roles from requirements.yml).\n.labtool/\n"


def init(target: Path, example: str) -> Path:
    """Write example `example` into target, which must be absent or an empty directory; return it."""
    if example not in examples.EXAMPLES:
        raise LabtoolError(f"no example named {example!r}", f"choose one of: {', '.join(examples.EXAMPLES)}")
    target = target.expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise LabtoolError(
            f"{target} already exists and is not an empty directory",
            "give a new directory; labtool init never overwrites files",
        )
    staging = target.with_name(f".{target.name}.labtool-init")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        packaged = examples.source(example)
        if packaged is not None:
            shutil.copytree(packaged, staging)
        else:
            examples.assemble(example, staging)
        (staging / ".gitignore").write_text(GITIGNORE)
        if target.exists():
            target.rmdir()
        staging.rename(target)  # all at once: an interrupted init leaves no half-written project
    except OSError as exc:
        raise LabtoolError(
            f"cannot write {target}: {exc.strerror or exc}", "check the directory's permissions"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target

"""The example lab projects `labtool init` writes, and where their files come from.

labnotes is this repository itself (the reference lab project); the others live
in `examples/<name>/` and share the reference project's Molecule scenarios. A
wheel carries each one, assembled at build time, in `labtool/examples/<name>/`
(see setup.py); from a source checkout they are assembled from the checkout.
Standard library only: setup.py imports this module before labtool is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES = ("labnotes", "minimal")
REFERENCE_PARTS = ("ansible.cfg", "playbooks", "roles", "inventories/default", "molecule", "checks")
"""What of the reference project makes the labnotes course."""
SHARED_PARTS = (
    "ansible.cfg",
    "molecule/README.md",
    "molecule/docker",
    "molecule/vagrant",
    "molecule/strategy_plugins",
)
"""What every other example takes from the reference project: Ansible settings and the Molecule scenarios."""
PACKAGED = Path(__file__).parent / "examples"
CHECKOUT = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".labtool")


def parts(name: str, checkout: Path = CHECKOUT) -> list[tuple[Path, str]]:
    """(source, path inside the new project) for each file or directory of example `name`."""
    own = checkout / "examples" / name
    if name == "labnotes":
        return [(checkout / part, part) for part in REFERENCE_PARTS] + [(own / "README.md", "README.md")]
    return [(checkout / part, part) for part in SHARED_PARTS] + [(p, p.name) for p in sorted(own.iterdir())]


def assemble(name: str, target: Path, checkout: Path = CHECKOUT) -> None:
    """Write example `name` into target (which must not exist yet) from a checkout."""
    for source, relative in parts(name, checkout):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=_IGNORE, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)


def source(name: str) -> Path | None:
    """The packaged copy of example `name` (in a wheel); None when running from a checkout."""
    packaged = PACKAGED / name
    return packaged if packaged.is_dir() else None

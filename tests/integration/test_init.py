"""`labtool init` writes a lab project that Molecule tests without edits, outside the checkout; a public-style
role added to it runs in Molecule's container as Debian ships its service."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker


REPO = Path(__file__).resolve().parents[2]


def init(project: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "labtool", "init", str(project)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr


def molecule_test(project: Path, scenario: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("molecule")), "test", "-s", scenario],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert result.returncode == 0, output[-4000:]
    assert "idempotence: Executed: Successful" in output
    return output


def test_the_minimal_example_passes_molecules_container_scenario(built_images: str, tmp_path: Path) -> None:
    project = tmp_path / "course"
    init(project)
    output = molecule_test(project, "docker")
    assert "2 passed" in output  # the example's testinfra suite ran against the converged container


def test_a_new_course_with_a_public_style_redis_role_passes_molecule_as_it_stands(
    built_images: str, tmp_path: Path
) -> None:
    """Debian's redis-server unit, PrivateUsers= and all, in Molecule's container: no drop-in, no extra refresh."""
    project = tmp_path / "course"
    init(project)
    shutil.copytree(REPO / "examples" / "cache" / "roles" / "redis", project / "roles" / "redis")
    site = project / "playbooks" / "site.yml"
    site.write_text(site.read_text().replace("    - role: greeting\n", "    - role: greeting\n    - role: redis\n"))
    suite = project / "molecule" / "shared" / "tests"
    for test_file in ("conftest.py", "test_cache.py"):
        text = (REPO / "examples" / "cache" / "tests" / test_file).read_text()
        # The course's own tests sit in molecule/shared/tests/, three levels below the project.
        (suite / test_file).write_text(text.replace('parents[1] / "roles"', 'parents[3] / "roles"'))
    assert "role: redis" in site.read_text() and "parents[3]" in (suite / "conftest.py").read_text()
    output = molecule_test(project, "docker")
    passed = re.search(r"\b(\d+) passed\b", output)
    assert passed and int(passed[1]) == 2 + 8, output[-3000:]  # greeting's 2 tests and the redis role's 8

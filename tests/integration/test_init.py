"""`labtool init` writes a lab project that Molecule tests without edits, outside the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker


def test_the_minimal_example_passes_molecules_container_scenario(built_images: str, tmp_path: Path) -> None:
    project = tmp_path / "course"
    made = subprocess.run(
        [sys.executable, "-m", "labtool", "init", str(project)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("molecule")), "test", "-s", "docker"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert result.returncode == 0, output[-4000:]
    assert "2 passed" in output  # the example's testinfra suite ran against the converged container
    assert "idempotence: Executed: Successful" in output

"""The root helper of verify's suites, on a real VM: a command under `host.sudo()` sees what sudo would give it.

On seat01's VM of the session's two-seat room (`running_room`): the same testinfra file runs
with and without `-p labtool.root_shell_plugin`, and what the commands see must be the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labtool.settings import Settings
from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]

VM = "seat01-vm"
SUITE = """
import json, os

COMMANDS = {
    "id": "id",
    "cwd": "pwd",
    "env": "env | grep -v -e ^SUDO_COMMAND= -e ^_= | sort",
    "sudo_command": "echo $SUDO_COMMAND",
    "stdin": "cat",
    "streams": "printf 'out\\\\0put'; echo err >&2; exit 3",
}


def test_dump(host):
    with host.sudo():
        seen = {name: [host.run(c).rc, host.run(c).stdout, host.run(c).stderr] for name, c in COMMANDS.items()}
        seen["parent"] = host.run("cat /proc/$PPID/comm").stdout.strip()
    with open(os.environ["DUMP"], "w") as out:
        json.dump(seen, out)
"""


def dump(room: LiveRoom, settings: Settings, suite: Path, out: Path, plugins: list[str]) -> dict[str, Any]:
    generated = settings.rooms_state_dir / room.name / "inventory.yml"
    inventories = f"{room.env['LABTOOL_ROOMS_DIR']}/{room.name},{generated}"
    env = {**os.environ, "DUMP": str(out), "ANSIBLE_INVENTORY": inventories}
    argv = [sys.executable, "-m", "pytest", str(suite), f"--hosts=ansible://{VM}", "-c", "/dev/null"]
    argv += ["-p", "no:cacheprovider", *plugins, "-q"]
    result = subprocess.run(argv, env=env, cwd=suite.parent, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return dict(json.loads(out.read_text()))


def test_commands_under_sudo_see_the_same_through_the_helper(
    running_room: LiveRoom, settings: Settings, tmp_path: Path
) -> None:
    suite = tmp_path / "test_dump.py"
    suite.write_text(SUITE)
    plain = dump(running_room, settings, suite, tmp_path / "plain.json", [])
    helped = dump(running_room, settings, suite, tmp_path / "helped.json", ["-p", "labtool.root_shell_plugin"])
    assert (plain.pop("parent"), helped.pop("parent")) == ("sudo", "python3")  # the helper did run them
    assert helped == plain
    assert plain["streams"] == [3, "out\x00put", "err\n"]
    assert plain["sudo_command"][1] == "/bin/sh -c echo $SUDO_COMMAND\n"

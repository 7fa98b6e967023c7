"""The live view as a person sees it: a real terminal (tmux) showing one row per machine, redrawn in place."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

# What `up` reports while two machines come up, one of them failing; the view runs on a real tty.
SCRIPT = """
import time
from labtool.cli import live
lines = [
    "room 'demo': 2 of 2 machines need work",
    "seat01-ct: creating (does not exist)",
    "seat01-vm: creating (does not exist)",
    "seat01-ct | Install nginx at its pinned version",
    "seat01-ct: ready, changed=0 (12 s)",
    "seat01-vm | Gathering Facts",
    "seat01-vm: FAILED: task 'Gathering Facts': unreachable",
]
with live.view(["seat01-vm", "seat01-ct"]) as progress:
    for line in lines:
        progress(line)
        time.sleep(0.2)
print("DONE", flush=True)
time.sleep(30)
"""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by scripts/up")
def test_up_shows_one_live_row_per_machine_on_a_terminal(tmp_path: Path) -> None:
    script = tmp_path / "view.py"
    script.write_text(SCRIPT)
    session = f"labtool-live-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", session]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", session, "-x", "140", "-y", "20", sys.executable, str(script)], check=True
    )
    try:
        screen = ""
        deadline = time.monotonic() + 30
        while "DONE" not in screen and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
            ).stdout
        rows = {line.split()[0]: line for line in screen.splitlines() if line.strip()}
        assert "MACHINE" in rows and "PHASE" in rows["MACHINE"], screen
        assert "ready" in rows["seat01-ct"] and "changed=0" in rows["seat01-ct"], screen
        assert "FAILED" in rows["seat01-vm"], screen
        assert screen.count("seat01-ct") == 1, "the table is redrawn in place, not printed again: " + screen
        assert "room 'demo': 2 of 2 machines need work" in screen
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)

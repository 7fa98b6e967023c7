"""A machine's process as its host shows it: the script read over SSH agrees with this host's own /proc."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from labtool.errors import LabtoolError
from labtool.host import process_view, processes
from labtool.model import THIS_HOST, LabHost


def run_script(target: str) -> subprocess.CompletedProcess[str]:
    """The script as the other host's login shell runs it (`ssh HOST sh -s -- TARGET`), here."""
    return subprocess.run(
        ["sh", "-s", "--", target], input=process_view.VIEW_SCRIPT, capture_output=True, text=True, check=False
    )


def settled(pid: int) -> None:
    """Wait until a just-started child is its program and asleep: past the fork (still this Python) and past the
    loader mapping its libraries (its resident memory still growing)."""
    deadline, readings = time.monotonic() + 10, [-1]
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        if processes.name(pid) == "sleep" and "\nState:\tS" in status:
            readings.append(process_view.view(pid).resident_bytes)
            if readings[-3:] == [readings[-1]] * 3:
                return
        time.sleep(0.02)


def test_the_script_reads_what_this_hosts_proc_says_of_a_process() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        settled(sleeper.pid)
        here = process_view.view(sleeper.pid)
        there = process_view.parse_view(run_script(str(sleeper.pid)).stdout)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (there.pid, there.name, there.kernel) == (sleeper.pid, "sleep", here.kernel)
    # Its parent is this test's Python, seen from labtool and from the script's shell alike.
    assert there.ancestry == here.ancestry and there.ancestry[0] == processes.name(os.getpid())
    assert there.resident_bytes > 0 and abs(there.resident_bytes - here.resident_bytes) < 1 << 20
    # The sleeper shares every namespace with this host, as the script's shell does.
    assert set(there.shared_namespaces) == set(here.shared_namespaces) and "pid" in there.shared_namespaces


def test_a_pid_file_is_read_on_the_host_and_a_missing_process_is_an_error(tmp_path: Path) -> None:
    pid_file = str(tmp_path / "qemu.pid")
    Path(pid_file).write_text(f"{os.getpid()}\n")
    assert process_view.parse_view(run_script(pid_file).stdout).pid == os.getpid()
    assert process_view.view_on(THIS_HOST, pid_file).pid == os.getpid()
    gone = run_script("999999999")
    assert gone.returncode == 3 and "no process" in gone.stderr


def test_another_hosts_process_that_cannot_be_read_is_named_with_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from labtool import proc

    def refused(argv: list[str], **_: object) -> proc.Result:
        assert argv[:2] == ["ssh", "-o"] and argv[-1] == "sh -s -- /run/libvirt/qemu/x.pid"
        return proc.Result(tuple(argv), 255, "", "ssh: connect to host 192.0.2.12 port 22: Connection refused", 0.1)

    monkeypatch.setattr(proc, "run", refused)
    with pytest.raises(LabtoolError) as raised:
        process_view.view_on(LabHost("lab2", "root@192.0.2.12"), "/run/libvirt/qemu/x.pid")
    assert "lab host lab2" in raised.value.message and "Connection refused" in raised.value.message

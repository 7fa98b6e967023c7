"""labtool's child processes: marked with their owner, found when the owner is gone, stopped on an interrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtool import proc
from labtool.host import children, processes

ROOM_DIR = Path("/home/labtool/rooms/demo")
DOTFILE = ROOM_DIR / "vagrant" / "vagrant"


def fake_process(
    root: Path, pid: int, parent: int, argv: list[str], env: dict[str, str], *, ticks: int = 1000, state: str = "S"
) -> None:
    directory = root / str(pid)
    directory.mkdir(parents=True)
    name = Path(argv[0]).name[:15]
    (directory / "comm").write_text(name + "\n")
    (directory / "status").write_text(f"Name:\t{name}\nPPid:\t{parent}\n")
    fields = [state, str(parent), *["0"] * 17, str(ticks)]  # fields 3..22 of stat(5)
    (directory / "stat").write_text(f"{pid} ({name}) {' '.join(fields)} 0 0\n")
    (directory / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (directory / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()) + b"\0")


def marked(owner: str, **env: str) -> dict[str, str]:
    return {children.OWNER_VARIABLE: owner, "PATH": "/usr/bin", **env}


def test_an_owner_is_a_pid_and_its_start_time_so_a_reused_pid_is_not_mistaken(tmp_path: Path) -> None:
    fake_process(tmp_path, 100, 1, ["labtool", "up"], {}, ticks=555)
    owner = children.Owner.of(100, tmp_path)
    assert owner == children.Owner(100, 555) and owner.marker == "100:555"
    assert children.Owner.parse(owner.marker) == owner
    assert owner.alive(tmp_path)
    assert not children.Owner(100, 556).alive(tmp_path)  # pid 100 is another process now
    assert not children.Owner(101, None).alive(tmp_path)
    assert children.Owner.parse("garbage") is None


def test_leftovers_are_the_processes_of_a_gone_labtool_that_work_on_the_room(tmp_path: Path) -> None:
    fake_process(tmp_path, 1, 0, ["/sbin/init"], {})
    fake_process(tmp_path, 200, 1, ["labtool", "status"], {}, ticks=7)  # a live labtool
    dotfile = {"VAGRANT_DOTFILE_PATH": str(DOTFILE)}
    # Orphans of the killed labtool 100:5 (the lock's last holder): its vagrant up and its playbook.
    fake_process(tmp_path, 301, 1, ["/usr/bin/ruby", "/usr/bin/vagrant", "up", "s1-vm"], marked("100:5", **dotfile))
    fake_process(tmp_path, 302, 1, ["ansible-playbook", "site.yml"], marked("100:5"))
    fake_process(tmp_path, 303, 302, ["ssh", "10.214.10.5"], marked("100:5"))
    # A live labtool's own vagrant: never a leftover.
    fake_process(tmp_path, 310, 200, ["/usr/bin/vagrant", "ssh-config"], marked("200:7", **dotfile))
    # A gone labtool of another room, naming another dotfile: that room's business.
    fake_process(tmp_path, 320, 1, ["/usr/bin/vagrant", "up"], marked("150:9", VAGRANT_DOTFILE_PATH="/elsewhere"))
    # A gone labtool's (not the lock holder's) vagrant naming this room, e.g. of a killed `labtool ssh`.
    fake_process(tmp_path, 330, 1, ["/usr/bin/vagrant", "ssh-config"], marked("160:3", **dotfile))
    # Unmarked: an older labtool's vagrant, and someone's `vagrant ssh` session by hand (now ssh).
    fake_process(tmp_path, 340, 1, ["/usr/bin/ruby", "/usr/bin/vagrant", "up"], dotfile)
    fake_process(tmp_path, 350, 1, ["ssh", "vagrant@10.214.10.5"], dotfile)
    # A zombie of the gone labtool: nothing left to stop.
    fake_process(tmp_path, 360, 1, ["vagrant"], marked("100:5"), state="Z")

    found = children.leftovers(ROOM_DIR, children.Owner(100, 5), tmp_path)
    assert [leftover.pid for leftover in found] == [301, 302, 303, 330, 340]
    assert found[0].describe() == "pid 301 (/usr/bin/ruby /usr/bin/vagrant up s1-vm) of the gone labtool pid 100"
    # Without a stale lock, only marked processes of gone labtools that name the room.
    assert [leftover.pid for leftover in children.leftovers(ROOM_DIR, None, tmp_path)] == [301, 330]


def test_children_carry_the_owner_mark_and_daemons_do_not(tmp_path: Path) -> None:
    with children.marking_children() as owner:
        assert os.environ[children.OWNER_VARIABLE] == owner.marker
        child = subprocess.Popen(["sleep", "30"], env=dict(os.environ))
        try:
            deadline = time.monotonic() + 5  # until the exec: before it /proc shows the fork's first environment
            while processes.command(child.pid)[:1] != ["sleep"] and time.monotonic() < deadline:
                time.sleep(0.01)
            assert processes.environ(child.pid)[children.OWNER_VARIABLE] == owner.marker
        finally:
            child.kill()
            child.wait()
        env = proc.run(["env"], timeout=10, daemon=True).stdout
        assert children.OWNER_VARIABLE not in env
        assert f"{children.OWNER_VARIABLE}={owner.marker}" in proc.run(["env"], timeout=10).stdout
    assert children.OWNER_VARIABLE not in os.environ


STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def spawn_tree() -> subprocess.Popen[bytes]:
    """A stand-in for labtool: a process with a child that ignores SIGTERM and a grandchild."""
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {STUBBORN!r}])\n"
        "subprocess.Popen(['sh', '-c', 'sleep 60 & wait'])\n"
        "time.sleep(60)\n"
    )
    return subprocess.Popen([sys.executable, "-c", script])


def wait_for_descendants(pid: int, count: int) -> list[int]:
    deadline = time.monotonic() + 10
    found = processes.descendants(pid)
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        found = processes.descendants(pid)
    return found


def test_the_reaper_stops_every_descendant_term_first_then_kill() -> None:
    top = spawn_tree()
    try:
        below = wait_for_descendants(top.pid, 3)
        assert len(below) >= 3
        # A process of top's that left its tree (as Ansible's workers do): found by its mark.
        marker = {**os.environ, children.OWNER_VARIABLE: children.Owner.of(top.pid).marker}
        orphan = subprocess.Popen(["sleep", "60"], env=marker, start_new_session=True)
        below.append(orphan.pid)
        reaper = children.Reaper(top.pid, grace=0.5)
        started = time.monotonic()
        reaper.start()
        left = reaper.finish(timeout=5)
        assert left == []
        assert time.monotonic() - started < 30  # well before the 60 s sleeps end, even on a busy host
        assert not any(processes.alive(pid) for pid in below)
        assert orphan.wait(1) == -signal.SIGTERM
    finally:
        top.kill()
        top.wait()


def test_stop_kills_what_ignores_sigterm() -> None:
    stubborn = subprocess.Popen([sys.executable, "-c", STUBBORN])
    polite = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.3)  # let the stubborn one install its handler
        started = time.monotonic()
        # A zombie counts as stopped: these are our children here, orphans of a killed labtool in real use.
        assert children.stop([stubborn.pid, polite.pid], grace=0.5) == []
        assert time.monotonic() - started < 30  # not the 60 s sleep: the stubborn one was killed
        assert polite.wait(1) == -signal.SIGTERM
        assert stubborn.wait(1) == -signal.SIGKILL
    finally:
        for child in (stubborn, polite):
            child.kill()
            child.wait()


@pytest.fixture(autouse=True)
def _no_stray_children() -> Iterator[None]:
    yield
    assert [pid for pid in processes.descendants(os.getpid()) if processes.alive(pid)] == []

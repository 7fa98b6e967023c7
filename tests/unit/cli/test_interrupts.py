"""SIGINT/SIGTERM through the command line, and a daemon down as `status` shows it (fake backends)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from labtool import bring_up, requirements, state
from labtool import lab as lab_module
from labtool.backends.vagrant import accel
from labtool.backends.vagrant.accel import Accel
from labtool.cli import interrupts, main
from labtool.cli import status as status_cli
from labtool.cli import up as up_cli
from labtool.errors import DaemonError
from labtool.host import capacity
from labtool.host.capacity import Disk, HostFree
from labtool.images import bake, pair
from labtool.lab import Lab
from labtool.model import Kind, Room
from labtool.provision import ProvisionResult
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room

GIB = 1024**3


def test_a_signal_sets_the_cancel_and_stops_the_children_and_the_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    said: list[str] = []
    child = subprocess.Popen(["sleep", "60"])
    try:
        with interrupts.stopping_on_signals(said.append) as cancel:
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 5
            while child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert cancel.is_set() and cancel.reason == "SIGTERM"
            assert child.returncode == -signal.SIGTERM
        assert signal.getsignal(signal.SIGINT) is before
        time.sleep(0.1)  # the message is printed from a thread, not from inside the handler
        assert said and said[0].startswith("SIGTERM: stopping")
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def one_seat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Room, dict[Kind, FakeBackend], Settings]:
    (tmp_path / "room").mkdir()
    room = paired_room(1, path=tmp_path / "room")
    fakes = {Kind.VM: FakeBackend(Kind.VM), Kind.CONTAINER: FakeBackend(Kind.CONTAINER)}
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    monkeypatch.setattr(
        bring_up,
        "open_lab",
        lambda settings_, room_, images=None, cancel=None: Lab(settings, room, fakes, images, cancel),
    )
    monkeypatch.setattr(up_cli, "room_for", lambda args, settings_: room)
    monkeypatch.setattr(bake, "images_for", lambda settings_, key: pair.base("base1"))
    monkeypatch.setattr(bring_up, "provision_key", lambda room: "key1")
    monkeypatch.setattr(lab_module, "provision_key", lambda room: "key1")
    monkeypatch.setattr(requirements, "install", lambda project, on_wait=None: [])
    monkeypatch.setattr(accel, "detect", lambda setting: Accel("kvm", None, "test"))
    disks = {kind: Disk(Path("/srv"), 500 * GIB, 1) for kind in Kind}
    monkeypatch.setattr(capacity, "read_free", lambda: HostFree(64 * GIB, disks))
    monkeypatch.setattr(lab_module, "provision", lambda room, machine, *a, **o: ProvisionResult(machine, True, 1))
    return room, fakes, settings


def test_ctrl_c_during_up_exits_130_saying_which_machine_is_in_which_state(
    one_seat: tuple[Room, dict[Kind, FakeBackend], Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    room, fakes, settings = one_seat
    vms = fakes[Kind.VM]
    vms.slow = {"s1-vm"}

    def press_ctrl_c() -> None:
        assert vms.started.wait(10)
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5  # the handler runs in the main thread; it starts the reaper
        while "reaper" not in {t.name for t in threading.enumerate()} and time.monotonic() < deadline:
            time.sleep(0.01)
        vms.killed.set()  # what the reaper's SIGTERM does to `vagrant up`

    thread = threading.Thread(target=press_ctrl_c)
    thread.start()
    started = time.monotonic()
    code = main(["up", "demo"])
    thread.join()
    out, err = capsys.readouterr()
    assert code == 130
    assert time.monotonic() - started < 20  # the fake VM boots for 30 s unless stopped
    assert "SIGINT: stopping" in err and "Traceback" not in err
    assert "interrupted while creating" in out
    assert "room 'demo': stopped by SIGINT after" in out and "`labtool up demo` finishes it" in out
    directory = state.room_dir(settings, room.name)
    assert state.holder(directory) is None
    assert state.read(directory).machines["s1-vm"].working == "create"


def test_status_shows_the_kind_that_answers_and_one_error_for_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "room").mkdir()
    room = paired_room(1, path=tmp_path / "room")
    vms, containers = FakeBackend(Kind.VM), FakeBackend(Kind.CONTAINER)
    containers.running = {"s1-ct"}
    vms.unreachable = DaemonError(
        "libvirtd does not answer at qemu:///system (Failed to connect socket)",
        "start it with `labtool daemons`, then run this again",
    )
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    monkeypatch.setattr(
        status_cli, "lab_for", lambda args: Lab(settings, room, {Kind.VM: vms, Kind.CONTAINER: containers})
    )
    assert main(["status", "demo"]) == 1
    out, err = capsys.readouterr()
    row = out.splitlines()[1].split()
    assert row[:4] == ["s1", "unknown", "-", "running"]
    assert err == (
        "error: libvirtd does not answer at qemu:///system (Failed to connect socket)\n"
        "hint: start it with `labtool daemons`, then run this again\n"
    )

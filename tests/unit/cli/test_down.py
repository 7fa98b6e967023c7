"""`labtool down` asks on a terminal, names what it destroys, and never asks a script."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from labtool.cli import down, main
from labtool.lab import Lab, Teardown
from labtool.model import Kind
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room


class Terminal(io.StringIO):
    """What a person types, on a stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


@pytest.mark.parametrize(
    ("typed", "agreed"),
    [
        ("y\n", True),
        ("yes\n", True),
        (" YES \n", True),
        ("Y\n", True),
        ("\n", False),
        ("n\n", False),
        ("no\n", False),
        ("yess\n", False),
        ("sure\n", False),
        ("", False),  # end of input (Ctrl-D)
    ],
)
def test_on_a_terminal_only_yes_agrees(typed: str, agreed: bool) -> None:
    stderr = io.StringIO()
    assert down.confirm("Destroy them?", assume_yes=False, stdin=Terminal(typed), stderr=stderr) is agreed
    assert stderr.getvalue().startswith("Destroy them? [y/N] ")


def test_without_a_terminal_it_proceeds_without_asking_or_reading() -> None:
    stdin, stderr = io.StringIO("n\n"), io.StringIO()
    assert down.confirm("Destroy them?", assume_yes=False, stdin=stdin, stderr=stderr)
    assert stderr.getvalue() == "" and stdin.tell() == 0
    assert down.confirm("Destroy them?", assume_yes=False, stdin=Closed(), stderr=stderr)


def test_yes_skips_the_question_even_on_a_terminal() -> None:
    stdin, stderr = Terminal("n\n"), io.StringIO()
    assert down.confirm("Destroy them?", assume_yes=True, stdin=stdin, stderr=stderr)
    assert stderr.getvalue() == "" and stdin.tell() == 0


def test_the_question_names_machines_networks_and_state(tmp_path: Path) -> None:
    room = paired_room(1)
    doomed = Teardown(room.machines, ("Docker network labtool-demo (10.213.10.0/24)",), tmp_path / "demo")
    text = down.describe("demo", doomed)
    assert text.splitlines() == [
        "labtool down will destroy, in room 'demo':",
        "  machines, with their disks and everything done on them: s1-vm (VM), s1-ct (container)",
        "  networks: Docker network labtool-demo (10.213.10.0/24)",
        f"  state (provisioning records, logs, generated inventory): {tmp_path / 'demo'}",
        "Destroy them?",
    ]
    assert "networks" not in down.describe("demo", Teardown(room.machines[:1]))


@pytest.fixture
def fake_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Lab, FakeBackend, FakeBackend]:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    vms, containers = FakeBackend(Kind.VM), FakeBackend(Kind.CONTAINER)
    vms.running, containers.running = {"s1-vm", "s2-vm"}, {"s1-ct", "s2-ct"}
    lab = Lab(settings, paired_room(2, path=tmp_path), {Kind.VM: vms, Kind.CONTAINER: containers})
    lab.state_dir.mkdir(parents=True)

    def lab_for(args: argparse.Namespace, **_: object) -> Lab:
        assert args.room == "demo"
        return lab

    monkeypatch.setattr(down, "lab_for", lab_for)
    return lab, vms, containers


def test_a_declined_down_destroys_nothing(
    fake_lab: tuple[Lab, FakeBackend, FakeBackend], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lab, vms, containers = fake_lab
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["down", "demo"]) == 1
    out = capsys.readouterr()
    assert "s1-vm (VM), s1-ct (container), s2-vm (VM), s2-ct (container)" in out.err
    assert "fake vm network of demo" in out.err and str(lab.state_dir) in out.err
    assert "nothing destroyed" in out.out
    assert vms.running == {"s1-vm", "s2-vm"} and containers.running == {"s1-ct", "s2-ct"}
    assert lab.state_dir.exists()


def test_down_of_a_seat_asks_too_and_names_only_its_machines(
    fake_lab: tuple[Lab, FakeBackend, FakeBackend], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, vms, containers = fake_lab
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main(["down", "demo", "--seat", "s2"]) == 0
    err = capsys.readouterr().err
    assert "s2-vm (VM), s2-ct (container)" in err and "s1-vm" not in err and "network" not in err
    assert vms.running == {"s1-vm"} and containers.running == {"s1-ct"}


@pytest.mark.parametrize("argv", [["down", "demo", "--yes"], ["down", "demo", "-y"]])
def test_yes_destroys_without_a_question(
    argv: list[str],
    fake_lab: tuple[Lab, FakeBackend, FakeBackend],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lab, vms, containers = fake_lab
    monkeypatch.setattr("sys.stdin", Terminal(""))
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "Destroy them?" not in out.err and "removed 4 machines" in out.out
    assert not vms.running and not containers.running and not lab.state_dir.exists()


def test_a_script_is_not_asked(
    fake_lab: tuple[Lab, FakeBackend, FakeBackend], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, vms, _ = fake_lab
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["down", "demo"]) == 0
    assert "Destroy them?" not in capsys.readouterr().err and not vms.running

"""The live view folds progress lines into one row per machine; off a terminal it prints lines as they come."""

import io

import pytest
from rich.console import Console

from labtool.cli import live


def test_progress_lines_become_the_machines_phase_task_and_result() -> None:
    board = live.Board({name: live.Row(name) for name in ("seat01-vm", "seat01-ct")})
    board.feed("seat01-vm: creating (does not exist)", 10.0)
    board.feed("seat01-vm | Install nginx at its pinned version", 15.0)
    board.feed("seat01-ct: FAILED: task 'x': boom", 12.0)
    board.feed("room 'demo': 2 of 2 machines need work", 12.5)
    vm, ct = board.rows["seat01-vm"], board.rows["seat01-ct"]
    assert (vm.phase, vm.task, vm.result, vm.elapsed(40.0)) == (
        "creating",
        "Install nginx at its pinned version",
        "",
        "30 s",
    )
    assert ct.phase == "FAILED" and ct.result.startswith("FAILED: task") and ct.elapsed(99.0) == "0 s"
    assert board.notes == ["room 'demo': 2 of 2 machines need work"]
    board.feed("seat01-vm: ready, changed=0 (52 s)", 62.0)
    assert (vm.phase, vm.result, vm.task, vm.elapsed(500.0)) == ("ready", "ready, changed=0 (52 s)", "", "52 s")


def test_the_table_renders_every_machine() -> None:
    board = live.Board({"seat01-vm": live.Row("seat01-vm", "provisioning", "Gathering Facts", 0.0)})
    out = io.StringIO()
    Console(file=out, width=120).print(live.render(board, 7.0))
    assert "seat01-vm" in out.getvalue() and "Gathering Facts" in out.getvalue() and "7 s" in out.getvalue()


def test_off_a_terminal_lines_are_printed_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    with live.view(["seat01-vm"], enabled=False) as progress:
        progress("seat01-vm: creating (does not exist)")
    assert capsys.readouterr().err == "==> seat01-vm: creating (does not exist)\n"

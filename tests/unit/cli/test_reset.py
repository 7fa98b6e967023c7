"""`labtool reset`: only the named seat's machines (of the named kind) are destroyed and made again."""

from __future__ import annotations

import pytest

from labtool.cli import main
from labtool.model import Kind
from tests.unit.cli.conftest import CountingBackend


def test_reset_of_a_seat_remakes_both_of_its_machines_and_nothing_else(backends: dict[Kind, CountingBackend]) -> None:
    assert main(["reset", "demo", "--seat", "s2"]) == 0
    assert (backends[Kind.VM].destroyed, backends[Kind.CONTAINER].destroyed) == (["s2-vm"], ["s2-ct"])
    assert (backends[Kind.VM].created, backends[Kind.CONTAINER].created) == (["s2-vm"], ["s2-ct"])
    assert backends[Kind.VM].running == {"s1-vm", "s2-vm"}


def test_reset_of_one_kind_leaves_the_other_machine_of_the_seat_running(
    backends: dict[Kind, CountingBackend],
) -> None:
    assert main(["reset", "demo", "--seat", "s1", "--container"]) == 0
    assert backends[Kind.CONTAINER].destroyed == ["s1-ct"] and backends[Kind.VM].destroyed == []
    assert backends[Kind.CONTAINER].created == ["s1-ct"] and backends[Kind.VM].created == []


def test_reset_needs_a_seat(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["reset", "demo"])
    assert exited.value.code == 2
    assert "--seat" in capsys.readouterr().err

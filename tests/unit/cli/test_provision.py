"""`labtool provision`: the roles again on the named seats' machines, or only on their VMs or containers."""

from __future__ import annotations

import pytest

from labtool.cli import main
from labtool.model import Kind
from tests.unit.cli.conftest import CountingBackend


def test_provision_of_a_seat_runs_the_roles_on_both_of_its_machines_and_makes_nothing(
    backends: dict[Kind, CountingBackend],
) -> None:
    assert main(["provision", "demo", "--seat", "s2"]) == 0
    assert (backends[Kind.VM].provisioned, backends[Kind.CONTAINER].provisioned) == (["s2-vm"], ["s2-ct"])
    assert all(not fake.created and not fake.destroyed for fake in backends.values())


def test_provision_of_one_kind_leaves_the_other_machine_of_the_seat_alone(
    backends: dict[Kind, CountingBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["provision", "demo", "--seat", "s1", "--container", "--json"]) == 0
    assert backends[Kind.CONTAINER].provisioned == ["s1-ct"] and backends[Kind.VM].provisioned == []
    assert '"s1-vm"' not in capsys.readouterr().out, "the VM is not even named: nothing was done to it"


def test_provision_takes_one_kind_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["provision", "demo", "--vm", "--container"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err

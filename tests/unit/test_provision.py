"""How playbooks run: mitogen where it loads, the stock strategy with pipelining otherwise; the account play."""

import builtins
import json
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labtool import provision
from labtool.accounts import Account
from labtool.provision import strategy
from tests.unit.rooms import paired_room


def test_mitogen_is_the_default_strategy() -> None:
    chosen = strategy(mitogen=True)
    assert chosen.env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert chosen.env["ANSIBLE_STRATEGY_PLUGINS"].endswith("ansible_mitogen/plugins/strategy")
    assert chosen.note == ""


def test_turned_off_it_is_the_stock_strategy_with_pipelining() -> None:
    assert strategy(mitogen=False).env == {"ANSIBLE_PIPELINING": "True"}


def test_when_mitogen_cannot_load_the_stock_strategy_runs_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_mitogen(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "ansible_mitogen":
            raise ImportError("No module named 'ansible_mitogen'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mitogen)
    chosen = strategy(mitogen=True)
    assert chosen.env == {"ANSIBLE_PIPELINING": "True"}
    assert "mitogen cannot load" in chosen.note


def test_the_account_play_gets_the_hash_from_a_private_file_that_is_gone_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ansible_runner

    seen: dict[str, Any] = {}

    def fake_run(**options: Any) -> Any:
        path = Path(options["cmdline"].split("@", 1)[1])
        seen.update(options, mode=stat.S_IMODE(path.stat().st_mode), variables=json.loads(path.read_text()))
        return SimpleNamespace(status="successful", rc=0, stats={"ok": {"s1-ct": 3}, "changed": {"s1-ct": 1}})

    monkeypatch.setattr(ansible_runner, "run", fake_run)
    room = paired_room(1)
    account = Account("ada", "1234", "$6$salt$hashhashhash")
    result = provision.provision_account(room, "s1-ct", account, tmp_path / "inventory.yml", tmp_path)
    assert result == provision.AccountResult("s1-ct", True, "ada:1234")
    assert seen["playbook"] == str(provision.STUDENTS_PLAYBOOK) and seen["limit"] == "s1-ct"
    assert seen["mode"] == 0o600 and seen["suppress_env_files"] is True
    assert seen["variables"]["labtool_account_password_hash"] == "$6$salt$hashhashhash"
    assert "$6$" not in seen["cmdline"], "the hash is never on a command line"
    assert not list(tmp_path.glob(".*account-vars*")), "the variables file is removed after the run"


def test_students_csv_is_not_part_of_the_provisioning_key(tmp_path: Path) -> None:
    room = paired_room(1, path=tmp_path)
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    key = provision.provision_key(room)
    (tmp_path / "students.csv").write_text("seat,name\ns1,Ada\n")
    assert provision.provision_key(room) == key
    (tmp_path / "hosts.yml").write_text("all: {hosts: {}}\n")
    assert provision.provision_key(room) != key

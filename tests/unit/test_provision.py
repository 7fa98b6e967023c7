"""How playbooks run: mitogen where it loads, the stock strategy with pipelining otherwise."""

import builtins
from typing import Any

import pytest

from labtool.provision import strategy


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

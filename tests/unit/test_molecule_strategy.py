"""Molecule's scenarios run playbooks as `labtool up` does: mitogen_linear, or the stock strategy with a warning."""

import builtins
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "molecule" / "strategy_plugins" / "mitogen_linear.py"


def load_shim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("labtool_test_strategy_shim", SHIM)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_scenarios_name_the_strategy_and_its_directory() -> None:
    for scenario in ("docker", "vagrant"):
        env = yaml.safe_load((REPO / "molecule" / scenario / "molecule.yml").read_text())["provisioner"]["env"]
        assert env["ANSIBLE_STRATEGY"] == SHIM.stem
        assert env["ANSIBLE_STRATEGY_PLUGINS"] == "${MOLECULE_PROJECT_DIRECTORY}/molecule/strategy_plugins"


def test_the_container_is_reached_by_the_connection_name_mitogen_recognises() -> None:
    scenario = REPO / "molecule" / "docker"
    inventory = yaml.safe_load((scenario / "molecule.yml").read_text())["provisioner"]["inventory"]
    assert "host_vars" not in inventory, "Molecule ignores inline host_vars when links are given"
    (platform,) = yaml.safe_load((scenario / "molecule.yml").read_text())["platforms"]
    host_vars = scenario / inventory["links"]["host_vars"] / f"{platform['name']}.yml"
    assert yaml.safe_load(host_vars.read_text())["ansible_connection"] == "docker"


def test_mitogen_linear_is_mitogens_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABTOOL_MITOGEN", raising=False)
    assert load_shim().StrategyModule.__module__ == "ansible_mitogen.plugins.strategy.mitogen_linear"


def test_labtool_mitogen_off_gives_the_stock_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABTOOL_MITOGEN", "off")
    assert load_shim().StrategyModule.__module__ == "ansible.plugins.strategy.linear"


def test_mitogen_that_cannot_load_gives_the_stock_strategy_and_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LABTOOL_MITOGEN", raising=False)
    real_import = builtins.__import__

    def no_mitogen(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("ansible_mitogen"):
            raise ImportError("No module named 'ansible_mitogen'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mitogen)
    assert load_shim().StrategyModule.__module__ == "ansible.plugins.strategy.linear"
    captured = capsys.readouterr()
    assert "mitogen cannot load" in captured.out + captured.err

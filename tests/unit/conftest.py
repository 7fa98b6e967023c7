"""Fixtures shared by the unit tests."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_labtool_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each unit test has a labtool home of its own, never the user's: `scripts/test` runs the unit tests while the
    integration tests use the real one, and neither may see the other's rooms, images or cache."""
    home = tmp_path_factory.mktemp("labtool-home")
    monkeypatch.setenv("LABTOOL_HOME", str(home))
    return home


@pytest.fixture
def rooms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty rooms directory; messages name paths relative to the working directory, tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "inventories"

"""Fixtures shared by the unit tests of rooms."""

from pathlib import Path

import pytest


@pytest.fixture
def rooms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty rooms directory; messages name paths relative to the working directory, tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "inventories"

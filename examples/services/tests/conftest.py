"""The course's own list of daemons, read from the role's defaults: the tests check exactly what it installs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULTS = Path(__file__).resolve().parents[1] / "roles" / "stock_daemons" / "defaults" / "main.yml"


def daemons() -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = yaml.safe_load(DEFAULTS.read_text())["stock_daemons_list"]
    return listed

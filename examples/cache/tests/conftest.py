"""Shared fixtures of the cache course's testinfra suite (labtool verify, or pytest by hand).

Expected values come from where the course defines them: the redis role's
defaults and its Debian variables, overridden by the host's inventory variables
when the suite runs through Ansible. So the suite checks what the role promises,
never a second copy of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROLE_DIR = Path(__file__).resolve().parents[1] / "roles" / "redis"


def _load(relative: str) -> dict[str, Any]:
    data = yaml.safe_load((ROLE_DIR / relative).read_text())
    return data or {}


def inventory_vars(host: Any) -> dict[str, Any]:
    """The host's inventory variables; empty when not run through Ansible."""
    try:
        return dict(host.ansible.get_variables())
    except Exception:  # any non-Ansible backend (docker://, ssh://) simply has none
        return {}


@pytest.fixture
def redis_vars(host: Any) -> dict[str, Any]:
    """The role's defaults, then its Debian variables, then the host's inventory overrides."""
    values = {**_load("defaults/main.yml"), **_load("vars/Debian.yml")}
    inventory = inventory_vars(host)
    values.update({key: inventory[key] for key in values if key in inventory})
    return values


@pytest.fixture(autouse=True)
def _as_root(host: Any) -> Any:
    # redis.conf is readable by root and the redis group only; Vagrant machines are
    # reached as the `vagrant` user, containers as root.
    with host.sudo():
        yield


def redis_cli(host: Any, redis_vars: dict[str, Any], *args: str) -> str:
    """Run redis-cli against the machine's own Redis and return its raw output."""
    command = ["redis-cli", "-h", str(redis_vars["redis_bind_interface"]), "-p", str(redis_vars["redis_port"])]
    if redis_vars["redis_requirepass"]:
        command += ["--no-auth-warning", "-a", str(redis_vars["redis_requirepass"])]
    command += list(args)
    return str(host.check_output(" ".join(["%s"] * len(command)), *command))

"""Shared fixtures of the lab's testinfra suite (both Molecule scenarios, labtool verify).

Expected values come from where the lab defines them: package pins from the
roles' defaults (overridable per host in the inventory), students from the
inventory. So the suite checks what the roles promise, never a second copy.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[3] / "roles"
# role -> the variable holding its {package: version} pins
PIN_VARS = {"base": "base_packages", "nginx": "nginx_packages", "labnotes": "labnotes_packages"}


def role_defaults(role: str) -> dict[str, Any]:
    data = yaml.safe_load((ROLES_DIR / role / "defaults" / "main.yml").read_text())
    return data or {}


def default_pins() -> list[tuple[str, str]]:
    """(variable, package) for every pinned package, for parametrizing."""
    return [(var, pkg) for role, var in PIN_VARS.items() for pkg in role_defaults(role)[var]]


def inventory_vars(host: Any) -> dict[str, Any]:
    """The host's inventory variables; empty when not run through Ansible."""
    try:
        return dict(host.ansible.get_variables())
    except Exception:
        return {}  # any non-Ansible backend simply has none


def expected_pins(host: Any) -> dict[str, str]:
    inv = inventory_vars(host)
    pins: dict[str, str] = {}
    for role, var in PIN_VARS.items():
        pins.update(inv.get(var) or role_defaults(role)[var])
    return pins


@pytest.fixture(autouse=True)
def _as_root(host: Any) -> Any:
    # Config files under /etc/labnotes, shadow entries and `sshd -T` need root;
    # Vagrant machines are reached as the `vagrant` user, containers as root.
    with host.sudo():
        yield


def http_get(host: Any, path: str, attempts: int = 1) -> str:
    """GET http://127.0.0.1{path} on the machine itself; retries while the app starts."""
    for attempt in range(attempts):
        result = host.run("curl -fsS --max-time 10 http://127.0.0.1%s", path)
        if result.rc == 0:
            return str(result.stdout)
        if attempt + 1 < attempts:
            time.sleep(1)
    raise AssertionError(f"GET {path} failed: rc={result.rc} {result.stderr}")


def http_post_json(host: Any, path: str, payload: dict[str, Any]) -> Any:
    out = host.check_output(
        "curl -fsS --max-time 10 -H 'Content-Type: application/json' --data-binary %s http://127.0.0.1%s",
        json.dumps(payload),
        path,
    )
    return json.loads(out)

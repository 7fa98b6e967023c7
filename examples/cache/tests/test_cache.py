"""What a student or instructor would check on every cache lab machine, VM or container."""

from __future__ import annotations

import re
import uuid
from typing import Any

from conftest import redis_cli

# Redis's memory units, as CONFIG GET reports a size in bytes.
UNITS = {"k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def redis_value(value: Any) -> str:
    """A setting's value as CONFIG GET prints it: sizes such as 64mb in bytes."""
    match = re.fullmatch(r"(\d+)([kmg]b?)", str(value).lower())
    return str(int(match[1]) * UNITS[match[2]]) if match else str(value)


def test_package_installed(host: Any, redis_vars: dict[str, Any]) -> None:
    assert host.package(redis_vars["redis_package"]).is_installed
    assert host.exists("redis-cli")


def test_service_enabled_and_running(host: Any, redis_vars: dict[str, Any]) -> None:
    service = host.service(redis_vars["redis_daemon"])
    assert service.is_enabled
    assert service.is_running


def test_listens_on_loopback_only(host: Any, redis_vars: dict[str, Any]) -> None:
    port = redis_vars["redis_port"]
    assert host.socket(f"tcp://{redis_vars['redis_bind_interface']}:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_ping(host: Any, redis_vars: dict[str, Any]) -> None:
    assert redis_cli(host, redis_vars, "PING") == "PONG"


def test_set_get_round_trip(host: Any, redis_vars: dict[str, Any]) -> None:
    key = f"labtool:test:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    try:
        assert redis_cli(host, redis_vars, "SET", key, value, "EX", "60") == "OK"
        assert redis_cli(host, redis_vars, "GET", key) == value
    finally:
        redis_cli(host, redis_vars, "DEL", key)


def test_main_config_file(host: Any, redis_vars: dict[str, Any]) -> None:
    conf = host.file(redis_vars["redis_conf_path"])
    assert conf.is_file
    assert conf.user == redis_vars["redis_user"]
    assert conf.group == redis_vars["redis_group"]
    assert conf.mode == 0o640
    lines = conf.content_string.splitlines()
    assert "Managed by Ansible" in lines[0]
    assert f"bind {redis_vars['redis_bind_interface']}" in lines
    assert f"port {redis_vars['redis_port']}" in lines
    assert f"include {redis_vars['redis_conf_d_path']}/*.conf" in lines


def test_extra_settings_file_is_applied(host: Any, redis_vars: dict[str, Any]) -> None:
    conf = host.file(redis_vars["redis_extra_conf_path"])
    assert conf.is_file
    assert conf.user == "root"
    assert conf.group == redis_vars["redis_group"]
    assert conf.mode == 0o640
    lines = conf.content_string.splitlines()
    for key, value in redis_vars["redis_extra_settings"].items():
        assert f"{key} {value}" in lines
        # The running server took the setting from the included file.
        assert redis_cli(host, redis_vars, "CONFIG", "GET", key).splitlines() == [key, redis_value(value)]
    assert redis_cli(host, redis_vars, "CONFIG", "GET", "bind").splitlines()[1] == redis_vars["redis_bind_interface"]


def test_the_unit_runs_as_debian_ships_it(host: Any, redis_vars: dict[str, Any]) -> None:
    # The course writes no drop-in: the unit's own sandboxing (PrivateUsers=, ProtectSystem=strict, ...)
    # is what runs. (A lab container's host may lack one of them; labtool's relaxing lives under /run.)
    shown = host.check_output("systemctl show --property=DropInPaths --value %s", redis_vars["redis_daemon"])
    assert not [path for path in shown.split() if path.startswith("/etc/")]
    assert host.service(redis_vars["redis_daemon"]).is_running

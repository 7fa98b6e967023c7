"""What a student or instructor would check on every lab machine, VM or container."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from conftest import default_pins, expected_pins, http_get, http_post_json, inventory_vars

SERVICES = ["ssh", "nginx", "labnotes"]


@pytest.mark.parametrize(("var", "package"), default_pins())
def test_package_installed_at_pinned_version(host: Any, var: str, package: str) -> None:
    pkg = host.package(package)
    assert pkg.is_installed, f"{package} ({var}) is not installed"
    assert pkg.version == expected_pins(host)[package]


@pytest.mark.parametrize("name", SERVICES)
def test_service_enabled_and_running(host: Any, name: str) -> None:
    service = host.service(name)
    assert service.is_enabled
    assert service.is_running


def test_nginx_serves_the_app_page_on_port_80(host: Any) -> None:
    assert host.socket("tcp://0.0.0.0:80").is_listening
    page = http_get(host, "/", attempts=10)
    assert "<h1>Lab notes</h1>" in page
    assert "Welcome to nginx" not in page


def test_app_listens_on_loopback_only(host: Any) -> None:
    assert host.socket("tcp://127.0.0.1:8000").is_listening
    assert not host.socket("tcp://0.0.0.0:8000").is_listening


def test_healthz(host: Any) -> None:
    assert http_get(host, "/healthz", attempts=10).strip() == "ok"


def test_fingerprint_is_json_describing_this_machine(host: Any) -> None:
    fp = json.loads(http_get(host, "/api/fingerprint", attempts=10))
    for key in (
        "app_version",
        "python_version",
        "python_packages",
        "hostname",
        "kernel_release",
        "virtualization",
        "pid1_command",
        "memory_limit",
        "uptime_seconds",
    ):
        assert key in fp, key
    assert fp["kernel_release"] == host.check_output("uname -r")
    assert fp["hostname"] == host.check_output("hostname")
    # systemd-detect-virt exits 1 on bare metal; its output is still the answer.
    assert fp["virtualization"] == host.run("systemd-detect-virt").stdout.strip()
    assert fp["pid1_command"].split()[0] in ("/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd")
    assert fp["memory_limit"]["bytes"] > 0
    assert fp["uptime_seconds"] > 0
    pins = expected_pins(host)
    for package, version in fp["debian_packages"].items():
        assert version == pins[package], package


def test_motd_names_the_machine_kind(host: Any) -> None:
    virt = host.run("systemd-detect-virt").stdout.strip()
    container = host.run("systemd-detect-virt --container").rc == 0
    motd = host.file("/etc/motd").content_string
    assert ("CONTAINER" if container else "VIRTUAL MACHINE") in motd
    assert f"({virt})" in motd


def students(host: Any) -> list[dict[str, Any]]:
    found = inventory_vars(host).get("users_students", [])
    if not found:
        pytest.skip("no students in this inventory")
    return list(found)


def test_student_accounts(host: Any) -> None:
    group = inventory_vars(host).get("users_group", "students")
    for student in students(host):
        user = host.user(student["name"])
        if student.get("state", "present") == "absent":
            assert not user.exists
            continue
        assert user.exists, student["name"]
        assert user.shell == student.get("shell", "/bin/bash")
        assert user.group == group
        assert user.password == student["password_hash"]
        assert host.file(user.home).is_directory


def sshd_setting(host: Any, user: str, key: str) -> str:
    out = host.check_output("sshd -T -C user=%s,host=localhost,addr=127.0.0.1", user)
    values = [line.split(None, 1)[1] for line in out.splitlines() if line.split(None, 1)[0] == key]
    assert values, f"sshd -T printed no {key}"
    return values[0]


def test_root_cannot_log_in(host: Any) -> None:
    assert sshd_setting(host, "root", "permitrootlogin") == "no"


def test_vagrant_cannot_log_in_with_a_password(host: Any) -> None:
    assert sshd_setting(host, "vagrant", "passwordauthentication") == "no"


def test_students_may_log_in_with_a_password(host: Any) -> None:
    for student in students(host):
        assert sshd_setting(host, student["name"], "passwordauthentication") == "yes"


def test_notes_survive_a_service_restart(host: Any) -> None:
    text = f"survives restarts {uuid.uuid4()}"
    created = http_post_json(host, "/api/notes", {"author": "testinfra", "body": text})
    assert created["id"] > 0
    host.check_output("systemctl restart labnotes")
    notes = json.loads(http_get(host, "/api/notes", attempts=15))
    assert text in [note["body"] for note in notes]
    db = host.file("/var/lib/labnotes/notes.sqlite3")
    assert db.user == "labnotes"
    assert db.mode == 0o640


@pytest.mark.parametrize(
    ("path", "user", "group", "mode"),
    [
        ("/etc/ssh/sshd_config.d/50-labtool.conf", "root", "root", 0o644),
        ("/etc/nginx/conf.d/labtool.conf", "root", "root", 0o644),
        ("/etc/nginx/sites-available/labnotes.conf", "root", "root", 0o644),
        ("/etc/systemd/system/labnotes.service", "root", "root", 0o644),
        ("/opt/labnotes/labnotes.py", "root", "root", 0o644),
        ("/etc/labnotes", "root", "labnotes", 0o750),
        ("/etc/labnotes/labnotes.env", "root", "labnotes", 0o640),
        ("/var/lib/labnotes", "labnotes", "labnotes", 0o750),
        ("/etc/motd", "root", "root", 0o644),
        ("/etc/default/locale", "root", "root", 0o644),
    ],
)
def test_config_file_owner_and_mode(host: Any, path: str, user: str, group: str, mode: int) -> None:
    f = host.file(path)
    assert f.exists
    assert (f.user, f.group, f.mode) == (user, group, mode)


def test_nginx_sites(host: Any) -> None:
    assert host.file("/etc/nginx/sites-enabled/labnotes.conf").linked_to == "/etc/nginx/sites-available/labnotes.conf"
    assert not host.file("/etc/nginx/sites-enabled/default").exists

"""`labtool hosts list` against a second lab host that is really another host to labtool (scripts/second-host).

The second host has its own network, files and hostname, and its own dockerd, libvirtd and
sshd; labtool reaches it only over SSH (Docker's `ssh://`, libvirt's `qemu+ssh://`). A third
host listed at an address of this machine where nothing answers SSH stands for one that is off.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rooms import REPO, run_labtool

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]

SCRIPT = REPO / "scripts" / "second-host"
OFF_HOST = "root@10.219.0.1"
"""The second host's peer address on this machine: no sshd listens there, so SSH is refused at once."""


def run(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def second_host() -> Iterator[str]:
    made = run("bash", str(SCRIPT), timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    destination = made.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"root@[0-9.]+", destination), made.stdout
    again = run("bash", str(SCRIPT), timeout=300)
    assert again.returncode == 0 and "already running" in again.stdout, again.stdout + again.stderr
    try:
        yield destination
    finally:
        stopped = run("bash", str(SCRIPT), "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "labtool-lab2" not in run("ip", "netns", "list").stdout


def test_the_second_host_is_another_host_reached_over_ssh(second_host: str) -> None:
    logged_in = run("ssh", "-o", "BatchMode=yes", second_host, "hostname; docker ps -q")
    assert logged_in.returncode == 0, logged_in.stderr
    name, *there = logged_in.stdout.split()
    assert name == "lab2"
    # Its own engine and its own libvirtd, reached the engines' own ways: nothing of this host's is there.
    here = run("docker", "ps", "-q").stdout.split()
    assert not set(here) & set(there)
    engine = run("docker", "-H", f"ssh://{second_host}", "info", "--format", "{{.Name}}", timeout=60)
    assert (engine.returncode, engine.stdout.strip()) == (0, "lab2"), engine.stderr
    remote_virsh = run("virsh", "-c", f"qemu+ssh://{second_host}/system?no_tty=1", "hostname", timeout=60)
    assert (remote_virsh.returncode, remote_virsh.stdout.strip()) == (0, "lab2"), remote_virsh.stderr


def test_hosts_list_surveys_every_host_and_names_the_one_that_is_off(second_host: str, tmp_path: Path) -> None:
    rooms = tmp_path / "rooms"
    rooms.mkdir()
    env = {"LABTOOL_ROOMS_DIR": str(rooms)}
    made = run_labtool("room", "new", "hostsroom", "--seats", "1", env=env)
    assert made.returncode == 0, made.stderr
    settings = rooms / "hostsroom" / "labtool.yml"
    settings.write_text(
        re.sub(r"index: \d+", "index: 238", settings.read_text())
        + f"\nhosts:\n  - name: here\n  - name: lab2\n    ssh: {second_host}\n  - name: lab3\n    ssh: {OFF_HOST}\n"
    )
    listed = run_labtool("hosts", "list", "hostsroom", "--json", env=env, timeout=300)
    assert listed.returncode == 1, listed.stderr
    hosts = {h["name"]: h for h in json.loads(listed.stdout)["hosts"]}
    assert list(hosts) == ["here", "lab2", "lab3"]
    for name in ("here", "lab2"):
        host = hosts[name]
        assert (host["ok"], host["docker"], host["libvirt"]) == (True, "ok", "ok"), host
        assert host["accel"] in ("kvm", "tcg") and host["memory_available"] > 0 and host["disk_free"]["vm"] > 0
    assert hosts["lab3"]["ok"] is False and "does not answer over SSH" in hosts["lab3"]["error"]
    assert "error: not ready: lab3" in listed.stderr and "Traceback" not in listed.stderr
    # A room that lists other hosts is not brought up here as if it did not.
    up = run_labtool("up", "hostsroom", "--dry-run", env=env)
    assert up.returncode == 1 and "does not place seats on them yet" in up.stderr, up.stderr

"""`labtool hosts list` against a second lab host that is really another host to labtool (scripts/second-host).

The second host has its own network, files and hostname, and its own dockerd, libvirtd and
sshd; labtool reaches it only over SSH (Docker's `ssh://`, libvirt's `qemu+ssh://`). A third
host listed at an address of this machine where nothing answers SSH stands for one that is off.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labtool.host import apt_cache_log
from labtool.settings import Settings
from tests.integration.rooms import REPO, run_labtool

pytestmark = [pytest.mark.docker, pytest.mark.vagrant, pytest.mark.two_hosts]

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
        re.sub(r"index: \d+", "index: 245", settings.read_text())
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
        assert host["socat"] is True, host  # what relays its VMs' published ports
    assert hosts["lab3"]["ok"] is False and "does not answer over SSH" in hosts["lab3"]["error"]
    assert "error: not ready: lab3" in listed.stderr and "Traceback" not in listed.stderr


# -- a room across this host and the second one ------------------------------------------------------

DUO, DUO_INDEX = "duo", 239
HERE_SEATS, REMOTE_SEATS = ("seat01", "seat02"), ("seat03", "seat04")
PORT_BASE = 24100
"""The duo room's published ports: four a seat from 24100, seat01's and seat02's on this host, seat03's and
seat04's on the second host."""
SEAT_CHECK = """
import pytest


@pytest.mark.points(2)
def test_the_machine_is_named_after_its_seat(host):
    name = host.run("hostname").stdout.strip()
    assert name.startswith("seat0"), f"hostname {name!r}"
"""
PROJECT = Path(tempfile.gettempdir()) / "labtool-integration-hosts"
PROGRESS = "^(?:==> )?"
"""How a line of `up`'s progress begins."""
OFF_WHEN = re.compile(PROGRESS + "seat0[34]-ct: provisioning", re.MULTILINE)
"""The second host is switched off once one of its containers is provisioning: its VMs are being made (their box
uploaded into its pool, or booting), and this host's seats are still at work."""
LAB2_APT_LOG = Path("/var/lib/labtool-lab2/apt-cache-log/apt-cacher.log")
"""The second host's apt cache's log, as this machine sees its files (scripts/second-host keeps them there)."""


def on_second_host(destination: str, command: str) -> list[str]:
    result = run("ssh", "-o", "BatchMode=yes", destination, command, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def room_leftovers(destination: str) -> dict[str, list[str]]:
    """What of room duo exists on each host: containers, networks, domains, libvirt networks."""
    listing = (
        "docker ps -a --format '{{.Names}}'; docker network ls --format '{{.Name}}'; "
        "virsh -c qemu:///system list --all --name; virsh -c qemu:///system net-list --all --name"
    )
    here = run("sh", "-c", listing).stdout.split()
    there = on_second_host(destination, listing)
    return {where: [n for n in names if f"labtool-{DUO}" in n] for where, names in (("here", here), ("lab2", there))}


def seat_states(labtool: Callable[..., subprocess.CompletedProcess[str]]) -> dict[str, dict[str, Any]]:
    return {s["seat"]: s for s in json.loads(labtool("status", DUO, "--json").stdout)["seats"]}


def test_a_room_of_four_seats_across_two_hosts_outlives_the_second_going_off_mid_up(
    second_host: str, tmp_path: Path
) -> None:
    def labtool(*args: str) -> subprocess.CompletedProcess[str]:
        return run_labtool("--project", str(PROJECT), *args, timeout=1800)

    make_duo_project(labtool, second_host)
    try:
        prepared = labtool("hosts", "prepare", DUO)  # as an instructor begins
        assert prepared.returncode == 0, prepared.stdout[-3000:] + prepared.stderr[-3000:]
        with_the_second_host_off_during_up(second_host, tmp_path)
        # The second host is back, without systemd to restart what `hosts prepare` started there: prepared again,
        # its apt cache runs, and its seats are finished where they were begun, through it.
        prepared = labtool("hosts", "prepare", DUO)
        assert prepared.returncode == 0, prepared.stdout[-3000:] + prepared.stderr[-3000:]
        up = labtool("up", DUO)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        seats = seat_states(labtool)
        assert {name: s["host"] for name, s in seats.items()} == {
            **dict.fromkeys(HERE_SEATS, "here"),
            **dict.fromkeys(REMOTE_SEATS, "lab2"),
        }
        assert all(
            s[k]["state"] == "running" and s[k]["provisioned"] for s in seats.values() for k in ("vm", "container")
        )
        # Each seat's two machines are on its own host, and only there.
        machines = [f"labtool-{DUO}_{seat}-{kind}" for seat in REMOTE_SEATS for kind in ("ct", "vm")]
        assert sorted(room_leftovers(second_host)["lab2"]) == sorted([f"labtool-{DUO}"] * 2 + machines)
        assert not set(machines) & set(room_leftovers(second_host)["here"])

        students_reach_each_seat_on_its_own_hosts_address(second_host)

        verified = labtool("verify", DUO)
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
        reset = labtool("reset", DUO, "--seat", "seat04", "--container")
        assert reset.returncode == 0, reset.stdout[-3000:] + reset.stderr[-3000:]
        hostname = labtool("exec", "seat04-ct", "--room", DUO, "--", "hostname")
        assert (hostname.returncode, hostname.stdout.strip()) == (0, "seat04-ct"), hostname.stderr
        fetches_through_its_own_hosts_apt_cache(labtool, "seat04-ct")
        checked = labtool("check", DUO, "--json")
        assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
        graded = json.loads(checked.stdout)
        assert graded["complete"] and {m["seat"] for m in graded["machines"]} == {*HERE_SEATS, *REMOTE_SEATS}
        assert [m["earned"] for m in graded["machines"]] == [2] * 8, [
            (m["machine"], m["earned"], [c["message"] for c in m["checks"]]) for m in graded["machines"]
        ]
        # A remote seat is measured on its own host: its QEMU and its container's systemd, read there.
        compared = labtool("compare", DUO, "--seat", "seat03", "--json")
        assert compared.returncode == 0, compared.stdout[-3000:] + compared.stderr[-3000:]
        [measured] = json.loads(compared.stdout)["seats"]
        assert measured["vm"]["host"]["process"].startswith("qemu") and measured["vm"]["host"]["memory_bytes"] > 0
        assert measured["container"]["host"]["process"] == "systemd"
        stopped = labtool("stop", DUO, "--seat", "seat03")
        assert stopped.returncode == 0, stopped.stderr
        [seat] = json.loads(labtool("status", DUO, "--seat", "seat03", "--json").stdout)["seats"]
        assert (seat["vm"]["state"], seat["container"]["state"]) == ("stopped", "stopped")
        assert listening_on_second_host(second_host) == seat_ports("seat04"), "a stopped VM's relays are stopped"
        started = labtool("start", DUO, "--seat", "seat03")
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        again = labtool("up", DUO)
        assert again.returncode == 0 and "is up to date" in again.stdout, again.stdout[-3000:] + again.stderr[-3000:]
        students_reach_each_seat_on_its_own_hosts_address(second_host)  # the relays came back with the VM
    finally:
        down = labtool("down", DUO, "--yes")
        assert down.returncode == 0, down.stdout[-3000:] + down.stderr[-3000:]
    assert room_leftovers(second_host) == {"here": [], "lab2": []}
    assert listening_on_second_host(second_host) == set()


def with_the_second_host_off_during_up(second_host: str, logs: Path) -> None:
    """`up` of the whole room, the second host switched off half way: only its seats fail, each named with the
    host; this host's seats come up and are provisioned all the same."""
    argv = [sys.executable, "-m", "labtool", "--project", str(PROJECT), "up", DUO]
    out, err = logs / "up.out", logs / "up.err"
    with out.open("w") as stdout, err.open("w") as stderr, subprocess.Popen(argv, stdout=stdout, stderr=stderr) as up:
        try:
            while up.poll() is None and not OFF_WHEN.search(err.read_text()):
                time.sleep(1)
            if up.poll() is None:
                assert run("bash", str(SCRIPT), "stop").returncode == 0
            up.wait(timeout=1800)
        finally:
            up.kill()
            back = run("bash", str(SCRIPT), timeout=300)
            assert back.returncode == 0, back.stdout + back.stderr
    said = err.read_text()
    assert OFF_WHEN.search(said), said[-3000:]
    assert up.returncode == 1, out.read_text()[-3000:] + said[-3000:]
    assert "Traceback" not in said
    failed = re.findall(PROGRESS + r"(seat\d+-(?:vm|ct)): FAILED: (.*)$", said, re.MULTILINE)
    assert failed and {machine[:6] for machine, _ in failed} <= set(REMOTE_SEATS), failed
    assert all(error.startswith("its lab host lab2 does not answer") for _, error in failed), failed
    for seat in HERE_SEATS:
        for machine in (f"{seat}-ct", f"{seat}-vm"):
            assert re.search(PROGRESS + rf"{machine}: ready, changed=\d+", said, re.MULTILINE), (machine, said[-3000:])


def fetches_through_its_own_hosts_apt_cache(
    labtool: Callable[..., subprocess.CompletedProcess[str]], machine: str
) -> None:
    """A machine of the second host reaches the apt cache at the address every lab machine uses, and the second
    host's own cache is the one that serves it."""
    since = apt_cache_log.position(LAB2_APT_LOG)
    update = labtool("exec", machine, "--room", DUO, "--", "sudo", "apt-get", "-q", "update")
    assert update.returncode == 0, update.stdout[-3000:] + update.stderr[-3000:]
    served = [t for t in apt_cache_log.read(LAB2_APT_LOG, since) if t.direction == apt_cache_log.SERVED]
    assert any(t.release_file for t in served), "the second host's apt cache served the machine nothing"


def banner(address: str, port: int) -> bytes:
    with socket.create_connection((address, port), timeout=10) as connection:
        connection.settimeout(20)
        return connection.recv(64)


def seat_ports(seat: str) -> set[int]:
    first = PORT_BASE + 4 * (int(seat.removeprefix("seat")) - 1)
    return set(range(first, first + 4))


def students_reach_each_seat_on_its_own_hosts_address(second_host: str) -> None:
    """Every machine's sshd at its published port: seat01's and seat02's here, seat03's and seat04's on the second
    host (the course has no app, so its app ports are only checked to listen)."""
    lab2 = second_host.split("@")[1]
    for seats, address in ((HERE_SEATS, "127.0.0.1"), (REMOTE_SEATS, lab2)):
        for seat in seats:
            base = min(seat_ports(seat))
            for ssh in (base, base + 2):  # the container's, then the VM's
                assert banner(address, ssh).startswith(b"SSH-2.0-OpenSSH"), (address, ssh)
    assert listening_on_second_host(second_host) == seat_ports("seat03") | seat_ports("seat04")
    # Nothing of a remote seat is published on this host: its ports are the second host's.
    for port in seat_ports("seat03") | seat_ports("seat04"):
        with pytest.raises(OSError):
            banner("127.0.0.1", port)


def listening_on_second_host(destination: str) -> set[int]:
    """The duo room's published ports that something listens on at the second host."""
    sockets = on_second_host(destination, "ss -Hltn")
    ports = {int(word.rsplit(":", 1)[1]) for word in sockets if re.fullmatch(r"[0-9.*]+:\d+", word)}
    return {port for port in ports if PORT_BASE <= port < PORT_BASE + 16}


# -- last: `hosts prepare` starts what the second host lacks (its dockerd is stopped here) ----------------


def test_hosts_prepare_makes_the_second_host_ready_and_a_second_run_changes_nothing(
    second_host: str, tmp_path: Path
) -> None:
    rooms = tmp_path / "rooms"
    rooms.mkdir()
    env = {"LABTOOL_ROOMS_DIR": str(rooms)}
    assert run_labtool("room", "new", "prep", "--seats", "1", env=env).returncode == 0
    settings = rooms / "prep" / "labtool.yml"
    settings.write_text(settings.read_text() + f"\nhosts:\n  - name: here\n  - name: lab2\n    ssh: {second_host}\n")
    on_second_host(second_host, "kill $(cat /run/docker.pid); while docker info >/dev/null 2>&1; do sleep 1; done")
    lab2 = json.loads(run_labtool("hosts", "list", "prep", "--json", env=env).stdout)["hosts"][1]
    assert lab2["name"] == "lab2" and lab2["docker"] != "ok"

    prepared = run_labtool("hosts", "prepare", "prep", "--json", env=env, timeout=600)
    assert prepared.returncode == 0, prepared.stdout[-3000:] + prepared.stderr[-3000:]
    [outcome] = json.loads(prepared.stdout)["hosts"]
    assert (outcome["name"], outcome["ok"]) == ("lab2", True) and outcome["changed"] >= 1, outcome
    assert "lab2: Dockerd is started" in prepared.stderr
    listed = run_labtool("hosts", "list", "prep", "--json", env=env, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert all(h["docker"] == h["libvirt"] == "ok" and h["apt_cache"] for h in json.loads(listed.stdout)["hosts"])
    # Its sshd, told again to read its configuration, lets a room's worth of connections start at once (with
    # Debian's MaxStartups, about one in four of 40 was dropped here).
    assert connections_at_once(second_host, 40) == []

    again = run_labtool("hosts", "prepare", "prep", "--json", env=env, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert json.loads(again.stdout)["hosts"][0]["changed"] == 0
    assert not (Settings.from_env().rooms_state_dir / "prep").exists()  # preparing hosts gives the room no state


def make_duo_project(labtool: Callable[..., subprocess.CompletedProcess[str]], second_host: str) -> None:
    """A new lab project with room duo over this host and the second one, and an exercise check."""
    if (PROJECT / "inventories" / DUO).is_dir():  # left over from an interrupted session
        labtool("down", DUO, "--yes")
    shutil.rmtree(PROJECT, ignore_errors=True)
    assert run_labtool("init", str(PROJECT)).returncode == 0
    assert labtool("room", "new", DUO, "--seats", str(len(HERE_SEATS + REMOTE_SEATS))).returncode == 0
    # seat03 and seat04 are pinned to the second host (labtool_host on either machine of a seat); the others are
    # placed by room left, which the pinned seats have taken on the second host.
    (PROJECT / "inventories" / DUO / "host_vars").mkdir()
    for pinned in ("seat03-ct", "seat04-vm"):
        (PROJECT / "inventories" / DUO / "host_vars" / f"{pinned}.yml").write_text("labtool_host: lab2\n")
    (PROJECT / "checks").mkdir()
    (PROJECT / "checks" / "test_seat.py").write_text(SEAT_CHECK)
    settings = PROJECT / "inventories" / DUO / "labtool.yml"
    settings.write_text(
        re.sub(r"index: \d+", f"index: {DUO_INDEX}", settings.read_text())
        + f"\nhosts:\n  - name: here\n  - name: lab2\n    ssh: {second_host}\n"
        + f"\naccess:\n  address: 127.0.0.1\n  port_base: {PORT_BASE}\n"
    )


def connections_at_once(destination: str, count: int) -> list[str]:
    """The errors of `count` SSH logins to the host started together; empty when every one got in."""
    argv = ["ssh", "-o", "BatchMode=yes", destination, "true"]
    logins = [
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(count)
    ]
    errors = [login.communicate(timeout=120)[1].strip() for login in logins]
    return [error for login, error in zip(logins, errors, strict=True) if login.returncode != 0]

"""A container made by the Docker backend runs with the least it needs, and a course still provisions it.

Each capability the backend gives back (labtool/backends/docker/image.py: CAPABILITIES) is
exercised here by what needs it, so dropping one fails this test rather than a class.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labtool import inventory
from labtool.backends.docker import image as docker_image
from labtool.backends.docker.backend import DockerBackend, container_name, network_name
from labtool.images import recipe
from labtool.model import THIS_HOST, ContainerResources, Course, Kind, Machine, Networks, Room, Seat, VmResources
from labtool.project import Project
from labtool.provision import provision, strategy

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
ROOM_NAME = "pytest-hardening"
NETWORK_INDEX = 233  # this test's own subnets, apart from the live room's (250) and instructors' rooms
# Linux capability numbers (linux/capability.h), to read the container's bounding set.
CAPABILITY_BITS = {
    "CHOWN": 0,
    "DAC_OVERRIDE": 1,
    "DAC_READ_SEARCH": 2,
    "FOWNER": 3,
    "FSETID": 4,
    "KILL": 5,
    "SETGID": 6,
    "SETUID": 7,
    "SETPCAP": 8,
    "NET_BIND_SERVICE": 10,
    "NET_RAW": 13,
    "SYS_CHROOT": 18,
    "SYS_ADMIN": 21,
    "MKNOD": 27,
    "AUDIT_WRITE": 29,
    "SETFCAP": 31,
}
PLAYBOOK = """\
---
- name: Provision the way a course does, as root through the docker connection
  hosts: lab
  gather_facts: false
  tasks:
    - name: Install cron, whose crontab program is set-group-ID
      ansible.builtin.apt:
        name: cron
        update_cache: true
        install_recommends: false
    - name: Add an account with a group of its own
      ansible.builtin.user:
        name: hardening
    - name: Give the account a directory of its own
      ansible.builtin.file:
        path: /srv/hardening
        state: directory
        owner: hardening
        group: hardening
        mode: "0750"
"""


@pytest.fixture(scope="module")
def room(built_images: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Room, DockerBackend]]:
    root = tmp_path_factory.mktemp("hardening")
    (root / "room").mkdir()
    (root / "room" / "hosts.yml").write_text("---\nlab:\n  hosts:\n    seat01-ct:\n")
    (root / "site.yml").write_text(PLAYBOOK)
    seat = Seat("seat01", Machine("seat01-vm", Kind.VM, "seat01"), Machine("seat01-ct", Kind.CONTAINER, "seat01"))
    course = Course(Project(REPO), root / "site.yml", REPO / "molecule" / "shared" / "tests")
    lab_room = Room(
        ROOM_NAME,
        root / "room",
        (seat,),
        VmResources(),
        ContainerResources(),
        Networks(NETWORK_INDEX),
        course,
    )
    backend = DockerBackend(THIS_HOST, docker_image.ref(built_images))
    backend.destroy(lab_room, [seat.container])  # left over from an interrupted run
    try:
        backend.bring_up(lab_room, [seat.container])
        yield lab_room, backend
    finally:
        backend.destroy(lab_room, [seat.container])
        backend.remove_room_resources(lab_room)


@pytest.fixture(scope="module")
def container(room: tuple[Room, DockerBackend]) -> Any:
    lab_room, backend = room
    found = backend.client.containers.get(container_name(lab_room, lab_room.seats[0].container))
    found.reload()
    return found


def run(container: Any, *argv: str, user: str = "root") -> tuple[int, str, str]:
    code, (out, err) = container.exec_run(list(argv), user=user, demux=True)
    return code, (out or b"").decode().strip(), (err or b"").decode().strip()


def test_the_container_is_unprivileged_on_the_rooms_network_without_the_docker_socket(
    room: tuple[Room, DockerBackend], container: Any
) -> None:
    host = container.attrs["HostConfig"]
    assert host["Privileged"] is False
    assert host["NetworkMode"] == network_name(room[0])
    assert "host" not in (host["NetworkMode"], host["PidMode"], host["IpcMode"], host["UTSMode"], host["UsernsMode"])
    assert host["Binds"] == ["/sys/fs/cgroup:/sys/fs/cgroup:ro"]
    sources = [mount.get("Source", "") for mount in container.attrs["Mounts"]]
    assert not any("docker.sock" in source for source in [*sources, *host["Binds"]])
    assert host["Tmpfs"] == {"/run": "rw,mode=755", "/run/lock": "rw", "/tmp": "rw"}
    assert host["RestartPolicy"]["Name"] == "unless-stopped"  # back after a dockerd restart, not after `stop`


def test_the_container_may_not_start_tasks_past_its_pid_limit(container: Any) -> None:
    assert container.attrs["HostConfig"]["PidsLimit"] == docker_image.PIDS_LIMIT
    # What the kernel enforces: a runaway program (threads are tasks too, and cheap) hits the container's
    # limit, not the host's pid table, and the machine goes on.
    code, out, _ = run(
        container,
        "python3",
        "-c",
        "import threading\n"
        "stop, n = threading.Event(), 0\n"
        "try:\n"
        f"    while n < {docker_image.PIDS_LIMIT + 100}:\n"
        "        threading.Thread(target=stop.wait, daemon=True).start()\n"
        "        n += 1\n"
        "except RuntimeError:\n"
        "    print('limited', n)\n"
        "stop.set()\n",
    )
    assert code == 0 and out.startswith("limited "), out
    assert docker_image.PIDS_LIMIT - 200 < int(out.split()[1]) < docker_image.PIDS_LIMIT
    assert run(container, "systemctl", "is-system-running")[1] in ("running", "degraded")


def test_every_capability_is_dropped_but_the_documented_ones(container: Any) -> None:
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert sorted(c.removeprefix("CAP_") for c in host["CapAdd"]) == sorted(docker_image.CAPABILITIES)
    assert list(host["SecurityOpt"] or []) == docker_image.run_options()["security_opt"]
    # What the kernel enforces: systemd's bounding set is exactly that list, under Docker's seccomp profile.
    status = dict(line.split(":\t", 1) for line in run(container, "cat", "/proc/1/status")[1].splitlines())
    expected = sum(1 << CAPABILITY_BITS[name] for name in docker_image.CAPABILITIES)
    assert int(status["CapBnd"], 16) == expected
    assert status["Seccomp"].strip() == "2"


def test_stock_sandboxing_runs_as_on_a_vm_or_is_relaxed_and_recorded(container: Any) -> None:
    """PrivateUsers= works (CAP_SETFCAP and the namespace calls); what this host refuses is found and relaxed."""
    code, out, _ = run(
        container, "systemd-run", "--wait", "--quiet", "-p", "PrivateUsers=yes", "-p", "User=nobody", "true"
    )
    assert code == 0, out
    code, out, _ = run(container, "unshare", "--user", "--map-root-user", "id", "-u")
    assert (code, out) == (0, "0")
    record = json.loads(run(container, "cat", recipe.SANDBOX_RECORD)[1])
    assert record["relax"] is True
    directives = record["directives"]
    assert directives["PrivateUsers"]["state"] == "works"
    assert all(d["state"] != "unknown" for d in directives.values()), directives
    relaxed = sorted(name for name, d in directives.items() if d["relaxed"])
    drop_in = run(container, "cat", "/run/systemd/system/service.d/50-labtool-sandbox.conf")[1] if relaxed else ""
    for name in relaxed:
        assert directives[name]["state"] == "failed" and directives[name]["status"] >= 200
        assert f"\n{name}=" in drop_in
    # A unit asking for a directive that failed in the probe now starts (BindReadOnlyPaths= as haproxy has it).
    for name in relaxed:
        value = directives[name]["value"]
        code, out, _ = run(container, "systemd-run", "--wait", "--quiet", "-p", f"{name}={value}", "true")
        assert code == 0, f"{name}: {out}"


def test_the_container_has_ipv6_loopback_and_the_rooms_unique_local_prefix(container: Any) -> None:
    code, out, _ = run(container, "ip", "-6", "-o", "addr", "show")
    assert code == 0
    assert " ::1/128 " in out and " fe80:" in out and " fd6c:6162:" in out


def test_the_package_lists_are_there_as_on_a_freshly_installed_debian(container: Any) -> None:
    code, out, _ = run(container, "apt-cache", "policy", "redis-server")
    assert code == 0 and "Candidate: (none)" not in out and "Candidate:" in out, out


def test_systemd_boots_all_the_way(container: Any) -> None:
    # SETUID, SETGID: dbus and logind start as their users; SETPCAP: journald and logind narrow their capabilities.
    assert run(container, "systemctl", "is-system-running")[1] == "running"
    assert run(container, "systemctl", "--failed", "--no-legend")[1] == ""


def test_a_course_provisions_it_through_the_docker_connection(
    room: tuple[Room, DockerBackend], container: Any, tmp_path: Path
) -> None:
    lab_room, backend = room
    machine = lab_room.seats[0].container
    generated = tmp_path / "inventory.yml"
    inventory.write(generated, {machine.name: backend.connection(lab_room, machine)})
    result = provision(lab_room, machine.name, generated, tmp_path, lambda _machine, _task: None, how=strategy(True))
    assert result.ok, result.error
    # CHOWN, DAC_OVERRIDE, FOWNER: apt, useradd and the file task above succeeded. FSETID: dpkg kept the bit.
    assert run(container, "stat", "-c", "%A %G", "/usr/bin/crontab")[1] == "-rwxr-sr-x crontab"
    assert run(container, "stat", "-c", "%U %a", "/srv/hardening")[1] == "hardening 750"


def test_systemd_stops_a_service_of_another_user(container: Any) -> None:
    # KILL: without it `systemctl stop` reports the unit stopped and leaves its process running.
    assert run(container, "systemd-run", "--unit=hardening-probe", "--uid=nobody", "sleep", "600")[0] == 0
    assert run(container, "systemctl", "stop", "hardening-probe")[0] == 0
    assert run(container, "pgrep", "-u", "nobody")[0] == 1


def test_the_lab_user_may_sudo_quietly(container: Any) -> None:
    # no-new-privileges would make this fail; AUDIT_WRITE keeps sudo from complaining on every call.
    assert run(container, "sudo", "-n", "id", "-u", user="vagrant") == (0, "0", "")


def test_sshd_lets_a_login_through_its_privilege_separation(container: Any) -> None:
    # SYS_CHROOT: sshd chroots its pre-auth child to /run/sshd; without it every connection is reset at once.
    script = (
        "ssh-keygen -q -A; mkdir -p /run/sshd; /usr/sbin/sshd -p 2222 -E /tmp/sshd-probe.log; sleep 1; "
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p 2222 nobody@127.0.0.1 "
        "true; sleep 1; cat /tmp/sshd-probe.log"
    )
    _, output, _ = run(container, "sh", "-c", script)
    assert "Operation not permitted" not in output, output
    assert "authenticating user nobody" in output, output

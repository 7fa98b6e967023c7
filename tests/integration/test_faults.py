"""Faults on a real one-seat room (a VM and a container of the minimal course), each repaired by the next `up`.

The tests run in file order on one room of their own (a project from `labtool init
--example minimal`, network index 242), since every VM boot costs minutes here:
Ctrl-C while the VM boots, `kill -9` while the container provisions and again while
the VM boots, the repair; a container and a VM removed behind labtool's back; the
daemons unreachable, then really stopped and started again; a second `up` while one
runs; the mirror unreachable from one machine; the box rebuilt under a running VM;
last, two rooms (flt1 and flt2, index 243) brought up at once from that rebuilt box.
Each records its row of README's Reliability table with what it measured.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from labtool import state
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.libvirt import Virsh
from labtool.host import children, processes
from labtool.images import pair, recipe
from labtool.model import THIS_HOST
from labtool.settings import Settings
from tests.conftest import FaultRow
from tests.integration.rooms import run_labtool

pytestmark = [pytest.mark.docker, pytest.mark.vagrant, pytest.mark.slow]

ROOM = "flt1"
NETWORK_INDEX = 242
VM, CONTAINER = "seat01-vm", "seat01-ct"
DOMAIN = f"labtool-{ROOM}_{VM}"
DOCKER_NAME = f"labtool-{ROOM}_{CONTAINER}"
STOP_WITHIN = 10.0
BASE = Path(tempfile.gettempdir()) / "labtool-integration-faults"


@dataclass
class Run:
    """A labtool process in the background, its output read line by line as it comes."""

    popen: subprocess.Popen[str]
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for stream, lines in ((self.popen.stdout, self.out), (self.popen.stderr, self.err)):
            threading.Thread(target=_read, args=(stream, lines), daemon=True).start()

    @property
    def owner(self) -> children.Owner:
        return children.Owner.of(self.popen.pid)

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.popen.poll() is not None:
                pytest.fail(f"labtool ended ({self.popen.returncode}) before {what}:\n{self.stderr[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:.0f} s:\n{self.stderr[-3000:]}")
            time.sleep(0.2)

    def finish(self, timeout: float = 60) -> int:
        code = self.popen.wait(timeout)
        time.sleep(0.3)  # the readers take the last lines
        return code

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    @property
    def stdout(self) -> str:
        return "".join(self.out)


def _read(stream: Any, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


@dataclass
class FaultRoom:
    project: Path
    env: dict[str, str]
    killed: children.Owner | None = None
    """The labtool the previous test killed with SIGKILL."""
    runs: list[Run] = field(default_factory=list)
    """Every labtool started in the background, so a failed test leaves none running for the next."""

    def labtool(
        self, *args: str, timeout: float = 3600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_labtool(*args, env={**self.env, **(env or {})}, cwd=self.project, timeout=timeout)

    def start(self, *args: str) -> Run:
        popen = subprocess.Popen(
            [sys.executable, "-m", "labtool", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **self.env},
            cwd=self.project,
        )
        run = Run(popen)
        self.runs.append(run)
        return run

    def stop_runs(self) -> None:
        """SIGINT to any labtool still running in the background (it stops what it started), then SIGKILL."""
        for run in self.runs:
            if run.popen.poll() is None:
                run.popen.send_signal(signal.SIGINT)
                try:
                    run.popen.wait(30)
                except subprocess.TimeoutExpired:
                    run.popen.kill()
                    run.popen.wait(10)
        self.runs.clear()

    @property
    def state_dir(self) -> Path:
        return state.room_dir(Settings.from_env(), ROOM)

    def status(self) -> dict[str, Any]:
        result = self.labtool("status", ROOM, "--json")
        assert result.returncode == 0, result.stderr
        seat: dict[str, Any] = json.loads(result.stdout)["seats"][0]
        return seat


def virsh(*args: str) -> str:
    return subprocess.run(
        ["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True, check=False
    ).stdout.strip()


def domain_running() -> bool:
    return virsh("domstate", DOMAIN) == "running"


def domain_uuid() -> str:
    return virsh("domuuid", DOMAIN)


def container_id() -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{.Id}}", DOCKER_NAME], capture_output=True, text=True, check=False
    ).stdout.strip()


@pytest.fixture(autouse=True)
def no_run_outlives_its_test(room: FaultRoom) -> Iterator[None]:
    """A test that fails halfway must not leave its background `up` holding the room for the next one."""
    yield
    room.stop_runs()


def marked_by(owner: children.Owner) -> list[str]:
    """Live processes labtool `owner` started (by their LABTOOL_OWNER mark), as `pid command`."""
    found = []
    for pid in processes.pids():
        if processes.environ(pid).get(children.OWNER_VARIABLE) == owner.marker and processes.alive(pid):
            found.append(f"{pid} {' '.join(processes.command(pid))[:100]}")
    return found


def room_resources(name: str = ROOM) -> dict[str, list[str]]:
    """Everything of the room on the host, to count: no machine, network or volume twice."""

    def lines(argv: list[str]) -> list[str]:
        output = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        return sorted(line.split()[0] for line in output.splitlines() if f"labtool-{name}" in line)

    return {
        "domains": lines(["virsh", "-c", "qemu:///system", "list", "--all", "--name"]),
        "volumes": lines(["virsh", "-c", "qemu:///system", "vol-list", "default"]),
        "libvirt networks": lines(["virsh", "-c", "qemu:///system", "net-list", "--all", "--name"]),
        "containers": lines(["docker", "ps", "-a", "--format", "{{.Names}}"]),
        "docker networks": lines(["docker", "network", "ls", "--format", "{{.Name}}"]),
    }


ONE_OF_EACH = {
    "domains": [DOMAIN],
    "volumes": [f"{DOMAIN}.img"],
    "libvirt networks": [f"labtool-{ROOM}"],
    "containers": [DOCKER_NAME],
    "docker networks": [f"labtool-{ROOM}"],
}


def vm_boot_id(room: FaultRoom) -> str:
    result = room.labtool("exec", VM, "--room", ROOM, "--", "cat", "/proc/sys/kernel/random/boot_id")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def room(built_images: str) -> Iterator[FaultRoom]:
    fault_room = FaultRoom(BASE / "project", {"LABTOOL_PROJECT": str(BASE / "project")})
    if (fault_room.project / "inventories" / ROOM).is_dir():
        fault_room.labtool("down", ROOM)  # what an interrupted session left
    shutil.rmtree(BASE, ignore_errors=True)
    BASE.mkdir(parents=True)
    made = subprocess.run(
        [sys.executable, "-m", "labtool", "init", str(fault_room.project), "--example", "minimal"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    created = fault_room.labtool("room", "new", ROOM, "--seats", "1")
    assert created.returncode == 0, created.stderr
    settings = fault_room.project / "inventories" / ROOM / "labtool.yml"
    settings.write_text(re.sub(r"index: \d+", f"index: {NETWORK_INDEX}", settings.read_text()))
    try:
        yield fault_room
    finally:
        fault_room.stop_runs()
        result = fault_room.labtool("down", ROOM)
        assert result.returncode == 0, result.stderr
        assert room_resources() == {kind: [] for kind in ONE_OF_EACH}


def test_ctrl_c_while_the_vm_boots_stops_labtool_and_its_commands_within_10_s(
    room: FaultRoom, fault_row: FaultRow
) -> None:
    run = room.start("up", ROOM)
    run.wait_for("the VM's domain running", domain_running)
    owner = run.owner
    pressed = time.monotonic()
    run.popen.send_signal(signal.SIGINT)
    code = run.finish(timeout=30)
    seconds = time.monotonic() - pressed
    assert code == 130, run.stderr[-3000:]
    assert seconds < STOP_WITHIN, run.stderr[-3000:]
    assert "SIGINT: stopping" in run.stderr and "Traceback" not in run.stderr
    vm_row = next(line for line in run.out if line.startswith(VM))
    assert "interrupted while creating" in vm_row, run.stdout
    assert f"room '{ROOM}': stopped by SIGINT" in run.stdout
    assert marked_by(owner) == []  # vagrant, ansible-playbook, ssh: all gone
    assert state.holder(room.state_dir) is None  # released, not left for a takeover
    record = state.read(room.state_dir).machines[VM]
    assert record.working == "create" and record.provisioned_key is None
    assert not [p for p in room.state_dir.iterdir() if p.name.startswith(".state.json.")]  # no half-written file
    seat = room.status()
    assert seat["vm"]["interrupted"] == "create" or seat["vm"]["state"] == "absent", seat
    fault_row(
        "Ctrl-C during `up` while the VM boots (real room)",
        f"labtool exited 130 {seconds:.1f} s after SIGINT, with no process it started left; the VM reported "
        "`interrupted while creating`, the container as it stood; lock released; state.json whole",
        "the next `up` recreates the VM (a cut first boot is not trusted) and provisions the rest",
    )


def test_kill_9_while_the_container_provisions_leaves_commands_that_the_next_labtool_stops(
    room: FaultRoom,
) -> None:
    run = room.start("provision", ROOM)
    run.wait_for("the container's provisioning", lambda: any(f"{CONTAINER} | " in line for line in run.err))
    owner = run.owner
    run.popen.kill()
    run.finish()
    left = marked_by(owner)
    assert left, "a killed labtool leaves its commands running (vagrant, ansible-playbook)"
    holder = state.holder(room.state_dir)
    assert holder is not None and holder.owner == owner and not holder.alive()
    room.killed = owner


def test_kill_9_while_the_vm_boots_and_the_next_up_takes_over_and_finishes_the_room(
    room: FaultRoom, fault_row: FaultRow
) -> None:
    earlier = room.killed
    assert earlier is not None, "runs after the kill -9 while the container provisions"
    before = domain_uuid()  # the VM whose creation the last kill cut: `up` makes it again
    run = room.start("up", ROOM)
    # The message comes as the stopping begins: a leftover gets SIGTERM, then SIGKILL 3 s later.
    run.wait_for(
        "the leftovers stopped",
        lambda: "left running by a labtool that is gone" in run.stderr and not marked_by(earlier),
        120,
    )
    run.wait_for("the VM made again and booting", lambda: domain_running() and domain_uuid() not in ("", before))
    owner = run.owner
    run.popen.kill()
    run.finish()
    orphans = len(marked_by(owner))
    assert orphans, "its `vagrant up` runs on after a kill -9"

    # The repair: one more `up`, and, while it runs, a second one that must give way at once.
    repair = room.start("up", ROOM)
    repair_started = time.monotonic()
    repair.wait_for("the lock taken over", lambda: f"taking over the lock of pid {owner.pid}" in repair.stderr, 300)
    started = time.monotonic()
    second = room.labtool("up", ROOM, timeout=120)
    busy_seconds = time.monotonic() - started
    assert second.returncode == 1
    assert f"error: room '{ROOM}' is locked by pid {repair.popen.pid} (" in second.stderr, second.stderr
    assert f"up {ROOM})" in second.stderr
    assert busy_seconds < 15
    code = repair.finish(timeout=3600)
    repaired = time.monotonic() - repair_started
    assert code == 0, repair.stderr[-3000:]
    assert "stopping " in repair.stderr and f"labtool pid {owner.pid}" in repair.stderr
    assert marked_by(owner) == []
    assert room_resources() == ONE_OF_EACH
    seat = room.status()
    assert all(seat[kind]["state"] == "running" and seat[kind]["provisioned"] for kind in ("vm", "container")), seat
    # Its creation was cut: labtool made it again rather than start what was left, and it has its name.
    hostname = room.labtool("exec", VM, "--room", ROOM, "--", "hostname")
    assert (hostname.returncode, hostname.stdout.strip()) == (0, VM), hostname.stderr
    again = room.labtool("up", ROOM)
    assert again.returncode == 0 and "is up to date" in again.stdout, again.stderr
    fault_row(
        "`kill -9` of labtool during `up`, once while the container provisions, once while the VM boots (real room)",
        f"its commands ran on ({orphans} process(es) marked as its own); the next `up` stopped "
        f"them, said it took the lock over, recreated the VM and provisioned the container in {repaired:.0f} s: "
        "one domain, volume, network and container each",
        "automatic, by the next `up`; a second `up` meanwhile failed in "
        f"{busy_seconds:.0f} s naming the first one's pid and command",
    )


def test_a_container_and_a_vm_removed_behind_labtools_back_are_named_and_recreated_alone(
    room: FaultRoom, fault_row: FaultRow
) -> None:
    boot_id = vm_boot_id(room)
    subprocess.run(["docker", "rm", "-f", DOCKER_NAME], capture_output=True, check=True)
    seat = room.status()
    assert (seat["container"]["state"], seat["vm"]["state"]) == ("absent", "running")
    started = time.monotonic()
    result = room.labtool("up", ROOM, "--json")
    container_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    machines = {m["machine"]: m["actions"] for m in json.loads(result.stdout)["machines"]}
    assert machines == {CONTAINER: ["create", "provision"]}
    assert vm_boot_id(room) == boot_id  # the VM was not touched
    made = container_id()

    virsh("destroy", DOMAIN)
    virsh("undefine", DOMAIN)  # its disk volume stays in the pool, and Vagrant's record of it
    seat = room.status()
    assert (seat["vm"]["state"], seat["container"]["state"]) == ("absent", "running")
    started = time.monotonic()
    result = room.labtool("up", ROOM, "--json")
    vm_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    machines = {m["machine"]: m["actions"] for m in json.loads(result.stdout)["machines"]}
    assert machines == {VM: ["create", "provision"]}
    assert container_id() == made
    assert vm_boot_id(room) != boot_id
    assert room_resources() == ONE_OF_EACH
    fault_row(
        "a container removed (`docker rm -f`) and a VM destroyed and undefined (`virsh destroy` + `undefine`) "
        "behind labtool's back (real room)",
        "`status` shows each as absent, the other machine running; Vagrant's stale record and the VM's old disk "
        "volume are cleared (`vagrant destroy` of the missing machine) before it is made again",
        f"`up` recreates and provisions only the missing machine ({container_seconds:.0f} s for the container, "
        f"{vm_seconds:.0f} s for the VM); the container kept its id, the VM its boot id",
    )


def test_a_daemon_that_does_not_answer_is_named_and_status_shows_the_other_kind(
    room: FaultRoom, fault_row: FaultRow, tmp_path: Path
) -> None:
    dead_docker = {"DOCKER_HOST": f"unix://{tmp_path}/docker.sock"}
    fake = tmp_path / "bin" / "virsh"  # what virsh says when libvirtd is stopped
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\necho 'error: failed to connect to the hypervisor' >&2\n"
        f"echo \"error: Failed to connect socket to '{tmp_path}/libvirt-sock': No such file or directory\" >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    dead_libvirt = {"PATH": f"{fake.parent}:{os.environ['PATH']}"}
    for dead, answers, daemon in ((dead_docker, "vm", "the Docker engine"), (dead_libvirt, "container", "libvirtd")):
        shown = room.labtool("status", ROOM, "--json", env=dead)
        assert shown.returncode == 1
        seat = json.loads(shown.stdout)["seats"][0]
        other = "container" if answers == "vm" else "vm"
        assert (seat[answers]["state"], seat[other]["state"]) == ("running", "unknown")
        for verb in (("status", ROOM), ("up", ROOM), ("down", ROOM), ("verify", ROOM), ("report", ROOM)):
            result = room.labtool(*verb, env=dead)
            assert result.returncode == 1, (verb, result.stderr)
            assert result.stderr.count("error: ") == 1 and f"error: {daemon} does not answer" in result.stderr
            assert "hint: start it with `labtool daemons`" in result.stderr and "Traceback" not in result.stderr
    assert room_resources() == ONE_OF_EACH  # nothing was touched
    fault_row(
        "dockerd or libvirtd not answering (real room: `DOCKER_HOST` on a dead socket; a `virsh` that cannot connect)",
        "status, up, down, verify and report each gave one `error: … does not answer …` with `hint: start it with "
        "labtool daemons`, exit 1, no traceback; `status` showed the other kind running",
        "`labtool daemons`, then the same command",
    )


def stop_daemon(pidfile: Path, name: str) -> None:
    """SIGTERM the daemon `labtool daemons` started (by its pid file) and wait until it has exited."""
    pid = int(pidfile.read_text().strip())
    assert Path(processes.command(pid)[0]).name == name, processes.command(pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while processes.alive(pid):
        assert time.monotonic() < deadline, f"{name} (pid {pid}) still runs 120 s after SIGTERM"
        time.sleep(0.5)


def start_daemons(room: FaultRoom) -> None:
    result = room.labtool("daemons", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def running_containers() -> set[str]:
    return set(subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True, check=False).stdout.split())


def container_started_at() -> str:
    return subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", DOCKER_NAME],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def refused_with(room: FaultRoom, daemon: str, *verb: str) -> None:
    result = room.labtool(*verb)
    assert result.returncode == 1, (verb, result.stderr)
    assert result.stderr.count("error: ") == 1 and f"error: {daemon} does not answer" in result.stderr
    assert "hint: start it with `labtool daemons`" in result.stderr and "Traceback" not in result.stderr


def test_dockerd_restarted_while_the_room_is_up_starts_the_container_again(
    room: FaultRoom, fault_row: FaultRow
) -> None:
    made, boot_id, before = container_id(), vm_boot_id(room), container_started_at()
    others = running_containers()
    stop_daemon(Path("/run/docker.pid"), "dockerd")
    try:
        shown = room.labtool("status", ROOM, "--json")
        assert shown.returncode == 1
        seat = json.loads(shown.stdout)["seats"][0]
        assert (seat["vm"]["state"], seat["container"]["state"]) == ("running", "unknown")
        refused_with(room, "the Docker engine", "up", ROOM)
    finally:
        start_daemons(room)
        # Other tests' containers, made without labtool's restart policy, are started again as they were.
        for container in others - running_containers():
            subprocess.run(["docker", "start", container], capture_output=True, check=False)
    deadline = time.monotonic() + 120
    while not container_started_at().startswith("true") or container_started_at() == before:
        assert time.monotonic() < deadline, f"the container is not running again: {container_started_at()}"
        time.sleep(1)
    back = time.monotonic() - deadline + 120
    seat = room.status()
    assert all(seat[kind]["state"] == "running" and seat[kind]["provisioned"] for kind in ("vm", "container")), seat
    # Its creation was cut: labtool made it again rather than start what was left, and it has its name.
    hostname = room.labtool("exec", VM, "--room", ROOM, "--", "hostname")
    assert (hostname.returncode, hostname.stdout.strip()) == (0, VM), hostname.stderr
    again = room.labtool("up", ROOM)
    assert again.returncode == 0 and "is up to date" in again.stdout, again.stderr[-3000:]
    assert container_id() == made and vm_boot_id(room) == boot_id
    fault_row(
        "dockerd stopped (SIGTERM) and started again by `labtool daemons` while the room is up (real room)",
        "while it was down, `status` showed the VM running and the container unknown (exit 1) and `up` gave one "
        "`error: the Docker engine does not answer` with the `labtool daemons` hint; the container runs with "
        f"restart policy `unless-stopped`, so it was running again {back:.0f} s after `labtool daemons`",
        "automatic: same container, provisioning still current (`up` has nothing to do); the VM kept its boot id",
    )


def test_libvirtd_restarted_while_the_room_is_up_leaves_the_vm_running(room: FaultRoom, fault_row: FaultRow) -> None:
    boot_id, made = vm_boot_id(room), container_id()
    stop_daemon(Path("/run/libvirtd.pid"), "libvirtd")
    try:
        assert domain_running() is False  # virsh cannot ask: the daemon really is gone
        shown = room.labtool("status", ROOM, "--json")
        assert shown.returncode == 1
        seat = json.loads(shown.stdout)["seats"][0]
        assert (seat["vm"]["state"], seat["container"]["state"]) == ("unknown", "running")
        refused_with(room, "libvirtd", "up", ROOM)
        refused_with(room, "libvirtd", "down", ROOM)
    finally:
        start_daemons(room)
    seat = room.status()
    assert all(seat[kind]["state"] == "running" and seat[kind]["provisioned"] for kind in ("vm", "container")), seat
    assert vm_boot_id(room) == boot_id and container_id() == made
    again = room.labtool("up", ROOM)
    assert again.returncode == 0 and "is up to date" in again.stdout, again.stderr[-3000:]
    fault_row(
        "libvirtd stopped (SIGTERM) and started again by `labtool daemons` while the room is up (real room)",
        "while it was down, `status` showed the container running and the VM unknown (exit 1); `up` and `down` "
        "each gave one `error: libvirtd does not answer` with the `labtool daemons` hint and touched nothing",
        "`labtool daemons`: QEMU ran on, so the VM kept its boot id and `up` had nothing to do",
    )


UNREACHABLE_MIRROR = "/etc/apt/apt.conf.d/99unreachable-mirror"


def apt_play(task: str) -> str:
    """A play of the course's on the room's containers only: apt work costs the VM minutes under TCG."""
    return (
        "\n- name: Install a package from the mirror\n  hosts: containers\n  become: true\n  tasks:\n"
        f"    - name: Apt installs the package\n      ansible.builtin.apt:\n{task}"
    )


def test_a_mirror_unreachable_from_one_machine_fails_it_alone_and_the_next_up_retries_only_it(
    room: FaultRoom, fault_row: FaultRow, request: pytest.FixtureRequest
) -> None:
    # The course now fetches the container's package lists (a new provisioning key: both machines converge) ...
    playbook = room.project / "playbooks" / "site.yml"
    course = playbook.read_text()
    playbook.write_text(course + apt_play("        update_cache: true\n"))
    request.addfinalizer(lambda: playbook.write_text(course))  # the next tests' machines have no package lists
    listed = room.labtool("up", ROOM)
    assert listed.returncode == 0, listed.stderr[-3000:]
    # ... then installs a package, while the container's apt reaches its mirror through a port where nothing listens.
    playbook.write_text(course + apt_play("        name: hello\n"))
    closed = 'Acquire::http::Proxy "http://127.0.0.1:9/";\n'
    subprocess.run(["docker", "exec", DOCKER_NAME, "sh", "-c", f"printf '{closed}' > {UNREACHABLE_MIRROR}"], check=True)
    result = room.labtool("up", ROOM, "--json")
    assert result.returncode == 1, result.stderr[-3000:]
    machines = {m["machine"]: m for m in json.loads(result.stdout)["machines"]}
    assert machines[VM]["ok"] and not machines[CONTAINER]["ok"], machines
    failure = str(machines[CONTAINER]["error"])
    assert "task 'Apt installs the package'" in failure and "Could not connect to 127.0.0.1:9" in failure, failure
    assert f"{CONTAINER}: FAILED: " in result.stderr  # as it happened, not only in the summary
    seat = room.status()
    assert seat["vm"]["provisioned"] and not seat["container"]["provisioned"], seat

    subprocess.run(["docker", "exec", DOCKER_NAME, "rm", UNREACHABLE_MIRROR], check=True)  # the mirror is back
    started = time.monotonic()
    repaired = room.labtool("up", ROOM, "--json")
    seconds = time.monotonic() - started
    assert repaired.returncode == 0, repaired.stderr[-3000:]
    actions = {m["machine"]: m["actions"] for m in json.loads(repaired.stdout)["machines"]}
    assert actions == {CONTAINER: ["provision"]}, actions
    fault_row(
        "the mirror unreachable from one machine while the room provisions (the container's apt pointed at a "
        "closed local port; real room)",
        f"that machine failed with apt's own last lines (`{failure[:200]}…`); the VM converged; `status` shows "
        "only the container unprovisioned",
        f"the next `up` provisioned only the container ({seconds:.0f} s)",
    )


def box_volume_of_the_vm(domain: str = DOMAIN) -> str:
    """The pool volume under the VM's disk: the box's image, as vagrant-libvirt uploaded it."""
    disks = [line.split() for line in virsh("domblklist", domain, "--details").splitlines()]
    (disk,) = [words[3] for words in disks if len(words) == 4 and words[1] == "disk"]
    (volume,) = [Path(p).name for p in vagrant_box.backing_chain(disk) if "_vagrant_box_image_" in p]
    return volume


def test_a_box_rebuilt_under_a_running_vm_leaves_it_its_volume_until_the_vm_is_gone(
    room: FaultRoom, fault_row: FaultRow
) -> None:
    volume, boot_id = box_volume_of_the_vm(), vm_boot_id(room)
    started = time.monotonic()
    built = room.labtool("images", "build", "--force", "--json", timeout=1800)
    build_seconds = time.monotonic() - started
    assert built.returncode == 0, built.stderr[-3000:]
    box = json.loads(built.stdout)["box"]
    assert vagrant_box.current_volume(box) != volume  # the new box gets a volume of its own
    assert domain_running() and vm_boot_id(room) == boot_id
    assert volume in vagrant_box.pool_volumes(Virsh(THIS_HOST))

    for verb in ("stop", "start"):
        result = room.labtool(verb, ROOM)
        assert result.returncode == 0, (verb, result.stderr[-3000:])
    assert vm_boot_id(room) != boot_id and box_volume_of_the_vm() == volume  # booted again, from the old volume
    pruned = room.labtool("images", "prune", "--json")
    assert pruned.returncode == 0 and volume not in json.loads(pruned.stdout)["volumes"], pruned.stderr
    assert volume in vagrant_box.pool_volumes(Virsh(THIS_HOST))

    downed = room.labtool("down", ROOM, "--yes")
    assert downed.returncode == 0, downed.stderr[-3000:]
    pruned = room.labtool("images", "prune", "--json")
    assert pruned.returncode == 0 and volume in json.loads(pruned.stdout)["volumes"], pruned.stdout
    assert volume not in vagrant_box.pool_volumes(Virsh(THIS_HOST))
    fault_row(
        "the base box rebuilt (`images build --force`) while a room's VM runs from it (real room)",
        f"the rebuild ({build_seconds:.0f} s) registered the new box beside the old volume: the VM ran on, was "
        "stopped and started again from the old volume, and `images prune` kept that volume while the VM existed",
        "after `down`, `images prune` removed the old volume; new VMs start from the rebuilt box",
    )


SECOND_ROOM, SECOND_NETWORK_INDEX = "flt2", 243


def test_two_rooms_come_up_at_once_and_their_first_vms_take_turns_with_the_box(
    room: FaultRoom, fault_row: FaultRow
) -> None:
    created = room.labtool("room", "new", SECOND_ROOM, "--seats", "1")
    assert created.returncode == 0, created.stderr
    settings = room.project / "inventories" / SECOND_ROOM / "labtool.yml"
    settings.write_text(re.sub(r"index: \d+", f"index: {SECOND_NETWORK_INDEX}", settings.read_text()))
    box = pair.base(recipe.cache_key()).box
    # As the box test left it: the rebuilt box has no volume yet, so both rooms' first VMs would upload it.
    assert vagrant_box.current_volume(box) not in vagrant_box.pool_volumes(Virsh(THIS_HOST))
    assert room_resources() == {kind: [] for kind in ONE_OF_EACH}
    try:
        started = time.monotonic()
        runs = [room.start("up", name) for name in (ROOM, SECOND_ROOM)]
        codes = [run.finish(timeout=3600) for run in runs]
        seconds = time.monotonic() - started
        assert codes == [0, 0], [run.stderr[-3000:] for run in runs]
        for name in (ROOM, SECOND_ROOM):
            assert room_resources(name) == {
                kind: [entry.replace(ROOM, name) for entry in entries] for kind, entries in ONE_OF_EACH.items()
            }
        # The rebuilt box had no volume yet: exactly one was uploaded, and both VMs boot from it.
        box_volumes = {box_volume_of_the_vm(DOMAIN.replace(ROOM, name)) for name in (ROOM, SECOND_ROOM)}
        assert len(box_volumes) == 1, box_volumes
    finally:
        downed = room.labtool("down", SECOND_ROOM, "--yes")
        assert downed.returncode == 0, downed.stderr[-3000:]
    assert room_resources(SECOND_ROOM) == {kind: [] for kind in ONE_OF_EACH}
    fault_row(
        "two rooms brought up at once from scratch, their VMs the first made from a just-rebuilt box (real rooms)",
        f"both `up`s finished ({seconds:.0f} s for both): the first VM of each room takes a host-wide lock until "
        "its domain runs, so the box was uploaded once and the rooms' networks, ports and names never met",
        "nothing to repair: a room's lock is its own, the host-wide locks (ports, box upload) wait their turn",
    )

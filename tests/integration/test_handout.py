"""Students log in with the handout's password over the published ports of real machines; sheets print one per page.

The container rooms bring up only the containers (the VMs of the same seats are left
absent: a VM costs minutes here); the VM half has a test of its own, marked `vagrant`.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labtool import access, config, state
from labtool.handout import render
from labtool.host import addresses
from labtool.lab import open_lab
from labtool.model import Kind
from labtool.plan import Plan
from labtool.project import Project
from labtool.settings import Settings
from tests.integration.browser import chromium, open_file
from tests.integration.rooms import run_labtool
from tests.unit.handout.sample import sample_handout

pytestmark = [pytest.mark.docker]

CONTAINER_ROOM, CONTAINER_ROOM_INDEX = "acc1", 234
VM_ROOM, VM_ROOM_INDEX = "acc2", 235
# One path for every session: a room's state names its directory, so the next session may take down
# what an interrupted one left behind.
PROJECTS = Path(tempfile.gettempdir()) / "labtool-integration-access"
STUDENTS = "seat,name,email\nseat01,Ada Lovelace,ada@example.org\nseat02,Grace Hopper,\n"


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def print_to_pdf(html: Path) -> bytes:
    with chromium() as browser:
        page = open_file(browser, html)
        pdf: bytes = page.pdf(format="A4")
    return pdf


def test_the_recorded_handout_prints_one_page_per_seat(tmp_path: Path) -> None:
    for seats in (1, 3, 7):
        path = tmp_path / f"handout-{seats}.html"
        path.write_text(render.html(sample_handout(seats)))
        assert pdf_pages(print_to_pdf(path)) == seats


# -- a live room ---------------------------------------------------------------------------------------


@dataclass
class AccessRoom:
    name: str
    project: Path
    port_base: int

    def labtool(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return run_labtool("--project", str(self.project), *args, timeout=timeout)

    def handout(self, out: Path, *args: str) -> dict[str, dict[str, str]]:
        """Seat -> its CSV row, from a new handout."""
        before = set(out.glob("*.csv")) if out.exists() else set()
        result = self.labtool("handout", self.name, "-o", str(out), *args)
        assert result.returncode == 0, result.stdout + result.stderr
        [written] = set(out.glob("*.csv")) - before
        return {row["seat"]: row for row in csv.DictReader(written.open())}

    @property
    def state_dir(self) -> Path:
        return state.room_dir(Settings.from_env(), self.name)


def free_port_base(room: str, seats: int) -> int:
    """A base whose ports no room claims and nothing on this host listens on."""
    claimed = [r for name, r in state.claimed_ports(Settings.from_env().rooms_state_dir).items() if name != room]
    for base in range(42400, 60000, 100):
        ports = range(base, base + access.PORTS_PER_SEAT * seats)
        if all(p not in r for r in claimed for p in ports) and all(
            addresses.port_is_free("127.0.0.1", p) for p in ports
        ):
            return base
    raise AssertionError("no free ports for the test room")


def make_room(name: str, index: int, seats: int) -> AccessRoom:
    project = PROJECTS / name
    if (project / "inventories" / name).is_dir():  # left over from an interrupted session
        AccessRoom(name, project, 0).labtool("down", name)
    shutil.rmtree(project, ignore_errors=True)
    PROJECTS.mkdir(exist_ok=True)
    init = subprocess.run(
        [sys.executable, "-m", "labtool", "init", str(project)], capture_output=True, text=True, check=False
    )
    assert init.returncode == 0, init.stderr
    room = AccessRoom(name, project, free_port_base(name, seats))
    made = room.labtool("room", "new", name, "--seats", str(seats))
    assert made.returncode == 0, made.stderr
    settings = project / "inventories" / name / "labtool.yml"
    text = re.sub(r"index: \d+", f"index: {index}", settings.read_text())
    settings.write_text(f"{text}\naccess:\n  address: 127.0.0.1\n  port_base: {room.port_base}\n")
    (settings.parent / "students.csv").write_text("\n".join(STUDENTS.splitlines()[: seats + 1]) + "\n")
    return room


def up_containers(room: AccessRoom, *, force_provision: bool = False) -> None:
    settings = Settings.from_env()
    project = Project(room.project)
    lab = open_lab(settings, config.load(project.rooms_dir, room.name, project))
    plan = lab.plan(force_provision=force_provision)
    containers = Plan(tuple(s for s in plan.steps if s.machine.kind is Kind.CONTAINER), plan.provision_key)
    report = lab.up(containers, parallel=2, progress=lambda _: None)
    assert not report.failed, report.failed


@pytest.fixture(scope="module")
def container_room(built_images: str) -> Iterator[AccessRoom]:
    room = make_room(CONTAINER_ROOM, CONTAINER_ROOM_INDEX, seats=2)
    try:
        up_containers(room)
        yield room
    finally:
        result = room.labtool("down", room.name)
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def askpass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SSH_ASKPASS program answering with $STUDENT_PASSWORD: ssh reads a password from nothing else."""
    script = tmp_path_factory.mktemp("askpass") / "askpass"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$STUDENT_PASSWORD"\n')
    script.chmod(0o700)
    return script


def log_in(
    askpass: Path, port: int, login: str, password: str, command: str = "id -un"
) -> subprocess.CompletedProcess[str]:
    """ssh as the student with the password, as a student would from their own computer (here: this host)."""
    return subprocess.run(
        [
            "ssh",
            "-p",
            str(port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "LogLevel=ERROR",
            f"{login}@127.0.0.1",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={
            "PATH": "/usr/bin:/bin",
            "SSH_ASKPASS": str(askpass),
            "SSH_ASKPASS_REQUIRE": "force",
            "STUDENT_PASSWORD": password,
        },
    )


def port_of(row: dict[str, str], kind: str) -> int:
    return int(row[f"{kind}_ssh"].split()[2])


def test_students_log_in_to_their_containers_with_the_handouts_password_until_it_is_rotated(
    container_room: AccessRoom, askpass: Path, tmp_path: Path
) -> None:
    room = container_room
    out = tmp_path / "sheets"
    first = room.handout(out)
    ada, grace = first["seat01"], first["seat02"]
    assert (ada["login"], grace["login"]) == ("ada_lovelace", "grace_hopper")
    assert port_of(ada, "container") == room.port_base and port_of(grace, "container") == room.port_base + 4

    logged_in = log_in(askpass, port_of(ada, "container"), "ada_lovelace", ada["password"], "id -un; id -nG")
    assert logged_in.returncode == 0, logged_in.stderr
    assert logged_in.stdout.split("\n")[0] == "ada_lovelace" and "sudo" in logged_in.stdout.split()
    wrong = log_in(askpass, port_of(ada, "container"), "ada_lovelace", grace["password"])
    assert wrong.returncode == 255 and "Permission denied" in wrong.stderr
    # Seats are separate: Ada's login does not exist on Grace's container.
    assert log_in(askpass, port_of(grace, "container"), "ada_lovelace", ada["password"]).returncode == 255

    # Provisioning again (as a later `up` does) keeps the password.
    up_containers(room, force_provision=True)
    assert log_in(askpass, port_of(ada, "container"), "ada_lovelace", ada["password"]).returncode == 0

    rotated = room.handout(out, "--rotate", "seat01")
    assert list(rotated) == ["seat01"] and rotated["seat01"]["password"] not in ("", ada["password"])
    old = log_in(askpass, port_of(ada, "container"), "ada_lovelace", ada["password"])
    assert old.returncode == 255, "the old password stops working at once"
    new = log_in(askpass, port_of(ada, "container"), "ada_lovelace", rotated["seat01"]["password"])
    assert new.returncode == 0 and new.stdout.strip() == "ada_lovelace", new.stderr
    assert log_in(askpass, port_of(grace, "container"), "grace_hopper", grace["password"]).returncode == 0

    secrets = [ada["password"], grace["password"], rotated["seat01"]["password"]]
    assert_nothing_secret_outside_the_password_file(room, secrets)


def assert_nothing_secret_outside_the_password_file(room: AccessRoom, clear: list[str]) -> None:
    """Every file labtool keeps for the room (state, inventory, logs, ansible-runner's artifacts) and its JSON."""
    hashes = [entry.hash for entry in state.read_passwords(room.state_dir).values()]
    assert len(hashes) == 2
    outputs = [room.labtool(*verb, room.name, "--json").stdout for verb in (("status",), ("up", "--dry-run"))]
    files = [p for p in room.state_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".account.log") for p in files), "the account play's log is among them"
    for name, text in [*((str(p), p.read_text(errors="replace")) for p in files), *(("json", o) for o in outputs)]:
        assert not [c for c in clear if c in text], f"a clear password in {name}"
        if Path(name).name != state.PASSWORDS_FILE:
            assert not [h for h in hashes if h.split("$")[-1] in text], f"a password hash in {name}"


def test_published_ports_are_bound_to_the_rooms_address_only(container_room: AccessRoom) -> None:
    from labtool.backends.docker import image as docker_image

    client = docker_image.client()
    container = client.containers.get(f"labtool-{container_room.name}_seat02-ct")
    bindings: dict[str, Any] = container.attrs["HostConfig"]["PortBindings"]
    base = container_room.port_base
    assert {guest: [(b["HostIp"], b["HostPort"]) for b in hosts] for guest, hosts in bindings.items()} == {
        "22/tcp": [("127.0.0.1", str(base + 4))],
        "80/tcp": [("127.0.0.1", str(base + 5))],
    }
    claimed = state.claimed_ports(Settings.from_env().rooms_state_dir)[container_room.name]
    assert claimed == range(base, base + 8)


def test_the_live_handout_prints_one_page_per_student(container_room: AccessRoom) -> None:
    # No -o: the sheets go to LABTOOL_HOME, private, never into the course's work tree (often a git checkout).
    result = container_room.labtool("handout", container_room.name)
    assert result.returncode == 0, result.stderr
    directory = Settings.from_env().home / "handouts" / container_room.name
    try:
        [page] = directory.glob("*.html")
        assert f"wrote {page}" in result.stdout
        assert page.stat().st_mode & 0o777 == 0o600 and directory.stat().st_mode & 0o077 == 0
        assert not [path for path in container_room.project.rglob("*handout*") if path.is_file()]
        check_pages(page)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def check_pages(page: Path) -> None:
    assert pdf_pages(print_to_pdf(page)) == 2
    with chromium() as browser:
        shown = open_file(browser, page)
        assert shown.locator("section.sheet").count() == 2
        assert "ssh -p" in shown.locator("#seat-seat02 .ways").inner_text()


# -- the VM half ---------------------------------------------------------------------------------------


@pytest.mark.vagrant
@pytest.mark.slow
def test_a_student_logs_in_to_the_vm_over_its_forwarded_port(built_images: str, askpass: Path, tmp_path: Path) -> None:
    room = make_room(VM_ROOM, VM_ROOM_INDEX, seats=1)
    try:
        up = room.labtool("up", room.name)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "1 student account is locked until `labtool handout acc2`" in up.stdout
        row = room.handout(tmp_path)["seat01"]
        assert port_of(row, "vm") == room.port_base + 2
        for kind in ("vm", "container"):
            result = log_in(askpass, port_of(row, kind), "ada_lovelace", row["password"], "id -un; hostname")
            assert result.returncode == 0, (kind, result.stderr)
            assert result.stdout.split() == ["ada_lovelace", f"seat01-{'vm' if kind == 'vm' else 'ct'}"]
        [relay] = relays(port_of(row, "vm"))
        # The VM's port is a plain relay on its host to the VM's own sshd: the student's ssh checks the VM's key.
        assert relay[0].endswith("socat") and re.fullmatch(r"TCP:10\.214\.\d+\.\d+:22,.*", relay[2]), relay
        again = room.labtool("up", room.name)
        assert again.returncode == 0 and "is up to date" in again.stdout, again.stdout + again.stderr
        assert relays(port_of(row, "vm")) == [relay]  # the same relay, kept
    finally:
        down = room.labtool("down", room.name)
        assert down.returncode == 0, down.stderr
    assert relays(port_of(row, "vm")) == []  # `down` stopped it


def relays(port: int) -> list[list[str]]:
    """The command lines of the processes that publish the port on 127.0.0.1 (with their pids, to tell them apart)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().decode(errors="replace").rstrip("\0").split("\0")
        except OSError:
            continue
        if any(word.startswith(f"TCP-LISTEN:{port},bind=127.0.0.1") for word in argv):
            found.append([*argv, cmdline.parent.name])
    return found

"""`labtool check` grades a real seat: the labnotes exercise done on its container raises its points.

No VM is booted: the seat's container is brought up and provisioned through the Docker
backend, in a course written by `labtool init --example labnotes`; the seat's VM stays
absent, which `labtool check` must report as a machine it could not check, naming the seat.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labtool import checks, config
from labtool.backends.base import Backend
from labtool.backends.docker import image as docker_image
from labtool.backends.docker.backend import DockerBackend, container_name
from labtool.lab import Lab
from labtool.model import THIS_HOST, Kind
from labtool.plan import Plan
from labtool.project import Project
from labtool.scaffold import init
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend

pytestmark = pytest.mark.docker
ROOM, NETWORK_INDEX = "chk1", 238
STUDENT = "Ada Lovelace"
SITE = "/etc/nginx/sites-available/labnotes.conf"


@pytest.fixture(scope="module")
def seat_lab(built_images: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Room chk1 of a fresh labnotes course: seat01's container up and provisioned, its VM absent."""
    work = tmp_path_factory.mktemp("checks")
    project = init(work / "course", "labnotes")
    rooms = work / "rooms"
    room_dir = config.new_room(rooms, ROOM, 1, course_from=project / "inventories" / "default" / "labtool.yml")
    settings_file = room_dir / "labtool.yml"
    settings_file.write_text(re.sub(r"index: \d+", f"index: {NETWORK_INDEX}", settings_file.read_text()))
    (room_dir / "host_vars").mkdir()
    for machine in ("seat01-vm", "seat01-ct"):
        (room_dir / "host_vars" / f"{machine}.yml").write_text(f"---\nlabtool_student: {STUDENT}\n")
    room = config.load(rooms, ROOM, Project(project))
    assert room.course.checks == project / "checks"
    backends: dict[Kind, Backend] = {
        Kind.CONTAINER: DockerBackend(THIS_HOST, docker_image.ref(built_images)),
        Kind.VM: FakeBackend(Kind.VM),  # never started: the seat's VM is absent
    }
    lab = Lab(Settings.from_env(), room, backends)
    lab.down(None, progress=lambda _: None)  # a container left over from an interrupted run
    try:
        plan = lab.plan()
        up = lab.up(Plan(plan.of_kind(Kind.CONTAINER), plan.provision_key), parallel=1, progress=lambda _: None)
        assert not up.failed, up.failed
        yield lab
    finally:
        lab.down(None, progress=lambda _: None)


def grade(lab: Lab) -> checks.CheckReport:
    students = checks.students(lab.room, config.host_variables(lab.room.path))
    return checks.check(lab, None, students=students, parallel=2, progress=lambda _: None)


def as_root(lab: Lab, script: str) -> str:
    """Run a shell script on the seat's container through Docker, as a student with sudo would."""
    container = docker_image.client().containers.get(container_name(lab.room, lab.room.seats[0].container))
    code, output = container.exec_run(["sh", "-c", script])
    assert code == 0, output.decode()
    return str(output.decode())


def do_the_exercise(lab: Lab) -> None:
    note = json.dumps({"author": STUDENT, "body": "added through the API"})
    as_root(lab, f"curl -fsS -H 'Content-Type: application/json' --data-binary '{note}' http://127.0.0.1/api/notes")
    as_root(lab, rf"sed -i 's|^\(\s*server_name .*\)$|\1\n    gzip_types application/json;|' {SITE}")
    as_root(lab, "nginx -t && systemctl reload nginx")


def container_of(report: checks.CheckReport) -> checks.MachineChecks:
    (found,) = [m for m in report.machines if m.kind is Kind.CONTAINER]
    return found


def test_points_go_up_when_the_exercise_is_done(seat_lab: Lab, tmp_path: Path) -> None:
    before = grade(seat_lab)
    container = container_of(before)
    assert container.error == ""
    assert container.student == STUDENT
    outcomes = {c.name: (c.outcome, c.points) for c in container.checks}
    assert outcomes == {
        "test_app_answers": ("passed", 1.0),
        "test_gzip_json": ("failed", 3.0),
        "test_gzip_in_site": ("failed", 1.0),
        "test_note_signed": ("failed", 2.0),
    }
    assert (container.earned, container.possible) == (1.0, 7.0)
    (vm,) = [m for m in before.machines if m.kind is Kind.VM]
    assert vm.seat == "seat01" and "absent" in vm.error and vm.checks == ()

    do_the_exercise(seat_lab)
    after = container_of(grade(seat_lab))
    assert after.error == ""
    assert [c.name for c in after.checks if c.outcome != "passed"] == []
    assert (after.earned, after.possible) == (7.0, 7.0)
    assert checks.load(seat_lab.state_dir)["seat01-ct"] == after  # kept for the report


def test_the_command_prints_the_grades_and_names_the_seat_it_could_not_check(seat_lab: Lab, tmp_path: Path) -> None:
    grades = tmp_path / "grades.csv"
    env = {**os.environ, "LABTOOL_ROOMS_DIR": str(seat_lab.room.path.parent)}
    project = str(seat_lab.room.course.project.root)
    command = [sys.executable, "-m", "labtool", "--project", project, "check", ROOM, "--json", "--csv", str(grades)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 1, result.stderr  # the VM could not be checked: absent
    assert "error: the checks could not run on:\n  seat seat01: seat01-vm: absent" in result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    (container,) = [m for m in report["machines"] if m["kind"] == "container"]
    assert container["student"] == STUDENT
    assert container["possible"] == 7.0
    rows = {row["machine"]: row for row in csv.DictReader(grades.open())}
    assert rows["seat01-ct"]["student"] == STUDENT
    assert rows["seat01-ct"]["max"] == "7"
    assert rows["seat01-vm"]["error"].startswith("absent")

"""`labtool serve` on a real room, driven in headless Chromium as an instructor and students use it.

The room has two seats with students; seat01 has both machines, seat02 only its container
(a VM costs minutes here, and one is enough to show a terminal on each kind). The server runs
as its own process, as an instructor starts it, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import csv
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from labtool import config
from labtool.backends.docker import image as docker_image
from labtool.lab import open_lab
from labtool.plan import Plan
from labtool.project import Project
from labtool.serve import auth
from labtool.settings import Settings
from tests.integration.browser import chromium
from tests.integration.rooms import run_labtool

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]

ROOM, ROOM_INDEX = "web1", 237
PROJECT = Path(tempfile.gettempdir()) / "labtool-integration-serve"
STUDENTS = "seat,name\nseat01,Ada Lovelace\nseat02,Grace Hopper\n"


@dataclass
class ClassRoom:
    project: Path
    passwords: dict[str, str]
    """Login -> the handout's password."""

    def labtool(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return run_labtool("--project", str(self.project), *args, timeout=timeout)


@pytest.fixture(scope="module")
def class_room(built_images: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassRoom]:
    if (PROJECT / "inventories" / ROOM).is_dir():  # left over from an interrupted session
        ClassRoom(PROJECT, {}).labtool("down", ROOM, "--yes")
    shutil.rmtree(PROJECT, ignore_errors=True)
    init = run_labtool("init", str(PROJECT))
    assert init.returncode == 0, init.stderr
    room = ClassRoom(PROJECT, {})
    assert room.labtool("room", "new", ROOM, "--seats", "2").returncode == 0
    settings = PROJECT / "inventories" / ROOM / "labtool.yml"
    settings.write_text(re.sub(r"index: \d+", f"index: {ROOM_INDEX}", settings.read_text()))
    (settings.parent / "students.csv").write_text(STUDENTS)
    try:
        lab = open_lab(Settings.from_env(), config.load(Project(PROJECT).rooms_dir, ROOM, Project(PROJECT)))
        plan = lab.plan()
        wanted = Plan(tuple(s for s in plan.steps if s.machine.name != "seat02-vm"), plan.provision_key)
        report = lab.up(wanted, parallel=2, progress=lambda _: None)
        assert not report.failed, report.failed
        sheets = tmp_path_factory.mktemp("sheets")
        handout = room.labtool("handout", ROOM, "-o", str(sheets))
        assert handout.returncode == 0, handout.stderr
        [sheet] = sheets.glob("*.csv")
        room.passwords = {row["login"]: row["password"] for row in csv.DictReader(sheet.open())}
        yield room
    finally:
        down = room.labtool("down", ROOM, "--yes")
        assert down.returncode == 0, down.stderr


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def serve(class_room: ClassRoom) -> Iterator[Callable[..., Server]]:
    """Start `labtool serve` (a new process each call: the login limit is per server) and stop it at the end."""
    started: list[Server] = []

    def start(*args: str) -> Server:
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "labtool",
                "--project",
                str(class_room.project),
                "serve",
                ROOM,
                "--port",
                str(port),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        server = Server(f"https://127.0.0.1:{port}", process)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return server
            time.sleep(0.2)
        raise AssertionError("labtool serve did not listen within 60 s")

    yield start
    for server in started:
        server.process.send_signal(signal.SIGINT)
        _, err = server.process.communicate(timeout=60)
        assert server.process.returncode == 0, err
        assert "Traceback" not in err


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def new_page(browser: Browser) -> Page:
    # The certificate labtool made is its own: a class trusts it once; the test does not ask.
    return browser.new_context(ignore_https_errors=True, viewport={"width": 1100, "height": 700}).new_page()


def log_in_student(page: Page, server: Server, login: str, password: str) -> int:
    page.goto(f"{server.url}/login")
    page.fill("#student-login input[name=login]", login)
    page.fill("#student-login input[name=password]", password)
    with page.expect_navigation() as navigation:
        page.click("#student-login button")
    response = navigation.value
    return 0 if response is None else response.status


def screen(page: Page) -> str:
    return page.locator(".xterm-rows").inner_text()


def answered(page: Page, word: str) -> bool:
    return word in screen(page).split()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def test_a_student_types_id_in_the_browser_and_sees_their_login_on_both_machines(
    class_room: ClassRoom, serve: Callable[..., Server], browser: Browser
) -> None:
    server = serve()
    page = new_page(browser)
    assert log_in_student(page, server, "ada_lovelace", class_room.passwords["ada_lovelace"]) == 200
    assert page.url == f"{server.url}/rooms/{ROOM}/seats/seat01"
    for kind, hostname in (("container", "seat01-ct"), ("vm", "seat01-vm")):
        page.click(f"#open-{kind}")
        page.wait_for_selector(".xterm-rows")
        wait_for(lambda: "$" in screen(page), 60, f"a shell prompt on the {kind}")
        page.keyboard.type("id -un; hostname; tput cols; echo end-$((6*7))\n")
        wait_for(partial(answered, page, "end-42"), 30, f"the answer on the {kind}")
        words = screen(page).split()
        login, host, columns = words[words.index("end-42") - 3 : words.index("end-42")]
        assert (login, host) == ("ada_lovelace", hostname), words
        # A real TTY of the browser's size: the shell knows how wide the terminal is.
        assert int(columns) > 80, words
        page.go_back()


def test_a_student_reaches_neither_another_seat_nor_the_instructors_actions(
    class_room: ClassRoom, serve: Callable[..., Server], browser: Browser
) -> None:
    server = serve()
    page = new_page(browser)
    log_in_student(page, server, "grace_hopper", class_room.passwords["grace_hopper"])
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    assert csrf
    for path in (
        f"/rooms/{ROOM}/seats/seat01",
        f"/rooms/{ROOM}/seats/seat01/terminal/vm",
        f"/rooms/{ROOM}/seats/seat01/terminal/container/ws",
        f"/rooms/{ROOM}",
        f"/api/rooms/{ROOM}",
    ):
        response = page.goto(f"{server.url}{path}")
        assert response is not None and response.status == 403, path
    origin = {"Origin": server.url}
    for action in ("verify", "check", "reset", "rotate", "save", "restore"):
        posted = page.request.post(
            f"{server.url}/rooms/{ROOM}/actions/{action}",
            form={"csrf": csrf, "seat": "seat02", "name": "x", "confirm": "seat02"},
            headers=origin,
            max_redirects=0,
        )
        assert posted.status == 403, action
    # Her own container's terminal, as herself; a seat without her VM says so instead of hanging.
    page.goto(f"{server.url}/rooms/{ROOM}/seats/seat02/terminal/vm")
    wait_for(lambda: "not running" in screen(page), 30, "the VM named as not running")


def test_a_wrong_password_is_refused_and_then_rate_limited(
    class_room: ClassRoom, serve: Callable[..., Server], browser: Browser
) -> None:
    server = serve()
    page = new_page(browser)
    wrong = class_room.passwords["grace_hopper"]
    for _ in range(auth.FAILURES_ALLOWED):
        assert log_in_student(page, server, "ada_lovelace", wrong) == 401
        assert "Wrong login or password" in page.locator("#error").inner_text()
    assert log_in_student(page, server, "ada_lovelace", class_room.passwords["ada_lovelace"]) == 429
    assert "try again in" in page.locator("#error").inner_text()
    assert page.url.endswith("/login/student")


def log_in_instructor(page: Page, server: Server) -> None:
    token = (Settings.from_env().home / "serve" / auth.TOKEN_FILE).read_text().strip()
    page.goto(f"{server.url}/login")
    page.fill("#instructor-login input[name=token]", token)
    page.click("#instructor-login button")
    page.wait_for_url(f"{server.url}/rooms/{ROOM}")


def type_in_terminal(page: Page, server: Server, kind: str, command: str, until: str) -> str:
    """Open the student's terminal on the seat01 machine of that kind, type the command, wait for the word `until`
    (output, not the echo of what was typed: `echo end-$((6*7))` shows `end-42` only once it has run)."""
    page.goto(f"{server.url}/rooms/{ROOM}/seats/seat01/terminal/{kind}")
    page.wait_for_selector(".xterm-rows")
    wait_for(lambda: "$" in screen(page), 60, f"a shell prompt on the {kind}")
    page.keyboard.type(command + "\n")
    wait_for(lambda: until in screen(page).split(), 30, f"{until!r} on the {kind}")
    return screen(page)


def test_a_student_restores_their_seat_to_the_instructors_checkpoint(
    class_room: ClassRoom, serve: Callable[..., Server], browser: Browser
) -> None:
    server = serve("--student-restore")
    teacher = new_page(browser)
    log_in_instructor(teacher, server)
    teacher.goto(f"{server.url}/rooms/{ROOM}/seats/seat01")
    teacher.fill("input[name=name]", "before-ex1")
    teacher.click("text=Save checkpoint")
    wait_for(lambda: teacher.locator("#job-state").inner_text() != "running", 300, "the checkpoint saved")
    assert teacher.locator("#job-state").inner_text() == "done", teacher.locator("#job-log").inner_text()
    try:
        student = new_page(browser)
        log_in_student(student, server, "ada_lovelace", class_room.passwords["ada_lovelace"])
        for kind in ("container", "vm"):
            type_in_terminal(student, server, kind, "echo mine > ~/after-cp; echo wrote-$?", "wrote-0")
        student.goto(f"{server.url}/rooms/{ROOM}/seats/seat01")
        student.click("text=Restore my seat to before-ex1")

        tabs = [student]

        def restored() -> bool:
            try:  # loaded anew, not reloaded: a reload once met "Not attached to an active page"
                tabs[-1].goto(f"{server.url}/rooms/{ROOM}/seats/seat01")
            except PlaywrightError:  # that tab is gone: another of the same session
                tabs.append(tabs[-1].context.new_page())
                return False
            text = tabs[-1].locator("main").inner_text()
            assert "restore: failed" not in text, text
            return "restore: done" in text

        wait_for(restored, 300, "the seat restored")
        student = tabs[-1]
        for kind in ("container", "vm"):
            # What she wrote since is gone; her account and password still let her in.
            shown = type_in_terminal(
                student, server, kind, "test -e ~/after-cp; echo there-$?; id -un; echo end-$((6*7))", "end-42"
            )
            assert "there-1" in shown.split() and "ada_lovelace" in shown.split(), shown
    finally:
        deleted = class_room.labtool("snapshot", "delete", ROOM, "--seat", "seat01", "before-ex1")
        assert deleted.returncode == 0, deleted.stderr


def test_the_instructor_sees_a_seat_change_state_while_up_runs_in_another_process(
    class_room: ClassRoom, serve: Callable[..., Server], browser: Browser
) -> None:
    # The container stops as a crashed one does (a VM's halt and boot would cost a minute more here).
    docker_image.client().containers.get(f"labtool-{ROOM}_seat01-ct").stop(timeout=10)
    server = serve()
    page = new_page(browser)
    log_in_instructor(page, server)
    cell = page.locator("#seat-seat01 td.container")
    assert cell.inner_text() == "stopped"
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))
    up = subprocess.Popen(
        [sys.executable, "-m", "labtool", "--project", str(class_room.project), "up", ROOM, "--seat", "seat01"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[str] = set()
    try:

        def running() -> bool:
            seen.add(cell.inner_text())
            seen.add("busy" if page.locator("#busy").is_visible() else "")
            return cell.inner_text() == "running" and up.poll() is not None

        wait_for(running, 600, "seat01's container running again on the page")
    finally:
        _, err = up.communicate(timeout=600)
    assert up.returncode == 0, err[-3000:]
    assert loads == [], "the grid changed without a reload"
    assert "stopped" in seen and "running" in seen, seen
    assert page.locator("#seat-seat01 td.vm").inner_text() == "running"

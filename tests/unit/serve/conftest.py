"""A served room in memory: a real Classroom and Lab over fake backends, a `labtool` that says what it was asked."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from labtool import passwords, state
from labtool.lab import Lab
from labtool.model import Kind, Student
from labtool.serve import auth
from labtool.serve.app import COOKIE, make_app
from labtool.serve.classroom import Classroom
from labtool.serve.jobs import Jobs
from labtool.settings import Settings
from tests.unit.fakes import FakeBackend
from tests.unit.rooms import paired_room, with_students

ADA, GRACE = "ada-pass-word-1111", "grace-pass-word-2222"
FAKE_LABTOOL = """\
import json, sys
print(json.dumps({"argv": sys.argv[1:]}))
print("==> working", file=sys.stderr)
sys.exit(3 if "reset" in sys.argv else 0)
"""


@dataclass
class Served:
    lab: Lab
    classroom: Classroom
    jobs: Jobs
    token_file: Path
    audit_log: Path
    clock: list[float]


@pytest.fixture
def served(tmp_path: Path) -> Served:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path / "home")})
    room = with_students(
        paired_room(2, name="r1", path=tmp_path / "r1"),
        {"s1": Student("Ada Lovelace", "ada_lovelace"), "s2": Student("Grace Hopper", "grace_hopper")},
    )
    backends = {kind: FakeBackend(kind) for kind in Kind}
    lab = Lab(settings, room, backends)
    lab.state_dir.mkdir(parents=True)
    state.write_passwords(
        lab.state_dir,
        {
            "ada_lovelace": state.IssuedPassword(passwords.hash_password(ADA), "a1", state.utc_now()),
            "grace_hopper": state.IssuedPassword(passwords.hash_password(GRACE), "g1", state.utc_now()),
        },
    )
    program = tmp_path / "fake_labtool.py"
    program.write_text(FAKE_LABTOOL)
    token_file = auth.instructor_token(tmp_path / "serve")
    return Served(
        lab,
        Classroom([lab]),
        Jobs(tmp_path / "serve" / "jobs", None, (sys.executable, str(program))),
        token_file,
        tmp_path / "serve" / "audit.log",
        [1000.0],
    )


class Browser:
    """A test client that keeps the session cookie by hand (the real one is Secure: never sent over plain HTTP)."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.cookie = ""

    async def request(self, method: str, path: str, **kwargs: Any) -> ClientResponse:
        headers = dict(kwargs.pop("headers", {}))
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        response = await self.client.request(method, path, headers=headers, allow_redirects=False, **kwargs)
        if COOKIE in response.cookies:
            self.cookie = response.cookies[COOKIE].value
        return response

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> ClientResponse:
        return await self.request("POST", path, data=data or {}, **kwargs)

    async def csrf(self, page: str = "/") -> str:
        """The session's CSRF token, as the page's forms carry it."""
        response = await self.get(page)
        while response.status == 302:
            response = await self.get(response.headers["Location"])
        found = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert found, "the page carries no CSRF token"
        return found.group(1)

    async def log_in_student(self, login: str, password: str) -> ClientResponse:
        return await self.post("/login/student", {"login": login, "password": password})

    async def log_in_instructor(self, token: str) -> ClientResponse:
        return await self.post("/login/instructor", {"token": token})


Scenario = Callable[[Callable[[], Browser], Served], Awaitable[None]]


def run_served(served: Served, scenario: Scenario, *, student_restore: bool = False) -> None:
    """Run `scenario(new_browser, served)` against the app on a test server, on a fresh event loop."""
    served.classroom.student_restore = student_restore
    sessions = auth.Sessions(clock=lambda: served.clock[0])
    limits = auth.RateLimit(clock=lambda: served.clock[0])
    app = make_app(served.classroom, served.jobs, served.token_file, served.audit_log, sessions=sessions, limits=limits)

    async def main() -> None:
        async with TestClient(TestServer(app)) as client:
            await scenario(lambda: Browser(client), served)
            await served.jobs.drain()

    asyncio.run(main())


def token(served: Served) -> str:
    return served.token_file.read_text().strip()

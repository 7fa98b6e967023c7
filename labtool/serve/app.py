"""The web application of `labtool serve`: routes, who may see what, and the audit log.

Two roles. The instructor (token) sees every served room and may act on it. A student
(handout login and password) sees their own seat only: its page, its terminals, its
checkpoints; every other URL answers 403. Pages are rendered on the server; a little
JavaScript polls the JSON endpoints so the grid and a job's log update without reloading.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import WSMsgType, web

from labtool.errors import LabtoolError
from labtool.model import Kind
from labtool.serve import auth, terminal
from labtool.serve.auth import INSTRUCTOR, Session
from labtool.serve.classroom import Classroom, NotFoundError, summary
from labtool.serve.jobs import ACTIONS, Job, Jobs
from labtool.snapshots import check_name
from labtool.state import PRIVATE

COOKIE = "labtool_session"
HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
KINDS = {"vm": Kind.VM, "container": Kind.CONTAINER}


@dataclass
class Server:
    """Everything a request handler needs; one per `labtool serve`."""

    classroom: Classroom
    jobs: Jobs
    token_file: Path
    audit_log: Path
    sessions: auth.Sessions
    limits: auth.RateLimit
    pages: jinja2.Environment

    def audit(self, request: web.Request, who: str, action: str, target: str = "", outcome: str = "ok") -> None:
        """One JSON line per action: when, from where, who, what, on what, how it went. Never a secret."""
        entry = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "from": request.remote or "",
            "who": who,
            "action": action,
            "target": target,
            "outcome": outcome,
        }
        self.audit_log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.audit_log.exists():
            self.audit_log.touch(mode=PRIVATE)
        with self.audit_log.open("a") as log:
            log.write(json.dumps(entry) + "\n")


SERVER = web.AppKey("server", Server)
SESSION = web.RequestKey("session", Session)
"""The request's session; absent when nobody is logged in."""


def make_app(
    classroom: Classroom,
    jobs: Jobs,
    token_file: Path,
    audit_log: Path,
    *,
    sessions: auth.Sessions | None = None,
    limits: auth.RateLimit | None = None,
) -> web.Application:
    pages = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    server = Server(
        classroom, jobs, token_file, audit_log, sessions or auth.Sessions(), limits or auth.RateLimit(), pages
    )
    app = web.Application(middlewares=[_security_headers, _who])
    app[SERVER] = server
    app.add_routes(
        [
            web.get("/", index),
            web.get("/login", login_page),
            web.post("/login/student", login_student),
            web.post("/login/instructor", login_instructor),
            web.post("/logout", logout),
            web.get("/rooms/{room}", room_page),
            web.get("/api/rooms/{room}", room_json),
            web.get("/rooms/{room}/seats/{seat}", seat_page),
            web.get("/api/rooms/{room}/seats/{seat}", seat_json),
            web.post("/rooms/{room}/actions/{action}", act),
            web.get("/jobs/{job}", job_page),
            web.get("/api/jobs/{job}", job_json),
            web.get("/rooms/{room}/seats/{seat}/terminal/{kind}", terminal_page),
            web.get("/rooms/{room}/seats/{seat}/terminal/{kind}/ws", terminal_socket),
            web.static("/static", HERE / "static"),
        ]
    )
    return app


# -- middleware --------------------------------------------------------------------------------------


@web.middleware
async def _security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _harden(request, exc)
        raise
    except LabtoolError as exc:
        response = web.Response(status=500, text=f"error: {exc.message}\nhint: {exc.hint}\n")
    _harden(request, response)
    return response


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every answer carries: nothing framed, sniffed, referred or (but static files) cached."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes a form's Origin "null"
    response.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def _who(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Attach the session; refuse a cross-site POST or websocket outright (the CSRF token is checked too)."""
    server = request.app[SERVER]
    session = server.sessions.get(request.cookies.get(COOKIE))
    if session is not None:
        request[SESSION] = session
    origin = request.headers.get("Origin")
    unsafe = request.method == "POST" or request.headers.get("Upgrade", "").lower() == "websocket"
    if unsafe and origin is not None and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="cross-site request refused\n")
    return await handler(request)


def _session(request: web.Request) -> Session | None:
    return request.get(SESSION)


def _instructor(request: web.Request) -> Session:
    session = _session(request)
    if session is None:
        raise web.HTTPFound("/login")
    if session.role != INSTRUCTOR:
        raise web.HTTPForbidden(text="only the instructor may do this\n")
    return session


def _may_see_seat(request: web.Request, room: str, seat: str) -> Session:
    session = _session(request)
    if session is None:
        raise web.HTTPFound("/login")
    if session.role != INSTRUCTOR and (session.room, session.seat) != (room, seat):
        request.app[SERVER].audit(request, session.who, "open", f"{room}/{seat}", "refused")
        raise web.HTTPForbidden(text="this is not your seat\n")
    return session


async def _form(request: web.Request, session: Session) -> dict[str, str]:
    form = {k: str(v) for k, v in (await request.post()).items()}
    if not session.csrf_ok(form.get("csrf")):
        raise web.HTTPForbidden(text="the form has expired: reload the page and try again\n")
    return form


def _render(
    request: web.Request, template: str, status: int = 200, headers: dict[str, str] | None = None, **values: Any
) -> web.Response:
    server = request.app[SERVER]
    session = _session(request)
    html = server.pages.get_template(template).render(session=session, rooms=list(server.classroom.labs), **values)
    return web.Response(text=html, content_type="text/html", status=status, headers=headers)


async def _blocking(function: Callable[..., Any], *args: Any) -> Any:
    """Lab code reads daemons and files: off the event loop, so one slow call never stalls the class."""
    try:
        return await asyncio.to_thread(function, *args)
    except NotFoundError as exc:
        raise web.HTTPNotFound(text=f"{exc.message}\n") from exc


# -- logging in ----------------------------------------------------------------------------------------


async def index(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is None:
        raise web.HTTPFound("/login")
    if session.role == INSTRUCTOR:
        raise web.HTTPFound(f"/rooms/{next(iter(request.app[SERVER].classroom.labs))}")
    raise web.HTTPFound(f"/rooms/{session.room}/seats/{session.seat}")


async def login_page(request: web.Request) -> web.StreamResponse:
    return _render(request, "login.html", error="")


def _client(request: web.Request) -> str:
    return f"from:{request.remote or '?'}"


async def login_student(request: web.Request) -> web.StreamResponse:
    server = request.app[SERVER]
    form = await request.post()
    login, password = str(form.get("login", "")).strip(), str(form.get("password", ""))
    keys = (_client(request), f"login:{login}")
    wait = server.limits.wait_seconds(*keys)
    if wait:
        server.audit(request, f"student {login}", "login", outcome="rate-limited")
        return _render(
            request,
            "login.html",
            status=429,
            headers={"Retry-After": str(wait)},
            error=f"Too many wrong passwords: try again in {wait} s.",
        )
    found = await asyncio.to_thread(server.classroom.authenticate, login, password)
    if found is None:
        server.limits.failed(*keys)
        server.audit(request, f"student {login}", "login", outcome="wrong password")
        return _render(request, "login.html", status=401, error="Wrong login or password.")
    session = server.sessions.new(
        "student", room=found.room, seat=found.seat, login=found.login, name=found.name, password=password
    )
    server.audit(request, session.who, "login")
    raise _logged_in(f"/rooms/{found.room}/seats/{found.seat}", session)


async def login_instructor(request: web.Request) -> web.StreamResponse:
    server = request.app[SERVER]
    form = await request.post()
    keys = (_client(request), "instructor")
    wait = server.limits.wait_seconds(*keys)
    if wait:
        server.audit(request, INSTRUCTOR, "login", outcome="rate-limited")
        raise web.HTTPTooManyRequests(
            text=f"too many wrong tokens: try again in {wait} s\n", headers={"Retry-After": str(wait)}
        )
    if not auth.token_matches(server.token_file, str(form.get("token", ""))):
        server.limits.failed(*keys)
        server.audit(request, INSTRUCTOR, "login", outcome="wrong token")
        return _render(request, "login.html", status=401, error="Wrong instructor token.")
    session = server.sessions.new(INSTRUCTOR)
    server.audit(request, INSTRUCTOR, "login")
    raise _logged_in("/", session)


def _logged_in(location: str, session: Session) -> web.HTTPFound:
    response = web.HTTPFound(location)
    response.set_cookie(COOKIE, session.id, httponly=True, secure=True, samesite="Strict", path="/")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    if session is not None:
        await _form(request, session)
        request.app[SERVER].sessions.end(session.id)
        request.app[SERVER].audit(request, session.who, "logout")
    response = web.HTTPFound("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


# -- the instructor's room ---------------------------------------------------------------------------


async def room_page(request: web.Request) -> web.StreamResponse:
    _instructor(request)
    room = request.match_info["room"]
    grid = await _blocking(request.app[SERVER].classroom.grid, room)
    return _render(request, "room.html", grid=grid, summary=summary(grid), jobs=_jobs(request, room))


async def room_json(request: web.Request) -> web.StreamResponse:
    _instructor(request)
    room = request.match_info["room"]
    grid = await _blocking(request.app[SERVER].classroom.grid, room)
    return web.json_response({**grid, "summary": summary(grid), "jobs": _jobs(request, room)})


def _jobs(request: web.Request, room: str) -> list[dict[str, Any]]:
    return [j.as_json() for j in reversed(request.app[SERVER].jobs.for_room(room))][:10]


async def seat_page(request: web.Request) -> web.StreamResponse:
    room, seat = request.match_info["room"], request.match_info["seat"]
    session = _may_see_seat(request, room, seat)
    classroom = request.app[SERVER].classroom
    if session.role == INSTRUCTOR:
        detail = await _blocking(classroom.seat_page, room, seat)
        return _render(request, "seat.html", room=room, seat=seat, detail=detail, jobs=_jobs(request, room))
    checks = await _blocking(classroom.seat_checks, room, seat)
    checkpoints = await _blocking(classroom.checkpoints, room, seat)
    mine = [j.as_json() for j in request.app[SERVER].jobs.for_room(room) if j.who == session.who]
    return _render(
        request,
        "student.html",
        room=room,
        seat=seat,
        checks=checks,
        checkpoints=checkpoints,
        may_restore=classroom.student_restore,
        jobs=list(reversed(mine)),
    )


async def seat_json(request: web.Request) -> web.StreamResponse:
    room, seat = request.match_info["room"], request.match_info["seat"]
    session = _may_see_seat(request, room, seat)
    classroom = request.app[SERVER].classroom
    if session.role == INSTRUCTOR:
        return web.json_response(await _blocking(classroom.seat_page, room, seat))
    return web.json_response(
        {
            "seat": seat,
            "checks": await _blocking(classroom.seat_checks, room, seat),
            "checkpoints": await _blocking(classroom.checkpoints, room, seat),
        }
    )


# -- actions -----------------------------------------------------------------------------------------


async def act(request: web.Request) -> web.StreamResponse:
    """An instructor's button, or a student's restore of their own seat; reset asks first, as `down` does."""
    server = request.app[SERVER]
    room, name = request.match_info["room"], request.match_info["action"]
    session = _session(request)
    if session is None:
        raise web.HTTPFound("/login")
    form = await _form(request, session)
    action = ACTIONS.get(name)
    if action is None:
        raise web.HTTPNotFound(text=f"no action {name!r}\n")
    seat = form.get("seat", "")
    if session.role != INSTRUCTOR and not _student_may(server, session, name, room, seat):
        server.audit(request, session.who, name, f"{room}/{seat}", "refused")
        raise web.HTTPForbidden(text="only the instructor may do this\n")
    await _blocking(server.classroom.lab, room)
    if action.needs_seat or seat:
        await _blocking(server.classroom.seat, room, seat)
    checkpoint = form.get("name", "")
    if action.needs_name:
        try:
            check_name(checkpoint)
        except LabtoolError as exc:
            raise web.HTTPBadRequest(text=f"{exc.message}\n") from exc
    if name == "reset" and form.get("confirm") != seat:
        grid = await _blocking(server.classroom.grid, room)
        (row,) = [s for s in grid["seats"] if s["seat"] == seat]
        return _render(request, "confirm_reset.html", room=room, seat=seat, row=row)
    job = server.jobs.start(action, who=session.who, room=room, seat=seat, name=checkpoint)
    server.audit(request, session.who, name, f"{room}/{seat}" if seat else room, f"job {job.id}")
    if name == "rotate":
        asyncio.get_running_loop().create_task(_end_sessions_after(server, job))
    if session.role != INSTRUCTOR:
        raise web.HTTPFound(f"/rooms/{room}/seats/{seat}")
    raise web.HTTPFound(f"/jobs/{job.id}")


def _student_may(server: Server, session: Session, action: str, room: str, seat: str) -> bool:
    """A student may restore their own seat to a checkpoint, where the instructor allows it; nothing else."""
    return action == "restore" and (room, seat) == (session.room, session.seat) and server.classroom.student_restore


async def _end_sessions_after(server: Server, job: Job) -> None:
    """A rotated password ends the student's sessions here too: their terminal logged in with the old one."""
    await server.jobs.wait(job)
    if job.returncode == 0:
        student = server.classroom.seat(job.room, job.seat).student
        if student is not None:
            server.sessions.end_student(job.room, student.login)


def _job(request: web.Request) -> Job:
    _instructor(request)
    job = request.app[SERVER].jobs.jobs.get(request.match_info["job"])
    if job is None:
        raise web.HTTPNotFound(text="no such job (jobs are kept while the server runs)\n")
    return job


async def job_page(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    return _render(request, "job.html", job=job.as_json(), log=job.log_tail(), password=_new_password(job))


async def job_json(request: web.Request) -> web.StreamResponse:
    job = _job(request)
    return web.json_response({**job.as_json(), "log": job.log_tail(), "result": job.result})


def _new_password(job: Job) -> str | None:
    """The password a finished rotation issued, read from the sheet it wrote (shown to the instructor only)."""
    if job.action != "rotate" or job.result is None:
        return None
    for path in job.result.get("files", []):
        if str(path).endswith(".csv"):
            try:
                with open(path, newline="") as sheet:
                    for row in csv.DictReader(sheet):
                        if row.get("seat") == job.seat and row.get("password"):
                            return row["password"]
            except OSError:
                return None
    return None


# -- terminals ---------------------------------------------------------------------------------------


def _terminal_target(request: web.Request) -> tuple[Session, str, str, Kind]:
    room, seat, kind = request.match_info["room"], request.match_info["seat"], request.match_info["kind"]
    session = _may_see_seat(request, room, seat)
    if session.role == INSTRUCTOR:
        raise web.HTTPForbidden(text="terminals log in as the seat's student: use `labtool ssh` as the instructor\n")
    if kind not in KINDS:
        raise web.HTTPNotFound(text="a terminal is on the seat's vm or container\n")
    return session, room, seat, KINDS[kind]


async def terminal_page(request: web.Request) -> web.StreamResponse:
    session, room, seat, kind = _terminal_target(request)
    return _render(request, "terminal.html", room=room, seat=seat, kind=kind.value, login=session.login)


async def terminal_socket(request: web.Request) -> web.StreamResponse:
    server = request.app[SERVER]
    session, room, seat, kind = _terminal_target(request)
    socket = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
    await socket.prepare(request)
    where = f"{room}/{seat}/{kind.value}"
    try:
        connection, size = await _open_terminal(server, session, (room, seat, kind), socket)
    except terminal.TerminalError as exc:
        server.audit(request, session.who, "terminal", where, f"failed: {exc}")
        await socket.send_bytes(f"\r\n{exc}\r\n".encode())
        await socket.close()
        return socket
    server.audit(request, session.who, "terminal", where)

    async def receive() -> str | None:
        message = await socket.receive()
        return message.data if message.type == WSMsgType.TEXT else None

    await terminal.bridge(connection, size, receive, socket.send_bytes)
    await socket.close()
    return socket


async def _open_terminal(
    server: Server, session: Session, where: tuple[str, str, Kind], socket: web.WebSocketResponse
) -> tuple[Any, tuple[int, int]]:
    room, seat, kind = where
    first = await socket.receive()
    size = (
        terminal.parse_size(first.data[1:])
        if first.type == WSMsgType.TEXT and first.data.startswith("r")
        else terminal.DEFAULT_SIZE
    )
    classroom = server.classroom
    address = await asyncio.to_thread(classroom.machine_address, room, seat, kind)
    chosen = classroom.seat(room, seat)
    machine = chosen.vm if kind is Kind.VM else chosen.container
    if address is None:
        raise terminal.TerminalError(f"{machine.name} is not running: ask the instructor to bring it up")
    keys = await asyncio.to_thread(terminal.host_keys, classroom.lab(room), machine)
    target = terminal.Target(machine, address, session.login, session.password, via=classroom.lab_host_ssh(room, seat))
    return await terminal.connect(target, keys), size

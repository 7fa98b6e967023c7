"""The web application's rules, on a room in memory: who sees what, forms that cannot be forged, logins limited."""

from __future__ import annotations

import json
from collections.abc import Callable

from labtool.serve import auth
from tests.unit.serve.conftest import ADA, GRACE, Browser, Served, run_served, token


def test_nobody_sees_a_room_or_seat_without_logging_in(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        anonymous = new()
        for path in ("/", "/rooms/r1", "/api/rooms/r1", "/rooms/r1/seats/s1", "/rooms/r1/seats/s1/terminal/vm"):
            response = await anonymous.get(path)
            assert (response.status, response.headers["Location"]) == (302, "/login"), path
        assert (await anonymous.get("/login")).status == 200

    run_served(served, scenario)


def test_a_student_sees_their_own_seat_and_nothing_else(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        ada = new()
        logged_in = await ada.log_in_student("ada_lovelace", ADA)
        assert (logged_in.status, logged_in.headers["Location"]) == (302, "/rooms/r1/seats/s1")
        cookie = logged_in.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
        own = await ada.get("/rooms/r1/seats/s1")
        assert own.status == 200 and "Your seat s1" in await own.text()
        assert (await ada.get("/rooms/r1/seats/s1/terminal/container")).status == 200
        csrf = await ada.csrf("/rooms/r1/seats/s1")
        forbidden = [
            ("GET", "/rooms/r1/seats/s2"),
            ("GET", "/api/rooms/r1/seats/s2"),
            ("GET", "/rooms/r1/seats/s2/terminal/vm"),
            ("GET", "/rooms/r1/seats/s2/terminal/container/ws"),
            ("GET", "/rooms/r1"),
            ("GET", "/api/rooms/r1"),
        ]
        for method, path in forbidden:
            assert (await ada.request(method, path)).status == 403, path
        for action in ("verify", "check", "reset", "rotate", "save"):
            response = await ada.post(f"/rooms/r1/actions/{action}", {"csrf": csrf, "seat": "s1", "name": "x"})
            assert response.status == 403, action
        # Restoring is the instructor's to allow: not here.
        response = await ada.post("/rooms/r1/actions/restore", {"csrf": csrf, "seat": "s1", "name": "cp1"})
        assert response.status == 403
        assert served.jobs.jobs == {}
        refused = [json.loads(line) for line in served.audit_log.read_text().splitlines()]
        assert {e["outcome"] for e in refused if e["who"].startswith("student ada_lovelace")} >= {"ok", "refused"}

    run_served(served, scenario)


def test_a_student_restores_only_their_own_seat_where_allowed(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        grace = new()
        await grace.log_in_student("grace_hopper", GRACE)
        csrf = await grace.csrf("/rooms/r1/seats/s2")
        other = await grace.post("/rooms/r1/actions/restore", {"csrf": csrf, "seat": "s1", "name": "cp1"})
        assert other.status == 403
        own = await grace.post("/rooms/r1/actions/restore", {"csrf": csrf, "seat": "s2", "name": "cp1"})
        assert (own.status, own.headers["Location"]) == (302, "/rooms/r1/seats/s2")
        (job,) = served.jobs.jobs.values()
        await served.jobs.wait(job)
        assert job.argv == ("snapshot", "restore", "r1", "--seat", "s2", "cp1", "--json")
        assert job.who == "student grace_hopper (r1/s2)"
        # A student sees how their own request went, never the job's log.
        assert (await grace.get(f"/jobs/{job.id}")).status == 403

    run_served(served, scenario, student_restore=True)


def test_a_wrong_password_is_refused_and_repeated_tries_wait(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        mallory = new()
        for _ in range(auth.FAILURES_ALLOWED):
            response = await mallory.log_in_student("ada_lovelace", GRACE)
            assert response.status == 401 and "Wrong login or password" in await response.text()
        limited = await mallory.log_in_student("ada_lovelace", ADA)
        assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
        assert not mallory.cookie, "no session while limited, even with the right password"
        served.clock[0] += auth.FAILURE_WINDOW_SECONDS + 1
        assert (await mallory.log_in_student("ada_lovelace", ADA)).status == 302
        # Another student's password, a login that does not exist, an empty password: all the same answer.
        for login, password in (("grace_hopper", ADA), ("nobody", ADA), ("ada_lovelace", "")):
            assert (await new().log_in_student(login, password)).status == 401
        audit = served.audit_log.read_text()
        assert ADA not in audit and GRACE not in audit and "rate-limited" in audit

    run_served(served, scenario)


def test_a_rotated_password_works_at_once_and_the_old_one_stops(served: Served) -> None:
    from labtool import passwords, state

    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        issued = state.read_passwords(served.lab.state_dir)
        issued["ada_lovelace"] = state.IssuedPassword(passwords.hash_password("new-one"), "a2", state.utc_now())
        state.write_passwords(served.lab.state_dir, issued)
        assert (await new().log_in_student("ada_lovelace", ADA)).status == 401
        assert (await new().log_in_student("ada_lovelace", "new-one")).status == 302

    run_served(served, scenario)


def test_forms_without_the_sessions_token_or_from_another_site_are_refused(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        teacher = new()
        await teacher.log_in_instructor(token(served))
        csrf = await teacher.csrf("/rooms/r1")
        assert (await teacher.post("/rooms/r1/actions/verify", {})).status == 403
        assert (await teacher.post("/rooms/r1/actions/verify", {"csrf": csrf + "x"})).status == 403
        cross = await teacher.post(
            "/rooms/r1/actions/verify", {"csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert cross.status == 403
        assert served.jobs.jobs == {}
        assert (await teacher.post("/rooms/r1/actions/verify", {"csrf": csrf})).status == 302

    run_served(served, scenario)


def test_the_instructor_sees_the_room_and_runs_labtools_verbs(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        teacher = new()
        assert (await teacher.log_in_instructor("not-it")).status == 401
        assert (await teacher.log_in_instructor(token(served))).headers["Location"] == "/"
        page = await teacher.get("/rooms/r1")
        text = await page.text()
        assert page.status == 200 and "Ada Lovelace" in text and "Grace Hopper" in text
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["Cache-Control"] == "no-store"
        grid = await (await teacher.get("/api/rooms/r1")).json()
        assert [s["seat"] for s in grid["seats"]] == ["s1", "s2"]
        assert grid["seats"][0]["vm"]["state"] == "absent" and grid["busy"] is None
        csrf = await teacher.csrf("/rooms/r1")
        started = await teacher.post("/rooms/r1/actions/check", {"csrf": csrf, "seat": "s2"})
        assert started.status == 302 and started.headers["Location"].startswith("/jobs/")
        (job,) = served.jobs.jobs.values()
        await served.jobs.wait(job)
        assert job.argv == ("check", "r1", "--seat", "s2", "--json")
        assert job.state == "done" and job.result == {"argv": ["check", "r1", "--seat", "s2", "--json"]}
        shown = await (await teacher.get(f"/api/jobs/{job.id}")).json()
        assert shown["state"] == "done" and "==> working" in shown["log"]
        # Terminals log in as the seat's student: the instructor has their own way (`labtool ssh`).
        assert (await teacher.get("/rooms/r1/seats/s1/terminal/vm")).status == 403
        assert (await teacher.get("/rooms/r9")).status == 404

    run_served(served, scenario)


def test_a_reset_asks_first_naming_what_goes(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        teacher = new()
        await teacher.log_in_instructor(token(served))
        csrf = await teacher.csrf("/rooms/r1")
        asked = await teacher.post("/rooms/r1/actions/reset", {"csrf": csrf, "seat": "s1"})
        text = await asked.text()
        assert asked.status == 200 and "s1-vm" in text and "s1-ct" in text and "Ada Lovelace" in text
        assert served.jobs.jobs == {}
        wrong = await teacher.post("/rooms/r1/actions/reset", {"csrf": csrf, "seat": "s1", "confirm": "s2"})
        assert wrong.status == 200 and served.jobs.jobs == {}
        done = await teacher.post("/rooms/r1/actions/reset", {"csrf": csrf, "seat": "s1", "confirm": "s1"})
        assert done.status == 302
        (job,) = served.jobs.jobs.values()
        await served.jobs.wait(job)
        assert job.argv == ("reset", "r1", "--seat", "s1", "--json") and job.state == "failed"
        assert (await teacher.post("/rooms/r1/actions/reset", {"csrf": csrf, "seat": "s9"})).status == 404
        bad = await teacher.post("/rooms/r1/actions/save", {"csrf": csrf, "seat": "s1", "name": "../x"})
        assert bad.status == 400

    run_served(served, scenario)


def test_sessions_end_when_idle_and_on_logging_out(served: Served) -> None:
    async def scenario(new: Callable[[], Browser], served: Served) -> None:
        ada = new()
        await ada.log_in_student("ada_lovelace", ADA)
        assert (await ada.get("/rooms/r1/seats/s1")).status == 200
        served.clock[0] += auth.SESSION_IDLE_SECONDS + 1
        assert (await ada.get("/rooms/r1/seats/s1")).status == 302
        await ada.log_in_student("ada_lovelace", ADA)
        csrf = await ada.csrf("/rooms/r1/seats/s1")
        assert (await ada.post("/logout", {"csrf": csrf})).headers["Location"] == "/login"
        ada_after = Browser(ada.client)
        ada_after.cookie = ada.cookie or "gone"
        assert (await ada_after.get("/rooms/r1/seats/s1")).status == 302

    run_served(served, scenario)

"""The server's parts on their own: certificates, jobs, the terminal's messages, the grid, the CLI's refusals."""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path

import pytest

from labtool import state
from labtool.cli import main
from labtool.errors import LabtoolError
from labtool.model import Kind
from labtool.serve import auth, terminal, tls
from labtool.serve.jobs import ACTIONS, Jobs
from tests.unit.serve.conftest import ADA, Served


def test_a_made_certificate_is_for_the_address_private_and_kept(tmp_path: Path) -> None:
    from cryptography import x509

    cert, key = tls.made_certificate(tmp_path / "serve", "127.0.0.1")
    assert cert.stat().st_mode & 0o777 == 0o600 and key.stat().st_mode & 0o777 == 0o600
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert tls.made_certificate(tmp_path / "serve", "127.0.0.1") == (cert, key)
    assert cert.read_bytes() == tls.made_certificate(tmp_path / "serve", "127.0.0.1")[0].read_bytes()
    context = tls.context(cert, key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_certificate_that_does_not_load_names_both_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("not a certificate")
    key.write_text("nor a key")
    with pytest.raises(LabtoolError) as raised:
        tls.context(cert, key)
    assert str(cert) in raised.value.message and str(key) in raised.value.message and "--cert" in raised.value.hint


def test_the_instructor_token_is_private_stable_and_renewable(tmp_path: Path) -> None:
    path = auth.instructor_token(tmp_path / "serve")
    first = path.read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600 and len(first) >= 40
    assert auth.instructor_token(tmp_path / "serve").read_text().strip() == first
    assert auth.token_matches(path, first) and not auth.token_matches(path, "") and not auth.token_matches(path, "x")
    renewed = auth.instructor_token(tmp_path / "serve", renew=True).read_text().strip()
    assert renewed != first and not auth.token_matches(path, first)


def test_a_session_ends_at_its_longest_however_busy() -> None:
    now = [0.0]
    sessions = auth.Sessions(clock=lambda: now[0])
    session = sessions.new("student", room="r", login="a")
    while now[0] < auth.SESSION_MAX_SECONDS:
        assert sessions.get(session.id) is session
        now[0] += auth.SESSION_IDLE_SECONDS / 2
    assert sessions.get(session.id) is None
    other = sessions.new("student", room="r", login="a")
    sessions.new(auth.INSTRUCTOR)
    assert sessions.end_student("r", "a") == 1 and sessions.get(other.id) is None


def test_the_login_limit_counts_per_key_and_forgets_after_its_window() -> None:
    now = [0.0]
    limits = auth.RateLimit(clock=lambda: now[0])
    for _ in range(auth.FAILURES_ALLOWED - 1):
        limits.failed("from:1", "login:a")
    assert limits.wait_seconds("from:1") == 0
    limits.failed("from:1", "login:a")
    assert 0 < limits.wait_seconds("from:2", "login:a") <= auth.FAILURE_WINDOW_SECONDS + 1
    assert limits.wait_seconds("from:2", "login:b") == 0
    now[0] += auth.FAILURE_WINDOW_SECONDS
    assert limits.wait_seconds("from:1", "login:a") == 0


def test_each_button_runs_the_verb_an_instructor_would_type(tmp_path: Path) -> None:
    jobs = Jobs(tmp_path, Path("/course"))
    argv = {name: jobs.argv(action, "r1", "s1", "cp1") for name, action in ACTIONS.items()}
    assert argv == {
        "verify": ("verify", "r1", "--seat", "s1", "--json"),
        "check": ("check", "r1", "--seat", "s1", "--json"),
        "reset": ("reset", "r1", "--seat", "s1", "--json"),
        "rotate": ("handout", "r1", "--seat", "s1", "--rotate", "s1", "--json"),
        "save": ("snapshot", "save", "r1", "--seat", "s1", "cp1", "--json"),
        "restore": ("snapshot", "restore", "r1", "--seat", "s1", "cp1", "--json"),
    }
    assert jobs.argv(ACTIONS["verify"], "r1", "", "") == ("verify", "r1", "--json")


def test_a_job_runs_in_the_project_keeps_its_log_private_and_its_result(tmp_path: Path) -> None:
    program = tmp_path / "fake.py"
    program.write_text("import json, sys\nprint('==> step', file=sys.stderr)\nprint(json.dumps(sys.argv[1:]))\n")
    jobs = Jobs(tmp_path / "jobs", Path("/course"), (sys.executable, str(program)))

    async def run() -> None:
        job = jobs.start(ACTIONS["check"], who="instructor", room="r1")
        assert job.state == "running" and jobs.running() == [job]
        await jobs.wait(job)
        assert job.state == "done" and job.log.stat().st_mode & 0o777 == 0o600
        assert "==> step" in job.log_tail()
        assert job.as_json()["command"] == "labtool check r1 --json"

    asyncio.run(run())
    (job,) = jobs.jobs.values()
    assert job.result is None  # a list is no --json result of a verb
    missing = Jobs(tmp_path / "jobs", None, (str(tmp_path / "no-such-labtool"),))

    async def run_missing() -> None:
        broken = missing.start(ACTIONS["verify"], who="instructor", room="r1")
        await missing.wait(broken)
        assert broken.state == "failed" and "cannot run labtool" in broken.log_tail()

    asyncio.run(run_missing())


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ('{"cols": 120, "rows": 40}', (120, 40)),
        ('{"cols": 0, "rows": -5}', (1, 1)),
        ('{"cols": 99999, "rows": 99999}', (terminal.MAX_SIZE, terminal.MAX_SIZE)),
        ("not json", terminal.DEFAULT_SIZE),
        ('{"cols": "wide"}', terminal.DEFAULT_SIZE),
        ("[]", terminal.DEFAULT_SIZE),
    ],
)
def test_a_terminal_size_from_the_browser_is_bounded(text: str, size: tuple[int, int]) -> None:
    assert terminal.parse_size(text) == size


def test_the_bridge_carries_keys_in_sizes_across_and_output_out() -> None:
    class Stdout:
        def __init__(self) -> None:
            self.chunks = [b"hello ", b"world", b""]

        async def read(self, _: int) -> bytes:
            await asyncio.sleep(0.01)
            return self.chunks.pop(0)

    class Stdin:
        def __init__(self) -> None:
            self.written: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.written.append(data)

    class Process:
        def __init__(self) -> None:
            self.stdout, self.stdin, self.closed = Stdout(), Stdin(), False
            self.sizes: list[tuple[int, int]] = []

        def change_terminal_size(self, cols: int, rows: int) -> None:
            self.sizes.append((cols, rows))

        def close(self) -> None:
            self.closed = True

    class Connection:
        def __init__(self) -> None:
            self.process, self.closed = Process(), False
            self.asked: dict[str, object] = {}

        async def create_process(self, **kwargs: object) -> Process:
            self.asked = kwargs
            return self.process

        def close(self) -> None:
            self.closed = True

    connection = Connection()
    incoming = ["ils\r", 'r{"cols": 100, "rows": 30}', "x-unknown"]
    sent: list[bytes] = []

    async def receive() -> str | None:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(1)  # the browser says nothing more; the output ends first
        return None

    async def send(data: bytes) -> None:
        sent.append(data)

    asyncio.run(terminal.bridge(connection, (90, 20), receive, send))  # type: ignore[arg-type]
    assert connection.asked == {"term_type": terminal.TERM, "term_size": (90, 20), "encoding": None}
    assert b"".join(sent) == b"hello world"
    assert connection.process.stdin.written == [b"ls\r"] and connection.process.sizes == [(100, 30)]
    assert connection.process.closed and connection.closed


def test_the_grid_names_the_step_under_way_only_while_labtool_works(served: Served) -> None:
    lab = served.lab
    backend = lab.backends[Kind.CONTAINER]
    backend.running.add("s1-ct")  # type: ignore[attr-defined]
    records = state.read(lab.state_dir)
    records.record("s1-vm").working = "create"
    state.write(lab.state_dir, records)
    grid = served.classroom.grid("r1")
    seat = grid["seats"][0]
    assert (seat["seat"], seat["student"], seat["login"]) == ("s1", "Ada Lovelace", "ada_lovelace")
    assert seat["container"]["state"] == "running" and seat["vm"]["working"] == "" and grid["busy"] is None
    with state.locked(lab.state_dir, "room 'r1'"):
        busy = served.classroom.grid("r1")
    assert busy["seats"][0]["vm"]["working"] == "create" and "pid" in busy["busy"]


def test_a_student_is_found_by_login_and_password_only(served: Served) -> None:
    found = served.classroom.authenticate("ada_lovelace", ADA)
    assert found is not None and (found.room, found.seat, found.name) == ("r1", "s1", "Ada Lovelace")
    assert served.classroom.authenticate("grace_hopper", ADA) is None
    assert served.classroom.authenticate("ada_lovelace", ADA + " ") is None


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("serve", "--address", "0.0.0.0"), "every interface"),
        (("serve", "--address", "192.0.2.77"), "not an address of this host"),
        (("serve", "--address", "localhost"), "not an IP address"),
        (("serve", "--port", "70000"), "not a port"),
        (("serve", "--cert", "/x.pem"), "--cert and --key go together"),
    ],
)
def test_serve_refuses_what_it_cannot_serve_safely(
    argv: tuple[str, ...], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(list(argv)) == 1
    err = capsys.readouterr().err
    assert said in err and "hint:" in err and "Traceback" not in err

import time
from pathlib import Path

import pytest

from labtool import proc
from labtool.errors import CommandError, CommandTimeoutError, DaemonError, DaemonUnreachableError


def test_output_is_captured() -> None:
    result = proc.run(["sh", "-c", "echo out; echo err >&2"], timeout=10)
    assert (result.stdout, result.stderr, result.returncode, result.ok) == ("out\n", "err\n", 0, True)


def test_failure_names_the_command_and_quotes_its_output() -> None:
    with pytest.raises(CommandError) as caught:
        proc.run(["sh", "-c", "echo first; echo 'the reason' >&2; exit 3"], hint="do this", timeout=10)
    assert caught.value.message.startswith("`sh -c 'echo first; echo '")
    assert "exited with 3" in caught.value.message
    assert "the reason" in caught.value.message
    assert caught.value.hint == "do this"


def test_unchecked_failure_returns_the_result() -> None:
    assert proc.run(["false"], check=False, timeout=10).returncode == 1


def test_missing_program_is_a_readable_error() -> None:
    with pytest.raises(CommandError, match="`no-such-program-x` is not installed"):
        proc.run(["no-such-program-x"], timeout=10)


def test_timeout_is_a_readable_error() -> None:
    with pytest.raises(CommandError, match="did not finish within 1 s"):
        proc.run(["sleep", "5"], timeout=1)


def test_logged_output_goes_to_the_file_and_into_the_error(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "step.log"
    proc.run(["echo", "hello"], log=log, timeout=10)
    with pytest.raises(CommandError) as caught:
        proc.run(["sh", "-c", "echo broken; exit 1"], log=log, timeout=10)
    text = log.read_text()
    assert "$ echo hello\nhello\n" in text
    assert "broken" in caught.value.message
    assert str(log) in caught.value.message


def test_spawned_daemon_runs_detached(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    pid = proc.spawn(["sh", "-c", "echo started in session $(ps -o sid= -p $$)"], log=log)
    deadline = time.monotonic() + 5
    while "started" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    # Its own session: stopping labtool (or its terminal) does not stop the daemon.
    assert log.read_text().split()[-1] == str(pid)


def test_sbin_programs_are_found_and_children_get_sbin_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert proc.which("losetup") in ("/usr/sbin/losetup", "/sbin/losetup")
    child_path = proc.run(["sh", "-c", 'echo "$PATH"'], timeout=10).stdout.strip().split(":")
    assert child_path[:2] == ["/usr/bin", "/bin"]
    assert "/usr/sbin" in child_path


def test_a_command_whose_daemon_does_not_answer_is_a_daemon_error_naming_labtool_daemons(tmp_path: Path) -> None:
    fake = tmp_path / "virsh"
    fake.write_text(
        "#!/bin/sh\necho 'error: failed to connect to the hypervisor' >&2\n"
        "echo \"error: Failed to connect socket to '/run/nowhere': No such file or directory\" >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    with pytest.raises(DaemonUnreachableError) as caught:
        proc.run([str(fake), "-c", "qemu:///system", "list"], timeout=10)
    assert caught.value.message == (
        "libvirtd does not answer at qemu:///system (Failed to connect socket to '/run/nowhere': No such file or "
        "directory)"
    )
    assert isinstance(caught.value, DaemonError) and isinstance(caught.value, CommandError)
    assert not proc.run([str(fake), "version"], timeout=10, check=False).ok  # check=False: the caller reads the result


def _gone(pid: int) -> bool:
    """No such process, or a zombie: killed, waiting for whoever adopted it to reap it."""
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("logged", [False, True])
def test_a_timeout_kills_the_command_and_what_it_started_and_names_both(tmp_path: Path, logged: bool) -> None:
    grandchild = tmp_path / "grandchild.pid"
    script = f"sleep 300 & echo $! > {grandchild}; wait"
    started = time.monotonic()
    with pytest.raises(CommandTimeoutError) as caught:
        proc.run(["sh", "-c", script], timeout=1, log=tmp_path / "run.log" if logged else None)
    assert time.monotonic() - started < 60  # not the 300 s of the command: a bound a busy host keeps
    assert caught.value.timeout == 1
    assert caught.value.message == f"`sh -c '{script}'` did not finish within 1 s and was stopped"
    pid = int(grandchild.read_text())
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the command's own child outlived the timeout"

import shlex
import sys

import pytest
from testinfra.backend.base import BaseBackend  # type: ignore[import-untyped]

from labtool import root_shell_plugin
from labtool.root_shell_plugin import RootHelper, unwrapped

LOCAL_HELPER = f"{shlex.quote(sys.executable)} -c {shlex.quote(root_shell_plugin.HELPER)}"
"""The helper as the guest runs it, here without ssh and sudo."""


def test_unwrapped_undoes_testinfras_sudo_wrapping_exactly() -> None:
    for command in ("id -u", "echo 'it''s' \"$HOME\" | tr a b", "printf '%s\\n' a"):
        wrapped = BaseBackend.get_sudo_command(BaseBackend, command, None)
        assert unwrapped(wrapped) == command


def test_other_commands_are_left_to_testinfra() -> None:
    assert unwrapped("id -u") is None
    assert unwrapped("sudo -u postgres /bin/sh -c 'psql -l'") is None  # another user: sudo's own rules apply
    assert unwrapped("sudo /bin/sh -c 'id' extra") is None
    assert unwrapped("sudo /bin/sh -c 'unterminated") is None


def test_the_helper_returns_exit_status_and_both_streams_as_bytes() -> None:
    helper = RootHelper(LOCAL_HELPER)
    try:
        assert helper.alive
        assert helper.run("printf 'a\\0b'; echo oops >&2; exit 3") == (3, b"a\0b", b"oops\n")
        assert helper.run("cat") == (0, b"", b"")  # no stdin: a command reading it does not hang
        rc, out, _ = helper.run("echo $SUDO_COMMAND") or (None, b"", b"")
        assert (rc, out) == (0, b"/bin/sh -c echo $SUDO_COMMAND\n")  # as sudo would set it
    finally:
        helper.close()
    assert helper.run("true") is None


def test_a_helper_that_cannot_start_is_not_used() -> None:
    helper = RootHelper("exit 1")  # sudo asked for a password, say, or the guest has no python3
    assert not helper.alive
    assert helper.run("true") is None


def test_a_helper_that_stops_midway_gives_the_command_back() -> None:
    helper = RootHelper(LOCAL_HELPER)
    assert helper.run("kill $PPID") is None  # the helper died before answering: testinfra runs it instead
    assert not helper.alive


def test_a_command_whose_ssh_connection_failed_runs_again() -> None:
    outcomes: list[object] = [RuntimeError("ssh: Connection closed by 10.219.0.2 port 22"), "ran"]

    def run() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert root_shell_plugin.again_on_ssh_failure(run, pause=0) == "ran"
    assert outcomes == []


def test_an_ssh_connection_that_keeps_failing_is_raised_after_the_last_attempt() -> None:
    calls: list[int] = []

    def run() -> object:
        calls.append(1)
        raise RuntimeError("ssh: connect to host 10.214.9.3 port 22: No route to host")

    with pytest.raises(RuntimeError, match="No route to host"):
        root_shell_plugin.again_on_ssh_failure(run, pause=0)
    assert len(calls) == root_shell_plugin.SSH_ATTEMPTS

"""A pytest plugin for verify and check runs (`-p labtool.root_shell_plugin`): one root helper per VM.

testinfra runs each command of a test over SSH and, under `host.sudo()` (most suites:
they read /etc, the journal, sshd's settings), wraps it as `sudo /bin/sh -c '...'`. On an
emulated VM that sudo costs about 0.2 s, more than the command itself (measured on a TCG
guest: 0.32 s a command over a shared SSH connection; 0.07-0.11 s when a root process in
the guest runs it). So the plugin keeps, per SSH host, one `sudo python3` helper in the
guest, and runs each such command there with `/bin/sh -c` as that sudo would: as root, in
sudo's environment (the helper's own, since one sudo started it) and working directory,
with SUDO_COMMAND as sudo sets it and no stdin. Everything else (another sudo user, no
sudo, containers and local hosts) goes through testinfra unchanged, and so does every
command once a host's helper cannot start or has stopped.

It also runs again, up to SSH_ATTEMPTS times, a command whose SSH connection failed (ssh's
own exit status 255, which testinfra raises as a RuntimeError): under load a guest's sshd,
or a lab host it is reached through, sometimes drops a new connection, and a check must not
cost a student points, nor verify report a drift, for a connection that never ran it.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import time
from collections.abc import Callable
from typing import Any

SUDO_PREFIX = "sudo /bin/sh -c "
"""What testinfra's `get_sudo_command` puts before the quoted command under `host.sudo()` (no user)."""

SSH_ATTEMPTS = 3
SSH_RETRY_PAUSE = 1.0
"""Seconds before the second attempt; twice that before the third."""

HELPER = """
import base64, json, os, subprocess, sys
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    command = json.loads(line)["command"]
    env = dict(os.environ, SUDO_COMMAND="/bin/sh -c " + command)
    done = subprocess.run(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, capture_output=True, env=env)
    out = {"rc": done.returncode, "stdout": base64.b64encode(done.stdout).decode(),
           "stderr": base64.b64encode(done.stderr).decode()}
    print(json.dumps(out), flush=True)
"""
"""Runs in the guest under sudo: one JSON request a line in, one answer a line out (Ansible needs python3 there)."""


def unwrapped(command: str) -> str | None:
    """The command inside testinfra's `sudo /bin/sh -c <quoted>`, or None when it is not exactly that."""
    if not command.startswith(SUDO_PREFIX):
        return None
    quoted = command[len(SUDO_PREFIX) :]
    try:
        words = shlex.split(quoted)
    except ValueError:
        return None
    if len(words) != 1 or shlex.quote(words[0]) != quoted:
        return None
    return words[0]


class RootHelper:
    """One `sudo python3` in a guest, reached over the host's own SSH command line."""

    def __init__(self, shell_command: str) -> None:
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            shell_command,
            shell=True,  # testinfra's own SSH command line is a shell line (it runs it the same way)
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        if self._answer() != {"ready": True}:
            self.close()

    @property
    def alive(self) -> bool:
        return self._process is not None

    def run(self, command: str) -> tuple[int, bytes, bytes] | None:
        """(exit status, stdout, stderr) of the command, or None when the helper is gone."""
        if self._process is None or self._process.stdin is None:
            return None
        try:
            self._process.stdin.write(json.dumps({"command": command}).encode() + b"\n")
            self._process.stdin.flush()
        except OSError:
            self.close()
            return None
        answer = self._answer()
        if not answer or "rc" not in answer:
            self.close()
            return None
        return int(answer["rc"]), base64.b64decode(answer["stdout"]), base64.b64decode(answer["stderr"])

    def _answer(self) -> dict[str, Any] | None:
        if self._process is None or self._process.stdout is None:
            return None
        line = self._process.stdout.readline()
        try:
            answer = json.loads(line)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_helpers: dict[int, RootHelper] = {}
"""By id of the testinfra backend (one per host and session)."""
_through_ssh: list[tuple[Any, Any]] = []
"""testinfra's SshBackend and its own `run_ssh`, put back when the session ends."""


def _helper(backend: Any) -> RootHelper:
    helper = _helpers.get(id(backend))
    if helper is None:
        cmd, cmd_args = backend._build_ssh_command(f"sudo -n python3 -c {shlex.quote(HELPER)}")
        helper = _helpers[id(backend)] = RootHelper(backend.quote(" ".join(cmd), *cmd_args))
    return helper


def again_on_ssh_failure(run: Callable[[], Any], pause: float = SSH_RETRY_PAUSE) -> Any:
    """run()'s result, run again when its SSH connection failed (testinfra's RuntimeError for ssh's 255)."""
    for attempt in range(1, SSH_ATTEMPTS):
        try:
            return run()
        except RuntimeError:
            time.sleep(pause * attempt)
    return run()


def pytest_configure(config: Any) -> None:
    from testinfra.backend.ssh import SshBackend  # type: ignore[import-untyped]

    through_ssh = SshBackend.run_ssh

    def run_ssh(self: Any, command: str) -> Any:
        inner = unwrapped(command)
        if inner is not None:
            helper = _helper(self)
            done = helper.run(inner) if helper.alive else None
            if done is not None:
                rc, stdout, stderr = done
                return self.result(rc, self.encode(command), stdout, stderr)
        return again_on_ssh_failure(lambda: through_ssh(self, command))

    _through_ssh.append((SshBackend, through_ssh))
    SshBackend.run_ssh = run_ssh


def pytest_unconfigure(config: Any) -> None:
    for helper in _helpers.values():
        helper.close()
    _helpers.clear()
    if _through_ssh:
        backend_class, through_ssh = _through_ssh.pop()
        backend_class.run_ssh = through_ssh

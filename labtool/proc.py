"""The one subprocess wrapper: every external command labtool runs goes through `run`.

It never hangs (every call has a timeout), never raises a bare OSError or
CalledProcessError, and keeps the tail of the output in the error so the user
sees why a command failed without re-running it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labtool.errors import CommandError, CommandTimeoutError, DaemonUnreachableError
from labtool.host import children, processes

TAIL_LINES = 15


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def command_line(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    check: bool = True,
    input: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Path | None = None,
    hint: str = "",
    daemon: bool = False,
) -> Result:
    """Run argv; capture its output, or append it to `log` for long, chatty commands.

    Every caller states the timeout for its kind of command (no default: a forgotten one
    would be a hang). When it passes, the command and everything it started are killed
    and CommandTimeoutError names the command and the timeout. With check=True a non-zero
    exit raises CommandError carrying the output's tail (DaemonUnreachableError when the
    command says its daemon does not answer). daemon=True: the command leaves a daemon
    behind (`libvirtd -d`), which must not carry labtool's owner mark, or a later labtool
    would take it for a leftover to stop.
    """
    argv = tuple(str(a) for a in argv)
    resolved = _resolved(argv)  # messages and logs show argv as given; the resolved path is run
    full_env = _environment(env, daemon=daemon)
    started = time.monotonic()
    try:
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("ab") as sink:
                sink.write(f"$ {command_line(argv)}\n".encode())
                sink.flush()
                returncode, _, _ = _run_killing_on_timeout(
                    resolved, input=input, stdout=sink, stderr=subprocess.STDOUT, env=full_env, cwd=cwd, timeout=timeout
                )
            stdout, stderr = "", ""
        else:
            returncode, out, err = _run_killing_on_timeout(
                resolved,
                input=input,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=full_env,
                cwd=cwd,
                timeout=timeout,
            )
            stdout = out.decode(errors="replace")
            stderr = err.decode(errors="replace")
    except FileNotFoundError as exc:
        raise CommandError(
            f"`{argv[0]}` is not installed (needed for `{command_line(argv)}`)",
            hint or "run `scripts/up` to install labtool's prerequisites",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandTimeoutError(
            f"`{command_line(argv)}` did not finish within {timeout:.0f} s and was stopped",
            hint or (f"see {log}" if log else "check the daemon it talks to with `labtool doctor`"),
            timeout=timeout,
        ) from exc
    result = Result(argv, returncode, stdout, stderr, time.monotonic() - started)
    if check and not result.ok:
        raise unreachable(result) or failure(result, hint=hint, log=log)
    return result


UNREACHABLE = {
    # program: (what its stderr says when its daemon is not there, the daemon)
    "virsh": ("failed to connect to the hypervisor", "libvirtd"),
    "docker": ("cannot connect to the docker daemon", "the Docker engine"),
}


def unreachable(result: Result) -> DaemonUnreachableError | None:
    """The one error for a command whose daemon does not answer, naming the daemon and `labtool daemons`."""
    known = UNREACHABLE.get(os.path.basename(result.argv[0]))
    if result.ok or known is None or known[0] not in result.stderr.lower():
        return None
    reason = tail(result.stderr, 1).removeprefix("error: ")[:300]
    where = f" at {result.argv[2]}" if result.argv[1:2] == ("-c",) else ""
    return DaemonUnreachableError(
        f"{known[1]} does not answer{where} ({reason})",
        "start it with `labtool daemons`, then run this again",
        output=result.stderr,
    )


def _run_killing_on_timeout(
    argv: Sequence[str],
    *,
    input: str | bytes | None,
    stdout: Any,
    stderr: Any,
    env: Mapping[str, str],
    cwd: Path | None,
    timeout: float,
) -> tuple[int, bytes, bytes]:
    """subprocess.run, except that on a timeout (or Ctrl-C) the child's descendants are killed too.

    subprocess.run kills only the child: a `vagrant` that hangs in a Ruby or SSH subprocess
    would leave that running, still holding the VM's lock. The child stays in labtool's process
    group, so Ctrl-C in the terminal reaches it as before.
    """
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if input is not None else None,
        stdout=stdout,
        stderr=stderr,
        env=dict(env),
        cwd=cwd,
    ) as child:
        try:
            out, err = child.communicate(_as_bytes(input), timeout=timeout)
        except BaseException:
            _kill_tree(child)
            raise
        return child.returncode, out or b"", err or b""


def _kill_tree(child: subprocess.Popen[bytes]) -> None:
    processes.kill_trees([child.pid])
    child.wait()


def failure(result: Result, *, hint: str = "", log: Path | None = None) -> CommandError:
    """Build the error for a failed command, quoting the end of what it printed."""
    output = result.stderr or result.stdout
    if log is not None and log.exists():
        output = log.read_text(errors="replace")
    where = f" (full log: {log})" if log else ""
    message = f"`{command_line(result.argv)}` exited with {result.returncode}{where}"
    if output.strip():
        message += "\n" + tail(output)
    return CommandError(message, hint, output=output)


SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def which(program: str) -> str | None:
    """Find a program on PATH, also in the sbin directories a non-login root shell may lack."""
    return shutil.which(program, path=_search_path(os.environ.get("PATH", "")))


def _search_path(path: str) -> str:
    present = path.split(os.pathsep) if path else []
    return os.pathsep.join([*present, *(d for d in SBIN_DIRS if d not in present)])


def _environment(extra: Mapping[str, str] | None, *, daemon: bool = False) -> dict[str, str]:
    """The child's environment: ours plus `extra`, with the sbin directories on PATH.

    Daemons look up their helpers (dockerd: iptables) on their own PATH, and cron,
    CI or a non-login root shell may start labtool without /usr/sbin on it.
    """
    environment = {**os.environ, **(extra or {})}
    if daemon:
        environment = children.unmarked(environment)
    environment["PATH"] = _search_path(environment.get("PATH", ""))
    return environment


def _resolved(argv: Sequence[str]) -> tuple[str, ...]:
    """argv with its program looked up on PATH plus the sbin directories (daemons live there).

    A non-login root shell, cron or CI may run labtool without /usr/sbin on PATH.
    """
    program = str(argv[0])
    found = which(program) if "/" not in program else None
    return (found or program, *(str(a) for a in argv[1:]))


def _as_bytes(data: str | bytes | None) -> bytes | None:
    return data.encode() if isinstance(data, str) else data


def spawn(argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None) -> int:
    """Start a long-running daemon detached from labtool (own session, output to `log`); return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                list(_resolved(argv)),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_environment(env, daemon=True),
                start_new_session=True,
            )
    except FileNotFoundError as exc:
        raise CommandError(
            f"`{argv[0]}` is not installed", "run `scripts/up` to install labtool's prerequisites"
        ) from exc
    return proc.pid

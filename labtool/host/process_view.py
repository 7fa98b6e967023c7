"""A lab machine's process as its host sees it (a container's PID 1, a VM's QEMU), for `labtool compare`:
read from this host's /proc, or from another lab host's in one SSH round trip."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from labtool import proc
from labtool.errors import LabtoolError
from labtool.host import processes
from labtool.model import LabHost


@dataclass(frozen=True)
class ProcessView:
    pid: int
    name: str
    ancestry: tuple[str, ...]
    resident_bytes: int
    shared_namespaces: tuple[str, ...]
    """Namespaces the process shares with the host as seen from it (labtool here; the SSH login there)."""
    kernel: str
    """The release of the host's kernel, which a container shares."""


def view(pid: int, proc_dir: Path = processes.PROC) -> ProcessView:
    """The process as this host's /proc shows it."""
    return ProcessView(
        pid,
        processes.name(pid, proc_dir),
        tuple(processes.ancestry(pid, proc_dir)),
        processes.resident_bytes(pid, proc_dir),
        tuple(processes.shared_namespaces(pid, proc_dir)),
        platform.release(),
    )


VIEW_SCRIPT = r"""
pid=$(cat "$1" 2>/dev/null || echo "$1")
[ -d "/proc/$pid" ] || { echo "no process $pid" >&2; exit 3; }
field() { sed -n "s/^$1:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$2/status" 2>/dev/null; }
echo "pid $pid"
echo "name $(cat /proc/$pid/comm)"
echo "rss $(field VmRSS "$pid")"
echo "kernel $(uname -r)"
parent=$(field PPid "$pid"); n=0
while [ "${parent:-0}" -gt 0 ] && [ $n -lt 32 ]; do
    echo "ancestor $(cat /proc/$parent/comm 2>/dev/null || echo '?')"
    parent=$(field PPid "$parent"); n=$((n + 1))
done
for ns in NAMESPACES; do
    mine=$(readlink "/proc/$pid/ns/$ns" 2>/dev/null) && [ "$mine" = "$(readlink /proc/$$/ns/$ns)" ] && echo "shared $ns"
done
exit 0
""".replace("NAMESPACES", " ".join(processes.NAMESPACES))
"""One shell command that prints a ProcessView, given a pid or a file holding one: another lab host's /proc
read in one SSH round trip. The namespaces compared are the login shell's, i.e. the host's as seen from it."""


def view_on(host: LabHost, target: str | int) -> ProcessView:
    """The process on a lab host, given its pid or a file there that holds it: this host's /proc, or the
    other host's, read over SSH as `lab_hosts` reaches it."""
    if host.is_local:
        pid = int(Path(str(target)).read_text().strip()) if not str(target).isdigit() else int(target)
        return view(pid)
    result = proc.run(host.argv(["sh", "-s", "--", str(target)]), timeout=30, input=VIEW_SCRIPT, check=False)
    if not result.ok:
        why = proc.tail(result.stderr, 1) or f"ssh exited {result.returncode}"
        raise LabtoolError(f"cannot read process {target} on lab host {host.name}: {why}")
    return parse_view(result.stdout)


def parse_view(text: str) -> ProcessView:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, []).append(value.strip())

    def one(key: str) -> str:
        return (values.get(key) or [""])[0]

    return ProcessView(
        int(one("pid") or 0),
        one("name") or "?",
        tuple(values.get("ancestor", [])),
        int(one("rss") or 0) * 1024,
        tuple(values.get("shared", [])),
        one("kernel"),
    )

"""libvirt as the Vagrant backend uses it: one host's URI, its storage pool, and `virsh` on that host.

Every virsh call of labtool goes through a `Virsh` built for a lab host, so a remote host is
only another URI (`qemu+ssh://`), the way vagrant-libvirt's own `uri` option reaches one.
"""

from __future__ import annotations

from pathlib import Path

from labtool import proc
from labtool.model import LabHost

LOCAL_URI = "qemu:///system"
STORAGE_POOL = "default"
"""The pool vagrant-libvirt puts box volumes and VM disks in."""
STORAGE_POOL_DIR = Path("/var/lib/libvirt/images")
VIRSH_TIMEOUT = 60.0
"""A virsh query, volume or network change: libvirtd answers in well under a second."""


def uri(host: LabHost) -> str:
    """The libvirt URI of a lab host's system daemon."""
    if host.ssh is None:
        return LOCAL_URI
    # no_tty: never prompt for a password; labtool reaches lab hosts with keys only.
    return f"qemu+ssh://{host.ssh}/system?no_tty=1"


class Virsh:
    """`virsh -c URI ARGS…` on one host's libvirtd; returns what it prints."""

    def __init__(self, host: LabHost) -> None:
        self.host = host
        self.uri = uri(host)

    def __call__(self, *args: str, check: bool = True, log: Path | None = None, timeout: float = VIRSH_TIMEOUT) -> str:
        result = proc.run(["virsh", "-c", self.uri, *args], timeout=timeout, check=False, log=log)
        gone = proc.unreachable(result)
        if gone is not None:  # even where a failure is expected (a domain that may not exist): say so, stop
            raise gone
        if check and not result.ok:
            raise proc.failure(result, log=log)
        return result.stdout

    def command(self, *args: str) -> str:
        """The command line to show a person (in a hint), for this host."""
        return proc.command_line(["virsh", "-c", self.uri, *args])

"""Every stock daemon is installed and runs, on the VM and in the container alike."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import daemons

# What only a machine with its own kernel can run: a container shares the host's.
OWN_KERNEL = {
    "nfs-server.service": "the NFS server is part of the kernel (nfsd)",
    "auditd.service": "the kernel's audit log belongs to the host",
}


@pytest.fixture(autouse=True)
def _as_root(host: Any) -> Any:
    with host.sudo():  # VMs are reached as the `vagrant` user, containers as root
        yield


@pytest.mark.parametrize("daemon", daemons(), ids=lambda d: d["package"])
def test_the_package_is_installed(host: Any, daemon: dict[str, Any]) -> None:
    assert host.package(daemon["package"]).is_installed


@pytest.mark.parametrize("daemon", daemons(), ids=lambda d: d["unit"])
def test_the_daemon_runs_unless_the_machine_is_not_for_it(host: Any, daemon: dict[str, Any]) -> None:
    unit = daemon["unit"]
    in_container = host.run("systemd-detect-virt --container").rc == 0
    if in_container and unit in OWN_KERNEL:
        pytest.skip(f"in a container: {OWN_KERNEL[unit]}")
    shown = host.check_output("systemctl show --property=ActiveState,ConditionResult %s", unit)
    state = dict(line.split("=", 1) for line in shown.splitlines())
    # A unit whose conditions exclude this machine (e.g. ConditionVirtualization=) is skipped by systemd.
    assert state["ActiveState"] == "active" or state["ConditionResult"] == "no", state

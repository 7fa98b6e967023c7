"""A lab host's libvirtd: this host's system URI or another's `qemu+ssh://`; every virsh call on that URI."""

import json
from pathlib import Path
from typing import Any

import pytest

from labtool import proc
from labtool.backends.vagrant import libvirt
from labtool.backends.vagrant.accel import Accel
from labtool.backends.vagrant.backend import Network, VagrantProject, VmSpec
from labtool.errors import CommandError, DaemonUnreachableError
from labtool.model import THIS_HOST, LabHost

LAB2 = LabHost("lab2", "root@192.0.2.12")


def test_each_host_has_its_own_uri_and_another_host_never_prompts() -> None:
    assert libvirt.uri(THIS_HOST) == "qemu:///system"
    assert libvirt.uri(LAB2) == "qemu+ssh://root@192.0.2.12/system?no_tty=1"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    seen: list[tuple[str, ...]] = []

    def run(argv: list[str], **_options: Any) -> proc.Result:
        seen.append(tuple(argv))
        if "missing" in argv:
            return proc.Result(tuple(argv), 1, "", "error: failed to get domain 'missing'\n", 0.0)
        if "down" in argv:
            return proc.Result(tuple(argv), 1, "", "error: failed to connect to the hypervisor\n", 0.0)
        return proc.Result(tuple(argv), 0, "running\n", "", 0.0)

    monkeypatch.setattr(proc, "run", run)
    return seen


def test_virsh_runs_on_its_hosts_uri(calls: list[tuple[str, ...]]) -> None:
    assert libvirt.Virsh(LAB2)("domstate", "d1") == "running\n"
    assert calls == [("virsh", "-c", "qemu+ssh://root@192.0.2.12/system?no_tty=1", "domstate", "d1")]
    assert (
        libvirt.Virsh(LAB2).command("console", "d1")
        == "virsh -c 'qemu+ssh://root@192.0.2.12/system?no_tty=1' console d1"
    )


def test_a_failure_is_raised_only_when_checked_but_a_daemon_gone_always(calls: list[tuple[str, ...]]) -> None:
    virsh = libvirt.Virsh(THIS_HOST)
    assert virsh("domstate", "missing", check=False) == ""
    with pytest.raises(CommandError):
        virsh("domstate", "missing")
    with pytest.raises(DaemonUnreachableError, match="at qemu:///system"):
        virsh("list", "down", check=False)


def test_the_vagrantfile_is_told_the_hosts_libvirtd(tmp_path: Path) -> None:
    project = VagrantProject(
        tmp_path, Network("n", "10.214.9.0/24"), Accel("qemu", "qemu64", "t"), "p_", libvirt_uri=libvirt.uri(LAB2)
    )
    project.define([VmSpec("s1-vm")])
    assert json.loads(project.machines_file.read_text())["uri"] == "qemu+ssh://root@192.0.2.12/system?no_tty=1"

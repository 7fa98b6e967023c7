"""A room's known_hosts: reading keys in ssh's formats, recording and replacing them, refusing changed ones."""

from __future__ import annotations

import base64
import re
import shlex
import stat
import threading
from pathlib import Path

import pytest

from labtool import proc
from labtool.backends.vagrant import known_hosts
from labtool.backends.vagrant.known_hosts import HostKey, HostKeyChangedError, KnownHosts
from labtool.model import Kind, Machine

PACKAGE = Path(known_hosts.__file__).resolve().parents[2]
VM = Machine("seat01-vm", Kind.VM, "seat01")


def key(kind: str, seed: str) -> HostKey:
    """A well-formed public key: ssh's wire format starts with the algorithm's name, length-prefixed."""
    name = kind.encode()
    raw = len(name).to_bytes(4, "big") + name + seed.encode() * 8
    return HostKey(kind, base64.b64encode(raw).decode())


ED, RSA, OTHER_ED = key("ssh-ed25519", "a"), key("ssh-rsa", "b"), key("ssh-ed25519", "z")


def test_parse_reads_keyscan_pub_and_known_hosts_lines() -> None:
    text = "\n".join(
        [
            "# 10.214.42.7:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6",
            f"10.214.42.7 {ED.kind} {ED.blob}",  # ssh-keyscan
            f"{RSA.kind} {RSA.blob} root@seat01-vm",  # /etc/ssh/ssh_host_rsa_key.pub
            f'no-pty,command="true" {OTHER_ED.kind} {OTHER_ED.blob} someone',  # authorized_keys with options
            "ssh-ed25519 not-base64-at-all",
            f"ssh-rsa {ED.blob}",  # a blob of another type than its line says
            "",
        ]
    )
    assert known_hosts.parse(text) == {ED, RSA, OTHER_ED}


def test_a_host_named_like_a_key_type_is_not_taken_for_a_key() -> None:
    assert known_hosts.parse(f"ssh-ed25519 {ED.kind} {ED.blob}") == {ED}


def test_record_writes_the_machines_keys_under_its_name_privately(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "room" / "known_hosts")
    known.record("seat01-vm", {ED, RSA})
    known.record("seat02-vm", {OTHER_ED})
    lines = [line for line in known.path.read_text().splitlines() if not line.startswith("#")]
    assert sorted(lines) == sorted(
        [
            f"seat01-vm {ED.kind} {ED.blob}",
            f"seat01-vm {RSA.kind} {RSA.blob}",
            f"seat02-vm {OTHER_ED.kind} {OTHER_ED.blob}",
        ]
    )
    assert stat.S_IMODE(known.path.stat().st_mode) == 0o600
    assert known.keys("seat01-vm") == {ED, RSA}
    assert known.keys("seat03-vm") == set()


def test_recording_a_recreated_machine_replaces_its_keys_and_keeps_the_others(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    known.record("seat01-vm", {ED, RSA})
    known.record("seat02-vm", {RSA})
    known.record("seat01-vm", {OTHER_ED})
    assert known.keys("seat01-vm") == {OTHER_ED}
    assert known.keys("seat02-vm") == {RSA}
    known.forget(["seat01-vm", "never-recorded"])
    assert known.keys("seat01-vm") == set()
    assert known.keys("seat02-vm") == {RSA}


def test_records_from_many_threads_at_once_are_all_kept(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    names = [f"seat{i:02}-vm" for i in range(1, 17)]
    threads = [threading.Thread(target=known.record, args=(name, {key("ssh-ed25519", name)})) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(known.keys(name) == {key("ssh-ed25519", name)} for name in names)


def test_check_accepts_recorded_keys_and_names_the_machine_whose_key_changed(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    known.record(VM.name, {ED, RSA})
    known.check(VM, "demo", {ED})
    known.check(VM, "demo", {ED, RSA})
    with pytest.raises(HostKeyChangedError) as caught:
        known.check(VM, "demo", {OTHER_ED, RSA})
    assert "the SSH host key of seat01-vm changed (ssh-ed25519)" in caught.value.message
    assert "labtool did not recreate seat01-vm" in caught.value.message
    assert "`labtool down demo --seat seat01`, then `labtool up demo`" in caught.value.hint


def test_ssh_options_accept_only_the_rooms_recorded_keys_under_the_machines_name() -> None:
    options = known_hosts.ssh_options(Path("/home/l/rooms/demo/known_hosts"), "seat01-vm")
    settings = dict(option.split("=", 1) for option in options[1::2])
    assert options[0::2] == ["-o"] * len(settings)
    assert settings["StrictHostKeyChecking"] == "yes"
    assert settings["UserKnownHostsFile"] == "/home/l/rooms/demo/known_hosts"
    assert settings["HostKeyAlias"] == "seat01-vm"
    assert settings["GlobalKnownHostsFile"] == "/dev/null"


def test_common_args_are_the_same_options_split_like_a_shell_even_with_spaces_in_the_path() -> None:
    path = Path("/home/l/my rooms/demo%1/known_hosts")
    assert shlex.split(known_hosts.common_args(path, "seat01-vm")) == known_hosts.ssh_options(path, "seat01-vm")
    assert 'UserKnownHostsFile="/home/l/my rooms/demo%%1/known_hosts"' in known_hosts.ssh_options(path, "x")


def test_host_key_options_are_written_in_one_place_only() -> None:
    """Every SSH connection takes them from ssh_options: no module spells them out itself."""
    spelled = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".cfg", ".yml", ".j2", "")
        and re.search(r"StrictHostKeyChecking|UserKnownHostsFile|HostKeyAlias", path.read_text(errors="replace"))
    }
    assert spelled == {"backends/vagrant/known_hosts.py"}


def test_a_vm_of_another_lab_host_is_reached_through_it_and_scanned_there(monkeypatch: pytest.MonkeyPatch) -> None:
    assert known_hosts.jump_options(None) == []
    strict = shlex.split(known_hosts.common_args(Path("/state/known_hosts"), "seat02-vm", "root@192.0.2.12"))
    assert strict[-2:] == ["-o", "ProxyJump=root@192.0.2.12"]
    assert "StrictHostKeyChecking=yes" in strict  # the VM's own key is still checked, behind the jump
    ran: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> object:
        ran.append(list(argv))
        return type("Result", (), {"stdout": ""})()

    monkeypatch.setattr(proc, "run", fake_run)
    known_hosts.scan("10.214.9.5", 22, via="root@192.0.2.12")
    known_hosts.scan("10.214.9.6", 22)
    assert ran[0][:4] == ["ssh", "-o", "BatchMode=yes", "root@192.0.2.12"]
    assert shlex.split(ran[0][4])[0] == "ssh-keyscan" and ran[0][4].endswith("10.214.9.5")
    assert ran[known_hosts.SCAN_ATTEMPTS][0] == "ssh-keyscan"


def test_a_scan_that_gets_no_key_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy guest's sshd may time out one key exchange and answer the next."""
    answers = iter(["", f"10.214.9.5 {ED.kind} {ED.blob}\n"])
    ran: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> object:
        ran.append(list(argv))
        return type("Result", (), {"stdout": next(answers)})()

    monkeypatch.setattr(proc, "run", fake_run)
    assert len(known_hosts.scan("10.214.9.5", 22)) == 1
    assert len(ran) == 2

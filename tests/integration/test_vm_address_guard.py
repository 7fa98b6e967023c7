"""A VM's root cannot send from an address that is not its own (libvirt's clean-traffic filter, for real).

On seat01's VM of the session's two-seat room (`running_room`). The address it tries is one no
machine holds, so the check disturbs no seat even where the filter would be missing; the
mechanism is the one that would take another seat's address.
"""

from __future__ import annotations

import ipaddress
import subprocess

import pytest

from tests.integration.rooms import LiveRoom

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]

VM = "seat01-vm"
# Connects to the network's gateway (dnsmasq's DNS port on the host) from each source address given.
PROBE = """
import socket, sys
for source in sys.argv[2:]:
    s = socket.socket()
    s.settimeout(5)
    try:
        s.bind((source, 0))
        s.connect((sys.argv[1], 53))
        print(source, "reached")
    except OSError as exc:
        print(source, "blocked", exc)
    finally:
        s.close()
"""


def leased_address(domain: str) -> ipaddress.IPv4Interface:
    out = subprocess.run(
        ["virsh", "-c", "qemu:///system", "domifaddr", domain, "--source", "lease"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split() for line in out.splitlines())
    return next(ipaddress.IPv4Interface(words[3]) for words in rows if words[2:3] == ["ipv4"])


def test_a_vm_cannot_send_from_an_address_that_is_not_its_own(running_room: LiveRoom) -> None:
    own = leased_address(f"labtool-{running_room.name}_{VM}")
    gateway = str(next(own.network.hosts()))
    stranger = str(own.network.broadcast_address - 2)
    script = (
        f"dev=$(ip -o route get {gateway} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); "
        f"sudo ip addr add {stranger}/32 dev $dev && "
        f"{{ python3 -c '{PROBE}' {gateway} {own.ip} {stranger}; sudo ip addr del {stranger}/32 dev $dev; }}"
    )
    result = running_room.labtool("exec", VM, "--room", running_room.name, "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    assert f"{own.ip} reached" in result.stdout, result.stdout
    assert f"{stranger} blocked" in result.stdout, result.stdout


def test_the_vms_lease_is_pinned_to_its_mac(running_room: LiveRoom) -> None:
    network = subprocess.run(
        ["virsh", "-c", "qemu:///system", "net-dumpxml", f"labtool-{running_room.name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for seat in ("seat01", "seat02"):
        address = leased_address(f"labtool-{running_room.name}_{seat}-vm").ip
        assert f"ip='{address}'" in network, network

"""Port items compare what a service listens on, not where the network put it (recorded `ss` output)."""

from __future__ import annotations

from pathlib import Path

from labtool.parity import sockets

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sockets"


def parsed(kind: str) -> list[sockets.Socket]:
    own = sockets.own_addresses((FIXTURES / f"{kind}-ip.txt").read_text())
    return sockets.parse((FIXTURES / f"{kind}-ss.txt").read_text(), own)


def test_the_machines_own_addresses_leave_loopback_out() -> None:
    own = sockets.own_addresses((FIXTURES / "container-ip.txt").read_text())
    assert own == {"10.213.251.2", "fd6c:6162:fb::2", "fe80::42:aff:fed5:fb02"}


def test_a_recorded_container_lists_sshd_on_both_families_and_dockers_dns_as_ephemeral() -> None:
    assert sockets.items(parsed("container")) == {
        "port:tcp any-ipv4:22": "listening",
        "port:tcp any-ipv6:22": "listening",
        "port:tcp 127.0.0.11:ephemeral": "listening",
    }


def test_own_addresses_wildcards_and_client_ports_are_normalised() -> None:
    items = sockets.items(parsed("vm"))
    assert items == {
        "port:udp any-ipv4:68": "listening",
        "port:udp own-ipv4:53": "listening",
        "port:tcp own-ipv4:53": "listening",
        "port:tcp any-ipv4:22": "listening",
        "port:tcp any-ipv6:22": "listening",
        "port:tcp ::1:5432": "listening",
        "port:tcp any:80": "listening",
        "port:tcp any-ipv4:ephemeral": "listening",
    }
    # chronyd's client socket on 0.0.0.0:42023 is no service: it is not an item at all.
    assert not any("42023" in item for item in items)


def test_the_same_services_on_a_container_at_other_addresses_give_the_same_items() -> None:
    vm = (FIXTURES / "vm-ss.txt").read_text()
    moved = {"10.214.3.5": "10.213.3.2", "42023": "51877", "45911": "38211", "pid=": "pid=1"}
    container = vm
    for old, new in moved.items():
        container = container.replace(old, new)
    own_vm = sockets.own_addresses((FIXTURES / "vm-ip.txt").read_text())
    own_container = {"10.213.3.2", "fe80::42:aff:fe00:302"}
    assert sockets.items(sockets.parse(vm, own_vm)) == sockets.items(sockets.parse(container, own_container))


def test_each_socket_keeps_its_owner_where_the_machine_shows_it() -> None:
    by_item = sockets.owners(parsed("vm"))
    assert [s.owner for s in by_item["port:tcp ::1:5432"]] == ["postgres (pid 811)"]
    assert by_item["port:udp own-ipv4:53"][0].uid == 104
    assert [s.owner for s in sockets.owners(parsed("container"))["port:tcp 127.0.0.11:ephemeral"]] == [""]


def test_endpoints_and_the_ephemeral_range_are_read_as_ss_and_proc_write_them() -> None:
    assert sockets.split_endpoint("[fe80::1]%eth0:546") == ("fe80::1", "546")
    assert sockets.split_endpoint("127.0.0.53%lo:53") == ("127.0.0.53", "53")
    assert sockets.normal_address("fe80::1", set()) == "link-local"
    assert sockets.normal_address("::ffff:10.0.0.2", {"10.0.0.2"}) == "own-ipv4"
    assert sockets.ephemeral_range("32768\t60999\n") == (32768, 60999)
    assert sockets.ephemeral_range("garbage") == sockets.DEFAULT_EPHEMERAL

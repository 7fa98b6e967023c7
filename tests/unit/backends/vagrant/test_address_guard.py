from pathlib import Path
from xml.etree import ElementTree

import pytest

from labtool.backends.vagrant import address_guard
from labtool.backends.vagrant.address_guard import AddressGuardError

DOMAIN, NETWORK, MAC = "labtool-demo_s1-vm", "labtool-demo", "52:54:00:76:6a:c5"
INTERFACE = f"""<interface type='network'>
  <mac address='{MAC}'/>
  <source network='{NETWORK}' portid='1087' bridge='virbr1'/>
  <target dev='vnet0'/>
  <model type='virtio'/>
</interface>"""


class FakeLibvirt:
    """virsh as libvirt answers it for one domain on one network: its interface, its lease, the network's pins."""

    def __init__(self, lease: str | None = "10.214.42.36") -> None:
        self.interface = ElementTree.fromstring(INTERFACE)
        self.lease = lease
        self.pins: list[tuple[str, str]] = []
        self.changes: list[str] = []

    def virsh(self, *args: str, check: bool = True) -> str:
        if args[0] == "dumpxml":
            return f"<domain><devices>{ElementTree.tostring(self.interface).decode()}</devices></domain>"
        if args[0] == "domifaddr":
            lease = f" vnet0      {MAC}    ipv4         {self.lease}/24\n" if self.lease else ""
            return " Name       MAC address          Protocol     Address\n" + "-" * 60 + "\n" + lease
        if args[0] == "net-dumpxml":
            hosts = "".join(f"<host mac='{mac}' ip='{ip}'/>" for mac, ip in self.pins)
            dns = "<dns><host ip='10.0.0.9'/></dns>"  # DNS entries are `host` elements too
            return f"<network><name>{NETWORK}</name>{dns}<ip><dhcp>{hosts}</dhcp></ip></network>"
        if args[0] == "update-device":
            assert args[1] == DOMAIN and args[3:] == ("--live", "--config")
            self.interface = ElementTree.fromstring(Path(args[2]).read_text())
            self.changes.append("update-device")
            return ""
        if args[0] == "net-update":
            assert args[1] == NETWORK and args[3] == "ip-dhcp-host" and args[5:] == ("--live", "--config")
            host = ElementTree.fromstring(args[4])
            pin = (host.get("mac", ""), host.get("ip", ""))
            if args[2] == "add-last":
                self.pins.append(pin)
            else:
                self.pins.remove(pin)
            self.changes.append(f"{args[2]} {pin[0]} {pin[1]}")
            return ""
        raise AssertionError(f"unexpected virsh {args}")

    def filter(self) -> tuple[str | None, dict[str | None, str | None]]:
        ref = self.interface.find("filterref")
        assert ref is not None, "the interface has no filter"
        return ref.get("filter"), {p.get("name"): p.get("value") for p in ref.findall("parameter")}


def test_the_vm_is_filtered_to_its_leased_address_and_the_lease_is_pinned() -> None:
    libvirt = FakeLibvirt()
    assert address_guard.guard(libvirt.virsh, DOMAIN, NETWORK) == "10.214.42.36"
    assert libvirt.filter() == ("clean-traffic", {"IP": "10.214.42.36"})
    assert libvirt.pins == [(MAC, "10.214.42.36")]
    assert libvirt.interface.find("target") is not None  # the rest of the interface is kept as it was


def test_guarding_again_changes_nothing() -> None:
    libvirt = FakeLibvirt()
    address_guard.guard(libvirt.virsh, DOMAIN, NETWORK)
    libvirt.changes.clear()
    address_guard.guard(libvirt.virsh, DOMAIN, NETWORK)
    assert libvirt.changes == []


def test_a_new_lease_moves_the_filter_and_the_pin() -> None:
    libvirt = FakeLibvirt()
    address_guard.guard(libvirt.virsh, DOMAIN, NETWORK)
    libvirt.lease = "10.214.42.40"
    address_guard.guard(libvirt.virsh, DOMAIN, NETWORK)
    assert libvirt.filter() == ("clean-traffic", {"IP": "10.214.42.40"})
    assert libvirt.pins == [(MAC, "10.214.42.40")]


def test_an_address_pinned_to_a_vm_that_is_gone_is_taken_over_by_the_vm_that_holds_its_lease() -> None:
    libvirt = FakeLibvirt()
    libvirt.pins = [("52:54:00:00:00:01", "10.214.42.36"), ("52:54:00:00:00:02", "10.214.42.50")]
    address_guard.guard(libvirt.virsh, DOMAIN, NETWORK)
    assert libvirt.pins == [("52:54:00:00:00:02", "10.214.42.50"), (MAC, "10.214.42.36")]


def test_a_vm_without_a_lease_is_an_error_naming_it() -> None:
    libvirt = FakeLibvirt(lease=None)
    with pytest.raises(AddressGuardError, match=f"{DOMAIN} has no DHCP lease on {NETWORK}"):
        address_guard.guard(libvirt.virsh, DOMAIN, NETWORK)
    assert libvirt.changes == []


def test_a_vm_not_on_the_network_is_an_error_naming_both() -> None:
    with pytest.raises(AddressGuardError, match=f"{DOMAIN} has no interface on the network other"):
        address_guard.guard(FakeLibvirt().virsh, DOMAIN, "other")


def test_release_drops_the_vms_pin_only() -> None:
    libvirt = FakeLibvirt()
    libvirt.pins = [("52:54:00:00:00:02", "10.214.42.50")]
    address_guard.guard(libvirt.virsh, DOMAIN, NETWORK)
    mac = address_guard.mac_on(libvirt.virsh, DOMAIN, NETWORK)
    assert mac == MAC
    address_guard.release(libvirt.virsh, NETWORK, mac)
    assert libvirt.pins == [("52:54:00:00:00:02", "10.214.42.50")]


def test_a_domain_or_network_that_is_gone_has_no_mac_and_no_pin() -> None:
    def gone(*args: str, check: bool = True) -> str:
        assert not check, "a query that may fail must not raise"
        return ""

    assert address_guard.mac_on(gone, DOMAIN, NETWORK) is None
    address_guard.release(gone, NETWORK, MAC)


def test_a_domain_libvirt_cannot_describe_is_an_error_naming_it() -> None:
    with pytest.raises(AddressGuardError, match=f"no readable definition of {DOMAIN}"):
        address_guard.guard(lambda *args, check=True: "", DOMAIN, NETWORK)

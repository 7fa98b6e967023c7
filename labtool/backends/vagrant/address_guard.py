"""A VM sends only from its own address: libvirt's `clean-traffic` filter on its interface, its lease pinned.

Students have root on their VM. On a room's network without a filter, one VM could take
another seat's address (while that seat is recreated, say) and answer for it, to the host's
SSH and to students. libvirt's stock `clean-traffic` nwfilter (ebtables and iptables rules
on the VM's tap device) drops whatever the VM sends from a MAC, IPv4 address or ARP claim
other than its own, and other L2 traffic (the room's VM network carries IPv4 only).
vagrant-libvirt has no option for a filter on its management network, so labtool adds it
to the domain once it runs: live, and to its definition for the next boots. The address
is the one the network's DHCP server leased; the lease is pinned to the VM's MAC, so a
restarted VM gets the address its filter allows, and the pin goes when the VM does.

Containers need none of this: they hold neither CAP_NET_ADMIN nor CAP_NET_RAW
(backends/docker/image.py), so they can neither change their address nor forge frames.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

from labtool.errors import LabtoolError

FILTER = "clean-traffic"

Virsh = Callable[..., str]
"""`virsh` on the VM's lab host (libvirt.Virsh): positional arguments, `check=` keyword; returns its stdout."""


class AddressGuardError(LabtoolError):
    """A VM's interface could not be found, or had no leased address to pin."""


def guard(virsh: Virsh, domain: str, network: str) -> str:
    """Filter the domain's interface on the network to its leased address, pinning the lease; returns the address."""
    interface = _interface(virsh("dumpxml", domain), domain, network)
    mac = _mac(interface, domain)
    address = _leased(virsh("domifaddr", domain, "--source", "lease"), mac)
    if address is None:
        raise AddressGuardError(
            f"{domain} has no DHCP lease on {network} for {mac}: its address cannot be filtered",
            f"check that it booted (`virsh domifaddr {domain} --source lease` on its lab host)",
        )
    _pin(virsh, network, mac, address)
    if _filtered_to(interface) != address:
        for old in interface.findall("filterref"):
            interface.remove(old)
        ref = ElementTree.SubElement(interface, "filterref", filter=FILTER)
        ElementTree.SubElement(ref, "parameter", name="IP", value=address)
        with tempfile.TemporaryDirectory(prefix="labtool-iface-") as scratch:
            path = Path(scratch, "interface.xml")
            path.write_bytes(ElementTree.tostring(interface))
            virsh("update-device", domain, str(path), "--live", "--config")
    return address


def mac_on(virsh: Virsh, domain: str, network: str) -> str | None:
    """The MAC of the domain's interface on the network; None when there is no such domain or interface."""
    xml = virsh("dumpxml", domain, check=False)
    if not xml.strip():
        return None
    try:
        return _mac(_interface(xml, domain, network), domain)
    except AddressGuardError:
        return None


def release(virsh: Virsh, network: str, mac: str) -> None:
    """Drop the pin of a VM that is gone: its address may go to the next VM.

    Only once it is gone: a pin dropped earlier would free the address while the VM still holds it.
    """
    pins = virsh("net-dumpxml", network, check=False)
    if not pins.strip():
        return  # the network is gone too: nothing is pinned
    for host in _hosts(pins):
        if host.get("mac", "").lower() == mac:
            _update_hosts(virsh, network, "delete", host)


def _interface(xml: str, domain: str, network: str) -> ElementTree.Element:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise AddressGuardError(
            f"libvirt gave no readable definition of {domain}: {exc}", f"check that {domain} is still defined"
        ) from exc
    for interface in root.iter("interface"):
        source = interface.find("source")
        if source is not None and source.get("network") == network:
            return interface
    raise AddressGuardError(f"{domain} has no interface on the network {network}", "recreate the VM with labtool")


def _mac(interface: ElementTree.Element, domain: str) -> str:
    mac = interface.find("mac")
    if mac is None or not mac.get("address"):
        raise AddressGuardError(f"{domain}'s interface has no MAC address", "recreate the VM with labtool")
    return str(mac.get("address")).lower()


def _leased(domifaddr: str, mac: str) -> str | None:
    """The IPv4 address `virsh domifaddr --source lease` shows for the MAC."""
    for line in domifaddr.splitlines():
        words = line.split()
        if len(words) == 4 and words[1].lower() == mac and words[2] == "ipv4":
            return words[3].split("/")[0]
    return None


def _filtered_to(interface: ElementTree.Element) -> str | None:
    ref = interface.find("filterref")
    if ref is None or ref.get("filter") != FILTER:
        return None
    values = {p.get("name"): p.get("value") for p in ref.findall("parameter")}
    return values.get("IP") if set(values) == {"IP"} else None


def _pinned(virsh: Virsh, network: str) -> list[ElementTree.Element]:
    return _hosts(virsh("net-dumpxml", network))


def _hosts(network_xml: str) -> list[ElementTree.Element]:
    """The network's DHCP reservations (its DNS entries are `host` elements too, without a MAC)."""
    return [host for host in ElementTree.fromstring(network_xml).iter("host") if host.get("mac")]


def _pin(virsh: Virsh, network: str, mac: str, address: str) -> None:
    """Reserve the address for the MAC in the network's DHCP server, replacing any pin of either."""
    for host in _pinned(virsh, network):
        if (host.get("mac", "").lower(), host.get("ip")) == (mac, address):
            return
        if host.get("mac", "").lower() == mac or host.get("ip") == address:
            _update_hosts(virsh, network, "delete", host)
    _update_hosts(virsh, network, "add-last", ElementTree.Element("host", mac=mac, ip=address))


def _update_hosts(virsh: Virsh, network: str, how: str, host: ElementTree.Element) -> None:
    entry = ElementTree.tostring(ElementTree.Element("host", mac=host.get("mac", ""), ip=host.get("ip", "")))
    virsh("net-update", network, how, "ip-dhcp-host", entry.decode(), "--live", "--config")

"""Addresses of this host: where published ports may be bound."""

from __future__ import annotations

import ipaddress
import socket


def is_local(address: str) -> bool:
    """Whether a socket can be bound to address here: the kernel's own answer to "is it one of mine?"."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        return False
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def port_is_free(address: str, port: int) -> bool:
    """Whether nothing listens on address:port yet (so a machine's port can be published there)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def listens(address: str, port: int, timeout: float = 2.0) -> bool:
    """Whether something accepts TCP connections on address:port."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False

"""labtool: provision lab rooms of paired VMs and containers from one Debian rootfs."""

__version__ = "0.1.0"

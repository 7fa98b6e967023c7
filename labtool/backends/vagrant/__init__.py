"""Vagrant with libvirt: VMs from labtool's one Vagrantfile (backend.py, files/Vagrantfile), the box they boot
(box.py), how they are accelerated (accel.py), a lab host's libvirtd (libvirt.py: URI, pool, virsh), and what
guards each VM: its host keys (known_hosts.py), its address (address_guard.py), its published ports (forwards.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labtool.model import Kind, LabHost

if TYPE_CHECKING:
    from labtool.backends.base import Backend
    from labtool.images.pair import ImagePair
    from labtool.settings import Settings


class VagrantTechnology:
    name = "vagrant"
    kind = Kind.VM

    def backend(self, settings: Settings, host: LabHost, images: ImagePair | None) -> Backend:
        from labtool.backends.vagrant import accel
        from labtool.backends.vagrant.backend import VagrantBackend

        return VagrantBackend(
            host,
            settings.rooms_state_dir,
            accel.detect(settings.vm_accel),
            images.box if images else None,
            timeout=settings.vagrant_timeout,
        )


TECHNOLOGY = VagrantTechnology()

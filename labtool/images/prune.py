"""Remove image pairs nothing needs: not the current base pair, not a current baked pair, not in use."""

from __future__ import annotations

from dataclasses import dataclass, field

from labtool.backends.docker import image as docker_image
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.libvirt import Virsh
from labtool.images import bake, build, pair, recipe
from labtool.model import LabHost
from labtool.settings import Settings


@dataclass
class PruneReport:
    docker_images: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    """Box volumes left by a rebuilt or removed box, once no VM boots from them."""
    forgotten_bakes: list[str] = field(default_factory=list)


def prune(settings: Settings, host: LabHost) -> PruneReport:
    """Keep the current base pair and the baked pairs made from it; the rest goes unless a machine uses it.

    Docker refuses to remove an image a container uses, and a box whose pool volume is
    some VM's backing file is left alone (labtool/backends/vagrant/box.py), so nothing a
    machine boots from is ever removed; the next prune tries again.
    """
    virsh = Virsh(host)
    base_key = recipe.cache_key()
    records = bake.records(settings)
    keep = [pair.base(base_key)] + [bake.pair_of(r) for r in records if r.get("base_key") == base_key]
    report = PruneReport(
        docker_image.prune({p.docker_ref for p in keep}),
        vagrant_box.prune(virsh, {p.box for p in keep}, settings.log_dir / "images-prune.log"),
    )
    report.volumes = vagrant_box.remove_stale_volumes(virsh, settings.log_dir / "images-prune.log")
    for record in records:
        images = bake.pair_of(record)
        if images not in keep and not docker_image.present(images.docker_ref) and not build.box_present(images):
            bake.forget(settings, images.key)
            report.forgotten_bakes.append(images.key)
    return report

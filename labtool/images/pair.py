"""The image pair a room's machines are made from: a Docker image and a Vagrant box of one tree.

A pair is a value. The base pair comes from the recipe alone; a baked pair is the base
pair with one course's playbook already applied (labtool/images/bake.py). Every pair is
named after its key, so pairs of different recipes and courses coexist, and building
one never replaces another that machines still boot from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from labtool.images import recipe

BAKED_REPOSITORY = "labtool/baked"
BAKE_FILES_DIR = Path(__file__).with_name("bake_files")
"""What a bake does to the converged tree; part of a baked pair's key."""


@dataclass(frozen=True)
class ImagePair:
    key: str
    """Content key: the recipe's for a base pair; the recipe's and the course's together for a baked one."""
    docker_ref: str
    box: str
    """The Vagrant box's name (vagrant-libvirt names the storage-pool volume after it)."""
    baked: bool = False

    @property
    def description(self) -> str:
        return f"{'baked' if self.baked else 'base'} images {self.key}"

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "baked": self.baked, "docker_image": self.docker_ref, "box": self.box}


def base(key: str) -> ImagePair:
    return ImagePair(key, f"{recipe.DOCKER_REPOSITORY}:{key}", f"{recipe.BOX_NAME}-{key}")


def baked_key(base_key: str, provision_key: str, files_dir: Path = BAKE_FILES_DIR) -> str:
    digest = hashlib.sha256(f"{base_key}\n{provision_key}\n".encode())
    for path in sorted(p for p in files_dir.rglob("*") if p.is_file()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def baked(base_key: str, provision_key: str) -> ImagePair:
    key = baked_key(base_key, provision_key)
    return ImagePair(key, f"{BAKED_REPOSITORY}:{key}", f"{BAKED_REPOSITORY}-{key}", baked=True)

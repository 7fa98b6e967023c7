"""Pruning boxes never removes the volume a VM boots from (its overlay's backing file)."""

import json
import os
from pathlib import Path
from typing import Any

import pytest

from labtool import proc
from labtool.backends.vagrant import box as vagrant_box
from labtool.backends.vagrant.libvirt import Virsh
from labtool.model import THIS_HOST

VOLUME_TABLE = """\
 Name                                                    Path
--------------------------------------------------------------------------------
 labtool-room_seat01-vm.img                              /pool/labtool-room_seat01-vm.img
 labtool-VAGRANTSLASH-debian12-old_vagrant_box_image_0_17_box.img   /pool/old.img
 labtool-VAGRANTSLASH-debian12-gone_vagrant_box_image_0_18_box.img  /pool/gone.img
 labtool-VAGRANTSLASH-debian12-new_vagrant_box_image_0_19_box.img   /pool/new.img
 labtool-VAGRANTSLASH-debian12-new_vagrant_box_image_0_12_box.img   /pool/new-before.img
"""


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Three registered boxes; one VM whose overlay is backed by the `old` box's volume."""
    monkeypatch.setenv("VAGRANT_HOME", str(tmp_path))
    for key in ("old", "gone", "new"):
        (tmp_path / "boxes" / f"labtool-VAGRANTSLASH-debian12-{key}" / "0" / "libvirt").mkdir(parents=True)
    (tmp_path / "boxes" / "someone-VAGRANTSLASH-else" / "0" / "libvirt").mkdir(parents=True)
    calls: list[list[str]] = []

    def run(argv: list[str], **_kwargs: object) -> proc.Result:
        calls.append(list(argv))
        out = ""
        if argv[-2:] == ["vol-list", "default"]:
            out = VOLUME_TABLE
        elif "list" in argv and "--all" in argv:
            out = "labtool-room_seat01\n"
        elif "domblklist" in argv:
            out = " Type   Device   Target   Source\n----\n file   disk   vda   /pool/labtool-room_seat01-vm.img\n"
        elif argv[0] == "qemu-img":
            chain = [
                {"filename": "/pool/labtool-room_seat01-vm.img"},
                {"filename": "/pool/labtool-VAGRANTSLASH-debian12-old_vagrant_box_image_0_17_box.img"},
            ]
            out = json.dumps(chain)
        return proc.Result(tuple(argv), 0, out, "", 0.0)

    monkeypatch.setattr(proc, "run", run)
    return calls


def test_labtool_boxes_are_only_those_under_its_prefix(host: list[list[str]]) -> None:
    assert vagrant_box.labtool_boxes() == ["labtool/debian12-gone", "labtool/debian12-new", "labtool/debian12-old"]


def test_prune_keeps_the_current_box_and_any_box_a_vm_boots_from(host: list[list[str]], tmp_path: Path) -> None:
    removed = vagrant_box.prune(Virsh(THIS_HOST), {"labtool/debian12-new"}, tmp_path / "log")
    assert removed == ["labtool/debian12-gone"]
    deleted = [c[-3] for c in host if "vol-delete" in c]
    assert deleted == ["labtool-VAGRANTSLASH-debian12-gone_vagrant_box_image_0_18_box.img"]
    assert ["vagrant", "box", "remove", "--force", "--all", "labtool/debian12-gone"] in host


def test_registering_a_box_keeps_a_same_named_volume_that_a_vm_uses(host: list[list[str]], tmp_path: Path) -> None:
    vagrant_box.register(Virsh(THIS_HOST), tmp_path / "labtool.box", "labtool/debian12-old", tmp_path / "log")
    assert not [c for c in host if "vol-delete" in c]
    assert host[-1][:4] == ["vagrant", "box", "add", "--force"]


def test_a_rebuilt_boxs_old_volume_goes_once_no_vm_boots_from_it(host: list[list[str]], tmp_path: Path) -> None:
    # Each box's image as a rebuild left it: vagrant-libvirt names a box's volume by its image's mtime.
    for key, mtime in (("old", 27), ("gone", 28), ("new", 19)):
        image = tmp_path / "boxes" / f"labtool-VAGRANTSLASH-debian12-{key}" / "0" / "libvirt" / "box.img"
        image.write_bytes(b"")
        os.utime(image, (mtime, mtime))
    assert vagrant_box.current_volume("labtool/debian12-new") == (
        "labtool-VAGRANTSLASH-debian12-new_vagrant_box_image_0_19_box.img"
    )
    removed = vagrant_box.remove_stale_volumes(Virsh(THIS_HOST), tmp_path / "log")
    # `old`'s volume is stale too, but a VM boots from it; the room's own disk is no box volume.
    assert removed == [
        "labtool-VAGRANTSLASH-debian12-gone_vagrant_box_image_0_18_box.img",
        "labtool-VAGRANTSLASH-debian12-new_vagrant_box_image_0_12_box.img",
    ]
    assert [c[-3] for c in host if "vol-delete" in c] == removed


def test_a_box_that_is_not_registered_has_no_current_volume(host: list[list[str]]) -> None:
    assert vagrant_box.current_volume("labtool/debian12-never") is None


def test_a_box_volume_shorter_than_its_image_is_an_upload_cut_off_and_goes(
    host: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "boxes" / "labtool-VAGRANTSLASH-debian12-new" / "0" / "libvirt" / "box.img"
    image.write_bytes(b"x" * 4096)
    os.utime(image, (19, 19))
    volume = "labtool-VAGRANTSLASH-debian12-new_vagrant_box_image_0_19_box.img"
    physical = {"bytes": 1024}
    fake_run = proc.run

    def run(argv: list[str], **kwargs: Any) -> proc.Result:
        if "vol-info" in argv:
            assert argv[-4:] == ["--pool", "default", "--bytes", "--physical"]
            out = f"Name:  {volume}\nType:  file\nCapacity:  8589934592 bytes\nPhysical:  {physical['bytes']} bytes\n"
            return proc.Result(tuple(argv), 0, out, "", 0.0)
        return fake_run(argv, **kwargs)

    monkeypatch.setattr(proc, "run", run)
    assert vagrant_box.remove_cut_off_upload(Virsh(THIS_HOST), "labtool/debian12-new") == volume
    assert [c[-3] for c in host if "vol-delete" in c] == [volume]
    physical["bytes"] = 4096  # uploaded in full: kept
    assert vagrant_box.remove_cut_off_upload(Virsh(THIS_HOST), "labtool/debian12-new") is None
    # Not in the pool yet, or not registered: nothing to look at.
    assert vagrant_box.remove_cut_off_upload(Virsh(THIS_HOST), "labtool/debian12-gone") is None
    assert vagrant_box.remove_cut_off_upload(Virsh(THIS_HOST), "labtool/debian12-never") is None
    assert len([c for c in host if "vol-delete" in c]) == 1

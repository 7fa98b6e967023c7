import fcntl
from pathlib import Path

import pytest

from labtool.images import build, rootfs
from labtool.progress import Progress
from labtool.settings import Settings
from labtool.state import BusyError

CONTAINER = {"systemd": "252.38-1~deb12u1", "python3": "3.11.2-1+b1", "udev": "252.38-1~deb12u1"}


def test_identical_manifests_have_no_differences() -> None:
    assert build.unexpected_differences(CONTAINER, dict(CONTAINER)) == []


def test_boot_packages_only_in_the_vm_are_expected() -> None:
    vm = {**CONTAINER, "linux-image-amd64": "6.1.176-1", "initramfs-tools": "0.142+deb12u3", "cpio": "2.13"}
    assert build.unexpected_differences(CONTAINER, vm) == []


def test_other_extra_packages_and_version_drift_are_named() -> None:
    vm = {**CONTAINER, "python3": "3.11.4-1", "curl": "7.88.1-10"}
    container = {**CONTAINER, "nano": "7.2-1"}
    assert build.unexpected_differences(container, vm) == [
        "curl (container absent, VM 7.88.1-10)",
        "nano (container 7.2-1, VM absent)",
        "python3 (container 3.11.2-1+b1, VM 3.11.4-1)",
    ]


def test_a_boot_package_only_in_the_container_is_drift() -> None:
    assert build.unexpected_differences({**CONTAINER, "linux-image-amd64": "1"}, CONTAINER) == [
        "linux-image-amd64 (container 1, VM absent)"
    ]


def test_manifest_keeps_installed_packages_only() -> None:
    text = "ii systemd 252.38-1~deb12u1\nrc oldpkg 1.0\nii  python3 3.11.2-1+b1\n"
    assert rootfs.parse_manifest(text) == {"systemd": "252.38-1~deb12u1", "python3": "3.11.2-1+b1"}
    assert rootfs.format_manifest({"b": "2", "a": "1"}) == "a 1\nb 2\n"


def test_mounts_under_reads_mountinfo(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 0:21 / /proc rw - proc proc rw\n"
        "90 1 0:5 / /srv/build/rootfs/proc rw - proc proc rw\n"
        "91 90 0:6 / /srv/build/rootfs/proc/sys/fs/binfmt_misc rw - binfmt_misc x rw\n"
        "92 1 0:7 / /srv/build-other rw - tmpfs t rw\n"
        "93 1 0:8 / /srv/build/with\\040space rw - tmpfs t rw\n"
    )
    assert build.mounts_under(Path("/srv/build"), mountinfo) == [
        Path("/srv/build/rootfs/proc/sys/fs/binfmt_misc"),
        Path("/srv/build/rootfs/proc"),
        Path("/srv/build/with space"),
    ]


def test_cached_build_returns_without_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path)})
    leftover = build.workdir(settings) / "rootfs"
    leftover.mkdir(parents=True)
    monkeypatch.setattr(build, "images_ready", lambda _settings, _key: True)
    monkeypatch.setattr(build, "_build", lambda *_: pytest.fail("a cached build must not build"))
    report = build.build(settings)
    assert report.cached
    assert not build.workdir(settings).exists(), "an interrupted build's scratch space is cleaned up"


def test_forced_build_builds_even_when_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path)})
    built: list[str] = []

    def fake_build(_settings: Settings, key: str, _progress: Progress) -> build.BuildReport:
        built.append(key)
        return build.BuildReport(key, False, "image", "box")

    monkeypatch.setattr(build, "images_ready", lambda _settings, _key: True)
    monkeypatch.setattr(build, "_build", fake_build)
    assert not build.build(settings, force=True).cached
    assert len(built) == 1


def test_a_second_concurrent_build_is_refused(tmp_path: Path) -> None:
    settings = Settings.from_env({"LABTOOL_HOME": str(tmp_path)})
    settings.images_dir.mkdir(parents=True)
    with (settings.images_dir / ".lock").open("w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(BusyError, match="the image build is locked by"):
            build.build(settings)


def test_state_is_empty_when_never_built(tmp_path: Path) -> None:
    assert build.read_state(Settings.from_env({"LABTOOL_HOME": str(tmp_path)})) == {}

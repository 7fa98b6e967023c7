from pathlib import Path

import pytest

from labtool.images import recipe


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    (tmp_path / "configure.sh").write_text("echo one\n")
    return tmp_path


def test_key_is_stable_for_the_same_recipe(files_dir: Path) -> None:
    assert recipe.cache_key(files_dir) == recipe.cache_key(files_dir)


def test_key_changes_when_a_build_file_changes(files_dir: Path) -> None:
    before = recipe.cache_key(files_dir)
    (files_dir / "configure.sh").write_text("echo two\n")
    assert recipe.cache_key(files_dir) != before


def test_key_changes_when_a_file_is_added(files_dir: Path) -> None:
    before = recipe.cache_key(files_dir)
    (files_dir / "extra.service").write_text("[Unit]\n")
    assert recipe.cache_key(files_dir) != before


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COMMON_PACKAGES", (*recipe.COMMON_PACKAGES, "nginx")),
        ("SUITE", "trixie"),
        ("BOOT_PACKAGES", ("linux-image-cloud-amd64",)),
        ("DOCKER_IMPORT_CHANGES", ('CMD ["/bin/bash"]',)),
    ],
)
def test_key_changes_with_the_spec(files_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: object) -> None:
    before = recipe.cache_key(files_dir)
    monkeypatch.setattr(recipe, name, value)
    assert recipe.cache_key(files_dir) != before


def test_the_real_recipe_covers_its_shell_scripts() -> None:
    names = {p.name for p in recipe.FILES_DIR.iterdir()}
    assert {"configure-rootfs.sh", "make-vm-disk.sh"} <= names
    assert len(recipe.cache_key()) == 16


@pytest.mark.parametrize("name", ["linux-image-amd64", "linux-image-6.1.0-50-amd64", "initramfs-tools-core", "cpio"])
def test_kernel_and_initramfs_packages_are_boot_packages(name: str) -> None:
    assert recipe.is_boot_package(name)


@pytest.mark.parametrize("name", ["systemd", "openssh-server", "python3", "libc6", "udev"])
def test_ordinary_packages_are_not_boot_packages(name: str) -> None:
    assert not recipe.is_boot_package(name)

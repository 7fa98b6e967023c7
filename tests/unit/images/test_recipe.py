from pathlib import Path

import pytest

from labtool.images import recipe


@pytest.fixture
def recipe_files(tmp_path: Path) -> tuple[tuple[Path, ...], Path]:
    source = tmp_path / "recipe.py"
    source.write_text("PACKAGES = ['a']\n")
    files = tmp_path / "files"
    files.mkdir()
    (files / "configure.sh").write_text("echo one\n")
    return (source,), files


def test_key_is_stable_for_the_same_recipe(recipe_files: tuple[tuple[Path, ...], Path]) -> None:
    assert recipe.cache_key(*recipe_files) == recipe.cache_key(*recipe_files)


def test_key_changes_when_a_build_file_changes(recipe_files: tuple[tuple[Path, ...], Path]) -> None:
    sources, files = recipe_files
    before = recipe.cache_key(sources, files)
    (files / "configure.sh").write_text("echo two\n")
    assert recipe.cache_key(sources, files) != before


def test_key_changes_when_a_file_is_added(recipe_files: tuple[tuple[Path, ...], Path]) -> None:
    sources, files = recipe_files
    before = recipe.cache_key(sources, files)
    (files / "extra.service").write_text("[Unit]\n")
    assert recipe.cache_key(sources, files) != before


def test_key_changes_with_the_package_list(
    recipe_files: tuple[tuple[Path, ...], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = recipe.cache_key(*recipe_files)
    monkeypatch.setattr(recipe, "COMMON_PACKAGES", (*recipe.COMMON_PACKAGES, "nginx"))
    assert recipe.cache_key(*recipe_files) != before


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

"""requirements.yml: local sources installed into the project, remote ones refused with a way out."""

import os
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from labtool import requirements
from labtool.requirements import RequirementsError
from tests.unit.projects import small_project, write_tree

ROLE = {
    "tasks/main.yml": "---\n- name: Vendored\n  ansible.builtin.debug:\n    msg: v\n",
    "meta/main.yml": "---\ngalaxy_info:\n  author: t\n  description: t\n  license: MIT\n"
    '  min_ansible_version: "2.15"\n',
}


def vendored_role(directory: Path) -> Path:
    write_tree(directory, ROLE)
    return directory


def test_a_directory_source_is_copied_and_a_second_install_is_skipped(tmp_path: Path) -> None:
    vendored_role(tmp_path / "vendor" / "cache")
    project = small_project(tmp_path / "p", {"requirements.yml": f"---\n- src: {tmp_path}/vendor/cache\n"})
    assert requirements.install(project) == ["cache"]
    assert (project.installed_roles_dir / "cache" / "tasks" / "main.yml").is_file()
    assert requirements.install(project) == []  # nothing changed
    (tmp_path / "vendor" / "cache" / "tasks" / "main.yml").write_text("---\n[]\n")
    assert requirements.install(project) == ["cache"]  # the source changed


@pytest.mark.skipif(not os.access("/usr/bin/git", os.X_OK), reason="git is installed by scripts/setup.sh")
def test_a_tarball_and_a_git_checkout_are_installed_by_ansible_galaxy(tmp_path: Path) -> None:
    source = vendored_role(tmp_path / "src" / "tarred")
    with tarfile.open(tmp_path / "tarred.tar.gz", "w:gz") as tar:
        tar.add(source, arcname="tarred")
    repo = vendored_role(tmp_path / "gitrole")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "role"], check=True)
    spec = f"---\nroles:\n  - src: {tmp_path}/tarred.tar.gz\n  - src: git+file://{repo}\n    name: fromgit\n"
    project = small_project(tmp_path / "p", {"requirements.yml": spec})
    assert requirements.install(project) == ["tarred", "fromgit"]
    for name in ("tarred", "fromgit"):
        assert (project.installed_roles_dir / name / "tasks" / "main.yml").is_file()


def test_galaxy_names_and_remote_urls_are_refused_with_every_entry_named(tmp_path: Path) -> None:
    spec = "---\n- src: geerlingguy.redis\n- src: https://example.invalid/role.tar.gz\n- name: nosrc\n"
    project = small_project(tmp_path, {"requirements.yml": spec})
    with pytest.raises(RequirementsError) as caught:
        requirements.install(project)
    problems = caught.value.message.splitlines()
    assert len(problems) == 3
    assert "entry 1 (geerlingguy.redis): a Galaxy role name, and Galaxy cannot be reached here" in problems[0]
    assert "entry 2 (https://example.invalid/role.tar.gz): a remote source (https://)" in problems[1]
    assert "entry 3: has no `src`" in problems[2]
    assert "keep a copy on disk" in caught.value.hint
    assert not project.installed_roles_dir.exists()


def test_a_failed_install_keeps_the_roles_installed_before(tmp_path: Path) -> None:
    vendored_role(tmp_path / "vendor" / "cache")
    project = small_project(tmp_path / "p", {"requirements.yml": f"---\n- src: {tmp_path}/vendor/cache\n"})
    requirements.install(project)
    (tmp_path / "broken.tar.gz").write_text("not a tarball")
    project.requirements.write_text(f"---\n- src: {tmp_path}/vendor/cache\n- src: {tmp_path}/broken.tar.gz\n")
    with pytest.raises(Exception):  # noqa: B017 - ansible-galaxy's failure, whatever its wording
        requirements.install(project)
    assert (project.installed_roles_dir / "cache" / "tasks" / "main.yml").is_file()
    assert sorted(p.name for p in project.installed_roles_dir.parent.iterdir()) == ["roles", requirements.LOCK_FILE]


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/escaped", "..", ".hidden", "a/b", "-x"])
def test_a_name_that_is_not_a_role_name_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    vendored_role(tmp_path / "vendor" / "cache")
    spec = f"---\n- src: {tmp_path}/vendor/cache\n  name: '{name}'\n"
    project = small_project(tmp_path / "p", {"requirements.yml": spec})
    with pytest.raises(RequirementsError) as caught:
        requirements.install(project)
    assert f"name {name!r} is not a role name" in caught.value.message
    assert not project.installed_roles_dir.parent.exists()
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped").exists()


def test_two_entries_with_one_name_are_refused(tmp_path: Path) -> None:
    vendored_role(tmp_path / "a" / "cache")
    vendored_role(tmp_path / "b" / "cache")
    spec = f"---\n- src: {tmp_path}/a/cache\n- src: {tmp_path}/b/cache\n"
    with pytest.raises(RequirementsError, match="role 'cache' is named by 2 entries"):
        requirements.install(small_project(tmp_path / "p", {"requirements.yml": spec}))


def test_a_link_in_a_source_is_installed_as_a_link_and_its_target_counts_as_a_change(tmp_path: Path) -> None:
    source = vendored_role(tmp_path / "vendor" / "cache")
    (tmp_path / "secret").write_text("of the labtool host\n")
    (source / "files").mkdir()
    (source / "files" / "motd").symlink_to(tmp_path / "secret")
    project = small_project(tmp_path / "p", {"requirements.yml": f"---\n- src: {source}\n"})
    assert requirements.install(project) == ["cache"]
    installed = project.installed_roles_dir / "cache" / "files" / "motd"
    assert installed.is_symlink() and installed.readlink() == tmp_path / "secret"
    assert requirements.install(project) == []
    (source / "files" / "motd").unlink()
    (source / "files" / "motd").symlink_to("elsewhere")
    assert requirements.install(project) == ["cache"]


def test_an_install_waits_for_a_provisioning_run_of_the_same_course(tmp_path: Path) -> None:
    vendored_role(tmp_path / "vendor" / "cache")
    project = small_project(tmp_path / "p", {"requirements.yml": f"---\n- src: {tmp_path}/vendor/cache\n"})
    waited = threading.Event()
    installed: list[list[str]] = []

    def install() -> None:
        installed.append(requirements.install(project, on_wait=lambda _: waited.set()))

    with requirements.in_use(project):
        worker = threading.Thread(target=install)
        worker.start()
        assert waited.wait(30), "the install did not say it waits"
        assert installed == [] and not project.installed_roles_dir.exists()
    worker.join(30)
    assert installed == [["cache"]]

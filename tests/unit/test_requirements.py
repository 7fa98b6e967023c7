"""requirements.yml: local sources installed into the project, remote ones refused with a way out."""

import os
import subprocess
import tarfile
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
    assert sorted(p.name for p in project.installed_roles_dir.parent.iterdir()) == ["roles"]

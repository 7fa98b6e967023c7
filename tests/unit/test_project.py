from pathlib import Path

import pytest

from labtool import project
from labtool.project import DEFAULT_ANSIBLE_CFG, Project, ProjectError


def make(root: Path) -> Path:
    (root / "inventories").mkdir(parents=True)
    (root / "playbooks").mkdir()
    return root


def test_found_in_a_parent_of_the_working_directory(tmp_path: Path) -> None:
    root = make(tmp_path / "course")
    (root / "roles" / "web").mkdir(parents=True)
    assert project.find(env={}, cwd=root / "roles" / "web") == Project(root.resolve())


def test_project_option_wins_over_the_environment_which_wins_over_the_working_directory(tmp_path: Path) -> None:
    one, two, three = make(tmp_path / "one"), make(tmp_path / "two"), make(tmp_path / "three")
    env = {"LABTOOL_PROJECT": str(two)}
    assert project.find(one, env=env, cwd=three).root == one.resolve()
    assert project.find(None, env=env, cwd=three).root == two.resolve()
    assert project.find(None, env={}, cwd=three).root == three.resolve()


def test_nothing_found_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        project.find(env={}, cwd=tmp_path)
    assert "no lab project" in caught.value.message
    assert "labtool init" in caught.value.hint


def test_a_named_directory_that_is_not_a_project_says_what_it_lacks(tmp_path: Path) -> None:
    (tmp_path / "half" / "playbooks").mkdir(parents=True)
    with pytest.raises(ProjectError) as caught:
        project.find(env={"LABTOOL_PROJECT": str(tmp_path / "half")}, cwd=tmp_path)
    assert caught.value.message.startswith("LABTOOL_PROJECT")
    assert "no inventories/" in caught.value.message


def test_ansible_cfg_is_the_projects_own_else_labtools(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    assert Project(root).ansible_cfg == DEFAULT_ANSIBLE_CFG
    assert DEFAULT_ANSIBLE_CFG.is_file()
    (root / "ansible.cfg").write_text("[defaults]\n")
    assert Project(root).ansible_cfg == root / "ansible.cfg"

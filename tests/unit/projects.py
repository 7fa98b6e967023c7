"""A small lab project written in a temporary directory for unit tests."""

from __future__ import annotations

from pathlib import Path

from labtool.project import Project

SITE = """\
---
- name: The whole lab
  hosts: lab
  roles:
    - web
  tasks:
    - name: Use a role from a task
      ansible.builtin.include_role:
        name: helper
"""


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def small_project(root: Path, extra: dict[str, str] | None = None) -> Project:
    """playbooks/site.yml using roles web (which depends on common) and helper; role unused is never used."""
    write_tree(
        root,
        {
            "playbooks/site.yml": SITE,
            "playbooks/group_vars/lab.yml": "---\nweb_port: 80\n",
            "roles/web/tasks/main.yml": "---\n- name: Say hi\n  ansible.builtin.debug:\n    msg: hi\n",
            "roles/web/meta/main.yml": "---\ndependencies:\n  - role: common\n",
            "roles/common/defaults/main.yml": "---\ncommon_x: 1\n",
            "roles/helper/tasks/main.yml": "---\n- name: Help\n  ansible.builtin.debug:\n    msg: help\n",
            "roles/unused/tasks/main.yml": "---\n- name: Never\n  ansible.builtin.debug:\n    msg: never\n",
            "tests/test_x.py": "def test_x():\n    pass\n",
            "inventories/.keep": "",
            **(extra or {}),
        },
    )
    return Project(root)

"""The managed-file list is read from the roles' tasks, rendered with their defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtool.errors import LabtoolError
from labtool.parity.managed_files import managed_files
from labtool.provision import ROLES_DIR


def write_role(roles: Path, tasks: str, defaults: str = "---\n") -> None:
    (roles / "app" / "tasks").mkdir(parents=True)
    (roles / "app" / "defaults").mkdir()
    (roles / "app" / "tasks" / "main.yml").write_text(tasks)
    (roles / "app" / "defaults" / "main.yml").write_text(defaults)


def test_the_lab_roles_manage_the_app_the_web_server_and_the_ssh_settings() -> None:
    files = managed_files(ROLES_DIR)
    for path in (
        "/opt/labnotes/labnotes.py",  # copy, dest from a templated default
        "/etc/labnotes",  # file with a literal loop
        "/etc/nginx/sites-enabled/default",  # file state=absent: its absence is checked too
        "/etc/ssh/sshd_config.d/50-labtool.conf",
        "/etc/motd",
    ):
        assert path in files
    assert files == sorted(set(files))
    assert not any("{{" in path for path in files)


def test_targets_are_rendered_with_defaults_loops_and_nested_blocks(tmp_path: Path) -> None:
    write_role(
        tmp_path,
        """---
- name: Write the config
  ansible.builtin.template: {src: a.j2, dest: "{{ app_dir }}/app.conf"}
- name: Make directories
  file: {path: "{{ item.path }}", state: directory}
  loop:
    - {path: "{{ app_dir }}/data"}
    - {path: /srv/shared}
- name: A block
  block:
    - name: Edit a line
      ansible.builtin.lineinfile: {path: /etc/hosts, line: x}
- name: Not a file module
  ansible.builtin.apt: {name: x}
""",
        '---\napp_base: /opt\napp_dir: "{{ app_base }}/app"\n',
    )
    assert managed_files(tmp_path) == ["/etc/hosts", "/opt/app/app.conf", "/opt/app/data", "/srv/shared"]


def test_a_target_that_needs_host_facts_is_an_error_naming_the_task(tmp_path: Path) -> None:
    write_role(
        tmp_path, "---\n- name: Per host\n  ansible.builtin.copy: {src: a, dest: '/etc/{{ ansible_hostname }}'}\n"
    )
    with pytest.raises(LabtoolError, match="task 'Per host': cannot resolve the path"):
        managed_files(tmp_path)


def test_a_loop_over_a_variable_is_an_error_with_the_fix(tmp_path: Path) -> None:
    write_role(tmp_path, "---\n- name: Many\n  ansible.builtin.file: {path: '{{ item }}'}\n  loop: '{{ app_paths }}'\n")
    with pytest.raises(LabtoolError) as caught:
        managed_files(tmp_path)
    assert "literal `loop:` list" in caught.value.hint

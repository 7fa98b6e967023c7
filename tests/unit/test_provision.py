"""How playbooks run: mitogen where it loads, the stock strategy with pipelining otherwise."""

import builtins
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from labtool import inventory
from labtool.host import processes
from labtool.model import Course
from labtool.provision import provision, strategy
from tests.unit.projects import small_project
from tests.unit.rooms import paired_room


def test_mitogen_is_the_default_strategy() -> None:
    chosen = strategy(mitogen=True)
    assert chosen.env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert chosen.env["ANSIBLE_STRATEGY_PLUGINS"].endswith("ansible_mitogen/plugins/strategy")
    assert chosen.note == ""


def test_turned_off_it_is_the_stock_strategy_with_pipelining() -> None:
    assert strategy(mitogen=False).env == {"ANSIBLE_PIPELINING": "True"}


def test_when_mitogen_cannot_load_the_stock_strategy_runs_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_mitogen(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "ansible_mitogen":
            raise ImportError("No module named 'ansible_mitogen'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mitogen)
    chosen = strategy(mitogen=True)
    assert chosen.env == {"ANSIBLE_PIPELINING": "True"}
    assert "mitogen cannot load" in chosen.note


def test_a_playbook_that_runs_past_its_timeout_is_stopped_and_fails_its_machine_naming_the_setting(
    tmp_path: Path,
) -> None:
    project = small_project(tmp_path / "lab")
    sleep = ["sleep", f"299.{os.getpid()}"]  # a command line no other process has
    hung = (
        "---\n- name: Hang\n  hosts: lab\n  gather_facts: false\n  tasks:\n"
        f"    - name: Wait\n      ansible.builtin.command: {' '.join(sleep)}\n"
    )
    playbook = tmp_path / "lab" / "playbooks" / "hang.yml"
    playbook.write_text(hung)
    room_dir = tmp_path / "lab" / "inventories" / "demo"
    room_dir.mkdir()
    (room_dir / "hosts.yml").write_text("---\nlab:\n  hosts:\n    s1-ct:\n")
    room = paired_room(1, path=room_dir, course=Course(project, playbook, tmp_path / "lab" / "tests"))
    generated = tmp_path / "state" / "inventory.yml"
    generated.parent.mkdir()
    inventory.write(generated, {"s1-ct": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}})
    started = time.monotonic()
    result = provision(room, "s1-ct", generated, tmp_path / "state", lambda machine, task: None, timeout=3)
    assert time.monotonic() - started < 60
    assert not result.ok
    assert result.error.startswith("the playbook did not finish within 3 s and was stopped (LABTOOL_PROVISION_TIMEOUT")
    # ansible-runner's own kill misses Ansible's workers (each in a session of its own): nothing may run on.
    time.sleep(0.5)
    leftovers = [argv for argv in processes.command_lines().values() if argv == sleep or str(generated) in argv]
    assert leftovers == []

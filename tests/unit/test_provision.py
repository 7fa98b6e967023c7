"""How playbooks run: mitogen where it loads, the stock strategy with pipelining otherwise; the account play."""

import builtins
import json
import os
import stat
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from labtool import inventory, provision
from labtool.accounts import Account
from labtool.host import apt_cache, processes
from labtool.model import Course, Room
from labtool.provision import strategy
from tests.unit.projects import small_project, write_tree
from tests.unit.rooms import paired_room

URL = "http://10.212.0.1:3142"


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


# -- labtool's apt cache play, run before the course's -------------------------------------------


def local_room(tmp_path: Path) -> tuple[Room, Path]:
    """A one-seat room of the small project whose machines are this host (`local` connection, no become)."""
    project = small_project(tmp_path / "project")
    room_dir = project.rooms_dir / "demo"
    write_tree(
        room_dir,
        {
            "hosts.yml": "lab:\n  children:\n    vms:\n      hosts:\n        s1-vm:\n"
            "    containers:\n      hosts:\n        s1-ct:\n"
        },
    )
    course = Course(project, project.root / "playbooks" / "site.yml", project.root / "tests")
    generated = tmp_path / "generated.yml"
    local = {"ansible_connection": "local", "ansible_become": False, "ansible_python_interpreter": sys.executable}
    generated.write_text(json.dumps({"all": {"hosts": {"s1-vm": local, "s1-ct": local}}}))
    return paired_room(1, path=room_dir, course=course), generated


PLAY = "Set how apt reaches the mirror (through the host's apt cache, or directly)"


def test_both_kinds_get_the_same_apt_proxy_setting_and_lose_it_when_the_cache_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    room, generated = local_room(tmp_path)
    written = {}
    tasks: list[tuple[str, str]] = []
    for machine in ("s1-vm", "s1-ct"):
        target = tmp_path / f"{machine}.conf"
        monkeypatch.setattr(apt_cache, "MACHINE_PROXY_FILE", str(target))
        result = provision.provision(
            room, machine, generated, tmp_path / "work", lambda m, t: tasks.append((m, t)), apt_proxy=URL
        )
        assert result.ok, result.error
        # The setting is labtool's, not the course's: neither counted as a change nor fingerprinted.
        assert result.changed == 0 and str(target) not in result.managed_files
        written[machine] = target.read_text()
    assert written["s1-vm"] == written["s1-ct"]
    assert f'Acquire::http::Proxy "{URL}";' in written["s1-vm"].splitlines()
    assert tasks.index(("s1-ct", PLAY)) < tasks.index(("s1-ct", "Say hi"))
    # The cache is off or not running: the setting goes, so apt on the machine never waits on a dead proxy.
    result = provision.provision(room, "s1-ct", generated, tmp_path / "work", lambda m, t: None, apt_proxy="")
    assert result.ok, result.error
    assert not (tmp_path / "s1-ct.conf").exists()
    assert (tmp_path / "s1-vm.conf").exists()


def test_a_failure_of_the_apt_setting_stops_the_course_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    room, generated = local_room(tmp_path)
    monkeypatch.setattr(apt_cache, "MACHINE_PROXY_FILE", str(tmp_path / "missing-dir" / "proxy.conf"))
    tasks: list[str] = []
    result = provision.provision(
        room, "s1-ct", generated, tmp_path / "work", lambda m, t: tasks.append(t), apt_proxy=URL
    )
    assert not result.ok
    assert "Apt fetches http sources through the host's apt cache" in result.error
    assert "Say hi" not in tasks


def test_without_an_apt_proxy_value_only_the_course_runs(tmp_path: Path) -> None:
    room, generated = local_room(tmp_path)
    tasks: list[str] = []
    result = provision.provision(room, "s1-ct", generated, tmp_path / "work", lambda m, t: tasks.append(t))
    assert result.ok, result.error
    assert PLAY not in tasks and "Say hi" in tasks


def test_a_course_that_plays_nothing_on_the_machine_still_fails_after_labtools_play(tmp_path: Path) -> None:
    room, generated = local_room(tmp_path)
    site = room.course.playbook
    site.write_text(site.read_text().replace("hosts: lab", "hosts: nobody"))
    result = provision.provision(room, "s1-ct", generated, tmp_path / "work", lambda m, t: None, apt_proxy="")
    assert not result.ok and "no play of site.yml targets s1-ct" in result.error


def test_the_account_play_gets_the_hash_from_a_private_file_that_is_gone_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ansible_runner

    seen: dict[str, Any] = {}

    def fake_run(**options: Any) -> Any:
        path = Path(options["cmdline"].split("@", 1)[1])
        seen.update(options, mode=stat.S_IMODE(path.stat().st_mode), variables=json.loads(path.read_text()))
        return SimpleNamespace(status="successful", rc=0, stats={"ok": {"s1-ct": 3}, "changed": {"s1-ct": 1}})

    monkeypatch.setattr(ansible_runner, "run", fake_run)
    room = paired_room(1)
    account = Account("ada", "1234", "$6$salt$hashhashhash")
    result = provision.provision_account(room, "s1-ct", account, tmp_path / "inventory.yml", tmp_path)
    assert result == provision.AccountResult("s1-ct", True, "ada:1234")
    assert seen["playbook"] == str(provision.STUDENTS_PLAYBOOK) and seen["limit"] == "s1-ct"
    assert seen["mode"] == 0o600 and seen["suppress_env_files"] is True
    assert seen["variables"]["labtool_account_password_hash"] == "$6$salt$hashhashhash"
    assert "$6$" not in seen["cmdline"], "the hash is never on a command line"
    assert not list(tmp_path.glob(".*account-vars*")), "the variables file is removed after the run"


def test_students_csv_is_not_part_of_the_provisioning_key(tmp_path: Path) -> None:
    room = paired_room(1, path=tmp_path)
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    key = provision.provision_key(room)
    (tmp_path / "students.csv").write_text("seat,name\ns1,Ada\n")
    assert provision.provision_key(room) == key
    (tmp_path / "hosts.yml").write_text("all: {hosts: {}}\n")
    assert provision.provision_key(room) != key


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
    result = provision.provision(room, "s1-ct", generated, tmp_path / "state", lambda machine, task: None, timeout=3)
    assert time.monotonic() - started < 60
    assert not result.ok
    assert result.error.startswith("the playbook did not finish within 3 s and was stopped (LABTOOL_PROVISION_TIMEOUT")
    # ansible-runner's own kill misses Ansible's workers (each in a session of its own): nothing may run on.
    time.sleep(0.5)
    leftovers = [argv for argv in processes.command_lines().values() if argv == sleep or str(generated) in argv]
    assert leftovers == []


def test_the_courses_changes_are_counted_when_labtools_play_runs_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ansible-runner's `stats` holds only the first playbook's recap (labtool's apt play): a baked seat
    # and the bake itself were reported as changed=0 whatever the course changed.
    room, generated = local_room(tmp_path)
    (room.course.project.root / "roles/web/tasks/main.yml").write_text(
        "---\n- name: Change one thing\n  ansible.builtin.command: 'true'\n  changed_when: true\n"
        "- name: Change another\n  ansible.builtin.command: 'true'\n  changed_when: true\n"
    )
    monkeypatch.setattr(apt_cache, "MACHINE_PROXY_FILE", str(tmp_path / "proxy.conf"))
    result = provision.provision(room, "s1-ct", generated, tmp_path / "work", lambda m, t: None, apt_proxy=URL)
    assert result.ok, result.error
    assert result.changed == 2


def test_a_failed_tasks_summary_ends_with_the_last_lines_apt_printed() -> None:
    result = {
        "msg": "'/usr/bin/apt-get -y install hello' failed: E: Failed to fetch hello.deb\nE: Unable to fetch",
        "stderr": "W: one\nE: Failed to fetch http://mirror/hello.deb  Could not connect to 127.0.0.1:9\n"
        "E: Unable to fetch some archives, maybe run apt-get update\n\n",
    }
    assert provision.failure_lines(result) == (
        "'/usr/bin/apt-get -y install hello' failed: E: Failed to fetch hello.deb / W: one / "
        "E: Failed to fetch http://mirror/hello.deb  Could not connect to 127.0.0.1:9 / "
        "E: Unable to fetch some archives, maybe run apt-get update"
    )


def test_a_failed_tasks_summary_is_bounded_and_never_empty() -> None:
    assert provision.failure_lines({}) == "failed"
    assert provision.failure_lines({"msg": "boom", "stderr": "boom"}) == "boom"
    assert len(provision.failure_lines({"msg": "x" * 10_000, "stderr": ("y" * 10_000 + "\n") * 50})) < 1300

"""Malformed rooms, settings and invocations, as a new user types them: one readable error each.

Every case runs the real command line in-process against a lab project in a
temporary directory, beside a good room. Each must end with exit 1 (2 for a usage
error), an `error:` naming the file and key, a `hint:`, a message of bounded
length, no traceback, nothing executed, nothing written in the project, and the
good room still loading.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from labtool import config
from labtool.cli import main
from labtool.project import Project
from labtool.settings import Settings
from tests.unit.projects import write_tree

GOOD_HOSTS = (
    "lab:\n  children:\n    vms:\n      hosts:\n        seat01-vm:\n    containers:\n      hosts:\n        seat01-ct:\n"
)
GOOD_SETTINGS = "network:\n  index: 20\n"
MAX_MESSAGE = 2000
MARKER = "executed-marker"


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str] = field(default_factory=dict)
    """Files of room `bad` (relative to it); None-free: what is not given is the good default."""
    argv: tuple[str, ...] = ("status", "bad")
    said: tuple[str, ...] = ()
    """Substrings the error must contain: the file, the key, the value or fix."""
    env: dict[str, str] = field(default_factory=dict)
    code: int = 1
    spares_others: bool = True
    """False where the fault is shared by design: two rooms on one network index are both refused."""


def settings(text: str) -> dict[str, str]:
    return {"labtool.yml": text}


def hosts(text: str) -> dict[str, str]:
    return {"hosts.yml": text}


CASES = [
    # labtool.yml: every key with a wrong type or range
    Case("vm.cpus string", settings("network: {index: 21}\nvm: {cpus: two}\n"), said=("labtool.yml", "vm.cpus")),
    Case("vm.cpus zero", settings("network: {index: 21}\nvm: {cpus: 0}\n"), said=("vm.cpus", "below 1")),
    Case("vm.cpus fraction", settings("network: {index: 21}\nvm: {cpus: 1.5}\n"), said=("vm.cpus", "whole")),
    Case("vm.cpus huge", settings("network: {index: 21}\nvm: {cpus: 4096}\n"), said=("vm.cpus", "above 64")),
    Case("vm.memory small", settings("network: {index: 21}\nvm: {memory_mib: 100}\n"), said=("vm.memory_mib",)),
    Case("vm.memory huge", settings("network: {index: 21}\nvm: {memory_mib: 99999999}\n"), said=("vm.memory_mib",)),
    Case("container.cpus nan", settings("network: {index: 21}\ncontainer: {cpus: .nan}\n"), said=("finite",)),
    Case("container.cpus inf", settings("network: {index: 21}\ncontainer: {cpus: .inf}\n"), said=("finite",)),
    Case("container.cpus zero", settings("network: {index: 21}\ncontainer: {cpus: 0}\n"), said=("not above 0",)),
    Case("container.memory bool", settings("network: {index: 21}\ncontainer: {memory_mib: true}\n"), said=("true",)),
    Case("index octal", settings("network:\n  index: 010\n"), said=("leading zero", "write 10")),
    Case("index zero", settings("network: {index: 0}\n"), said=("network.index", "1 to 254")),
    Case("index too big", settings("network: {index: 300}\n"), said=("network.index", "above 254")),
    Case("index missing", settings("vm: {cpus: 1}\n"), said=("network.index: missing",)),
    Case("index taken", settings("network: {index: 20}\n"), said=("also used by room good",), spares_others=False),
    Case("unknown section", settings("network: {index: 21}\nvms: {cpus: 1}\n"), said=("vms: unknown section",)),
    Case("misspelt key", settings("network: {index: 21}\nvm: {cpu: 1}\n"), said=("did you mean vm.cpus",)),
    Case("section not a mapping", settings("network: {index: 21}\nvm: 3\n"), said=("vm: must be a mapping",)),
    Case("settings a list", settings("- network\n"), said=("must be a mapping of sections",)),
    Case("nested deep", settings("a: " + "[" * 5000 + "]" * 5000 + "\n"), said=("nested too deeply",)),
    Case(
        "alias bomb",
        settings('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b]\n'),
        said=("anchors and aliases",),
    ),
    Case("merge key", settings("base: &base {cpus: 1}\nvm:\n  <<: *base\n"), said=("anchors and aliases",)),
    Case("too large", settings("# " + "x" * 100_000 + "\nnetwork: {index: 21}\n"), said=("over 64 KiB",)),
    Case("duplicate key", settings("network: {index: 21}\nnetwork: {index: 22}\n"), said=('duplicate key "network"',)),
    Case("not YAML", settings("network: [index: 21\n"), said=("not valid YAML", "line 2")),
    Case("huge bad value", settings(f"network: {{index: 21}}\nvm: {{cpus: {'9' * 5000}x}}\n"), said=("vm.cpus",)),
    # course:
    Case(
        "playbook missing", settings("network: {index: 21}\ncourse: {playbook: nope.yml}\n"), said=("course.playbook",)
    ),
    Case(
        "playbook outside the project",
        settings("network: {index: 21}\ncourse: {playbook: ../../../etc/passwd}\n"),
        said=("course.playbook", "outside the lab project"),
    ),
    Case(
        "tests not a directory",
        settings("network: {index: 21}\ncourse: {tests: ansible.cfg}\n"),
        said=("course.tests",),
    ),
    Case("course unknown key", settings("network: {index: 21}\ncourse: {play: x}\n"), said=("course.play: unknown",)),
    Case(
        "app url not http",
        settings("network: {index: 21}\ncourse: {app: {page_url: 'file:///etc/shadow'}}\n"),
        said=("course.app.page_url", "http(s)"),
    ),
    Case(
        "allow-list malformed",
        {"labtool.yml": "network: {index: 21}\ncourse: {expected_differences: allow.yml}\n"},
        said=("course.expected_differences", "reason"),
    ),
    # the inventory
    Case("no inventory", {"hosts.yml": ""}, said=("no seats",)),
    Case(
        "connection from host_vars",
        {"host_vars/seat01-vm.yml": "ansible_connection: local\n"},
        said=("seat01-vm", "ansible_connection", "labtool owns"),
    ),
    Case(
        "address from group_vars",
        {"group_vars/all.yml": "ansible_host: 192.0.2.1\n"},
        said=("ansible_host", "labtool owns"),
    ),
    Case("too many seats", hosts(GOOD_HOSTS.replace("seat01", "seat[001:251]")), said=("251 seats", "at most 250")),
    Case(
        "unpaired VM", hosts("lab:\n  children:\n    vms:\n      hosts:\n        seat01-vm:\n"), said=("no container",)
    ),
    Case(
        "shell metacharacters in a host name",
        hosts(GOOD_HOSTS.replace("seat01-vm:", "'seat01;reboot-vm':")),
        said=("not a valid hostname",),
    ),
    Case(
        "executable inventory script",
        {"dynamic.sh": "#!/bin/sh\ntouch MARKER\necho '{}'\n"},
        said=("dynamic.sh", "Ansible cannot read"),
    ),
    Case("inventory not YAML", hosts("lab:\n  children: [\n"), said=("hosts.yml", "Ansible cannot read")),
    # names and invocations
    Case("room name with ..", argv=("status", "../etc"), said=("not valid",)),
    Case("room name with a slash", argv=("status", "a/b"), said=("not valid",)),
    Case("no such room", argv=("status", "nope"), said=("room nope does not exist", "good")),
    Case("relative LABTOOL_HOME", env={"LABTOOL_HOME": "relative/home"}, said=("LABTOOL_HOME",)),
    Case("unknown acceleration", env={"LABTOOL_VM_ACCEL": "xen"}, said=("LABTOOL_VM_ACCEL",)),
    Case("relative LABTOOL_ROOMS_DIR", env={"LABTOOL_ROOMS_DIR": "rooms"}, said=("LABTOOL_ROOMS_DIR",)),
    Case("project that is not one", argv=("--project", "/nonexistent", "status"), said=("--project", "labtool init")),
    Case("parallel zero", argv=("up", "good", "--parallel", "0"), code=2, said=("--parallel",)),
    Case("parallel negative", argv=("provision", "good", "--parallel", "-1"), code=2, said=("--parallel",)),
]


def lab_project(root: Path) -> Project:
    write_tree(
        root,
        {
            "playbooks/site.yml": "---\n- name: Lab\n  hosts: lab\n  tasks: []\n",
            "molecule/shared/tests/test_x.py": "",
            "ansible.cfg": "[defaults]\n",
            "allow.yml": "- items: ['file:/x']\n",
            "inventories/good/hosts.yml": GOOD_HOSTS,
            "inventories/good/labtool.yml": GOOD_SETTINGS,
        },
    )
    return Project(root)


def snapshot(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if not p.is_symlink()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_readable_error(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = lab_project(tmp_path / "project")
    room = project.rooms_dir / "bad"
    files = {"hosts.yml": GOOD_HOSTS, "labtool.yml": "network: {index: 21}\n", **case.files}
    write_tree(room, {name: text.replace("MARKER", str(tmp_path / MARKER)) for name, text in files.items()})
    for script in room.glob("*.sh"):
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    home = tmp_path / "home"
    monkeypatch.chdir(project.root)
    monkeypatch.setenv("LABTOOL_HOME", str(home))
    monkeypatch.setenv("LABTOOL_PROJECT", str(project.root))
    monkeypatch.delenv("LABTOOL_ROOMS_DIR", raising=False)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    before = snapshot(project.root)

    if case.code == 2:
        with pytest.raises(SystemExit) as usage:
            main(list(case.argv))
        code = usage.value.code
    else:
        code = main(list(case.argv))
    err = capsys.readouterr().err

    assert code == case.code, err
    assert "Traceback" not in err
    assert len(err) < MAX_MESSAGE, err[:500]
    if case.code == 1:
        assert err.startswith("error: "), err
        assert err.count("error: ") == 1 and "\nhint: " in err, err
    for words in case.said:
        assert words in err, err
    assert not (tmp_path / MARKER).exists(), "an inventory script was executed"
    assert snapshot(project.root) == before, "something was written into the project"
    kept = [p for p in home.rglob("*.json") if p.parent != Settings.from_env().inventory_cache_dir]
    assert not kept, "no state for a room that did not load"
    if case.spares_others:
        assert config.load(project.rooms_dir, "good", project).seats  # the good room is unaffected


def test_the_table_is_broad() -> None:
    assert len(CASES) >= 40

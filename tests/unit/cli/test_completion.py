"""Shell completion: rooms, seats and machines from the lab project, quietly nothing when it cannot tell."""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import pytest

from labtool.cli import completion, context, main, parser
from tests.unit.projects import write_tree

HOSTS = (
    "lab:\n  children:\n    vms:\n      hosts:\n        seat01-vm:\n        seat02-vm:\n"
    "    containers:\n      hosts:\n        seat01-ct:\n        seat02-ct:\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "course"
    write_tree(
        root,
        {
            "playbooks/site.yml": "---\n- name: Lab\n  hosts: lab\n  tasks: []\n",
            "molecule/shared/tests/test_x.py": "",
            "inventories/net101/hosts.yml": HOSTS,
            "inventories/net101/labtool.yml": "network:\n  index: 31\n",
            "inventories/netlab/hosts.yml": HOSTS.replace("seat0", "desk0"),
            "inventories/netlab/labtool.yml": "network:\n  index: 32\n",
            "inventories/web/hosts.yml": "lab: [broken\n",
            "inventories/web/labtool.yml": "network:\n  index: 33\n",
            "inventories/notes/README": "not a room: no labtool.yml\n",
        },
    )
    monkeypatch.chdir(root)
    monkeypatch.delenv("LABTOOL_PROJECT", raising=False)
    monkeypatch.delenv("LABTOOL_ROOMS_DIR", raising=False)
    return root


def args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**{"project": None, **values})


def test_rooms_come_from_the_projects_rooms_directory(project: Path) -> None:
    assert context.complete_rooms("", args()) == ["net101", "netlab", "web"]
    assert context.complete_rooms("netl", args()) == ["netlab"]
    assert context.complete_rooms("x", args()) == []


def test_rooms_follow_project_and_rooms_dir(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # outside any project: nothing to offer, and no error
    assert context.complete_rooms("", args()) == []
    assert context.complete_rooms("", args(project=project)) == ["net101", "netlab", "web"]
    write_tree(tmp_path / "elsewhere", {"other/labtool.yml": "network:\n  index: 40\n"})
    monkeypatch.setenv("LABTOOL_ROOMS_DIR", str(tmp_path / "elsewhere"))
    assert context.complete_rooms("", args(project=project)) == ["other"]


def test_seats_and_machines_are_those_of_the_room_on_the_line(project: Path) -> None:
    assert context.complete_seats("", args(room="net101")) == ["seat01", "seat02"]
    assert context.complete_seats("desk02", args(room="netlab")) == ["desk02"]
    assert context.complete_machines("seat02", args(room="net101")) == ["seat02-vm", "seat02-ct"]
    assert context.complete_machines("", args(room="netlab")) == ["desk01-vm", "desk01-ct", "desk02-vm", "desk02-ct"]


def test_a_broken_or_unknown_room_completes_to_nothing(project: Path) -> None:
    assert context.complete_seats("", args(room="web")) == []
    assert context.complete_machines("", args(room="nope")) == []
    assert context.complete_seats("", args(room=None)) == []  # the default room, which this project lacks


def test_ansible_does_not_see_the_completion_request(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_ARGCOMPLETE", "1")
    monkeypatch.setenv("COMP_LINE", "labtool status net101 --seat ")
    assert context.complete_seats("", args(room="net101")) == ["seat01", "seat02"]
    assert os.environ["_ARGCOMPLETE"] == "1"  # put back afterwards


def complete_line(line: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the shell gets back for `line`, through argcomplete as `labtool completion` wires it."""
    import argcomplete.io
    from argcomplete.finders import CompletionFinder

    class Finder(CompletionFinder):
        def _init_debug_stream(self) -> None:  # argcomplete's own would take file descriptor 9, which pytest uses
            argcomplete.io.debug_stream = io.StringIO()

    for name, value in {"_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COMP_POINT", str(len(line)))
    monkeypatch.setattr(argcomplete.io, "debug_stream", argcomplete.io.debug_stream)
    out = io.StringIO()
    exits: list[int] = []
    Finder()(parser(), exit_method=exits.append, output_stream=out)
    assert exits == [0]
    return out.getvalue().split("\n")


def test_the_command_line_completes_verbs_rooms_seats_and_machines(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(complete_line("labtool st", monkeypatch)) == {"status", "stop", "start"}
    assert "net101" in complete_line("labtool stop ", monkeypatch)
    assert complete_line("labtool down netl", monkeypatch) == ["netlab "]
    assert complete_line("labtool start net101 --seat seat0", monkeypatch) == ["seat01", "seat02"]
    assert complete_line("labtool ssh seat01-vm --room net", monkeypatch) == ["net101", "netlab"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_shell_code(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    code = capsys.readouterr().out
    assert "labtool" in code and "_ARGCOMPLETE" in code


def test_completion_without_argcomplete_is_a_readable_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for module in ("argcomplete", "argcomplete.shell_integration"):
        monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    assert main(["completion"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: shell completion needs the argcomplete package") and "hint: " in err
    assert completion.SHELLS == ("bash", "zsh", "fish")

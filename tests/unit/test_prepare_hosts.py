"""`labtool hosts prepare`: the inventory it hands Ansible, and each host's outcome from the run's stats."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from labtool import prepare_hosts
from labtool.errors import LabtoolError
from labtool.model import THIS_HOST, LabHost
from tests.unit.rooms import paired_room

LAB2, LAB3 = LabHost("lab2", "root@192.0.2.12"), LabHost("lab3", "admin@192.0.2.13")


def test_only_the_other_hosts_are_prepared_and_a_room_of_this_machine_alone_is_told_how() -> None:
    room = dataclasses.replace(paired_room(1), hosts=(THIS_HOST, LAB2, LAB3))
    assert prepare_hosts.remote_hosts(room) == [LAB2, LAB3]
    with pytest.raises(LabtoolError) as raised:
        prepare_hosts.remote_hosts(paired_room(1))
    assert "lists no lab host but this machine" in raised.value.message
    assert "labtool daemons" in raised.value.hint


def test_ansible_reaches_each_host_as_its_ssh_destination_says_with_a_key_only() -> None:
    hosts = prepare_hosts.inventory_of([LAB2, LAB3])["all"]["hosts"]
    assert (hosts["lab3"]["ansible_host"], hosts["lab3"]["ansible_user"]) == ("192.0.2.13", "admin")
    assert "BatchMode=yes" in hosts["lab2"]["ansible_ssh_common_args"]


def test_each_host_has_its_own_outcome_and_a_failure_names_the_task(tmp_path: Path) -> None:
    events = prepare_hosts._Events(open(tmp_path / "log", "w"), lambda host, task: None)  # noqa: SIM115
    events(
        {
            "event": "runner_on_failed",
            "event_data": {
                "host": "lab3",
                "task": "Docker Engine, libvirt and QEMU are installed",
                "res": {"msg": "No package matching 'docker.io' is available"},
            },
        }
    )
    stats = {"ok": {"lab2": 17, "lab3": 3}, "changed": {"lab2": 2}, "failures": {"lab3": 1}}
    lab2 = prepare_hosts._outcome(LAB2, stats, events, "failed", tmp_path / "log")
    lab3 = prepare_hosts._outcome(LAB3, stats, events, "failed", tmp_path / "log")
    assert (lab2.ok, lab2.changed, lab2.error) == (True, 2, "")
    assert not lab3.ok
    assert lab3.error.startswith("task 'Docker Engine, libvirt and QEMU are installed': No package matching")
    assert lab3.as_json()["error"] == lab3.error
    unreached = prepare_hosts._outcome(LabHost("lab4", "root@x"), stats, events, "failed", tmp_path / "log")
    assert not unreached.ok and "ansible-playbook ended failed" in unreached.error


def test_the_play_documents_every_variable_it_reads_and_names_each_task_as_a_sentence() -> None:
    [play] = yaml.safe_load(prepare_hosts.PLAYBOOK.read_text())
    assert all(name.startswith("labtool_host_") for name in play["vars"])
    text = prepare_hosts.PLAYBOOK.read_text()
    for variable in play["vars"]:
        assert f"    {variable}:" in text
    assert all(task["name"][0].isupper() for task in play["tasks"])
    assert prepare_hosts.LIBVIRTD_SCRIPT.is_file()

"""How a lab container runs: one list of options, which labtool's backend and Molecule's docker scenario share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from labtool.images import docker_image

SCENARIO = Path(__file__).resolve().parents[3] / "molecule" / "docker"
# Keys with which a scenario platform could run its container otherwise than labtool does.
RUN_KEYS = {
    "privileged",
    "capabilities",
    "cap_drop",
    "security_opts",
    "tmpfs",
    "volumes",
    "mounts",
    "devices",
    "network_mode",
    "pid_mode",
    "cgroupns_mode",
    "userns_mode",
    "command",
    "override_command",
    "stop_signal",
}


def test_capabilities_are_all_dropped_and_a_documented_few_given_back() -> None:
    options = docker_image.RUN_OPTIONS
    assert options["privileged"] is False
    assert options["cap_drop"] == ["ALL"]
    assert options["cap_add"] == list(docker_image.CAPABILITIES)
    assert len(set(docker_image.CAPABILITIES)) == len(docker_image.CAPABILITIES)
    # Each one says why, on its own line of the module.
    source = Path(docker_image.__file__).read_text()
    for capability in docker_image.CAPABILITIES:
        assert f'    "{capability}",  # ' in source, capability
    # The ones that would hand the host over are never among them.
    assert not {"SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "NET_ADMIN", "SYS_RAWIO"} & set(docker_image.CAPABILITIES)


def test_the_ansible_form_says_the_same_as_the_sdk_form() -> None:
    assert docker_image.ansible_options() == {
        "tmpfs": ["/run:rw,mode=755", "/run/lock:rw", "/tmp:rw"],
        "volumes": ["/sys/fs/cgroup:/sys/fs/cgroup:ro"],
        "stop_signal": "SIGRTMIN+3",
        "privileged": False,
        "cap_drop": ["ALL"],
        "capabilities": list(docker_image.CAPABILITIES),
        "security_opts": list(docker_image.SECURITY_OPT),
    }


def _container_task(playbook: list[dict[str, Any]]) -> dict[str, Any]:
    (task,) = [t for play in playbook for t in play["tasks"] if "community.docker.docker_container" in t]
    return dict(task["community.docker.docker_container"])


def test_molecules_docker_scenario_runs_its_container_with_labtools_options() -> None:
    scenario = yaml.safe_load((SCENARIO / "molecule.yml").read_text())
    assert scenario["provisioner"]["playbooks"]["create"] == "create.yml"
    for platform in scenario["platforms"]:
        assert not RUN_KEYS & set(platform), f"{platform['name']} sets its own run options"
    create = yaml.safe_load((SCENARIO / "create.yml").read_text())
    task = _container_task(create)
    for key in docker_image.ansible_options():
        assert task[key] == f"{{{{ labtool_run.{key} }}}}", key
    asked = next(t for play in create for t in play["tasks"] if "ansible.builtin.command" in t)
    assert "docker_image.ansible_options()" in " ".join(asked["ansible.builtin.command"]["argv"])
    assert not (RUN_KEYS - set(docker_image.ansible_options())) & set(task)

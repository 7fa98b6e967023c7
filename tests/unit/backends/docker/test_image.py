"""How a lab container runs: one list of options, which labtool's backend and Molecule's docker scenario share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from labtool.backends.docker import image as docker_image
from labtool.backends.docker import seccomp
from labtool.errors import LabtoolError

SCENARIO = Path(__file__).resolve().parents[4] / "molecule" / "docker"
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
    "pids_limit",
    "env",
}


@pytest.fixture
def docker_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for Docker's default seccomp profile (the real one is a Debian package's file)."""
    profile = tmp_path / "default.json"
    rules = [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}))
    monkeypatch.setattr(seccomp, "DOCKER_DEFAULT", profile)
    return profile


def test_capabilities_are_all_dropped_and_a_documented_few_given_back(docker_default: Path) -> None:
    options = docker_image.run_options()
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


def test_the_ansible_form_says_the_same_as_the_sdk_form(docker_default: Path) -> None:
    assert docker_image.ansible_options(relax_sandboxing=False) == {
        "tmpfs": ["/run:rw,mode=755", "/run/lock:rw", "/tmp:rw"],
        "volumes": ["/sys/fs/cgroup:/sys/fs/cgroup:ro"],
        "stop_signal": "SIGRTMIN+3",
        "privileged": False,
        "cap_drop": ["ALL"],
        "capabilities": list(docker_image.CAPABILITIES),
        "security_opts": [seccomp.security_opt(docker_default)],
        "pids_limit": 4096,
        "env": {"LABTOOL_SANDBOX_RELAX": "off"},
    }


def test_the_seccomp_profile_is_dockers_default_plus_the_namespace_calls(docker_default: Path) -> None:
    (option,) = docker_image.run_options()["security_opt"]
    profile = json.loads(option.removeprefix("seccomp="))
    base = json.loads(docker_default.read_text())
    assert profile["defaultAction"] == base["defaultAction"]
    assert profile["syscalls"][:-1] == base["syscalls"]
    added = profile["syscalls"][-1]
    assert added["action"] == "SCMP_ACT_ALLOW" and set(added["names"]) == set(seccomp.NAMESPACE_CALLS)
    # What would reach past the container stays Docker's to refuse.
    assert not {"bpf", "perf_event_open", "syslog", "keyctl", "init_module", "kexec_load"} & set(added["names"])


def test_a_missing_default_profile_says_which_package_brings_it(tmp_path: Path) -> None:
    with pytest.raises(LabtoolError) as raised:
        seccomp.profile(tmp_path / "nothing.json")
    assert seccomp.DOCKER_DEFAULT_PACKAGE in raised.value.hint


def _container_task(playbook: list[dict[str, Any]]) -> dict[str, Any]:
    (task,) = [t for play in playbook for t in play["tasks"] if "community.docker.docker_container" in t]
    return dict(task["community.docker.docker_container"])


def test_molecules_docker_scenario_runs_its_container_with_labtools_options(docker_default: Path) -> None:
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

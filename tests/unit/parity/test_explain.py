"""Each drifted item says why and how to repair it: explanations built from recorded collector output."""

from __future__ import annotations

from typing import Any

from labtool.parity import explain
from labtool.parity.diff import Difference, SeatParity
from labtool.parity.sockets import Socket

FAILED_REDIS = """LoadState=loaded
ActiveState=failed
SubState=failed
Result=exit-code
ExecMainCode=1
ExecMainStatus=217
ConditionResult=yes
UnitFileState=enabled
"""
RUNNING = "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nExecMainStatus=0\n"


def test_a_units_exit_status_is_said_in_words() -> None:
    assert explain.unit_state(FAILED_REDIS) == (
        "failed (failed), exit-code: 217/USER: systemd could not set up the unit's user or its user namespace"
    )
    assert explain.unit_state(RUNNING) == "active (running)"
    assert explain.unit_state("LoadState=not-found\n") == "not installed"
    skipped = "LoadState=loaded\nActiveState=inactive\nSubState=dead\nResult=success\nConditionResult=no\n"
    assert "condition" in explain.unit_state(skipped)
    assert explain.status_words(226).startswith("226/NAMESPACE: ")
    assert explain.status_words(1) == "exit status 1"


def parity(*drift: Difference) -> SeatParity:
    return SeatParity("seat01", 100, drift, ())


def test_a_service_that_fails_on_one_side_shows_both_states_and_the_journal() -> None:
    drifted = Difference("service-running:redis-server.service", "running", None)
    evidence = {
        "vm": {"units": {"redis-server.service": {"show": RUNNING, "journal": ["Started redis-server.service"]}}},
        "container": {
            "units": {
                "redis-server.service": {
                    "show": FAILED_REDIS,
                    "journal": ["redis-server.service: Failed to set up user namespacing: Operation not permitted"],
                }
            }
        },
    }
    (found,) = explain.explained(parity(drifted), "default", evidence, managed=()).drift
    assert found.why.startswith("VM: active (running); container: failed (failed), exit-code: 217/USER")
    assert "container journal: redis-server.service: Failed to set up user namespacing" in " ".join(found.details)
    assert "--seat seat01 --container" in found.repair


def test_a_conffile_no_role_manages_is_diffed_and_repaired_by_resetting_the_side_dpkg_finds_changed() -> None:
    path = "/etc/nginx/nginx.conf"
    drifted = Difference(f"conffile:{path}", "file 0644 root:root sha256:aa", "file 0644 root:root sha256:bb")
    evidence: dict[str, dict[str, Any]] = {
        "vm": {"files": {path: {"state": "text", "text": "user www-data;\nworker_processes auto;\n"}}},
        "container": {
            "files": {path: {"state": "text", "text": "user www-data;\nworker_processes auto;\n# added by hand\n"}},
            "modified": {path},
        },
    }
    (found,) = explain.explained(parity(drifted), "default", evidence, managed=()).drift
    assert found.why == f"{path} differs"
    assert "+# added by hand" in found.details
    assert found.details[0] == f"--- VM:{path}"
    assert found.repair.startswith(f"no role manages {path}, so provisioning leaves it")
    assert "`labtool reset default --seat seat01 --container`" in found.repair


def test_a_file_a_role_manages_is_repaired_by_provisioning_and_a_secret_is_never_diffed() -> None:
    path = "/etc/app/secret.env"
    drifted = Difference(f"file:{path}", "file 0600 root:root sha256:aa", "file 0600 root:root sha256:bb")
    evidence = {"vm": {"files": {path: {"state": "secret"}}}, "container": {"files": {path: {"state": "secret"}}}}
    (found,) = explain.explained(parity(drifted), "default", evidence, managed=[path]).drift
    assert "may hold a secret" in found.why and found.details == ()
    assert found.repair.startswith("`labtool provision default --seat seat01`")


def test_a_long_diff_is_cut() -> None:
    vm = {"state": "text", "text": "\n".join(f"line {n}" for n in range(200))}
    container = {"state": "text", "text": "\n".join(f"other {n}" for n in range(200))}
    _, details = explain.file_diff("/etc/x", vm, container)
    assert len(details) == explain.MAX_DIFF_LINES + 1 and details[-1].endswith("more lines of the diff")


def test_a_port_says_which_program_holds_it_or_its_user_where_the_program_is_hidden() -> None:
    drifted = Difference("port:tcp ::1:6379", "listening", None)
    vm: dict[str, Any] = {
        "sockets": {"port:tcp ::1:6379": [Socket("tcp", "::1", "6379", "", 105)]},
        "users": {105: "redis"},
        "processes": {105: ["redis-server"]},
    }
    evidence = {"vm": vm, "container": {}}
    (found,) = explain.explained(parity(drifted), "default", evidence, managed=()).drift
    assert found.why == "listens on the VM: user redis (redis-server)"
    shown = [Socket("tcp", "::1", "6379", "redis-server (pid 90)")]
    assert explain.port_owner(shown, {}, {}) == "redis-server (pid 90)"

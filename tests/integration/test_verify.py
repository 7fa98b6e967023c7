"""`labtool verify` on the real room: it passes when the pair matches, and names drift exactly.

Drift is made on the container the way it happens in a lab: a managed file edited
by hand, a service stopped, a package swapped for another version. Re-provisioning the
container alone, as verify's repair says, must put all of it back; the VM is not touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.integration.rooms import LiveRoom, problems

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]
CONTAINER, VM = "seat01-ct", "seat01-vm"
MANAGED_FILE = "/etc/ssh/sshd_config.d/50-labtool.conf"
PACKAGE = "sqlite3"  # a pinned package nothing else on the machine needs
FAKE_DEB = f"""set -e
work=$(mktemp -d)
mkdir "$work/DEBIAN"
cat > "$work/DEBIAN/control" <<END
Package: {PACKAGE}
Version: 3.0.0-drift
Architecture: all
Maintainer: lab <root@localhost>
Description: another version of a pinned package
END
dpkg-deb --build "$work" /tmp/drift.deb >/dev/null
dpkg -i /tmp/drift.deb >/dev/null
rm -rf "$work" /tmp/drift.deb
"""


def verify(room: LiveRoom, *args: str) -> tuple[int, dict[str, Any], str]:
    result = room.labtool("verify", room.name, "--json", *args)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout), result.stderr


def as_root(room: LiveRoom, machine: str, script: str) -> None:
    result = room.labtool("exec", machine, "--room", room.name, "--", "sudo", "sh", "-c", script)
    assert result.returncode == 0, result.stderr


def test_a_freshly_provisioned_pair_verifies_with_only_expected_differences(
    running_room: LiveRoom, tmp_path: Path
) -> None:
    code, report, progress = verify(running_room, "--junit", str(tmp_path / "junit.xml"))
    assert code == 0, json.dumps(problems(report), indent=1)[-4000:]
    assert report["ok"] is True
    for machine in report["machines"]:
        assert machine["error"] == ""
        outcomes = [case["outcome"] for case in machine["cases"]]
        assert outcomes.count("passed") >= 30
        assert set(outcomes) <= {"passed", "skipped"}  # skipped: the room defines no students
    seat, other = report["seats"]
    assert seat["drift"] == [] and other["drift"] == []
    assert seat["compared"] > 200  # packages, files, services, ports, accounts, the app: not a token check
    reasons = {difference["item"]: difference["reason"] for difference in seat["expected"]}
    assert "own kernel" in reasons["system:kernel_release"]
    assert all(reasons.values())
    assert "seat01: parity: 0 drifted" in progress
    suites = [s.get("name") for s in ElementTree.parse(tmp_path / "junit.xml").getroot().iter("testsuite")]
    assert suites == [VM, CONTAINER, "seat02-vm", "seat02-ct", "parity"]


def test_drift_on_one_machine_is_named_exactly_and_re_provisioning_removes_it(running_room: LiveRoom) -> None:
    as_root(running_room, CONTAINER, f"echo '# edited by hand' >> {MANAGED_FILE}")
    as_root(running_room, CONTAINER, "systemctl stop ssh")
    as_root(running_room, CONTAINER, FAKE_DEB)

    code, report, _ = verify(running_room, "--seat", "seat01")
    assert code == 1
    drift = {d["item"]: (d["vm"], d["container"]) for d in report["seats"][0]["drift"]}
    assert set(drift) == {
        f"file:{MANAGED_FILE}",
        "service-running:ssh.service",
        "file:/run/sshd",  # sshd's runtime directory goes with the service
        "port:tcp any-ipv4:22",  # sshd's wildcard listeners, named per family
        "port:tcp any-ipv6:22",
        f"package:{PACKAGE}",
    }
    assert drift["service-running:ssh.service"] == ("running", None)
    assert drift[f"package:{PACKAGE}"][1] == "3.0.0-drift"
    explained = {d["item"]: d for d in report["seats"][0]["drift"]}
    assert "# edited by hand" in "\n".join(explained[f"file:{MANAGED_FILE}"]["details"])
    assert all(d["repair"] for d in explained.values())
    # The service is down on the container only: its repair names that side. The file differs on both sides and
    # dpkg knows it not (a role writes it), so its repair names the seat; a role manages it: provision, not reset.
    repair = f"`labtool provision {running_room.name} --seat seat01 --container`"
    assert repair in explained["service-running:ssh.service"]["repair"]
    seat_repair = f"`labtool provision {running_room.name} --seat seat01`: a role manages {MANAGED_FILE}"
    assert explained[f"file:{MANAGED_FILE}"]["repair"].startswith(seat_repair)
    failed = {c["name"] for m in report["machines"] if m["machine"] == CONTAINER for c in m["cases"]}
    assert "test_service_enabled_and_running[ssh]" in failed

    provisioned = running_room.labtool("provision", running_room.name, "--seat", "seat01", "--container", "--json")
    assert provisioned.returncode == 0, provisioned.stderr[-3000:]
    changed = {m["machine"]: m["changed"] for m in json.loads(provisioned.stdout)["machines"]}
    assert changed.keys() == {CONTAINER}, "the VM did not stray: the repair leaves it alone"
    assert changed[CONTAINER] >= 3

    code, report, _ = verify(running_room, "--seat", "seat01")
    assert code == 0, json.dumps(report["seats"], indent=1)[-3000:]

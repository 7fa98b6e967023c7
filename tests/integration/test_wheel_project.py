"""A course that is not this repository's, run by labtool installed from its wheel, as an instructor would.

The wheel is built from the checkout and installed, without its dependencies,
into a fresh virtual environment; the dependencies come from the checkout's
venv (a .pth file and the Ansible entry points), so the test needs no network
while labtool itself, with its Vagrantfile and collector, comes only from the
wheel. The course is examples/cache, copied to a temporary directory outside
the checkout: roles in the style of public ones (OS-family include_vars,
`| dirname` paths, loops over dicts, handlers with listen).
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.rooms import brought_down_around, copy_example, labtool_in_project, problems

pytestmark = [pytest.mark.docker, pytest.mark.vagrant]
REPO = Path(__file__).resolve().parents[2]
ROOM = "wheelcache"
NETWORK_INDEX = 249
VM, CONTAINER = "seat01-vm", "seat01-ct"
ROLE_FILE = "/etc/redis/conf.d/labcache.conf"
"""Written by the course's role (its path comes from vars/Debian.yml): drift there is a `file:` item."""
CONFFILE = "/etc/issue"
"""A package's own config file (base-files) that no role touches: drift there is a `conffile:` item."""


class Installed:
    def __init__(self, venv: Path, project: Path) -> None:
        self.venv = venv
        self.project = project

    def labtool(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        return labtool_in_project(self.project, *args, program=(str(self.venv / "bin" / "labtool"),), timeout=timeout)

    def verify(self) -> dict[str, Any]:
        result = self.labtool("verify", ROOM, "--json")
        assert result.returncode in (0, 1), result.stderr[-3000:]
        report: dict[str, Any] = json.loads(result.stdout)
        return report


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = out.glob("labtool-*.whl")
    return wheel


def fresh_venv(directory: Path, wheel: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True, timeout=300)
    pip = [str(directory / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=300)
    site = Path(
        subprocess.run(
            [str(directory / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "checkout-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    for program in Path(sys.executable).parent.glob("ansible*"):
        (directory / "bin" / program.name).symlink_to(program)
    return directory


@pytest.fixture(scope="module")
def installed(built_images: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("wheel")
    venv = fresh_venv(work / "venv", build_wheel(work / "dist"))
    project = Path(tempfile.gettempdir()) / "labtool-wheel-course"
    copy_example("cache", project, ROOM, NETWORK_INDEX)
    lab = Installed(venv, project)
    with brought_down_around(lab.labtool, ROOM):
        yield lab


def test_the_wheel_carries_the_tool_and_not_the_checkout(installed: Installed) -> None:
    code = "import labtool, pathlib; print(pathlib.Path(labtool.__file__).parent)"
    python = str(installed.venv / "bin" / "python")
    # From the project, as the `labtool` command runs: `python -c` in the checkout would import the checkout.
    where = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, cwd=installed.project)
    package = Path(where.stdout.strip())
    assert not package.is_relative_to(REPO), package
    for data in ("backends/vagrant/files/Vagrantfile", "files/ansible.cfg", "parity/files/collect.py"):
        assert (package / data).is_file(), data
    for example in ("minimal", "labnotes"):
        assert (package / "examples" / example / "playbooks" / "site.yml").is_file(), example
    assert (package / "examples" / "labnotes" / "checks" / "test_notes.py").is_file()
    doctor = installed.labtool("doctor", "--json")
    (row,) = [c for c in json.loads(doctor.stdout) if c["name"] == "lab project"]
    assert row["status"] == "ok"
    assert row["detail"].startswith(str(installed.project))


def test_a_course_of_public_style_roles_comes_up_verifies_and_names_drift_exactly(installed: Installed) -> None:
    up = installed.labtool("up", ROOM, "--json")
    assert up.returncode == 0, up.stderr[-4000:]
    assert all(m["ok"] for m in json.loads(up.stdout)["machines"])

    report = installed.verify()
    assert report["ok"], json.dumps(problems(report), indent=1)[-4000:]
    (seat,) = report["seats"]
    assert seat["drift"] == []

    installed.labtool("exec", VM, "--room", ROOM, "--", "sudo", "sh", "-c", f"echo '# drift' >> {ROLE_FILE}")
    installed.labtool("exec", CONTAINER, "--room", ROOM, "--", "sudo", "sh", "-c", f"echo '# drift' >> {CONFFILE}")
    report = installed.verify()
    assert not report["ok"]
    drift = {d["item"] for d in report["seats"][0]["drift"]}
    assert f"file:{ROLE_FILE}" in drift
    assert f"conffile:{CONFFILE}" in drift
    assert drift <= {f"file:{ROLE_FILE}", f"conffile:{CONFFILE}", f"dpkg-modified:{CONFFILE}"}, drift

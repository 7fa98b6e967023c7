"""The collector's own package-file check finds, in a real lab machine's rootfs, exactly what `dpkg --verify` finds."""

from __future__ import annotations

import json
import subprocess

import pytest

from labtool.backends.docker import image as docker_image
from labtool.parity.fingerprint import COLLECTOR

pytestmark = pytest.mark.docker

# Drift of every kind dpkg reports: a changed conffile, a changed and a deleted packaged file.
CHECK = """
import json, subprocess, sys
sys.path.insert(0, "/labtool")
import collect
with open("/etc/issue", "a") as f: f.write("# drift\\n")
with open("/usr/bin/zdump", "ab") as f: f.write(b"x")
subprocess.run(["rm", "/usr/bin/lsattr"], check=True)
theirs = {}
for line in subprocess.run(["dpkg", "--verify"], capture_output=True, text=True).stdout.splitlines():
    theirs["dpkg-modified:" + line[12:]] = line[:11]
first = collect.dpkg_modified()
again = collect.dpkg_modified()  # from the digest cache
with open("/usr/bin/lsattr", "wb") as f: f.write(b"back, but not as shipped")
changed = collect.dpkg_modified()
print(json.dumps({"theirs": theirs, "first": first, "again": again, "changed": changed}))
"""


def test_modified_package_files_are_those_dpkg_verify_reports(built_images: str) -> None:
    result = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python3", "-v", f"{COLLECTOR.parent}:/labtool:ro",
         docker_image.ref(built_images), "-c", CHECK],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert found["first"] == found["theirs"] == found["again"]
    assert found["theirs"] == {
        "dpkg-modified:/etc/issue": "??5?????? c",
        "dpkg-modified:/usr/bin/zdump": "??5??????  ",
        "dpkg-modified:/usr/bin/lsattr": "missing    ",
    }
    assert found["changed"]["dpkg-modified:/usr/bin/lsattr"] == "??5??????  "

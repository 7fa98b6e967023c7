"""The collector that runs on each machine: its pure parts, run here on the host."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from labtool.parity.fingerprint import COLLECTOR


@pytest.fixture(scope="module")
def collector() -> ModuleType:
    spec = importlib.util.spec_from_file_location("collect", COLLECTOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = """<!doctype html><html><head><title>Lab notes</title></head><body>
<p>You are on <b>{host}</b></p><ul id="notes">{notes}</ul><form><input name="a"></form></body></html>"""


def structure(collector: ModuleType, page: str, ignore_id: str | None = "notes") -> tuple[str, list[str]]:
    skeleton = collector.Skeleton(ignore_id)
    skeleton.feed(page)
    return skeleton.title, skeleton.tags


def test_the_page_structure_ignores_text_and_the_students_notes(collector: ModuleType) -> None:
    empty = PAGE.format(host="seat01-vm", notes="<li>No notes yet.</li>")
    full = PAGE.format(host="seat01-ct", notes="<li><b>alice</b>: hi<br></li><li><b>bob</b>: ho</li>")
    assert structure(collector, empty) == structure(collector, full)
    title, tags = structure(collector, full)
    assert title == "Lab notes"
    assert tags[-6:] == ["/ul", "form", "input name=a", "/form", "/body", "/html"]


def test_without_an_id_to_ignore_every_element_counts(collector: ModuleType) -> None:
    empty = PAGE.format(host="seat01-vm", notes="<li>No notes yet.</li>")
    full = PAGE.format(host="seat01-ct", notes="<li><b>alice</b>: hi<br></li><li><b>bob</b>: ho</li>")
    assert structure(collector, empty, None) != structure(collector, full, None)
    assert structure(collector, empty, "other") != structure(collector, full, "other")


def test_a_changed_page_template_changes_the_structure(collector: ModuleType) -> None:
    page = PAGE.format(host="x", notes="")
    assert structure(collector, page) != structure(collector, page.replace("<p>", '<p class="new">'))


def test_files_are_described_by_kind_mode_owner_and_content(collector: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "a.conf"
    target.write_text("x")
    target.chmod(0o640)
    (tmp_path / "link").symlink_to(target)
    described = collector.describe(str(target))
    assert described.startswith("file 0640 ")
    assert described.endswith("sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    assert collector.describe(str(tmp_path / "link")) == f"link -> {target}"
    assert collector.describe(str(tmp_path / "missing")) == "absent"
    os.chmod(tmp_path, 0o750)
    assert collector.describe(str(tmp_path)).startswith("directory 0750 ")


def test_nested_values_are_flattened_to_dotted_items(collector: ModuleType) -> None:
    flat = collector.flatten("", {"memory_limit": {"bytes": 5, "source": "MemTotal"}, "app": "labnotes"})
    assert flat == {"memory_limit.bytes": "5", "memory_limit.source": "MemTotal", "app": "labnotes"}


# `dpkg-query -W -f '${db:Status-Abbrev}${Package}\n${Conffiles}\n'` as Debian 12 prints it (shortened),
# plus what dpkg allows but a base image may not show: a path with spaces, a removed package's
# leftover conffiles ("rc"), obsolete and remove-on-upgrade conffiles.
CONFFILES = """\
ii adduser
 /etc/deluser.conf 773fb95e98a27947de4a95abb3d3f2a2
ii apt
 /etc/apt/apt.conf.d/01autoremove ab6540f7278a05a4b7f9e58afcaa5f46
 /etc/cron.daily/apt-compat 1400ab07a4a2905b04c33e3e93d42b7b
 /etc/logrotate.d/apt 179f2ed4f85cbaca12fa3d69c2a4a1c3
ii base-passwd

ii pkgconf
 /etc/dpkg/dpkg.cfg.d/pkg-config-hook-config newconffile remove-on-upgrade
ii systemd
 /etc/systemd/journald.conf 5d4a1b5f4fbd0d1e4d9d2a5f1e6b5e3c
 /etc/init.d/systemd-old 0123456789abcdef0123456789abcdef obsolete
 /etc/dpkg/gone f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0 obsolete remove-on-upgrade
ii weird
 /etc/weird/a file  with spaces.conf 11111111111111111111111111111111
rc nginx-common
 /etc/nginx/nginx.conf 22222222222222222222222222222222
ii sudo
 /etc/sudoers 45437b4e86fba2ab890ac81db2ec3606
"""


def test_conffiles_of_installed_packages_are_parsed_from_dpkg_query(collector: ModuleType) -> None:
    assert collector.parse_conffiles(CONFFILES) == {
        "/etc/deluser.conf": "773fb95e98a27947de4a95abb3d3f2a2",
        "/etc/apt/apt.conf.d/01autoremove": "ab6540f7278a05a4b7f9e58afcaa5f46",
        "/etc/cron.daily/apt-compat": "1400ab07a4a2905b04c33e3e93d42b7b",
        "/etc/logrotate.d/apt": "179f2ed4f85cbaca12fa3d69c2a4a1c3",
        "/etc/systemd/journald.conf": "5d4a1b5f4fbd0d1e4d9d2a5f1e6b5e3c",
        "/etc/weird/a file  with spaces.conf": "11111111111111111111111111111111",
        "/etc/sudoers": "45437b4e86fba2ab890ac81db2ec3606",
    }


def test_no_packages_means_no_conffiles(collector: ModuleType) -> None:
    assert collector.parse_conffiles("") == {}
    assert collector.parse_conffiles("ii base-passwd\n\nii bash\n\n") == {}


# `dpkg --verify` as Debian 12's dpkg 1.21 prints it: nine flags, the conffile mark, the path.
VERIFY = """\
??5?????? c /etc/sudoers
missing   c /etc/debuginfod/elfutils.urls
??5??????   /usr/lib/python3/dist-packages/some module/__init__.py
missing     /usr/share/doc/x/changelog.gz
missing     /etc/unreadable (Permission denied)
"""


def test_modified_package_files_are_parsed_from_dpkg_verify(collector: ModuleType) -> None:
    assert collector.parse_verify(VERIFY) == {
        "/etc/sudoers": "??5?????? c",
        "/etc/debuginfod/elfutils.urls": "missing   c",
        "/usr/lib/python3/dist-packages/some module/__init__.py": "??5??????  ",
        "/usr/share/doc/x/changelog.gz": "missing    ",
        "/etc/unreadable (Permission denied)": "missing    ",
    }


def test_an_unmodified_system_has_no_modified_package_files(collector: ModuleType) -> None:
    assert collector.parse_verify("") == {}
    assert collector.parse_verify("\n") == {}


class FakeMachine:
    """Canned command output and app answers, and the URLs the collector asked for."""

    def __init__(self, conffile: Path) -> None:
        self.conffile = conffile
        self.urls: list[str] = []

    def run(self, *argv: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        outputs = {
            "dpkg-query": f"ii sudo\n {self.conffile} 45437b4e86fba2ab890ac81db2ec3606\n"
            if "${Conffiles}" in argv[-1]
            else "ii  sudo 1.9.13p3-1+deb12u1\n",
            "dpkg": f"??5?????? c {self.conffile}\n",
            "systemctl": "ssh.service enabled enabled\n",
            "ss": "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n",
            "ip": "2: eth0    inet 10.0.0.2/24 brd 10.0.0.255 scope global eth0\n",
            "systemd-detect-virt": "docker\n",
        }
        return outputs[argv[0]]

    def get(self, url: str) -> tuple[int, str, str]:
        self.urls.append(url)
        if url.endswith("/api/fingerprint"):
            return 200, "application/json", '{"app": "labnotes", "memory_limit": {"bytes": 5}}'
        return 200, "text/html", PAGE.format(host="seat01-ct", notes="<li>hi</li>")


@pytest.fixture
def machine(collector: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeMachine:
    conffile = tmp_path / "sudoers"
    conffile.write_text("root ALL=(ALL) ALL\n")
    fake = FakeMachine(conffile)
    monkeypatch.setattr(collector, "run", fake.run)
    monkeypatch.setattr(collector, "get", fake.get)
    return fake


def categories(items: dict[str, str]) -> set[str]:
    return {item.split(":", 1)[0] for item in items}


def test_without_app_urls_the_app_is_left_alone(collector: ModuleType, machine: FakeMachine) -> None:
    items = collector.collect({"files": [], "system_only": False})
    assert machine.urls == []
    assert categories(items) == {
        "package",
        "conffile",
        "dpkg-modified",
        "service-enabled",
        "service-running",
        "port",
        "user",
        "group",
        "system",
    }
    assert items[f"conffile:{machine.conffile}"] == collector.describe(str(machine.conffile))
    assert items[f"conffile:{machine.conffile}"].startswith("file 0644 ")
    assert items[f"dpkg-modified:{machine.conffile}"] == "??5?????? c"
    nulls = {"fingerprint_url": None, "page_url": None, "page_ignore_id": None}
    assert collector.collect({"files": [], "system_only": False, **nulls}) == items


def test_the_app_is_fingerprinted_at_the_urls_the_course_gives(collector: ModuleType, machine: FakeMachine) -> None:
    request = {
        "files": [str(machine.conffile)],
        "system_only": False,
        "fingerprint_url": "http://127.0.0.1:8080/api/fingerprint",
        "page_url": "http://127.0.0.1:8080/",
        "page_ignore_id": "notes",
    }
    items = collector.collect(request)
    assert machine.urls == ["http://127.0.0.1:8080/api/fingerprint", "http://127.0.0.1:8080/"]
    assert items["app:app"] == "labnotes"
    assert items["app:memory_limit.bytes"] == "5"
    assert items["page:title"] == "Lab notes"
    assert items["page:status"] == "200"
    assert items[f"file:{machine.conffile}"] == items[f"conffile:{machine.conffile}"]


def test_a_course_may_give_the_page_without_a_json_fingerprint(collector: ModuleType, machine: FakeMachine) -> None:
    items = collector.collect({"files": [], "page_url": "http://127.0.0.1/"})
    assert machine.urls == ["http://127.0.0.1/"]
    assert "page" in categories(items)
    assert "app" not in categories(items)


def test_compare_gets_only_the_system_items(collector: ModuleType, machine: FakeMachine) -> None:
    items = collector.collect({"files": [], "system_only": True, "fingerprint_url": "http://127.0.0.1/api/fingerprint"})
    assert machine.urls == []
    assert categories(items) == {"system"}

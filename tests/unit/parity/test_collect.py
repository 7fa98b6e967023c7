"""The collector that runs on each machine: its pure parts, run here on the host."""

from __future__ import annotations

import hashlib
import importlib.util
import json
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


@pytest.fixture(autouse=True)
def _fresh_dpkg_status(collector: ModuleType) -> None:
    """The collector reads dpkg's status once per run; each test is a run of its own."""
    collector.dpkg_status.cache_clear()


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


@pytest.fixture
def dpkg_db(collector: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package database of three packages on files under tmp_path; dpkg-query answers from it."""
    info = tmp_path / "info"
    info.mkdir()
    files = {"plain": b"one\n", "changed": b"two\n", "gone": b"three\n", "sh": b"dash\n", "sh.distrib": b"dash\n"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "conf").write_text("setting = 1\n")

    def md5(data: bytes) -> str:
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def line(name: str, data: bytes) -> str:
        return f"{md5(data)}  {str(tmp_path / name)[1:]}\n"

    (info / "tool.md5sums").write_text(line("plain", b"one\n") + line("changed", b"TWO\n") + line("gone", b"three\n"))
    (info / "libx:amd64.md5sums").write_text(line("sh", b"bash\n"))  # diverted by dash: its file is sh.distrib
    (info / "removed.md5sums").write_text(line("plain", b"other\n"))  # config-files only: not verified
    (tmp_path / "diversions").write_text(f"{tmp_path / 'sh'}\n{tmp_path / 'sh.distrib'}\ndash\n")
    (tmp_path / "gone").unlink()
    shipped = md5(b"setting = 0\n")  # the conffile as shipped: the machine's copy differs
    listing = (
        f"ii tool\n {tmp_path / 'conf'} {shipped}\n {tmp_path / 'old'} {md5(b'x')} obsolete\n"
        "ii libx:amd64\nrc removed\n"
    )
    monkeypatch.setattr(collector, "DPKG_INFO", info)
    monkeypatch.setattr(collector, "DIVERSIONS", tmp_path / "diversions")
    monkeypatch.setattr(collector, "DIGEST_CACHE", tmp_path / "cache" / "digests.json")
    monkeypatch.setattr(collector, "run", lambda *argv, ok_codes=(0,): listing)
    return tmp_path


def test_modified_package_files_are_found_as_dpkg_verify_finds_them(collector: ModuleType, dpkg_db: Path) -> None:
    # The flags as Debian 12's dpkg 1.21 prints them: nine characters, the conffile mark.
    assert collector.dpkg_modified() == {
        f"dpkg-modified:{dpkg_db / 'changed'}": "??5??????  ",
        f"dpkg-modified:{dpkg_db / 'gone'}": "missing    ",
        f"dpkg-modified:{dpkg_db / 'conf'}": "??5?????? c",
        # libx's sh is diverted by dash to sh.distrib, which differs: dpkg names the file it checked.
        f"dpkg-modified:{dpkg_db / 'sh.distrib'}": "??5??????  ",
    }


def test_an_unchanged_file_is_not_read_again_and_a_changed_one_is(
    collector: ModuleType, dpkg_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = collector.dpkg_modified()
    read: list[str] = []
    real_md5 = collector.file_md5

    def counted_md5(path: str) -> str:
        read.append(path)
        return str(real_md5(path))

    monkeypatch.setattr(collector, "file_md5", counted_md5)
    assert collector.dpkg_modified() == first
    assert read == []
    (dpkg_db / "plain").write_bytes(b"edited\n")  # same size, new content: a new mtime and ctime
    assert f"dpkg-modified:{dpkg_db / 'plain'}" in collector.dpkg_modified()
    assert read == [str(dpkg_db / "plain")]


def test_a_broken_digest_cache_is_only_slower(collector: ModuleType, dpkg_db: Path) -> None:
    expected = collector.dpkg_modified()
    collector.DIGEST_CACHE.write_text("{not json")
    assert collector.dpkg_modified() == expected
    assert json.loads(collector.DIGEST_CACHE.read_text())


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


SYSTEMCTL_CAT = """\
# /lib/systemd/system/redis-server.service
[Service]
Type=notify
PrivateUsers=true
PrivateTmp=yes
ProtectSystem=full

# /run/systemd/system/service.d/50-labtool-sandbox.conf
[Service]
PrivateUsers=no

# /lib/systemd/system/haproxy.service
[Service]
BindReadOnlyPaths=/dev/log:/var/lib/haproxy/dev/log

# /etc/systemd/system/haproxy.service.d/local.conf
[Service]
PrivateTmp=no
"""


def test_unit_directives_are_read_per_unit_without_the_probes_own_drop_in(collector: ModuleType) -> None:
    units = collector.unit_directives(SYSTEMCTL_CAT)
    assert units["redis-server.service"] == {
        "Type": "notify",
        "PrivateUsers": "true",
        "PrivateTmp": "yes",
        "ProtectSystem": "full",
    }
    assert units["haproxy.service"] == {"BindReadOnlyPaths": "/dev/log:/var/lib/haproxy/dev/log", "PrivateTmp": "no"}


def test_the_sandbox_items_name_each_directive_and_the_hosts_cause(
    collector: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    record = tmp_path / "sandbox.json"
    directives = {
        "BindReadOnlyPaths": {"state": "failed", "effect": "mnt", "relaxed": True, "status": 226},
        "PrivateTmp": {"state": "ignored", "effect": "mnt", "relaxed": False},
        "PrivateUsers": {"state": "works", "effect": "user", "relaxed": False},
    }
    record.write_text(json.dumps({"relax": True, "directives": directives}))
    monkeypatch.setattr(collector, "SANDBOX_RECORD", str(record))
    listed = "redis-server.service loaded active running Redis\nhaproxy.service loaded active running\n"

    def run(*argv: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        return listed if "list-units" in argv else SYSTEMCTL_CAT

    monkeypatch.setattr(collector, "run", run)
    items, reasons = collector.sandbox()
    assert items == {
        "sandbox:haproxy.service": "BindReadOnlyPaths= relaxed",
        "sandbox:redis-server.service": "PrivateTmp= not in effect",
    }
    assert reasons["sandbox:haproxy.service"] == (
        "this host gives a container no mount namespaces of its own (its root has no CAP_SYS_ADMIN): "
        "BindReadOnlyPaths= relaxed for haproxy.service in the container"
    )


def test_a_machine_without_the_probes_record_has_no_sandbox_items(
    collector: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(collector, "SANDBOX_RECORD", str(tmp_path / "none.json"))
    assert collector.sandbox() == ({}, {})


def test_a_file_that_may_hold_a_secret_is_never_sent(collector: ModuleType, tmp_path: Path) -> None:
    secret, public = tmp_path / "secret", tmp_path / "public"
    secret.write_text("password=hunter2\n")
    secret.chmod(0o640)
    public.write_text("listen 80;\n")
    public.chmod(0o644)
    assert collector.file_text(str(secret)) == {"state": "secret"}
    assert collector.file_text(str(public)) == {"state": "text", "text": "listen 80;\n"}
    assert collector.file_text(str(tmp_path / "gone")) == {"state": "absent"}

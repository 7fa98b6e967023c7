"""The apt cache's configuration, start command, address and listeners, without touching the host."""

import os
import pwd
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from labtool import proc
from labtool.errors import DaemonError
from labtool.host import apt_cache, daemons
from labtool.model import LabHost
from labtool.settings import Settings

ON = Settings.from_env({"LABTOOL_HOME": "/srv/labtool"})
OFF = Settings.from_env({"LABTOOL_HOME": "/srv/labtool", "LABTOOL_APT_CACHE": "off"})


def conf(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines())


def test_it_listens_on_the_rooms_address_and_loopback_only() -> None:
    settings = conf(apt_cache.config_text())
    assert settings["BindAddress"].split() == ["10.212.0.1", "127.0.0.1"]
    assert settings["Port"] == "3142"
    assert "0.0.0.0" not in apt_cache.config_text() and "::" not in settings["BindAddress"]


def test_the_address_lies_outside_every_room_subnet() -> None:
    import ipaddress

    from labtool.model import Networks

    address = ipaddress.ip_address(apt_cache.ADDRESS)
    for index in (1, 212, 254):
        networks = Networks(index)
        for subnet in (networks.container_subnet, networks.vm_subnet):
            assert address not in ipaddress.ip_network(subnet)
    assert address.is_private


def test_its_files_are_labtools_run_dir_and_debians_cache_and_log_dirs(tmp_path: Path) -> None:
    settings = conf(apt_cache.config_text(run_dir=tmp_path / "run", cache_dir=tmp_path / "c", log_dir=tmp_path / "l"))
    assert settings["PidFile"] == str(tmp_path / "run/pid")
    assert settings["SocketPath"] == str(tmp_path / "run/socket")
    assert (settings["CacheDir"], settings["LogDir"]) == (str(tmp_path / "c"), str(tmp_path / "l"))
    assert settings["ForeGround"] == "1"  # labtool or systemd keeps it, never a fork of its own
    assert settings["UnbufferLogs"] == "1" and settings["VerboseLog"] == "1"
    assert "ReportPage" not in settings  # no admin page for the lab machines to reach


def test_the_debian_mirror_names_come_from_the_packages_own_configuration(tmp_path: Path) -> None:
    package = tmp_path / "acng.conf"
    package.write_text(
        "# Remap-debrep: commented out\n"
        "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian # Debian Archives\n"
        "Remap-uburep: file:ubuntu_mirrors /ubuntu ; file:backends_ubuntu # Ubuntu Archives\n"
        "Remap-secdeb: mirror.example/debian-security /debian-security ; mirror.example/debian-security\n"
    )
    settings = conf(apt_cache.config_text(package_config=package))
    assert settings["Remap-debrep"] == "file:deb_mirror*.gz /debian"
    assert settings["Remap-secdeb"] == "mirror.example/debian-security /debian-security"
    assert "Remap-uburep" not in settings  # only Debian's archives
    assert conf(apt_cache.config_text(package_config=tmp_path / "none"))["Remap-debrep"] == (
        "file:deb_mirror*.gz /debian"
    )


def test_an_index_is_fetched_once_for_seats_coming_up_together() -> None:
    assert int(conf(apt_cache.config_text())["FreshIndexMaxAge"]) >= 120


def test_started_unprivileged_with_labtools_configuration() -> None:
    assert apt_cache.start_argv(systemd=False, run_dir=Path("/run/x")) == [
        "setpriv",
        "--reuid=apt-cacher-ng",
        "--regid=apt-cacher-ng",
        "--init-groups",
        "apt-cacher-ng",
        "-c",
        "/run/x",
    ]
    under_systemd = apt_cache.start_argv(systemd=True, run_dir=Path("/run/x"))
    assert under_systemd[:2] == ["systemd-run", "--unit=labtool-apt-cacher-ng"]
    assert "--uid=apt-cacher-ng" in under_systemd and under_systemd[-3:] == ["apt-cacher-ng", "-c", "/run/x"]


def test_machines_get_the_rooms_address_and_the_host_loopback() -> None:
    assert apt_cache.machine_proxy_url() == "http://10.212.0.1:3142"
    assert apt_cache.host_proxy_url() == "http://127.0.0.1:3142"


@pytest.mark.parametrize(
    ("setting", "running", "machines", "host"),
    [
        (ON, True, "http://10.212.0.1:3142", {"http_proxy": "http://127.0.0.1:3142"}),
        (ON, False, "", {}),
        (OFF, True, "", {}),
    ],
)
def test_the_proxy_is_used_only_when_on_and_running(
    monkeypatch: pytest.MonkeyPatch, setting: Settings, running: bool, machines: str, host: dict[str, str]
) -> None:
    monkeypatch.setattr(apt_cache, "answers", lambda: running)
    assert apt_cache.machine_proxy(setting) == machines
    assert apt_cache.host_proxy_env(setting) == host


@pytest.mark.parametrize(("printed", "expected"), [("apt-cache\n", "http://10.212.0.1:3142"), ("", "")])
def test_another_lab_hosts_cache_is_asked_there_over_ssh(
    monkeypatch: pytest.MonkeyPatch, printed: str, expected: str
) -> None:
    """Each host's cache is at the same address on its own labtool0: only that host can say whether it answers."""
    ran: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> proc.Result:
        ran.append(argv)
        return proc.Result(tuple(argv), 0, printed, "", 0.1)

    monkeypatch.setattr(proc, "run", fake_run)
    monkeypatch.setattr(apt_cache, "answers", lambda: pytest.fail("this host's cache was asked"))
    assert apt_cache.machine_proxy(ON, LabHost("lab2", "root@192.0.2.12")) == expected
    [argv] = ran
    assert argv[0] == "ssh" and "root@192.0.2.12" in argv and "/dev/tcp/10.212.0.1/3142" in argv[-1]
    assert apt_cache.machine_proxy(OFF, LabHost("lab2", "root@192.0.2.12")) == "" and len(ran) == 1


def test_no_interface_means_not_running_without_waiting_on_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apt_cache, "INTERFACE", "labtool-none")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("connected"))
    assert not apt_cache.answers()


# /proc/net/tcp and tcp6 as this host showed them, with labtool's cache and a process on every address.
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100D40A:0C46 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 41 1
   1: 0100007F:0C46 00000000:0000 0A 00000000:00000000 00:00000000 00000000   108        0 42 1
   2: 00000000:0C47 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 43 1
   3: 0100007F:0C46 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   108        0 44 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000000000000:0C46 00000000000000000000000000000000:0000 0A 00000000:00000000
"""


def test_listeners_on_the_port_are_read_from_proc_net_tcp() -> None:
    assert apt_cache.listeners({"tcp": TCP}, port=3142) == ["10.212.0.1", "127.0.0.1"]
    assert apt_cache.listeners({"tcp": TCP}, port=3143) == ["0.0.0.0"]
    found = apt_cache.listeners({"tcp": TCP, "tcp6": TCP6}, port=3142)
    assert apt_cache.wildcard(found) == ["::"]


def test_addresses_read_on_a_big_endian_host_too() -> None:
    assert apt_cache._address("0AD40001", byteorder="big") == "10.212.0.1"


@pytest.mark.parametrize(
    ("shown", "state"),
    [
        ('[{"ifname":"labtool0","flags":["BROADCAST","UP"],"addr_info":[{"local":"10.212.0.1"}]}]', (True, True)),
        ('[{"ifname":"labtool0","flags":["BROADCAST"],"addr_info":[{"local":"10.212.0.1"}]}]', (True, False)),
        ('[{"ifname":"labtool0","flags":["UP"],"addr_info":[{"local":"fe80::1"}]}]', (False, True)),
        ("", (False, False)),
        ("not json", (False, False)),
    ],
)
def test_interface_state(shown: str, state: tuple[bool, bool]) -> None:
    assert apt_cache.interface_state(shown) == state


def fake_ip(monkeypatch: pytest.MonkeyPatch, shown: proc.Result, dummy_ok: bool = True) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(argv: list[str], **kwargs: Any) -> proc.Result:
        calls.append(list(argv))
        if argv[:3] == ["ip", "-j", "address"]:
            return shown
        ok = dummy_ok or argv[-1] != "dummy"
        return proc.Result(tuple(argv), 0 if ok else 2, "", "" if ok else "Error: Unknown device type.", 0.0)

    monkeypatch.setattr(proc, "run", run)
    return calls


def test_a_missing_interface_is_made_a_bridge_where_there_is_no_dummy_module(monkeypatch: pytest.MonkeyPatch) -> None:
    absent = proc.Result((), 1, "", 'Device "labtool0" does not exist.', 0.0)
    calls = fake_ip(monkeypatch, absent, dummy_ok=False)
    assert apt_cache.ensure_address() == "made"
    assert calls[1:] == [
        ["ip", "link", "add", "labtool0", "type", "dummy"],
        ["ip", "link", "add", "labtool0", "type", "bridge"],
        ["ip", "address", "add", "10.212.0.1/32", "dev", "labtool0"],
        ["ip", "link", "set", "labtool0", "up"],
    ]


def test_an_interface_in_place_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = '[{"ifname":"labtool0","flags":["UP"],"addr_info":[{"local":"10.212.0.1"}]}]'
    calls = fake_ip(monkeypatch, proc.Result((), 0, shown, "", 0.0))
    assert apt_cache.ensure_address() == "present"
    assert len(calls) == 1


def test_a_down_interface_is_brought_up_without_adding_its_address_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = '[{"ifname":"labtool0","flags":["BROADCAST"],"addr_info":[{"local":"10.212.0.1"}]}]'
    calls = fake_ip(monkeypatch, proc.Result((), 0, shown, "", 0.0))
    assert apt_cache.ensure_address() == "made"
    assert calls[1:] == [["ip", "link", "set", "labtool0", "up"]]


def test_prepare_writes_the_configuration_and_hands_the_directories_to_the_daemons_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owned: list[str] = []
    monkeypatch.setattr(pwd, "getpwnam", lambda name: None)
    monkeypatch.setattr(shutil, "chown", lambda path, user, group: owned.append(Path(path).name))
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    (log_dir / "apt-cacher.err").write_text("")  # as Debian's postinst leaves it (owned by root when run as root)
    apt_cache.prepare(tmp_path / "run", tmp_path / "cache", log_dir)
    assert "BindAddress: 10.212.0.1 127.0.0.1" in (tmp_path / "run/acng.conf").read_text()
    assert {"run", "cache", "log"} <= set(owned)
    assert ("apt-cacher.err" in owned) == (os.getuid() == 0)


def test_without_the_package_the_error_names_the_fix_and_the_off_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_user(name: str) -> None:
        raise KeyError(name)

    monkeypatch.setattr(pwd, "getpwnam", no_user)
    with pytest.raises(DaemonError) as caught:
        apt_cache.prepare(Path("/nonexistent/run"))
    assert "apt-cacher-ng is not installed" in caught.value.message
    assert "scripts/up" in caught.value.hint and "LABTOOL_APT_CACHE=off" in caught.value.hint


def test_daemons_refuse_a_cache_open_to_every_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(apt_cache, "ensure_address", lambda: "present")
    monkeypatch.setattr(apt_cache, "answers", lambda: True)
    monkeypatch.setattr(apt_cache, "read_listeners", lambda: ["0.0.0.0"])
    with pytest.raises(DaemonError) as caught:
        daemons.ensure_apt_cache(tmp_path)
    assert "every address (0.0.0.0)" in caught.value.message
    assert "disable --now apt-cacher-ng" in caught.value.hint


def test_daemons_start_the_cache_detached_where_systemd_is_not_pid1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answers = iter([False, True])
    spawned: list[list[str]] = []
    monkeypatch.setattr(apt_cache, "ensure_address", lambda: "made")
    monkeypatch.setattr(apt_cache, "answers", lambda: next(answers))
    monkeypatch.setattr(apt_cache, "prepare", lambda: None)
    monkeypatch.setattr(apt_cache, "read_listeners", lambda: ["10.212.0.1", "127.0.0.1"])
    monkeypatch.setattr(daemons, "systemd_is_pid1", lambda: False)

    def spawn(argv: list[str], log: Path) -> int:
        spawned.append(list(argv))
        return 1

    monkeypatch.setattr(proc, "spawn", spawn)
    address, daemon = daemons.ensure_apt_cache(tmp_path)
    assert (address.name, address.action) == ("labtool0 10.212.0.1/32", "started")
    assert (daemon.name, daemon.action) == ("apt-cacher-ng", "started")
    assert spawned == [apt_cache.start_argv(systemd=False)]


def test_daemons_leave_the_cache_alone_when_it_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("docker_answers", "virtlogd_answers", "libvirt_answers"):
        monkeypatch.setattr(daemons, name, lambda: True)
    monkeypatch.setattr(daemons, "ensure_storage_pool", lambda: daemons.DaemonStatus("pool", "running", ""))
    monkeypatch.setattr(daemons, "ensure_apt_cache", lambda log_dir: pytest.fail("apt cache started"))
    names = [s.name for s in daemons.ensure_all(OFF, accel=None)]  # type: ignore[arg-type]
    assert names == ["dockerd", "virtlogd", "libvirtd", "pool"]

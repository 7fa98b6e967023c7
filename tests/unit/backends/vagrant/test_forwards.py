"""A VM's published ports: real socat relays on this host, standing for the VM's lab host."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtool import proc
from labtool.backends.vagrant import forwards
from labtool.host import children, processes
from labtool.model import THIS_HOST, LabHost


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def guest() -> Iterator[int]:
    """A guest's service: answers each connection with one line, on 127.0.0.1 (standing for the VM's address)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-guest\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stopping.set()
    thread.join()
    server.close()


def read_line(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        return conn.recv(64)


def relays_in(tmp_path: Path) -> forwards.Relays:
    return forwards.Relays.of(THIS_HOST, tmp_path, "demo")


def relay_pid(relays: forwards.Relays, machine: str, port: int) -> int:
    return int((relays.records / f"{machine}_{port}.pid").read_text().split()[0])


def test_a_published_port_relays_to_the_guest_and_is_kept_while_it_listens(tmp_path: Path, guest: int) -> None:
    relays, port = relays_in(tmp_path), free_port()
    published = forwards.ForwardedPort("labtool-ssh", guest, port, "127.0.0.1")
    with children.marking_children():
        forwards.publish(relays, "s1-vm", "127.0.0.1", [published])
    try:
        assert read_line(port) == b"SSH-2.0-guest\r\n"
        pid = relay_pid(relays, "s1-vm", port)
        assert processes.name(pid) == "socat"
        assert children.OWNER_VARIABLE not in processes.environ(pid)  # outlives labtool: never taken for a leftover
        forwards.publish(relays, "s1-vm", "127.0.0.1", [published])
        assert relay_pid(relays, "s1-vm", port) == pid  # running and listening: the same relay
    finally:
        forwards.withdraw(relays, "s1-vm")
    assert not processes.alive(pid, processes.start_ticks(pid)) or processes.name(pid) != "socat"
    assert list(relays.records.iterdir()) == []  # neither record nor log is left


def test_a_port_another_program_holds_fails_naming_the_port_and_leaves_nothing(tmp_path: Path, guest: int) -> None:
    relays = relays_in(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as holder:
        held = int(holder.getsockname()[1])
        with pytest.raises(forwards.ForwardError, match=rf"s1-vm's port 22 is not published on 127.0.0.1:{held}") as e:
            forwards.publish(relays, "s1-vm", "127.0.0.1", [forwards.ForwardedPort("ssh", 22, held, "127.0.0.1")])
    assert "Address already in use" in e.value.message  # socat's own reason
    assert list(relays.records.iterdir()) == []


def test_withdrawing_one_vm_stops_its_relays_only(tmp_path: Path, guest: int) -> None:
    relays = relays_in(tmp_path)
    ports = {name: free_port() for name in ("s1-vm", "s2-vm")}
    for name, port in ports.items():
        forwards.publish(relays, name, "127.0.0.1", [forwards.ForwardedPort("ssh", guest, port, "127.0.0.1")])
    try:
        forwards.withdraw(relays, "s1-vm")
        with pytest.raises(OSError):
            read_line(ports["s1-vm"])
        assert read_line(ports["s2-vm"]) == b"SSH-2.0-guest\r\n"
    finally:
        forwards.withdraw(relays)
    assert list(relays.records.iterdir()) == []


def test_a_recorded_pid_now_held_by_another_process_is_never_signalled(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        record = forwards.directory(tmp_path) / "s1-vm_31002.pid"
        record.parent.mkdir(parents=True)
        record.write_text(f"{other.pid} 1\n")  # the relay that had this pid started at another time
        forwards.withdraw(relays_in(tmp_path), "s1-vm")
        assert other.poll() is None and not record.exists()
    finally:
        other.kill()
        other.wait()


def test_another_hosts_relays_run_there_over_its_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []

    def run(argv: list[str], **_: object) -> proc.Result:
        ran.append(argv)
        return proc.Result(tuple(argv), 0, "4242 99\n", "", 0.1)

    monkeypatch.setattr(proc, "run", run)
    relays = forwards.Relays.of(LabHost("lab2", "root@192.0.2.12"), tmp_path, "demo")
    forwards.publish(relays, "s2-vm", "10.214.42.11", [forwards.ForwardedPort("ssh", 22, 31006, "192.0.2.12")])
    [argv] = ran
    assert argv[:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"] and argv[5] == "root@192.0.2.12"
    remote = argv[-1]
    assert "TCP-LISTEN:31006,bind=192.0.2.12,reuseaddr,fork" in remote and "TCP:10.214.42.11:22" in remote
    assert "/var/lib/labtool/forwards/demo/s2-vm_31006.log" in remote
    assert (relays.records / "s2-vm_31006.pid").read_text() == "4242 99\n"

"""Reading a machine's host process from /proc, on a fake /proc tree."""

from __future__ import annotations

from pathlib import Path

from labtool.host import processes


def fake_process(proc: Path, pid: int, name: str, parent: int, namespaces: dict[str, str]) -> None:
    directory = proc / str(pid)
    (directory / "ns").mkdir(parents=True)
    (directory / "comm").write_text(name + "\n")
    (directory / "status").write_text(f"Name:\t{name}\nPPid:\t{parent}\nVmRSS:\t  2048 kB\n")
    for namespace, inode in namespaces.items():
        (directory / "ns" / namespace).symlink_to(f"{namespace}:[{inode}]")


def test_a_containers_pid1_its_ancestry_memory_and_shared_namespaces(tmp_path: Path) -> None:
    host = {"net": "1", "pid": "2", "time": "3", "user": "4"}
    fake_process(tmp_path, 1, "systemd", 0, host)
    (tmp_path / "self").symlink_to(tmp_path / "1")
    fake_process(tmp_path, 50, "containerd-shim", 1, host)
    fake_process(tmp_path, 70, "systemd", 50, {**host, "net": "9", "pid": "8"})
    assert processes.name(70, tmp_path) == "systemd"
    assert processes.ancestry(70, tmp_path) == ["containerd-shim", "systemd"]
    assert processes.resident_bytes(70, tmp_path) == 2048 * 1024
    assert processes.shared_namespaces(70, tmp_path) == ["time", "user"]


def test_a_vanished_process_reads_as_unknown(tmp_path: Path) -> None:
    assert (processes.name(9, tmp_path), processes.parent(9, tmp_path), processes.resident_bytes(9, tmp_path)) == (
        "?",
        0,
        0,
    )
    assert processes.ancestry(9, tmp_path) == []

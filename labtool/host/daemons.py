"""Start the daemons labtool needs (dockerd, virtlogd, libvirtd, the apt cache) when they are not running.

Where systemd is PID 1 they are started through systemctl; elsewhere (containers,
CI sandboxes) labtool starts them itself and logs to LABTOOL_HOME/logs. Either way
it waits until each one answers, and names the log when one does not.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labtool import proc
from labtool.backends.docker import engine
from labtool.backends.vagrant.accel import KVM_DEVICE, Accel
from labtool.backends.vagrant.libvirt import LOCAL_URI, STORAGE_POOL, STORAGE_POOL_DIR
from labtool.errors import CommandError, DaemonError
from labtool.host import apt_cache
from labtool.model import THIS_HOST
from labtool.settings import Settings

VIRTLOGD_SOCKET = Path("/run/libvirt/virtlogd-sock")
START_TIMEOUT = 45.0


@dataclass(frozen=True)
class DaemonStatus:
    name: str
    action: str
    """"running" (found running) or "started" (labtool started it)."""
    detail: str


def systemd_is_pid1() -> bool:
    return Path("/run/systemd/system").is_dir()


def unix_socket_answers(path: Path, timeout: float = 2.0) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def docker_answers() -> bool:
    """True when this host's Docker engine answers an API ping (not merely when its socket exists)."""
    return engine.answers(THIS_HOST)


def docker_url() -> str:
    return engine.url(THIS_HOST)


def libvirt_answers() -> bool:
    try:
        return proc.run(["virsh", "-c", LOCAL_URI, "version"], timeout=15, check=False).ok
    except CommandError:
        return False


def virtlogd_answers() -> bool:
    return unix_socket_answers(VIRTLOGD_SOCKET)


def ensure_all(settings: Settings, accel: Accel) -> list[DaemonStatus]:
    """Make sure every daemon answers; start the ones that do not, in dependency order."""
    log_dir = settings.log_dir
    statuses = [
        _ensure("dockerd", docker_answers, lambda: _start_dockerd(log_dir), log_dir / "dockerd.log"),
        _ensure("virtlogd", virtlogd_answers, lambda: _start_virtlogd(log_dir), log_dir / "virtlogd.log"),
        _ensure("libvirtd", libvirt_answers, lambda: _start_libvirtd(log_dir, accel), log_dir / "libvirtd.log"),
    ]
    statuses.append(ensure_storage_pool())
    if settings.apt_cache:
        statuses += ensure_apt_cache(log_dir)
    return statuses


def _ensure(
    name: str, answers: Callable[[], bool], start: Callable[[], None], log: Path, unit: str | None = None
) -> DaemonStatus:
    if answers():
        return DaemonStatus(name, "running", "already answering")
    start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if answers():
            return DaemonStatus(name, "started", f"log: {log}")
        time.sleep(0.5)
    raise DaemonError(
        f"{name} was started but did not answer within {START_TIMEOUT:.0f} s",
        f"read its log for the reason: {log}" if not systemd_is_pid1() else f"run `journalctl -u {unit or name}`",
    )


def _start_dockerd(log_dir: Path) -> None:
    if systemd_is_pid1():
        proc.run(["systemctl", "start", "docker"], timeout=60)
    else:
        proc.spawn(["dockerd"], log=log_dir / "dockerd.log")


def _start_virtlogd(log_dir: Path) -> None:
    if systemd_is_pid1():
        proc.run(["systemctl", "start", "virtlogd"], timeout=60)
    else:
        proc.run(["virtlogd", "-d"], timeout=30, env=_libvirt_log_env(log_dir / "virtlogd.log"), daemon=True)


def _start_libvirtd(log_dir: Path, accel: Accel) -> None:
    if systemd_is_pid1():
        proc.run(["systemctl", "start", "libvirtd"], timeout=60)
        return
    env = _libvirt_log_env(log_dir / "libvirtd.log")
    if accel.is_kvm or not KVM_DEVICE.exists():
        proc.run(["libvirtd", "-d"], timeout=30, env=env, daemon=True)
        return
    # An unusable /dev/kvm makes libvirtd re-probe QEMU on every domain define (25-55 s each);
    # the script hides the node from libvirtd alone, in a private mount namespace.
    script = Path(__file__).with_name("files") / "libvirtd-without-kvm.sh"
    proc.run(["unshare", "--mount", "--propagation", "private", "sh", str(script)], timeout=30, env=env, daemon=True)


def ensure_apt_cache(log_dir: Path) -> list[DaemonStatus]:
    """The rooms' address, then apt-cacher-ng on it; refuse to leave anything listening on every address."""
    made = apt_cache.ensure_address() == "made"
    address = DaemonStatus(
        f"{apt_cache.INTERFACE} {apt_cache.ADDRESS}/32", "started" if made else "running", "the apt cache's address"
    )
    log = log_dir / "apt-cacher-ng.log"
    daemon = _ensure("apt-cacher-ng", apt_cache.answers, lambda: _start_apt_cacher_ng(log), log, apt_cache.UNIT)
    everywhere = apt_cache.wildcard(apt_cache.read_listeners())
    if everywhere:
        raise DaemonError(
            f"something listens on port {apt_cache.PORT} of every address ({', '.join(everywhere)}): "
            "an HTTP proxy open to every network",
            "stop Debian's own apt-cacher-ng service (`systemctl disable --now apt-cacher-ng`, or "
            "`/etc/init.d/apt-cacher-ng stop` without systemd); labtool's listens on "
            + " and ".join(apt_cache.BIND_ADDRESSES),
        )
    return [address, daemon]


def _start_apt_cacher_ng(log: Path) -> None:
    apt_cache.prepare()
    if systemd_is_pid1():
        # A unit left failed by an earlier start would make systemd-run refuse the name.
        proc.run(["systemctl", "reset-failed", apt_cache.UNIT], timeout=30, check=False)
        proc.run(apt_cache.start_argv(systemd=True), timeout=60)
    else:
        proc.spawn(apt_cache.start_argv(systemd=False), log=log)


def _libvirt_log_env(log: Path) -> dict[str, str]:
    log.parent.mkdir(parents=True, exist_ok=True)
    return {"LIBVIRT_LOG_OUTPUTS": f"3:file:{log}"}


def ensure_storage_pool() -> DaemonStatus:
    """vagrant-libvirt uploads boxes into the `default` storage pool; a fresh libvirt has none."""
    virsh = ["virsh", "-c", LOCAL_URI]
    info = proc.run([*virsh, "pool-info", STORAGE_POOL], timeout=15, check=False)
    if info.ok and "running" in info.stdout:
        return DaemonStatus(f"storage pool {STORAGE_POOL}", "running", str(STORAGE_POOL_DIR))
    if not info.ok:
        STORAGE_POOL_DIR.mkdir(parents=True, exist_ok=True)
        proc.run([*virsh, "pool-define-as", STORAGE_POOL, "dir", "--target", str(STORAGE_POOL_DIR)], timeout=15)
        proc.run([*virsh, "pool-autostart", STORAGE_POOL], timeout=15)
    proc.run([*virsh, "pool-start", STORAGE_POOL], timeout=30)
    return DaemonStatus(f"storage pool {STORAGE_POOL}", "started", str(STORAGE_POOL_DIR))

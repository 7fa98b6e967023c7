"""Machine-wide settings, read from the environment once and validated.

Every setting has a default that works on a fresh Debian 12 host; the
environment variable overrides it (documented in README.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from labtool.errors import SettingsError

ACCEL_CHOICES = ("auto", "kvm", "tcg")
SWITCH_CHOICES = {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}

# Timeouts an operator may need to raise on a slow or busy host (seconds). The fixed ones, for
# quick commands, sit beside their calls: virsh 60, `vagrant ssh-config` 300, debootstrap 1800 ...
VAGRANT_TIMEOUT = 1800.0  # one `vagrant up` took ~110 s under TCG; parallel VMs on 2 shared cores, several times that
PROVISION_TIMEOUT = 3600.0  # a VM's first converge under TCG took ~10 min; several share the CPUs
DOCKER_TIMEOUT = 300.0  # one Docker API request: creating or removing a container takes seconds
MAX_TIMEOUT = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Settings:
    home: Path
    """Where labtool keeps image builds, logs and room state (LABTOOL_HOME)."""
    debian_mirror: str | None
    """Debian mirror URL for debootstrap (LABTOOL_DEBIAN_MIRROR); None = the host's own or debootstrap's default."""
    vm_accel: str
    """auto | kvm | tcg (LABTOOL_VM_ACCEL): force KVM where the CPU check is wrong, or TCG."""
    rooms_dir: Path | None = None
    """Where the rooms live (LABTOOL_ROOMS_DIR); None: the lab project's inventories/."""
    mitogen: bool = True
    """Run playbooks with the mitogen strategy (LABTOOL_MITOGEN=off turns it off: stock strategy, pipelining)."""
    apt_cache: bool = True
    """Run the host's apt cache and point debootstrap and every lab machine at it (LABTOOL_APT_CACHE=off: not)."""
    vagrant_timeout: float = VAGRANT_TIMEOUT
    """Seconds one `vagrant up`/`halt`/`destroy` of a VM may take before labtool kills it and fails that VM
    (LABTOOL_VAGRANT_TIMEOUT); the room's other machines carry on."""
    provision_timeout: float = PROVISION_TIMEOUT
    """Seconds one machine's playbook run may take before it is stopped and the machine failed
    (LABTOOL_PROVISION_TIMEOUT)."""
    docker_timeout: float = DOCKER_TIMEOUT
    """Seconds one request to the Docker engine may take (LABTOOL_DOCKER_TIMEOUT)."""

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def inventory_cache_dir(self) -> Path:
        """What `ansible-inventory` said of each room, until the room changes (inventory_cache.py)."""
        return self.home / "cache" / "inventory"

    @property
    def images_dir(self) -> Path:
        return self.home / "images"

    @property
    def rooms_state_dir(self) -> Path:
        return self.home / "rooms"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("LABTOOL_HOME") or Path.home() / ".local/share/labtool")
        mirror = env.get("LABTOOL_DEBIAN_MIRROR") or None
        accel = (env.get("LABTOOL_VM_ACCEL") or "auto").lower()
        rooms_dir = Path(env["LABTOOL_ROOMS_DIR"]) if env.get("LABTOOL_ROOMS_DIR") else None
        mitogen = (env.get("LABTOOL_MITOGEN") or "on").lower()
        apt_cache = (env.get("LABTOOL_APT_CACHE") or "on").lower()
        problems = []
        if mitogen not in SWITCH_CHOICES:
            problems.append(f"LABTOOL_MITOGEN must be on or off, got {mitogen!r}")
        if apt_cache not in SWITCH_CHOICES:
            problems.append(f"LABTOOL_APT_CACHE must be on or off, got {apt_cache!r}")
        if not home.is_absolute():
            problems.append(f"LABTOOL_HOME must be an absolute path, got {str(home)!r}")
        if rooms_dir is not None and not rooms_dir.is_absolute():
            problems.append(f"LABTOOL_ROOMS_DIR must be an absolute path, got {str(rooms_dir)!r}")
        if mirror is not None and not _is_http_url(mirror):
            problems.append(f"LABTOOL_DEBIAN_MIRROR must be an http(s) or file URL, got {mirror!r}")
        if accel not in ACCEL_CHOICES:
            problems.append(f"LABTOOL_VM_ACCEL must be one of {', '.join(ACCEL_CHOICES)}, got {accel!r}")
        vagrant_timeout = _seconds(env, "LABTOOL_VAGRANT_TIMEOUT", VAGRANT_TIMEOUT, problems)
        provision_timeout = _seconds(env, "LABTOOL_PROVISION_TIMEOUT", PROVISION_TIMEOUT, problems)
        docker_timeout = _seconds(env, "LABTOOL_DOCKER_TIMEOUT", DOCKER_TIMEOUT, problems)
        if problems:
            raise SettingsError("; ".join(problems), "fix or unset the environment variable(s) named above")
        return cls(
            home=home,
            debian_mirror=mirror,
            vm_accel=accel,
            rooms_dir=rooms_dir,
            mitogen=SWITCH_CHOICES[mitogen],
            apt_cache=SWITCH_CHOICES[apt_cache],
            vagrant_timeout=vagrant_timeout,
            provision_timeout=provision_timeout,
            docker_timeout=docker_timeout,
        )


def _seconds(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    """A timeout from the environment: a number of seconds above 0 and at most a week."""
    text = env.get(name) or ""
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        problems.append(f"{name} must be a number of seconds above 0 and at most {MAX_TIMEOUT:.0f}, got {text[:40]!r}")
        return default
    return value


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https", "file") and bool(parsed.netloc or parsed.path)

"""The lab containers' seccomp profile: the Docker engine's own default, plus the calls that make namespaces.

Why: stock units ask systemd for namespaces of their own (`PrivateUsers=`, `PrivateTmp=`,
`ProtectSystem=` ...). Docker's default profile allows `unshare`, `clone` with namespace flags,
`setns` and the mount calls only to a container holding CAP_SYS_ADMIN, which a lab container never
gets. With them allowed, the kernel's own checks decide, exactly as for an ordinary user of a Debian
host: a user namespace may be made (and root mapped into it with CAP_SETFCAP), and inside it the
namespaces it owns; the container's own namespaces stay out of reach, since the container's root has
no CAP_SYS_ADMIN over them. The rest of Docker's profile (bpf, perf, syslog, keyctl ...) is unchanged.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from labtool.errors import DaemonError

DOCKER_DEFAULT = Path("/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json")
"""Docker's default profile as Debian ships it for the engine's version (golang-github-docker-docker-dev)."""
DOCKER_DEFAULT_PACKAGE = "golang-github-docker-docker-dev"

NAMESPACE_CALLS = (
    "clone",  # with CLONE_NEW* flags: systemd forks a unit's process into its namespaces
    "unshare",  # PrivateUsers= and the mount namespace made inside the unit's user namespace
    "setns",  # joining a namespace the unit shares (JoinsNamespaceOf=, PrivateNetwork= pairs)
    "mount",  # the unit's private /tmp, read-only /usr, /etc ... inside its own mount namespace
    "umount",
    "umount2",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pivot_root",
)
RULE_COMMENT = "labtool: namespaces for systemd's sandboxing; the kernel's capability checks still apply"


@functools.cache
def profile(default: Path = DOCKER_DEFAULT) -> dict[str, Any]:
    """Docker's default profile with one more rule allowing NAMESPACE_CALLS whatever the capabilities."""
    try:
        base = json.loads(default.read_text())
    except (OSError, ValueError) as exc:
        raise DaemonError(
            f"cannot read Docker's default seccomp profile {default}: {exc}",
            f"install the Debian package {DOCKER_DEFAULT_PACKAGE} (scripts/install-host-packages.sh does)",
        ) from exc
    if not isinstance(base, dict) or not isinstance(base.get("syscalls"), list):
        raise DaemonError(f"{default} is not a seccomp profile", f"reinstall {DOCKER_DEFAULT_PACKAGE}")
    rule = {"names": list(NAMESPACE_CALLS), "action": "SCMP_ACT_ALLOW", "args": [], "comment": RULE_COMMENT}
    return {**base, "syscalls": [*base["syscalls"], rule]}


def security_opt(default: Path | None = None) -> str:
    """The profile as Docker's API takes it: its JSON text after `seccomp=`."""
    return "seccomp=" + json.dumps(profile(default or DOCKER_DEFAULT), separators=(",", ":"))
